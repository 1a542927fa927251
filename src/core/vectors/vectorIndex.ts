/**
 * An exact top-k cosine index per agent, resident in memory, for a store whose source of truth is
 * elsewhere (the SQLite file): a cache the store fills, updates and empties as its rows change.
 *
 * Each row is held quantised — unit-normalised, then int16 with one float scale per row — in
 * fixed-size chunks of WebAssembly memory, as two planes of bytes: the high bytes H and the low bytes
 * L of every component (R = 256·H + L), half the memory of float32. A search quantises the query to
 * int16 too and scores with exact integer products in SIMD kernels (kernel.wat): first every row from
 * its high bytes alone (a coarse score, within about 0.01 in cosine, from half the bytes: the scan is
 * bound by memory bandwidth), then, for the rows whose coarse bound reaches the `limit`-th best coarse
 * lower bound, from both planes (a fine score, within about 1e-4). Every score comes with a proven
 * error bound, and the rows whose bound reaches the k-th exact score are re-scored exactly (through
 * the store's own float vectors). The result is exactly the top k of an exact scan, ties included:
 * no recall is traded away. (int8 rows alone would halve memory again, but their bound, about 0.01,
 * is wider than the spread of scores inside a cluster: hundreds of rows per search would need exact
 * re-scoring, each a read from the store; the low plane settles them in memory.)
 *
 * The high bytes of a row are held in two parts, its first third and the rest (the first parts of a
 * chunk's rows together), with the norm of the rest: the scan drops a row after its first part when
 * a Cauchy–Schwarz bound on the rest shows it cannot reach the running floor, so in a clustered
 * workload most rows are read only in part (docs/architecture.md).
 *
 * Filters are applied before ranking (`accept`), so a filtered search still returns `limit` rows
 * whenever that many rows pass.
 */
import { Kernel } from "./kernel.js"

/** Rows staged per quantising call of a load (a fourth of a chunk: less scratch memory touched). */
const STAGE_ROWS = 64

/** Rows per chunk: one kernel call scans a chunk. */
export const CHUNK_ROWS = 256

/** The query is held as int16 in [-32767, 32767]. */
const QUERY_RANGE = 32_767

/** Relative rounding error of one float32 operation (2^-24), doubled for safety. */
const F32_EPSILON = 2 ** -23

/** What the caller keeps with each row for filtering (codes are the caller's). */
export interface RowFields {
  readonly createdAt: number
  readonly confidence: number
  readonly scope: number
  readonly source: number
}

/** An exactly scored row, as the caller's `rescore` returns it. */
export interface Scored {
  readonly key: number
  readonly score: number
}

class Rows {
  count = 0
  readonly chunks: Array<number> = []
  /** Row of each key: built on first use (an agent loaded and never changed never needs it). */
  private positions: Map<number, number> | undefined
  keys = new Float64Array(CHUNK_ROWS)
  createdAt = new Float64Array(CHUNK_ROWS)
  confidence = new Float32Array(CHUNK_ROWS)
  scope = new Uint8Array(CHUNK_ROWS)
  source = new Uint8Array(CHUNK_ROWS)

  /** The row of `key`, if held. */
  find(key: number): number | undefined {
    if (this.positions === undefined) {
      this.positions = new Map()
      for (let i = 0; i < this.count; i++) this.positions.set(this.keys[i]!, i)
    }
    return this.positions.get(key)
  }

  /** Record that `key` is now at row `i` (`keys[i]` set by the caller). */
  placed(key: number, i: number): void {
    this.positions?.set(key, i)
  }

  /** Forget `key`'s row. */
  removed(key: number): void {
    this.positions?.delete(key)
  }

  /** Drop spare capacity (after a load, whose growth doubled it). */
  fit(): void {
    if (this.keys.length <= this.count + CHUNK_ROWS) return
    const size = this.count + CHUNK_ROWS
    this.keys = this.keys.slice(0, size)
    this.createdAt = this.createdAt.slice(0, size)
    this.confidence = this.confidence.slice(0, size)
    this.scope = this.scope.slice(0, size)
    this.source = this.source.slice(0, size)
  }

