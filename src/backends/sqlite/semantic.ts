/**
 * SemanticStore on SQLite. A memory is a row of `memories`; its vector (when it has one) is the row
 * of the sqlite-vec table `memories_vec` with the same rowid, partitioned by agent with the filter
 * fields as metadata columns; its words are the FTS5 row with the same rowid.
 *
 * Vector recall is an exact KNN inside the agent's partition with every filter applied inside the
 * KNN, so `limit` rows come back whenever that many match. A metadata filter cannot be expressed in
 * sqlite-vec, so it falls back to an exact scan of the agent's filtered rows, ordered by
 * `vec_distance_cosine` and limited in SQL. Text recall is FTS5 over the core's tokens; hybrid
 * fuses the two with the core's reciprocal rank fusion. Scores and the final order come from the
 * core (`cosine`, `hitOrder`), so every backend ranks alike.
 */
import type Database from "better-sqlite3"
import { Effect, Option } from "effect"
import {
  accessed,
  decodeAgentId,
  decodeMemoryId,
  type Filter,
  fuseHybrid,
  hitOrder,
  idInUse,
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
import { MemoryNotFound } from "../../domain/errors.js"
import type { AgentId } from "../../domain/ids.js"
import { canonicalJson, type JsonObject } from "../../domain/json.js"
import type { Memory } from "../../domain/memory.js"
import { SemanticStore } from "../../services/SemanticStore.js"
import { attempt, type SqliteConnection } from "./client.js"

type Hit = { readonly memory: Memory; readonly score: number }

/** A row of `memories`. */
export interface MemoryRow {
  readonly rid: number
  readonly id: string
  readonly agent_id: string
  readonly content: string
  readonly source: string
  readonly scope: string
  readonly metadata: string
  readonly confidence: number
  readonly created_at: number
  readonly accessed_at: number
  readonly access_count: number
  readonly has_embedding: number
}

export const MEMORY_COLUMNS =
  "m.rid, m.id, m.agent_id, m.content, m.source, m.scope, m.metadata, m.confidence, m.created_at, m.accessed_at, m.access_count, m.has_embedding"

/** A vector as sqlite-vec stores it: little-endian float32. */
const toBlob = (v: ReadonlyArray<number>): Buffer => {
  const f = Float32Array.from(v)
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength)
}

/** The float32 values of a stored vector. */
export const fromBlob = (b: Buffer): Array<number> => {
  const n = b.byteLength >>> 2
  if (b.byteOffset % 4 === 0) return Array.from(new Float32Array(b.buffer, b.byteOffset, n))
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) out[i] = b.readFloatLE(i * 4)
  return out
}

export const toMemory = (r: MemoryRow, embedding: ReadonlyArray<number> | null): Memory => ({
  id: r.id as Memory["id"],
  agentId: r.agent_id as Memory["agentId"],
  content: r.content,
  source: r.source as Memory["source"],
  scope: r.scope,
  metadata: JSON.parse(r.metadata) as JsonObject,
  confidence: r.confidence,
  createdAt: r.created_at,
  accessedAt: r.accessed_at,
  accessCount: r.access_count,
  embedding
})

/** sqlite-vec refuses a KNN with k above this. */
const MAX_K = 4096

/**
 * Distances closer than this count as a tie when deciding whether a KNN page might cut through a
 * group of equal scores (sqlite-vec computes in float32; the core re-scores in float64).
 */
const TIE = 1e-5

/**
 * SQL conditions on the filter fields that both `memories m` (`column` = "m.") and the metadata
 * columns of `memories_vec` (`column` = "", applied inside the KNN) hold; appends their parameters.
 */
const fieldFilter = (f: Filter, params: Array<unknown>, column: string): string => {
  let sql = ""
  if (f.scope !== undefined) {
    sql += ` AND ${column}scope = ?`
    params.push(f.scope)
  }
  if (f.source !== undefined) {
    sql += ` AND ${column}source = ?`
    params.push(f.source)
  }
  if (f.minConfidence !== undefined) {
    sql += ` AND ${column}confidence >= ?`
    params.push(f.minConfidence)
  }
  if (f.after !== undefined) {
    sql += ` AND ${column}created_at > ?`
    params.push(f.after)
  }
  if (f.before !== undefined) {
    sql += ` AND ${column}created_at < ?`
    params.push(f.before)
  }
  return sql
}

