/**
 * SemanticStore on PostgreSQL + pgvector.
 *
 * Vector recall asks pgvector's HNSW index (cosine) for the nearest rows of the agent that pass the
 * filters. Every connection runs with `hnsw.iterative_scan = relaxed_order` (client.ts), so a
 * selective filter (one agent among many) makes the index keep scanning until enough rows pass
 * instead of returning the few that happened to be among the first `ef_search` candidates;
 * `hnsw.ef_search` is raised per connection when a query asks for more rows than it holds. When
 * the agent's filtered set is small the planner answers with an exact scan of it instead.
 *
 * Results are exactly what src/core prescribes. pgvector computes distances in float32, the core
 * ranks by double-precision cosine (then createdAt desc, id desc), so a recall reads the `limit + 1`
 * nearest rows and takes the first `limit` when the `limit`-th and the next are further apart than
 * float32 error can bridge — and, when fewer came back, when nothing else matches. Otherwise (a
 * near-tie at the boundary, or an index scan that gave up early) the boundary band is fetched —
 * exactly, without the index, when the candidates are not known to contain it — and the core ranks
 * it. Scores are always the core's `cosine` of the stored float32 vectors.
 *
 * Text recall matches a tsvector built from the core's tokens (src/core/textSearch.ts) with a
 * tsquery built from the core's query terms — no PostgreSQL parser, so every backend matches the
 * same set — and ranks by the core's score computed in SQL from stored term counts.
 *
 * Every recall is two short statements on one connection: the ranking read, then the access
 * counters of exactly the memories returned (a prepared statement, committed asynchronously).
 */
import { Effect, Option } from "effect"
import { createHash } from "node:crypto"
import { type InvalidInput, MemoryNotFound, type StoreFailure } from "../../domain/errors.js"
import type { JsonObject } from "../../domain/json.js"
import type { Memory } from "../../domain/memory.js"
import { utf8Length } from "../../domain/text.js"
import {
  accessed,
  decodeAgentId,
  decodeMemoryId,
  type Filter,
  fuseHybrid,
  hitOrder,
  idInUse,
  newestOrder,
  planRecall,
  prepareEmbedding,
  prepareFilter,
  prepareRemember,
  prepareRememberMany,
  type RecallPlan,
  type SemanticLimits
} from "../../core/semantic.js"
import { tokenize } from "../../core/textSearch.js"
import { cosine } from "../../core/vector.js"
import { SemanticStore } from "../../services/SemanticStore.js"
import { type Connection, DEFAULT_EF_SEARCH, parseJson, type PgClient, type Queryable, sqlState } from "./client.js"

type Hit = { readonly memory: Memory; readonly score: number }

/** Collects positional parameters while a statement is assembled. */
export class Params {
  readonly values: Array<unknown> = []
  add(value: unknown): string {
    this.values.push(value)
    return `$${this.values.length}`
  }
}

export interface MemoryRow {
  id: string
  agent_id: string
  content: string
  source: string
  scope: string
  metadata: string
  confidence: number
  created_at: number
  accessed_at: number
  access_count: number
  embedding: Buffer | null
}

/**
 * The columns of a memory row. The vector comes back in pgvector's binary form (`vector_send`:
 * int16 dimensions, int16 unused, then big-endian float32 values), which decodes an order of
 * magnitude faster than its text form and is exactly the stored float32 values.
 */
export const columns = (alias = "") => {
  const a = alias === "" ? "" : `${alias}.`
  return `${a}id, ${a}agent_id, ${a}content, ${a}source, ${a}scope, ${a}metadata, ${a}confidence, ${a}created_at, ` +
    `${a}accessed_at, ${a}access_count, vector_send(${a}embedding) AS embedding`
}

/** Decode a vector in pgvector's binary form. */
export const decodeVector = (bytes: Buffer): ReadonlyArray<number> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dimensions = view.getInt16(0)
  const out = new Array<number>(dimensions)
  for (let i = 0; i < dimensions; i++) out[i] = view.getFloat32(4 + 4 * i)
  return out
}

export const toMemory = (r: MemoryRow): Memory => ({
  id: r.id as Memory["id"],
  agentId: r.agent_id as Memory["agentId"],
  content: r.content,
  source: r.source as Memory["source"],
  scope: r.scope,
  metadata: parseJson<JsonObject>(r.metadata),
  confidence: r.confidence,
  createdAt: r.created_at,
  accessedAt: r.accessed_at,
  accessCount: r.access_count,
  embedding: r.embedding === null ? null : decodeVector(r.embedding)
})