  ensure(capacity: number): void {
    if (capacity <= this.keys.length) return
    const size = Math.max(capacity, this.keys.length * 2)
    const grow = <T extends Float64Array | Float32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(size)
      b.set(a)
      return b
    }
    this.keys = grow(this.keys, (n) => new Float64Array(n))
    this.createdAt = grow(this.createdAt, (n) => new Float64Array(n))
    this.confidence = grow(this.confidence, (n) => new Float32Array(n))
    this.scope = grow(this.scope, (n) => new Uint8Array(n))
    this.source = grow(this.source, (n) => new Uint8Array(n))
  }
}

/**
 * Rows for `VectorIndex.load`: row j has key `keys[j]`, its fields at j of the other arrays, and its
 * components as stored — little-endian float32 — at bytes [4·dimensions·j, 4·dimensions·(j + 1)) of
 * `blob`.
 */
export interface LoadBatch {
  readonly keys: ArrayLike<number>
  readonly blob: Uint8Array
  readonly createdAt: ArrayLike<number>
  readonly confidence: ArrayLike<number>
  readonly scope: ArrayLike<number>
  readonly source: ArrayLike<number>
}

/** Batches of rows given to `VectorIndex.load`. */
export interface Loader {
  /** Stage a batch (false: its blob is not 4·dimensions bytes per key, or a row cannot be held). */
  readonly add: (batch: LoadBatch) => boolean
  /** Quantise what is still staged. */
  readonly end: () => boolean
}

/** A read-only view of one agent's row fields, for `accept`. */
export interface RowView {
  readonly createdAt: Float64Array
  readonly confidence: Float32Array
  readonly scope: Uint8Array
  readonly source: Uint8Array
  readonly keys: Float64Array
}

export class VectorIndex {
  /** Components per row in memory: the dimension rounded up to the kernel's step of 16. */
  readonly stride: number
  /**
   * Components a scan reads of every row before it may drop the row: the rest of its sum is bounded
   * by Cauchy–Schwarz (the query's norm over them times the row's, kept per row), and a row whose
   * bound with that is below the floor is not read further (the stride when there are too few
   * components for this to pay).
   */
  private readonly prefix: number
  private readonly kernel: Kernel
  private readonly agents = new Map<string, Rows>()
  private readonly queryAt = 0
  private readonly scoresAt: number
  /** Float32 rows staged for quantising: STAGE_ROWS of them, each `stride` apart, padding zero. */
  private readonly stagingAt: number
  /** Per row of the agent searched: its upper score bound and its high-byte sum. */
  private uppers = new Float64Array(CHUNK_ROWS)
  private coarse = new Float64Array(CHUNK_ROWS)
  /** Rows of the agent searched that the scan handed back (see `search`). */
  private reached = new Int32Array(CHUNK_ROWS)

  constructor(readonly dimensions: number) {
    this.stride = Math.ceil(dimensions / 16) * 16
    this.scoresAt = this.stride * 4
    this.stagingAt = Math.ceil((this.scoresAt + CHUNK_ROWS * 4) / 16) * 16
    const reserved = this.stagingAt + Math.ceil(Math.max(STAGE_ROWS * this.stride * 4, CHUNK_ROWS * 4) / 16) * 16
    // A third of the components (at least 64 of them), by which a search may drop a row early.
    this.prefix = this.stride >= 192 ? Math.ceil(this.stride / 3 / 16) * 16 : this.stride
    this.kernel = new Kernel(CHUNK_ROWS * (this.stride * 2 + 8), reserved)
  }

  /** Bytes of WebAssembly memory held by rows (in use or free for reuse). */
  get bytes(): number {
    return this.kernel.allocatedBytes
  }

  has(agent: string): boolean {
    return this.agents.has(agent)
  }

  size(agent: string): number {
    return this.agents.get(agent)?.count ?? 0
  }

  /** Every agent held, with how many rows. */
  sizes(): ReadonlyMap<string, number> {
    return new Map([...this.agents].map(([agent, rows]) => [agent, rows.count]))
  }

  /** Start holding `agent` (possibly with no rows), so that `has` answers true. */
  open(agent: string): void {
    if (!this.agents.has(agent)) this.agents.set(agent, new Rows())
  }

  /** Forget everything held for `agent`. */
  drop(agent: string): void {
    const rows = this.agents.get(agent)
    if (rows === undefined) return
    for (const c of rows.chunks) this.kernel.release(c)
    this.agents.delete(agent)
  }