/** SQL conditions on `memories m` for a filter; appends their parameters. */
const memoryFilter = (f: Filter, params: Array<unknown>): string => {
  let sql = fieldFilter(f, params, "m.")
  if (f.metadata !== undefined) {
    // Metadata is stored as canonical JSON, so a top-level value's JSON text (`->` returns the
    // stored text of the subtree) equals the canonical JSON of an equal filter value: JSON types stay
    // distinct (1 vs "1" vs true) and nested objects compare whole, whatever their key order.
    // json_each finds the key without building a JSON path from caller text.
    for (const [k, v] of Object.entries(f.metadata)) {
      sql += " AND EXISTS (SELECT 1 FROM json_each(m.metadata) j WHERE j.key = ? AND (m.metadata -> j.fullkey) = ?)"
      params.push(k, canonicalJson(v))
    }
  }
  return sql
}

/** SQL conditions on the metadata columns of `memories_vec`, applied inside the KNN. */
const vectorFilter = (f: Filter, params: Array<unknown>): string => fieldFilter(f, params, "")

const hasMetadataFilter = (f: Filter): boolean => f.metadata !== undefined && Object.keys(f.metadata).length > 0

/** Thrown inside a batch transaction to roll it back: input `index` uses another agent's id. */
class IdConflict {
  constructor(readonly index: number) {}
}

/** The names of the statements every semantic operation shares. */
type StatementName =
  | "insertMemory" | "ownerOf" | "insertVector" | "updateVector" | "vectorOf" | "insertTokens" | "deleteVector"
  | "deleteTokens" | "deleteMemory" | "setConfidence" | "setVectorConfidence" | "touch" | "byId"

/** The statements every semantic operation shares; prepared once per layer. */
export const statements = (conn: SqliteConnection): Record<StatementName, Database.Statement> => ({
  insertMemory: conn.db.prepare(
    `INSERT INTO memories (id, agent_id, content, source, scope, metadata, confidence, created_at, accessed_at, access_count, has_embedding)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
  ),
  ownerOf: conn.db.prepare(`SELECT agent_id FROM memories WHERE id = ?`).pluck(),
  insertVector: conn.db.prepare(
    `INSERT INTO memories_vec (rowid, agent_id, embedding, scope, source, confidence, created_at)
     VALUES (?, ?, ?, ?, ?, ?, CAST(? AS INTEGER))`
  ),
  updateVector: conn.db.prepare(`UPDATE memories_vec SET embedding = ? WHERE rowid = ?`),
  vectorOf: conn.db.prepare(`SELECT embedding FROM memories_vec WHERE rowid = ?`).pluck(),
  insertTokens: conn.db.prepare(`INSERT INTO memories_fts (rowid, tokens) VALUES (?, ?)`),
  deleteVector: conn.db.prepare(`DELETE FROM memories_vec WHERE rowid = ?`),
  deleteTokens: conn.db.prepare(`DELETE FROM memories_fts WHERE rowid = ?`),
  deleteMemory: conn.db.prepare(`DELETE FROM memories WHERE rid = ?`),
  setConfidence: conn.db.prepare(`UPDATE memories SET confidence = ? WHERE rid = ?`),
  setVectorConfidence: conn.db.prepare(`UPDATE memories_vec SET confidence = ? WHERE rowid = ?`),
  touch: conn.db.prepare(
    `UPDATE memories SET accessed_at = ?, access_count = access_count + 1 WHERE id IN (SELECT value FROM json_each(?))`
  ),
  byId: conn.db.prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id = ? AND m.agent_id = ?`)
})

export type Statements = ReturnType<typeof statements>

/** The agents holding at least one memory, in code point order (BINARY collation). */
export const agentsOf = (conn: SqliteConnection): ReadonlyArray<AgentId> =>
  conn.all<{ agent_id: string }>(`SELECT DISTINCT agent_id FROM memories ORDER BY agent_id`).map((r) => r.agent_id as AgentId)

/** Remove a memory's rows from all three tables (inside the caller's transaction). */
export const deleteMemory = (s: Statements, rid: number, hasEmbedding: boolean): void => {
  if (hasEmbedding) s.deleteVector.run(BigInt(rid))
  s.deleteTokens.run(rid)
  s.deleteMemory.run(rid)
}

/**
 * Store a memory in all three tables (inside the caller's transaction); false when its id already
 * exists, in which case nothing is written.
 */
export const storeMemory = (s: Statements, m: Memory): boolean => {
  const info = s.insertMemory.run(
    m.id,
    m.agentId,
    m.content,
    m.source,
    m.scope,
    canonicalJson(m.metadata),
    m.confidence,
    m.createdAt,
    m.accessedAt,
    m.accessCount,
    m.embedding === null ? 0 : 1
  )
  if (info.changes === 0) return false
  const rid = BigInt(info.lastInsertRowid)
  if (m.embedding !== null) {
    s.insertVector.run(rid, m.agentId, toBlob(m.embedding), m.scope, m.source, m.confidence, m.createdAt)
  }
  s.insertTokens.run(rid, tokenize(m.content).join(" "))
  return true
}