/** pgvector's parameter form of a vector. */
export const vectorText = (v: ReadonlyArray<number>): string => JSON.stringify(v)

// ---------------------------------------------------------------------------------------------
// Text indexing

/**
 * tsvector lexemes are limited to 2,047 bytes; a longer token is indexed (and queried) by a digest
 * that cannot collide with a real token ('#' is never part of a word).
 */
const MAX_LEXEME_BYTES = 1000
/** Past this many bytes of distinct lexemes the document would not fit a tsvector (1 MB). */
const MAX_TSVECTOR_BYTES = 900_000

export const lexeme = (token: string): string =>
  utf8Length(token) <= MAX_LEXEME_BYTES ? token : `#${createHash("sha256").update(token).digest("hex")}`

/** What the text columns of a memory hold. */
export interface TextIndex {
  /** distinct lexemes joined by spaces, or null when they do not fit a tsvector */
  readonly lexemes: string | null
  /** lexeme → number of occurrences, as JSON */
  readonly tf: string
  /** the core's length normalisation: 1.2 · (0.25 + 0.75 · tokens / 100) (src/core/textSearch.ts) */
  readonly lenNorm: number
}

export const textIndex = (content: string): TextIndex => {
  const tokens = tokenize(content)
  const tf = new Map<string, number>()
  for (const t of tokens) {
    const l = lexeme(t)
    tf.set(l, (tf.get(l) ?? 0) + 1)
  }
  let bytes = 0
  for (const l of tf.keys()) bytes += utf8Length(l) + 1
  return {
    lexemes: bytes > MAX_TSVECTOR_BYTES ? null : [...tf.keys()].join(" "),
    tf: JSON.stringify(Object.fromEntries(tf)),
    lenNorm: 1.2 * (0.25 + 0.75 * tokens.length / 100)
  }
}

/** A tsquery literal requiring every term; lexemes are quoted, so no term is read as an operator. */
const tsquery = (terms: ReadonlyArray<string>): string =>
  terms.map((t) => `'${t.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`).join(" & ")

/**
 * The SQL of the text match and of the core's relevance score, Σ tf / (tf + len_norm) summed in
 * query-term order from 0 — the same float operations as `textScore`, so ties fall identically.
 */
const textSql = (terms: ReadonlyArray<string>, p: Params, alias = "") => {
  const a = alias === "" ? "" : `${alias}.`
  const lexemes = terms.map(lexeme)
  const arr = p.add(lexemes)
  const match = `(${a}tsv @@ ${p.add(tsquery(lexemes))}::tsquery OR (${a}tsv IS NULL AND ${a}tf ?& ${arr}::text[]))`
  const parts = lexemes.map((_, i) => {
    const tf = `(${a}tf ->> (${arr}::text[])[${i + 1}])::float8`
    return `${tf} / (${tf} + ${a}len_norm)`
  })
  return { match, score: `(0::float8 + ${parts.join(" + ")})` }
}

// ---------------------------------------------------------------------------------------------
// Filters

/** The WHERE clause of an agent's memories passing `f` (the SQL form of `matchesFilter`). */
const filterSql = (agentId: string, f: Filter, p: Params, alias = ""): string => {
  const a = alias === "" ? "" : `${alias}.`
  const where = [`${a}agent_id = ${p.add(agentId)}`]
  if (f.scope !== undefined) where.push(`${a}scope = ${p.add(f.scope)}`)
  if (f.source !== undefined) where.push(`${a}source = ${p.add(f.source)}`)
  if (f.minConfidence !== undefined) where.push(`${a}confidence >= ${p.add(f.minConfidence)}::float8`)
  if (f.after !== undefined) where.push(`${a}created_at > ${p.add(f.after)}::bigint`)
  if (f.before !== undefined) where.push(`${a}created_at < ${p.add(f.before)}::bigint`)
  if (f.metadata !== undefined) {
    // jsonb equality is structural (key order and number spelling do not matter), like jsonEquals;
    // a missing key gives NULL, which fails the test, like Object.hasOwn.
    for (const [k, v] of Object.entries(f.metadata)) {
      where.push(`(${a}metadata::jsonb -> ${p.add(k)}::text) = ${p.add(JSON.stringify(v))}::jsonb`)
    }
  }
  return where.join(" AND ")
}