  /**
   * Add the row `key` of `agent` (replacing it when held). False, and nothing changed, when `vector`
   * cannot be held: fewer than `dimensions` components, or (as float32, what the store holds) one not
   * finite, or all zero.
   */
  put(agent: string, key: number, vector: ArrayLike<number>, fields: RowFields): boolean {
    const n = this.dimensions
    if (vector.length < n) return false
    // Staging row 0 takes the components as float32; its padding past `dimensions` is always zero.
    const f32 = this.kernel.f32()
    const at = this.stagingAt / 4
    if (vector instanceof Float32Array) f32.set(vector.length === n ? vector : vector.subarray(0, n), at)
    else for (let d = 0; d < n; d++) f32[at + d] = vector[d]!
    const known = this.agents.get(agent)
    const rows = known ?? new Rows()
    const held = rows.find(key)
    const i = held ?? rows.count
    // A new row past the last chunk needs a chunk (returned if the row cannot be held after all).
    const grown = held === undefined && i === rows.chunks.length * CHUNK_ROWS
    if (grown) rows.chunks.push(this.kernel.alloc())
    const [hi, lo, scale, hiRest] = this.addresses(rows, i)
    if (this.kernel.quantise(this.stagingAt, 1, this.stride, hi, lo, scale, { pre: this.prefix, rest: hiRest }) !== 1) {
      if (grown) this.kernel.release(rows.chunks.pop()!)
      return false
    }
    this.kernel.normsHi(hiRest, 1, this.stride - this.prefix, 0, this.restAt(rows, i))
    if (known === undefined) this.agents.set(agent, rows)
    if (held === undefined) {
      rows.ensure(i + 1)
      rows.count++
      rows.placed(key, i)
    }
    rows.keys[i] = key
    this.setFields(rows, i, fields)
    return true
  }

  /**
   * Add rows to `agent` (opening it if it is not held) in batches given to the loader's `add`: the
   * stored float32 bytes of a batch are copied into the kernel's staging area (one copy per chunk
   * when `dimensions` is a multiple of 16) and each chunk's new rows are quantised by one kernel
   * call, so loading costs no JavaScript per component. Keys must be distinct and not held. No other
   * call may use this index until `end` has returned. `add` and `end` return false when a row cannot
   * be held (a component not finite, or all zero): the agent is then left partly loaded, for the
   * caller to drop.
   */
  load(agent: string): Loader {
    this.open(agent)
    const rows = this.agents.get(agent)!
    const kernel = this.kernel
    const rowBytes = this.dimensions * 4
    const stagedBytes = this.stride * 4
    const stagingAt = this.stagingAt
    const stride = this.stride
    // Rows [staged, count) are staged, from the start of the staging area, all in the last chunk
    // (they are quantised when the staging area or the chunk is full).
    let staged = rows.count
    const flush = (): boolean => {
      const n = rows.count - staged
      if (n === 0) return true
      const [hi, lo, scale, hiRest] = this.addresses(rows, staged)
      const norms = this.restAt(rows, staged)
      staged = rows.count
      if (kernel.quantise(stagingAt, n, stride, hi, lo, scale, { pre: this.prefix, rest: hiRest }) !== n) return false
      kernel.normsHi(hiRest, n, stride - this.prefix, 0, norms)
      return true
    }
    return {
      add: (batch) => {
        const n = batch.keys.length
        if (batch.blob.byteLength !== n * rowBytes) return false
        let bytes = kernel.bytes()
        for (let j = 0; j < n;) {
          const i = rows.count
          if (i === rows.chunks.length * CHUNK_ROWS) {
            rows.chunks.push(kernel.alloc())
            // A chunk may grow the memory, which detaches every view of it.
            bytes = kernel.bytes()
          }
          const take = Math.min(CHUNK_ROWS - (i % CHUNK_ROWS), STAGE_ROWS - (i - staged), n - j)
          rows.ensure(i + take)
          const at = stagingAt + (i - staged) * stagedBytes
          if (stagedBytes === rowBytes) {
            bytes.set(batch.blob.subarray(j * rowBytes, (j + take) * rowBytes), at)
          } else {
            for (let t = 0; t < take; t++) {
              bytes.set(batch.blob.subarray((j + t) * rowBytes, (j + t + 1) * rowBytes), at + t * stagedBytes)
            }
          }
          for (let t = 0; t < take; t++) {
            const key = batch.keys[j + t]!
            rows.keys[i + t] = key
            rows.createdAt[i + t] = batch.createdAt[j + t]!
            rows.confidence[i + t] = batch.confidence[j + t]!
            rows.scope[i + t] = batch.scope[j + t]!
            rows.source[i + t] = batch.source[j + t]!
            rows.placed(key, i + t)
          }
          rows.count = i + take
          j += take
          if ((rows.count % CHUNK_ROWS === 0 || rows.count - staged === STAGE_ROWS) && !flush()) return false
        }
        return true
      },
      end: () => {
        const ok = flush()
        rows.fit()
        return ok
      }
    }
  }