/** The stored vector of a memory row, or null when it has none. */
export const embeddingOf = (s: Statements, r: MemoryRow): ReadonlyArray<number> | null =>
  r.has_embedding === 1 ? fromBlob(s.vectorOf.get(BigInt(r.rid)) as Buffer) : null

/** The service over `conn`; prepares its statements (and so may throw, at layer build). */
export const make = (conn: SqliteConnection, limits: SemanticLimits) => {
  const s = statements(conn)

  /** Store a batch in one transaction; the index of an input whose id another agent owns, if any. */
  const insertAll = (ms: ReadonlyArray<Memory>): IdConflict | undefined => {
    try {
      conn.immediate(() => {
        for (let i = 0; i < ms.length; i++) {
          const m = ms[i]!
          // A taken id stores nothing; it is a conflict unless the owner is this memory's agent.
          if (!storeMemory(s, m) && s.ownerOf.get(m.id) !== m.agentId) throw new IdConflict(i)
        }
      })
      return undefined
    } catch (e) {
      if (e instanceof IdConflict) return e
      throw e
    }
  }

  /**
   * Rows ranked by ascending distance, fetched `k` at a time until the page does not end inside a
   * group of (near-)equal distances, so the core's tie order (createdAt desc, id desc) picks among
   * all tied rows rather than among those the engine happened to return.
   */
  const untilTieFree = <R extends { readonly distance: number }>(limit: number, fetch: (k: number) => Array<R>) => {
    let k = Math.min(limit + 1, MAX_K)
    for (;;) {
      const rows = fetch(k)
      if (rows.length < k || k >= MAX_K) return rows
      if (rows[k - 1]!.distance - rows[limit - 1]!.distance > TIE) return rows
      k = Math.min(k * 2, MAX_K)
    }
  }

  const scored = (
    rows: ReadonlyArray<MemoryRow & { readonly embedding: Buffer }>,
    query: ReadonlyArray<number>,
    limit: number
  ): Array<Hit> =>
    rows.map((r) => {
      const embedding = fromBlob(r.embedding)
      return { memory: toMemory(r, embedding), score: cosine(query, embedding) }
    }).sort(hitOrder).slice(0, limit)

  const vectorHits = (plan: RecallPlan & { readonly embedding: ReadonlyArray<number> }): Array<Hit> => {
    const query = toBlob(plan.embedding)
    if (hasMetadataFilter(plan.filter)) {
      // Exact scan of the agent's filtered rows. CROSS JOIN keeps memories as the outer loop (the
      // agent index plus filters), each vector fetched by rowid, instead of a scan of every vector.
      const params: Array<unknown> = [query, plan.agentId]
      const sql = `SELECT vec_distance_cosine(v.embedding, ?) AS distance, v.embedding AS embedding, ${MEMORY_COLUMNS}
        FROM memories m CROSS JOIN memories_vec v ON v.rowid = m.rid
        WHERE m.agent_id = ? AND m.has_embedding = 1${memoryFilter(plan.filter, params)}
        ORDER BY distance LIMIT ?`
      const rows = untilTieFree(plan.limit, (k) =>
        conn.all<MemoryRow & { distance: number; embedding: Buffer }>(sql, [...params, k]))
      return scored(rows, plan.embedding, plan.limit)
    }
    const params: Array<unknown> = [query, 0, plan.agentId]
    // MATERIALIZED keeps the KNN a unit of its own: the vector table drives, memories are joined after.
    const sql = `WITH knn AS MATERIALIZED (
        SELECT rowid, distance, embedding FROM memories_vec
        WHERE embedding MATCH ? AND k = ? AND agent_id = ?${vectorFilter(plan.filter, params)}
      )
      SELECT knn.distance AS distance, knn.embedding AS embedding, ${MEMORY_COLUMNS}
      FROM knn JOIN memories m ON m.rid = knn.rowid ORDER BY knn.distance`
    const rows = untilTieFree(plan.limit, (k) => {
      params[1] = k
      return conn.all<MemoryRow & { distance: number; embedding: Buffer }>(sql, params)
    })
    return scored(rows, plan.embedding, plan.limit)
  }

  const textHits = (plan: RecallPlan & { readonly terms: ReadonlyArray<string> }): Array<Hit> => {
    // Every term as a quoted FTS5 string, implicitly AND-ed. Terms are runs of letters, digits and
    // marks, so they never contain a quote or an FTS5 operator.
    const params: Array<unknown> = [plan.terms.map((t) => `"${t}"`).join(" "), plan.agentId]
    const sql = `SELECT -bm25(memories_fts) AS score, ${MEMORY_COLUMNS}
      FROM memories_fts JOIN memories m ON m.rid = memories_fts.rowid
      WHERE memories_fts MATCH ? AND m.agent_id = ?${memoryFilter(plan.filter, params)}
      ORDER BY bm25(memories_fts), m.created_at DESC, m.id DESC LIMIT ?`
    params.push(plan.limit)
    return conn.all<MemoryRow & { score: number }>(sql, params)
      .map((r) => ({ memory: toMemory(r, embeddingOf(s, r)), score: r.score }))
      .sort(hitOrder)
  }

  const newestHits = (plan: RecallPlan): Array<Hit> => {
    const params: Array<unknown> = [plan.agentId]
    const sql = `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.agent_id = ?${memoryFilter(plan.filter, params)}
      ORDER BY m.created_at DESC, m.id DESC LIMIT ?`
    params.push(plan.limit)
    return conn.all<MemoryRow>(sql, params).map((r) => ({ memory: toMemory(r, embeddingOf(s, r)), score: 0 }))
  }

  /**
   * Answer a plan and count the access of what it returns, in one transaction. Its only writes are
   * the access counters, so it commits without an fsync of its own (see `immediateStatistics`).
   */
  const answer = (plan: RecallPlan): ReadonlyArray<Hit> =>
    conn.immediateStatistics(() => {
      let hits: ReadonlyArray<Hit>
      switch (plan.mode) {
        case "vector":
          hits = vectorHits(plan)
          break
        case "text":
          hits = textHits(plan)
          break
        case "hybrid":
          hits = fuseHybrid(vectorHits(plan), textHits(plan), plan.limit)
          break
        case "newest":
          hits = newestHits(plan)
          break
      }
      if (hits.length === 0) return hits
      // One statement for every returned memory, in the transaction that read them.
      s.touch.run(plan.now, JSON.stringify(hits.map((h) => h.memory.id)))
      return hits.map((h) => ({ memory: accessed(h.memory, plan.now), score: h.score }))
    })

  return SemanticStore.of({
    embeddingSpace: limits.space,
    remember: (input) =>
      Effect.gen(function*() {
        const m = yield* prepareRemember(input, limits)
        const conflict = yield* attempt("SemanticStore.remember", () => insertAll([m]))
        if (conflict !== undefined) return yield* idInUse("input.id")
        return m.id
      }),
    rememberMany: (inputs) =>
      Effect.gen(function*() {
        const ms = yield* prepareRememberMany(inputs, limits)
        if (ms.length === 0) return []
        const conflict = yield* attempt("SemanticStore.rememberMany", () => insertAll(ms))
        if (conflict !== undefined) return yield* idInUse(`inputs[${conflict.index}].id`)
        return ms.map((m) => m.id)
      }),
    recall: (query) =>
      Effect.flatMap(planRecall(query, limits), (plan) => attempt("SemanticStore.recall", () => answer(plan))),
    get: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        return yield* attempt("SemanticStore.get", () =>
          conn.read(() => {
            const r = s.byId.get(id, agent) as MemoryRow | undefined
            return r === undefined ? Option.none() : Option.some(toMemory(r, embeddingOf(s, r)))
          }))
      }),
    forget: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        return yield* attempt("SemanticStore.forget", () =>
          conn.immediate(() => {
            const r = s.byId.get(id, agent) as MemoryRow | undefined
            if (r === undefined) return false
            deleteMemory(s, r.rid, r.has_embedding === 1)
            return true
          }))
      }),
    updateEmbedding: (a, i, e) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        const embedding = yield* prepareEmbedding(e, limits)
        const found = yield* attempt("SemanticStore.updateEmbedding", () =>
          conn.immediate(() => {
            const r = s.byId.get(id, agent) as MemoryRow | undefined
            if (r === undefined) return false
            const rid = BigInt(r.rid)
            if (r.has_embedding === 1) {
              s.updateVector.run(toBlob(embedding), rid)
            } else {
              s.insertVector.run(rid, r.agent_id, toBlob(embedding), r.scope, r.source, r.confidence, r.created_at)
              conn.run(`UPDATE memories SET has_embedding = 1 WHERE rid = ?`, [r.rid])
            }
            return true
          }))
        if (!found) return yield* new MemoryNotFound({ agentId: agent, memoryId: id })
      }),
    count: (a, f) =>
      Effect.gen(function*() {
        const agent = yield* decodeAgentId(a)
        const filter = yield* prepareFilter(f)
        const params: Array<unknown> = [agent]
        const sql = `SELECT count(*) AS n FROM memories m WHERE m.agent_id = ?${memoryFilter(filter, params)}`
        return yield* attempt("SemanticStore.count", () => conn.get<{ n: number }>(sql, params)!.n)
      })
  })
}