// ---------------------------------------------------------------------------------------------
// Ranking and access counters

/**
 * How far apart two pgvector distances must be for their order to be the exact (double precision)
 * one: a margin of several typical float32 rounding errors of a `dimensions`-long cosine. Closer
 * pairs at the `limit` boundary are settled exactly in JavaScript.
 */
const distanceTolerance = (dimensions: number): number => 16 * Math.sqrt(dimensions) * 2 ** -24

/** Candidates fetched past `limit` when the boundary has to be settled in JavaScript. */
const BAND_MARGIN = 16

/** Raise `hnsw.ef_search` on this connection when a query asks for more rows than it holds. */
const ensureEfSearch = (client: PgClient, q: Queryable, conn: Connection, rows: number) =>
  Effect.suspend(() => {
    const wanted = Math.min(1000, Math.max(DEFAULT_EF_SEARCH, Math.ceil(rows / 20) * 20))
    if ((client.efSearch.get(conn.client) ?? DEFAULT_EF_SEARCH) === wanted) return Effect.void
    return Effect.tap(q.execute(`SET hnsw.ef_search = ${wanted}`), () => Effect.sync(() => client.efSearch.set(conn.client, wanted)))
  })

type VectorPlan = RecallPlan & { readonly embedding: ReadonlyArray<number> }

/** The exact top `limit` by the core's order, from rows that certainly contain it. */
const rankExactly = (rows: ReadonlyArray<MemoryRow>, plan: VectorPlan): Array<Hit> =>
  rows.map((r) => {
    const memory = toMemory(r)
    return { memory, score: cosine(plan.embedding, memory.embedding!) }
  }).sort(hitOrder).slice(0, plan.limit)

/** The agent's memories passing the filters with a vector, capped at `cap` (are there more than found?). */
const countVectors = (q: Queryable, plan: VectorPlan, cap: number) =>
  Effect.gen(function*() {
    const p = new Params()
    const rows = yield* q.query<{ n: number }>({
      text: `SELECT count(*)::int AS n FROM (SELECT 1 FROM memories
               WHERE ${filterSql(plan.agentId, plan.filter, p)} AND embedding IS NOT NULL LIMIT ${p.add(cap)}) t`,
      values: p.values
    })
    return rows[0]!.n
  })

/**
 * The top `limit` vector hits with full rows (no counters touched): the index's nearest candidates,
 * settled exactly at the boundary. Falls back to an exact scan of the filtered set when the index
 * returned fewer rows than asked while more match, and to the exact band of rows within float32
 * error of the boundary when a near-tie group runs past the candidates.
 */
const vectorRanking = (client: PgClient, q: Queryable, conn: Connection, plan: VectorPlan, eps: number) =>
  Effect.gen(function*() {
    const k = plan.limit + BAND_MARGIN
    yield* ensureEfSearch(client, q, conn, k)
    const select = (tail: (p: Params, qv: string) => string) => {
      const p = new Params()
      const where = filterSql(plan.agentId, plan.filter, p)
      const qv = `${p.add(vectorText(plan.embedding))}::vector`
      const text = `SELECT ${columns()}, cosine_distance(embedding, ${qv}) AS d FROM memories
                    WHERE ${where} AND embedding IS NOT NULL ${tail(p, qv)}`
      return Effect.map(q.query<MemoryRow & { d: number }>({ text, values: p.values }), (rows) =>
        [...rows].sort((x, y) => x.d - y.d))
    }
    // `<=>` in ORDER BY lets the planner use the HNSW index; `cosine_distance` (the same function)
    // is not an index-ordering operator, so the fallbacks below are exact.
    let rows = yield* select((p, qv) => `ORDER BY embedding <=> ${qv} LIMIT ${p.add(k)}`)
    if (rows.length < k && (yield* countVectors(q, plan, k)) > rows.length) {
      rows = yield* select((p, qv) => `ORDER BY cosine_distance(embedding, ${qv}), created_at DESC, id DESC LIMIT ${p.add(k)}`)
    }
    if (rows.length === k && rows[k - 1]!.d <= rows[plan.limit - 1]!.d + eps) {
      const bound = rows[plan.limit - 1]!.d + eps
      rows = yield* select((p, qv) => `AND cosine_distance(embedding, ${qv}) <= ${p.add(bound)}::float8`)
    }
    return rankExactly(rows, plan)
  })