  /** Change the filter fields of a held row; false when it is not held. */
  update(agent: string, key: number, fields: Partial<RowFields>): boolean {
    const rows = this.agents.get(agent)
    const i = rows?.find(key)
    if (rows === undefined || i === undefined) return false
    this.setFields(rows, i, {
      createdAt: fields.createdAt ?? rows.createdAt[i]!,
      confidence: fields.confidence ?? rows.confidence[i]!,
      scope: fields.scope ?? rows.scope[i]!,
      source: fields.source ?? rows.source[i]!
    })
    return true
  }

  /** Remove a row; the last row of the agent takes its place. False when it was not held. */
  remove(agent: string, key: number): boolean {
    const rows = this.agents.get(agent)
    const i = rows?.find(key)
    if (rows === undefined || i === undefined) return false
    const last = rows.count - 1
    if (i !== last) {
      const bytes = this.kernel.bytes()
      const [hi, lo, scale, hiRest] = this.addresses(rows, i)
      const [lastHi, lastLo, lastScale, lastRest] = this.addresses(rows, last)
      bytes.copyWithin(hi, lastHi, lastHi + this.prefix)
      bytes.copyWithin(hiRest, lastRest, lastRest + this.stride - this.prefix)
      bytes.copyWithin(lo, lastLo, lastLo + this.stride)
      bytes.copyWithin(scale, lastScale, lastScale + 4)
      bytes.copyWithin(this.restAt(rows, i), this.restAt(rows, last), this.restAt(rows, last) + 4)
      const moved = rows.keys[last]!
      rows.keys[i] = moved
      rows.createdAt[i] = rows.createdAt[last]!
      rows.confidence[i] = rows.confidence[last]!
      rows.scope[i] = rows.scope[last]!
      rows.source[i] = rows.source[last]!
      rows.placed(moved, i)
    }
    rows.removed(key)
    rows.count--
    if (rows.count % CHUNK_ROWS === 0 && rows.chunks.length > Math.ceil(rows.count / CHUNK_ROWS)) {
      this.kernel.release(rows.chunks.pop()!)
    }
    return true
  }

