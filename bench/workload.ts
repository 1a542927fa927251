/**
 * The benchmark's seeded workload. Everything here is a pure function of the seed (never
 * Math.random), so the parent (ground truth) and every child (the stores) see exactly the same
 * memories and queries without passing vectors between processes:
 *
 * - 100 cluster centres: 384-dimensional standard Gaussian vectors, normalised;
 * - memory i: a uniformly chosen cluster and one of 10 agents (so an agent filter keeps ~10 % of
 *   the rows), its vector the centre plus Gaussian noise, normalised; short text naming its topic;
 * - queries: a uniformly chosen cluster and agent, the centre plus smaller noise, normalised;
 * - text queries: the topic word of a cluster, sometimes with one common word.
 *
 * Memories are generated in order by one stream, batch by batch, so no process holds all N vectors.
 */

/** Embedding dimensions of the workload. */
export const DIMENSIONS = 384
/** Gaussian clusters the memories are drawn from. */
export const CLUSTERS = 100
/** Agents the memories are spread over. */
export const AGENTS = 10
/** Results per recall. */
export const TOP_K = 10
/** Norm of a memory's noise relative to its (unit) centre. */
const MEMORY_NOISE = 0.6
/** Norm of a query's noise: queries sit nearer their centre than memories do. */
const QUERY_NOISE = 0.3
/** The one agent of the store that engram recalls "without the agent filter" from (see bench/run.ts). */
export const SOLO_AGENT = "solo"