/**
 * The top `limit` vector hits, usually from one short statement: the `limit + 1` nearest
 * candidates by pgvector distance (the HNSW index, or an exact scan when the planner finds the
 * filtered set small). Their order decides when the `limit`-th and the next are further apart than
 * float32 error can bridge (or when fewer came back and nothing else matches); otherwise
 * `vectorRanking` settles it exactly.
 */
const vectorHits = (client: PgClient, q: Queryable, conn: Connection, plan: VectorPlan, eps: number) =>
  Effect.gen(function*() {
    const k = plan.limit + 1
    yield* ensureEfSearch(client, q, conn, k)
    const p = new Params()
    const where = filterSql(plan.agentId, plan.filter, p)
    const qv = p.add(vectorText(plan.embedding))
    const rows = yield* q.query<MemoryRow & { d: number }>({
      text: `SELECT ${columns()}, embedding <=> ${qv}::vector AS d FROM memories
             WHERE ${where} AND embedding IS NOT NULL
             ORDER BY embedding <=> ${qv}::vector LIMIT ${p.add(k)}`,
      values: p.values
    })
    // Relaxed-order index scans return candidates nearly sorted: sort them, ties like the core.
    const sorted = [...rows].sort((a, b) =>
      a.d - b.d || b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
    )
    const settled = sorted.length === k
      ? sorted[k - 1]!.d - sorted[plan.limit - 1]!.d > eps
      : (yield* countVectors(q, plan, k)) === sorted.length
    return settled ? rankExactly(sorted.slice(0, plan.limit), plan) : yield* vectorRanking(client, q, conn, plan, eps)
  })

/**
 * A CTE that makes the statement's own transaction commit without waiting for the WAL flush. Only
 * the access-counter updates of recall use it: they are visible to every reader at once like any
 * commit, and a server crash can lose at most the last fraction of a second of them — never a
 * memory — while a recall no longer waits for a disk flush.
 */
const ASYNC_COMMIT = "relaxed AS (SELECT set_config('synchronous_commit', 'off', true) AS setting)"

/**
 * Set accessedAt = now and accessCount + 1 on the memories a recall returns (the returned copies are
 * the core's `accessed` of the rows read). A prepared statement, planned once per connection: it only
 * looks rows up by primary key.
 */
const touch = (q: Queryable, ids: ReadonlyArray<string>, now: number) =>
  ids.length === 0 ? Effect.void : Effect.asVoid(q.execute({
    name: "engram_memories_touch",
    text: `WITH ${ASYNC_COMMIT}
           UPDATE memories m SET accessed_at = $2, access_count = m.access_count + 1
           FROM relaxed WHERE m.id = ANY($1::text[])`,
    values: [ids, now]
  }))

// ---------------------------------------------------------------------------------------------
// Writes

interface Prepared {
  readonly memory: Memory
  readonly text: TextIndex
}

/** Largest number of memories one INSERT statement carries. */
const INSERT_CHUNK = 1000

/** The parameters of an insert: one array per column (unnest turns them back into rows). */
const insertValues = (batch: ReadonlyArray<Prepared>): ReadonlyArray<unknown> => [
  batch.map((b) => b.memory.id),
  batch.map((b) => b.memory.agentId),
  batch.map((b) => b.memory.content),
  batch.map((b) => b.memory.source),
  batch.map((b) => b.memory.scope),
  batch.map((b) => JSON.stringify(b.memory.metadata)),
  batch.map((b) => b.memory.confidence),
  batch.map((b) => b.memory.createdAt),
  batch.map((b) => (b.memory.embedding === null ? null : vectorText(b.memory.embedding))),
  batch.map((b) => b.text.lexemes),
  batch.map((b) => b.text.tf),
  batch.map((b) => b.text.lenNorm)
]