  /**
   * The `limit` best rows of `agent` for `query`, exactly: ordered by `compare` over exact scores
   * from `rescore` (which must score each given key by the same cosine the store defines, and may
   * add fields `compare` needs for ties). `accept(i, view)` filters rows before ranking.
   */
  search<S extends Scored>(
    agent: string,
    query: ArrayLike<number>,
    limit: number,
    rescore: (keys: ReadonlyArray<number>) => ReadonlyArray<S>,
    compare: (a: S, b: S) => number,
    accept?: (i: number, view: RowView) => boolean,
    prune = true
  ): ReadonlyArray<S> {
    const rows = this.agents.get(agent)
    if (rows === undefined || rows.count === 0 || limit <= 0) return []
    const q = this.writeQuery(query)
    const count = rows.count
    if (this.uppers.length < count) {
      const size = Math.max(count, this.uppers.length * 2)
      this.uppers = new Float64Array(size)
      this.coarse = new Float64Array(size)
    }
    const { uppers, coarse } = this
    const n = this.dimensions
    const stride = this.stride
    // The error bounds (see the class comment): u ≈ scale·R with each component of R off by at most
    // half a step, q ≈ step·Q likewise; R = 256·H + L with 0 ≤ L ≤ 255, so the coarse value
    // c = 256·H + 128 is within 128 of R. Then, with ‖u‖₁ ≤ √n (u is a unit vector),
    //   |q·u − step·scale·(Q·R)| ≤ scale·(‖q‖₁/2 + n·step/4) + (step/2)·√n
    //   |q·u − step·scale·(Q·c)| ≤ scale·128.5·(‖q‖₁ + n·step/2) + (step/2)·√n
    // plus float32 rounding in the kernels (a relative error per conversion and per sum, each of a
    // partial sum of at most about 1: far fewer than this term allows).
    const fixed = (q.step / 2) * Math.sqrt(n) + (2 * stride + 2) * F32_EPSILON
    const fine = q.l1 / 2 + (n * q.step) / 4
    const rough = 128.5 * (q.l1 + (n * q.step) / 2)
    // Coarse scores from the high bytes of every row (one read of half the bytes), with their bounds:
    // upper = scale·(a·hi + b + rough) + fixed, lower = scale·(a·hi + b − rough) − fixed.
    const a = q.step * 256
    const b = q.step * 128 * q.sum
    // Unless `prune` is off, a row whose coarse upper bound is below the `limit`-th largest coarse
    // lower bound cannot be among the top `limit` — provided those rows pass the exact filter too,
    // which is checked below — so only the others get fine scores (their low bytes are read). The
    // `limit` largest lower bounds are kept in a min-heap as the rows go by.
    const heap = prune ? new Float64Array(limit) : undefined
    let held = 0
    let accepted = 0
    // The scan kernel computes each row's coarse upper bound itself and hands back only the rows
    // whose bound reaches `floor`, the lowest of the `limit` best lower bounds so far (a row below it
    // is below every one of them, so it could neither enter the heap nor be a candidate): after the
    // first few hundred rows only the rows near the top reach JavaScript.
    let floor = Number.NEGATIVE_INFINITY
    const bounds = { a, b, rough, fixed }
    const f32 = this.kernel.f32()
    const i32 = this.kernel.i32()
    const idxAt = this.stagingAt / 4
    const hiAt = this.scoresAt / 4
    // Rows that reached the kernel's floor when scanned (the candidates are among them).
    let reached = this.reached.length >= count ? this.reached : (this.reached = new Int32Array(count))
    let found = 0
    for (let c = 0; c < rows.chunks.length; c++) {
      const first = c * CHUNK_ROWS
      const m = Math.min(CHUNK_ROWS, count - first)
      const chunk = rows.chunks[c]!
      const scales = chunk + 2 * CHUNK_ROWS * stride
      const out = this.kernel.scanHi(
        this.queryAt,
        chunk,
        m,
        stride,
        scales,
        bounds,
        floor,
        this.stagingAt,
        this.scoresAt,
        { pre: this.prefix, rest: chunk + CHUNK_ROWS * this.prefix, norms: scales + CHUNK_ROWS * 4, qRest: q.rest }
      )
      for (let k = 0; k < out; k++) {
        const j = i32[idxAt + k]!
        const i = first + j
        if (accept !== undefined && !accept(i, rows)) continue
        accepted++
        const scale = f32[scales / 4 + j]!
        const hi = f32[hiAt + k]!
        coarse[i] = hi
        const centre = a * hi + b
        uppers[i] = scale * (centre + rough) + fixed
        reached[found++] = i
        if (heap === undefined) continue
        const lower = scale * (centre - rough) - fixed
        if (held < limit) {
          siftUp(heap, held++, lower)
          if (held === limit) floor = heap[0]!
        } else if (lower > heap[0]!) {
          siftDown(heap, limit, lower)
          floor = heap[0]!
        }
      }
    }
    if (accepted === 0) return []
    // Every row not handed back has a bound below the final floor (the floor only rises).
    if (heap === undefined || held < limit) floor = Number.NEGATIVE_INFINITY
    const addressesAt = this.stagingAt / 4
    let candidates = 0
    let batched = 0
    // The `limit` largest fine lower bounds (a min-heap): the rows of the first exact round are those
    // whose upper bound reaches the smallest of them.
    const lowest = new Float64Array(limit)
    let lows = 0
    const refine = () => {
      const f32 = this.kernel.f32()
      for (let t = 0; t < batched; t++) {
        const i = reached[candidates - batched + t]!
        i32[addressesAt + t] = rows.chunks[Math.floor(i / CHUNK_ROWS)]! + (CHUNK_ROWS + (i % CHUNK_ROWS)) * stride
      }
      this.kernel.dotLoAt(this.queryAt, this.stagingAt, batched, stride, this.scoresAt)
      for (let t = 0; t < batched; t++) {
        const i = reached[candidates - batched + t]!
        const scale = f32[(rows.chunks[Math.floor(i / CHUNK_ROWS)]! + 2 * CHUNK_ROWS * stride) / 4 + (i % CHUNK_ROWS)]!
        // Both bounds hold; the fine one is nearly always the lower.
        const estimate = q.step * scale * (256 * coarse[i]! + f32[this.scoresAt / 4 + t]!)
        const upper = estimate + scale * fine + fixed
        if (upper < uppers[i]!) uppers[i] = upper
        const lower = estimate - scale * fine - fixed
        if (lows < limit) siftUp(lowest, lows++, lower)
        else if (lower > lowest[0]!) siftDown(lowest, limit, lower)
      }
      batched = 0
    }
    // The candidates: rows whose coarse bound reaches the final floor, compacted to the front of
    // `reached`, their fine bounds computed a kernel call per CHUNK_ROWS of them.
    for (let r = 0; r < found; r++) {
      const i = reached[r]!
      if (uppers[i]! < floor) continue
      reached[candidates++] = i
      if (++batched === CHUNK_ROWS) refine()
    }
    if (batched > 0) refine()
    reached = reached.subarray(0, candidates)
    // First round: every row whose fine upper bound reaches the `limit`-th best fine lower bound —
    // when those `limit` rows pass the exact filter (nearly always), no other row can be in the
    // answer, so one read of exact vectors settles the search, and it reads no row it need not.
    const reach = lows === limit ? lowest[0]! : Number.NEGATIVE_INFINITY
    let first = 0
    for (let r = 0; r < candidates; r++) if (uppers[reached[r]!]! >= reach) first++
    const scored: Array<S> = []
    let unscored = candidates
    for (let want = Math.max(first, limit);; want *= 4) {
      const next = topIndices(uppers, reached, want)
      for (const i of next) uppers[i] = Number.NEGATIVE_INFINITY
      unscored -= next.length
      scored.push(...rescore(next.map((i) => rows.keys[i]!)))
      scored.sort(compare)
      // Done when every row is scored, or no row left unscored can reach the k-th exact score.
      const kth = scored.length >= limit ? scored[limit - 1]!.score : Number.NEGATIVE_INFINITY
      if (unscored === 0 || highest(uppers, reached) < kth) break
    }
    // The pruning was sound if the `limit`-th exact score reaches the floor: every pruned row scores
    // below it. Otherwise (rows with the best lower bounds failed the exact filter, or fewer than
    // `limit` passed) search again without pruning.
    if (floor > Number.NEGATIVE_INFINITY && !(scored.length >= limit && scored[limit - 1]!.score >= floor)) {
      return this.search(agent, query, limit, rescore, compare, accept, false)
    }
    return scored.slice(0, limit)
  }