/** The agent id of agent number `a`. */
export const agentName = (a: number): string => `agent-${a}`

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** splitmix32: spreads a 32-bit seed over the state words of the generator below. */
const splitmix32 = (seed: number) => {
  let s = seed >>> 0
  return (): number => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

/** A seeded uniform generator (sfc32) and Gaussian draws by Box–Muller. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number
  private spare: number | undefined

  constructor(seed: number) {
    const init = splitmix32(seed)
    this.a = init()
    this.b = init()
    this.c = init()
    this.d = init()
    // Discard the first outputs so nearby seeds diverge.
    for (let i = 0; i < 16; i++) this.uint32()
  }

  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.uint32() / 4294967296
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n)
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  gaussian(): number {
    if (this.spare !== undefined) {
      const s = this.spare
      this.spare = undefined
      return s
    }
    // 1 - u is in (0, 1], so the logarithm is finite.
    const u = 1 - this.uniform()
    const v = this.uniform()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}

/** Independent streams of one seed: centres, memories, queries, warm-up queries, text queries. */
const STREAM = { centres: 1, memories: 2, queries: 3, warmup: 4, text: 5, textWarmup: 6 } as const

const streamSeed = (seed: number, stream: number): number =>
  (Math.imul(seed >>> 0, 0x9e3779b1) ^ (stream * 0x632be5ab)) >>> 0

const normalise = (v: Float64Array): Float64Array => {
  let n = 0
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!
  const inv = 1 / Math.sqrt(n)
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * inv
  return v
}

/** The unit centres of the clusters. */
export const centres = (seed: number): ReadonlyArray<Float64Array> => {
  const rng = new Rng(streamSeed(seed, STREAM.centres))
  return Array.from({ length: CLUSTERS }, () => {
    const c = new Float64Array(DIMENSIONS)
    for (let i = 0; i < DIMENSIONS; i++) c[i] = rng.gaussian()
    return normalise(c)
  })
}

/** `centre` plus isotropic Gaussian noise of expected norm `noise`, normalised. */
const around = (rng: Rng, centre: Float64Array, noise: number): Float64Array => {
  const scale = noise / Math.sqrt(DIMENSIONS)
  const v = new Float64Array(DIMENSIONS)
  for (let i = 0; i < DIMENSIONS; i++) v[i] = centre[i]! + scale * rng.gaussian()
  return normalise(v)
}

// ---------------------------------------------------------------------------------------------
// Memories

/** Words every memory may contain; text queries pair a topic with one of them. */
const COMMON = [
  "alpha",
  "bravo",
  "charlie",
  "delta",
  "echo",
  "foxtrot",
  "golf",
  "hotel",
  "india",
  "juliet",
  "kilo",
  "lima",
  "mike",
  "november",
  "oscar",
  "papa",
  "quebec",
  "romeo",
  "sierra",
  "tango"
] as const
/** Size of the long-tail vocabulary (words "w0" … ). */
const VOCABULARY = 2000

/** The topic word of cluster `c` (one token for every tokenizer involved). */
export const topicWord = (c: number): string => `topic${c}`

/** One memory of the workload. */
export interface Item {
  readonly index: number
  /** A UUID derived from the index (see `memoryId`), so a returned id maps back to its item. */
  readonly id: string
  readonly agent: number
  readonly cluster: number
  readonly content: string
  /** Unit vector (float64); the stores keep it as float32. */
  readonly vector: Float64Array
}

/** The memory id of item `index`: a valid lower-case UUID carrying the index in its last group. */
export const memoryId = (index: number): string => `00000000-0000-7000-8000-${index.toString(16).padStart(12, "0")}`

/** The item index of a memory id made by `memoryId` (-1 for any other id). */
export const indexOfId = (id: string): number =>
  id.startsWith("00000000-0000-7000-8000-") ? Number.parseInt(id.slice(24), 16) : -1

/** The memories of the workload in order, `batch` at a time (the last batch may be shorter). */
export function* memoryBatches(seed: number, n: number, batch: number): Generator<ReadonlyArray<Item>> {
  const cs = centres(seed)
  const rng = new Rng(streamSeed(seed, STREAM.memories))
  let current: Array<Item> = []
  for (let index = 0; index < n; index++) {
    const cluster = rng.int(CLUSTERS)
    const agent = rng.int(AGENTS)
    const vector = around(rng, cs[cluster]!, MEMORY_NOISE)
    const words = [`note`, String(index), topicWord(cluster)]
    for (let w = 0; w < 3; w++) words.push(COMMON[rng.int(COMMON.length)]!)
    for (let w = 0; w < 8; w++) words.push(`w${rng.int(VOCABULARY).toString(36)}`)
    current.push({ index, id: memoryId(index), agent, cluster, content: words.join(" "), vector })
    if (current.length === batch) {
      yield current
      current = []
    }
  }
  if (current.length > 0) yield current
}

// ---------------------------------------------------------------------------------------------
// Queries

/** A vector query: near the centre of `cluster`, for agent `agent`. */
export interface VectorQuery {
  readonly agent: number
  readonly cluster: number
  readonly vector: Float64Array
}

const vectorQueries = (seed: number, stream: number, count: number): ReadonlyArray<VectorQuery> => {
  const cs = centres(seed)
  const rng = new Rng(streamSeed(seed, stream))
  return Array.from({ length: count }, () => {
    const cluster = rng.int(CLUSTERS)
    const agent = rng.int(AGENTS)
    return { agent, cluster, vector: around(rng, cs[cluster]!, QUERY_NOISE) }
  })
}

/** The measured vector queries. */
export const queries = (seed: number, count: number) => vectorQueries(seed, STREAM.queries, count)
/** Warm-up vector queries (a stream of their own, so warming up never pre-answers a measured query). */
export const warmupQueries = (seed: number, count: number) => vectorQueries(seed, STREAM.warmup, count)

/** A text query for agent `agent`. */
export interface TextQuery {
  readonly agent: number
  readonly text: string
}

const textQueriesOf = (seed: number, stream: number, count: number): ReadonlyArray<TextQuery> => {
  const rng = new Rng(streamSeed(seed, stream))
  return Array.from({ length: count }, (_, i) => {
    const cluster = rng.int(CLUSTERS)
    const agent = rng.int(AGENTS)
    const common = COMMON[rng.int(COMMON.length)]!
    // Alternate one-word and two-word queries: both shapes are common in agent memory lookups.
    return { agent, text: i % 2 === 0 ? topicWord(cluster) : `${topicWord(cluster)} ${common}` }
  })
}

export const textQueries = (seed: number, count: number) => textQueriesOf(seed, STREAM.text, count)
export const textWarmupQueries = (seed: number, count: number) => textQueriesOf(seed, STREAM.textWarmup, count)

// ---------------------------------------------------------------------------------------------
// Exact search (ground truth)

/** The exact top-k item indices of every query: with its agent filter, and over all items. */
export interface GroundTruth {
  readonly filtered: ReadonlyArray<ReadonlyArray<number>>
  readonly unfiltered: ReadonlyArray<ReadonlyArray<number>>
}

/** A fixed-size list of the best (largest similarity) indices seen so far. */
class TopK {
  readonly scores: Array<number> = []
  readonly indices: Array<number> = []
  constructor(private readonly k: number) {}
  offer(score: number, index: number): void {
    const n = this.scores.length
    if (n === this.k && score <= this.scores[n - 1]!) return
    let i = n === this.k ? n - 1 : n
    while (i > 0 && this.scores[i - 1]! < score) {
      this.scores[i] = this.scores[i - 1]!
      this.indices[i] = this.indices[i - 1]!
      i--
    }
    this.scores[i] = score
    this.indices[i] = index
  }
}

/**
 * Exact cosine top-k of each query, computed the way the stores see the data: memory vectors
 * rounded to float32, similarity in float64. `onProgress` gets the fraction done.
 */
export const groundTruth = (
  seed: number,
  n: number,
  qs: ReadonlyArray<VectorQuery>,
  onProgress: (fraction: number) => void = () => {}
): GroundTruth => {
  const filtered = qs.map(() => new TopK(TOP_K))
  const unfiltered = qs.map(() => new TopK(TOP_K))
  const qv = qs.map((q) => q.vector)
  const stored = new Float32Array(DIMENSIONS)
  let done = 0
  for (const batch of memoryBatches(seed, n, 1000)) {
    for (const item of batch) {
      stored.set(item.vector)
      let norm = 0
      for (let d = 0; d < DIMENSIONS; d++) norm += stored[d]! * stored[d]!
      const inv = 1 / Math.sqrt(norm)
      for (let j = 0; j < qs.length; j++) {
        const q = qv[j]!
        let dot = 0
        for (let d = 0; d < DIMENSIONS; d++) dot += q[d]! * stored[d]!
        // Queries are unit vectors; the stored vector's norm is 1 up to float32 rounding.
        const score = dot * inv
        unfiltered[j]!.offer(score, item.index)
        if (qs[j]!.agent === item.agent) filtered[j]!.offer(score, item.index)
      }
    }
    done += batch.length
    onProgress(done / n)
  }
  return { filtered: filtered.map((t) => t.indices), unfiltered: unfiltered.map((t) => t.indices) }
}

/** Mean over queries of |returned ∩ exact| / k. */
export const recallAtK = (
  returned: ReadonlyArray<ReadonlyArray<number>>,
  exact: ReadonlyArray<ReadonlyArray<number>>
): number => {
  if (exact.length === 0) return 0
  let sum = 0
  for (let j = 0; j < exact.length; j++) {
    const truth = new Set(exact[j]!)
    const got = returned[j] ?? []
    let hit = 0
    for (const i of got.slice(0, TOP_K)) if (truth.has(i)) hit++
    sum += hit / Math.max(1, Math.min(TOP_K, truth.size))
  }
  return sum / exact.length
}