const INPUT_ROWS = `unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                           $7::float8[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::float8[])`
const INPUT_COLUMNS = "id, agent_id, content, source, scope, metadata, confidence, created_at, embedding, lexemes, tf, len_norm"
const INSERT_INTO = `INSERT INTO memories (id, agent_id, content, source, scope, metadata, confidence, created_at,
                                           accessed_at, access_count, embedding, tsv, tf, len_norm)
                     SELECT i.id, i.agent_id, i.content, i.source, i.scope, i.metadata, i.confidence, i.created_at,
                            i.created_at, 0, i.embedding::vector,
                            CASE WHEN i.lexemes IS NULL THEN NULL ELSE array_to_tsvector(string_to_array(i.lexemes, ' ')) END,
                            i.tf::jsonb, i.len_norm`

/**
 * Insert prepared memories in one statement (prepared once per connection: its shape does not
 * depend on the batch). When every id was minted here, the ids are new UUIDv7s and the rows are
 * inserted directly. Otherwise existing ids of the same agent are idempotent replays (the first
 * write wins), and when an id belongs to another agent's memory nothing is inserted and the
 * position (0-based) of the first such input is returned.
 */
const insertChunk = (q: Queryable, batch: ReadonlyArray<Prepared>, minted: boolean) =>
  minted
    ? Effect.as(
      q.execute({
        name: "engram_memories_insert_minted",
        text: `${INSERT_INTO} FROM ${INPUT_ROWS} AS i(${INPUT_COLUMNS})`,
        values: insertValues(batch)
      }),
      null
    )
    : Effect.map(
      q.query<{ conflict: number | null }>({
        name: "engram_memories_insert",
        text: `WITH input AS (SELECT * FROM ${INPUT_ROWS} WITH ORDINALITY AS u(${INPUT_COLUMNS}, ord)),
               existing AS (SELECT m.id, m.agent_id FROM memories m WHERE m.id = ANY($1::text[])),
               conflict AS (
                 SELECT i.ord FROM existing e JOIN input i ON i.id = e.id WHERE e.agent_id <> i.agent_id ORDER BY i.ord LIMIT 1
               ),
               ins AS (
                 ${INSERT_INTO}
                 FROM input i
                 WHERE NOT EXISTS (SELECT 1 FROM conflict) AND NOT EXISTS (SELECT 1 FROM existing e WHERE e.id = i.id)
               )
               SELECT (SELECT ord - 1 FROM conflict) AS conflict`,
        values: insertValues(batch)
      }),
      (rows) => rows[0]?.conflict ?? null
    )

/**
 * Store memories atomically; `field(i)` names input i in errors. Retried once when a concurrent
 * writer inserted one of the ids between the check and the insert (a unique violation aborts the
 * whole statement, so nothing of the first try stays).
 */
const insertMemories = (
  client: PgClient,
  memories: ReadonlyArray<Memory>,
  minted: boolean,
  field: (i: number) => string
) =>
  Effect.gen(function*() {
    const prepared = memories.map((memory) => ({ memory, text: textIndex(memory.content) }))
    // One statement is atomic by itself; a larger batch is several statements in one transaction.
    const run: Effect.Effect<number | null, StoreFailure | InvalidInput> = prepared.length <= INSERT_CHUNK
      ? client.withConnection("SemanticStore.remember", (q) => insertChunk(q, prepared, minted))
      : client.transaction("SemanticStore.rememberMany", (q) =>
        Effect.gen(function*() {
          for (let i = 0; i < prepared.length; i += INSERT_CHUNK) {
            const conflict = yield* insertChunk(q, prepared.slice(i, i + INSERT_CHUNK), minted)
            // Failing rolls the whole batch back.
            if (conflict !== null) return yield* idInUse(field(i + conflict))
          }
          return null
        }))
    const conflict = yield* run.pipe(
      Effect.catchIf((e) => e._tag === "StorageError" && sqlState(e.cause) === "23505", () => run)
    )
    if (conflict !== null) return yield* idInUse(field(conflict))
  })

// ---------------------------------------------------------------------------------------------