  /** The fields of every held row of `agent`, for tests and accounting. */
  view(agent: string): RowView | undefined {
    return this.agents.get(agent)
  }

  /**
   * Byte addresses of row i's high bytes (first part), low bytes, scale and high bytes (second part).
   * A chunk holds CHUNK_ROWS rows as arrays: the first `prefix` high bytes of every row, the other
   * high bytes, the low-byte rows, the scales, the norms of the second parts (so a scan reads the
   * first array, and of the second only the rows it does not drop).
   */
  private addresses(rows: Rows, i: number): readonly [number, number, number, number] {
    const chunk = rows.chunks[Math.floor(i / CHUNK_ROWS)]!
    const j = i % CHUNK_ROWS
    const rest = this.stride - this.prefix
    return [
      chunk + j * this.prefix,
      chunk + CHUNK_ROWS * this.stride + j * this.stride,
      chunk + 2 * CHUNK_ROWS * this.stride + j * 4,
      chunk + CHUNK_ROWS * this.prefix + j * rest
    ]
  }

  /** Byte address of row i's rest norm: the norm of its high bytes' second part (after the scales). */
  private restAt(rows: Rows, i: number): number {
    return rows.chunks[Math.floor(i / CHUNK_ROWS)]! + CHUNK_ROWS * (2 * this.stride + 4) + (i % CHUNK_ROWS) * 4
  }

  private setFields(rows: Rows, i: number, fields: RowFields): void {
    rows.createdAt[i] = fields.createdAt
    rows.confidence[i] = fields.confidence
    rows.scope[i] = fields.scope
    rows.source[i] = fields.source
  }

  /**
   * Normalise the query and write it as int16 with one step (its largest component becomes ±32767,
   * each component off by at most half a step): returns its L1 norm and the step, for the bound.
   */
  private writeQuery(
    query: ArrayLike<number>
  ): { readonly l1: number; readonly step: number; readonly sum: number; readonly rest: number } {
    const n = this.dimensions
    let norm = 0
    for (let d = 0; d < n; d++) norm += query[d]! * query[d]!
    norm = Math.sqrt(norm)
    let l1 = 0
    let top = 0
    for (let d = 0; d < n; d++) {
      const a = Math.abs(query[d]! / norm)
      l1 += a
      if (a > top) top = a
    }
    const k = QUERY_RANGE / top
    const i16 = this.kernel.i16()
    const at = this.queryAt / 2
    let sum = 0
    let restSquares = 0
    for (let d = 0; d < this.stride; d++) {
      const v = d < n ? Math.round((query[d]! / norm) * k) : 0
      i16[at + d] = v
      sum += v
      if (d >= this.prefix) restSquares += v * v
    }
    // The sum of squares is an exact integer; the margin covers the roots' rounding (here and the
    // rows' f32 norms).
    return { l1, step: top / QUERY_RANGE, sum, rest: Math.sqrt(restSquares) * (1 + 2 ** -20) }
  }
}

/**
 * Insert `v` into the min-heap `heap[0, size)` (which has room for it). With `keys`, a parallel array
 * moved alongside the heap, `key` is stored with `v`.
 */
const siftUp = (heap: Float64Array, size: number, v: number, keys?: Int32Array, key = 0): void => {
  let k = size
  while (k > 0) {
    const p = (k - 1) >> 1
    if (heap[p]! <= v) break
    heap[k] = heap[p]!
    if (keys !== undefined) keys[k] = keys[p]!
    k = p
  }
  heap[k] = v
  if (keys !== undefined) keys[k] = key
}

/** Replace the root of the full min-heap `heap[0, size)` by `v` (larger than it); `keys` as in `siftUp`. */
const siftDown = (heap: Float64Array, size: number, v: number, keys?: Int32Array, key = 0): void => {
  let k = 0
  for (;;) {
    const l = 2 * k + 1
    if (l >= size) break
    const r = l + 1
    const m = r < size && heap[r]! < heap[l]! ? r : l
    if (heap[m]! >= v) break
    heap[k] = heap[m]!
    if (keys !== undefined) keys[k] = keys[m]!
    k = m
  }
  heap[k] = v
  if (keys !== undefined) keys[k] = key
}

/** The largest of the values at the indices `among`. */
const highest = (values: Float64Array, among: Int32Array): number => {
  let top = Number.NEGATIVE_INFINITY
  for (let r = 0; r < among.length; r++) if (values[among[r]!]! > top) top = values[among[r]!]!
  return top
}

/** Of the indices `among`, the `want` whose values are largest and finite, largest first. */
const topIndices = (values: Float64Array, among: Int32Array, want: number): Array<number> => {
  // A min-heap of the best seen so far, in typed arrays: most values lose to its root after a few
  // rows, so the scan is one comparison per row.
  const at = new Int32Array(want)
  const best = new Float64Array(want)
  let size = 0
  for (let r = 0; r < among.length; r++) {
    const i = among[r]!
    const v = values[i]!
    if (v === Number.NEGATIVE_INFINITY) continue
    if (size < want) siftUp(best, size++, v, at, i)
    else if (v > best[0]!) siftDown(best, size, v, at, i)
  }
  return Array.from(at.subarray(0, size)).sort((a, b) => values[b]! - values[a]!)
}