export const make = (client: PgClient, limits: SemanticLimits) => {
  const eps = distanceTolerance(limits.space.dimensions)
  const operation = "SemanticStore.recall"

  const textRanking = (q: Queryable, plan: RecallPlan & { readonly terms: ReadonlyArray<string> }) =>
    Effect.gen(function*() {
      const p = new Params()
      const where = filterSql(plan.agentId, plan.filter, p)
      const t = textSql(plan.terms, p)
      return yield* q.query<MemoryRow & { score: number }>({
        text: `SELECT ${columns()}, ${t.score} AS score FROM memories WHERE ${where} AND ${t.match}
               ORDER BY score DESC, created_at DESC, id DESC LIMIT ${p.add(plan.limit)}`,
        values: p.values
      })
    })

  /** The hits of a plan, ranked as the core orders them (counters not yet updated). */
  const rank = (q: Queryable, conn: Connection, plan: RecallPlan): Effect.Effect<ReadonlyArray<Hit>, StoreFailure> => {
    switch (plan.mode) {
      case "vector":
        return vectorHits(client, q, conn, plan, eps)
      case "text":
        return Effect.map(textRanking(q, plan), (rows) => rows.map((r) => ({ memory: toMemory(r), score: r.score })))
      case "newest":
        return Effect.suspend(() => {
          const p = new Params()
          const where = filterSql(plan.agentId, plan.filter, p)
          return Effect.map(
            q.query<MemoryRow>({
              text: `SELECT ${columns()} FROM memories WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT ${p.add(plan.limit)}`,
              values: p.values
            }),
            (rows) => rows.map((r) => ({ memory: toMemory(r), score: 0 }))
          )
        })
      case "hybrid":
        return Effect.gen(function*() {
          const vector = yield* vectorRanking(client, q, conn, plan, eps)
          const text = (yield* textRanking(q, plan)).map((r) => ({ memory: toMemory(r), score: r.score }))
          return fuseHybrid(vector, text, plan.limit)
        })
    }
  }

  /** Rank, then update the access counters of what is returned: two short statements on one connection. */
  const recall = (plan: RecallPlan): Effect.Effect<ReadonlyArray<Hit>, StoreFailure> =>
    client.withConnection(operation, (q, conn) =>
      Effect.gen(function*() {
        const hits = yield* rank(q, conn, plan)
        yield* touch(q, hits.map((h) => h.memory.id), plan.now)
        return hits.map((h) => ({ memory: accessed(h.memory, plan.now), score: h.score }))
      }))

  return SemanticStore.of({
    embeddingSpace: limits.space,
    remember: (input) =>
      Effect.gen(function*() {
        const m = yield* prepareRemember(input, limits)
        yield* insertMemories(client, [m], input.id === undefined, () => "input.id")
        return m.id
      }),
    rememberMany: (inputs) =>
      Effect.gen(function*() {
        const ms = yield* prepareRememberMany(inputs, limits)
        // Ids minted here cannot collide; only caller-chosen ones need the replay/conflict check.
        const minted = inputs.every((i) => i.id === undefined)
        if (ms.length > 0) yield* insertMemories(client, ms, minted, (i) => `inputs[${i}].id`)
        return ms.map((m) => m.id)
      }),
    recall: (query) =>
      Effect.gen(function*() {
        const plan = yield* planRecall(query, limits)
        const hits = yield* recall(plan)
        return [...hits].sort(plan.mode === "newest" ? (a, b) => newestOrder(a.memory, b.memory) : hitOrder)
      }),
    get: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        const rows = yield* client.query<MemoryRow>("SemanticStore.get", {
          text: `SELECT ${columns()} FROM memories WHERE id = $1 AND agent_id = $2`,
          values: [id, agent]
        })
        return Option.map(Option.fromNullable(rows[0]), toMemory)
      }),
    forget: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        const n = yield* client.execute("SemanticStore.forget", {
          text: "DELETE FROM memories WHERE id = $1 AND agent_id = $2",
          values: [id, agent]
        })
        return n > 0
      }),
    updateEmbedding: (a, i, e) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        const embedding = yield* prepareEmbedding(e, limits)
        const n = yield* client.execute("SemanticStore.updateEmbedding", {
          text: "UPDATE memories SET embedding = $3::vector WHERE id = $1 AND agent_id = $2",
          values: [id, agent, vectorText(embedding)]
        })
        if (n === 0) return yield* new MemoryNotFound({ agentId: agent, memoryId: id })
      }),
    count: (a, f) =>
      Effect.gen(function*() {
        const agent = yield* decodeAgentId(a)
        const filter = yield* prepareFilter(f)
        const p = new Params()
        const rows = yield* client.query<{ n: number }>("SemanticStore.count", {
          text: `SELECT count(*)::int AS n FROM memories WHERE ${filterSql(agent, filter, p)}`,
          values: p.values
        })
        return rows[0]!.n
      })
  })
}
