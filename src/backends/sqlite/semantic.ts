/**
 * SemanticStore's port on SQLite (a memory's three tables: memories.ts).
 *
 * Vector recall is an exact KNN inside the agent's partition with every filter applied inside the
 * KNN, so `limit` rows come back whenever that many match. A metadata filter cannot be expressed in
 * sqlite-vec, so it falls back to an exact scan of the agent's filtered rows, ordered by
 * `vec_distance_cosine` and limited in SQL. Either way the rows read go on past `limit` until the
 * page does not end inside a group of near-equal distances, so the core's exact ranking sees every
 * memory that could be in the top `limit`. Text recall is FTS5 over the core's tokens, ranked by
 * bm25. A recall reads and counts the access of what it returns in one transaction.
 */
import { Effect, Option } from "effect"
import type { Candidates, Hit, RecallPlan } from "../../core/recall.js"
import type { SemanticPort } from "../../core/semantic.js"
import type { Memory } from "../../domain/memory.js"
import { attempt, type SqliteConnection } from "./client.js"
import {
  deleteMemory,
  MEMORY_COLUMNS,
  memoryWithBlob,
  readMemory,
  setVector,
  statements,
  storedRow,
  storeMemory,
  toBlob
} from "./memories.js"
import { fitsVectorTable, memoryFilterSql, vectorFilterSql } from "./memoryFilter.js"

/** sqlite-vec refuses a KNN with k above this. */
const MAX_K = 4096

/**
 * Distances closer than this count as a tie when deciding whether a KNN page might cut through a
 * group of equal scores (sqlite-vec computes in float32; the core re-scores in float64).
 */
const TIE = 1e-5

/** Thrown inside a batch transaction to roll it back: input `index` uses another agent's id. */
class IdConflict {
  constructor(readonly index: number) {}
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

type Distanced = { readonly distance: number }

/** The port over `conn`; prepares its statements (and so may throw, at layer build). */
export const port = (conn: SqliteConnection): SemanticPort => {
  const s = statements(conn)
  const touch = conn.db.prepare(
    `UPDATE memories SET accessed_at = ?, access_count = access_count + 1 WHERE id IN (SELECT value FROM json_each(?))`
  )

  /** Store a batch in one transaction; the index of an input whose id another agent owns, if any. */
  const insertAll = (ms: ReadonlyArray<Memory>): number | undefined => {
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
      if (e instanceof IdConflict) return e.index
      throw e
    }
  }

  const nearest = (plan: RecallPlan & { readonly embedding: ReadonlyArray<number> }): Array<Memory> => {
    const query = toBlob(plan.embedding)
    if (!fitsVectorTable(plan.filter)) {
      // Exact scan of the agent's filtered rows. CROSS JOIN keeps memories as the outer loop (the
      // agent index plus filters), each vector fetched by rowid, instead of a scan of every vector.
      const params: Array<unknown> = [query, plan.agentId]
      const sql = `SELECT vec_distance_cosine(v.embedding, ?) AS distance, v.embedding AS embedding, ${MEMORY_COLUMNS}
        FROM memories m CROSS JOIN memories_vec v ON v.rowid = m.rid
        WHERE m.agent_id = ? AND m.has_embedding = 1${memoryFilterSql(plan.filter, params)}
        ORDER BY distance LIMIT ?`
      return untilTieFree(plan.limit, (k) => conn.all<Distanced>(sql, [...params, k])).map(memoryWithBlob)
    }
    const params: Array<unknown> = [query, 0, plan.agentId]
    // MATERIALIZED keeps the KNN a unit of its own: the vector table drives, memories are joined after.
    const sql = `WITH knn AS MATERIALIZED (
        SELECT rowid, distance, embedding FROM memories_vec
        WHERE embedding MATCH ? AND k = ? AND agent_id = ?${vectorFilterSql(plan.filter, params)}
      )
      SELECT knn.distance AS distance, knn.embedding AS embedding, ${MEMORY_COLUMNS}
      FROM knn JOIN memories m ON m.rid = knn.rowid ORDER BY knn.distance`
    return untilTieFree(plan.limit, (k) => {
      params[1] = k
      return conn.all<Distanced>(sql, params)
    }).map(memoryWithBlob)
  }

  const matches = (plan: RecallPlan & { readonly terms: ReadonlyArray<string> }): Array<Hit> => {
    // Every term as a quoted FTS5 string, implicitly AND-ed. Terms are runs of letters, digits and
    // marks, so they never contain a quote or an FTS5 operator.
    const params: Array<unknown> = [plan.terms.map((t) => `"${t}"`).join(" "), plan.agentId]
    const sql = `SELECT -bm25(memories_fts) AS score, ${MEMORY_COLUMNS}
      FROM memories_fts JOIN memories m ON m.rid = memories_fts.rowid
      WHERE memories_fts MATCH ? AND m.agent_id = ?${memoryFilterSql(plan.filter, params)}
      ORDER BY bm25(memories_fts), m.created_at DESC, m.id DESC LIMIT ?`
    params.push(plan.limit)
    return conn.all<{ score: number }>(sql, params).map((r) => ({ memory: readMemory(s, r), score: r.score }))
  }

  const newest = (plan: RecallPlan): Array<Memory> => {
    const params: Array<unknown> = [plan.agentId]
    const sql = `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.agent_id = ?${memoryFilterSql(plan.filter, params)}
      ORDER BY m.created_at DESC, m.id DESC LIMIT ?`
    params.push(plan.limit)
    return conn.all(sql, params).map((r) => readMemory(s, r))
  }

  const candidates = (plan: RecallPlan): Candidates => {
    switch (plan.mode) {
      case "vector":
        return { nearest: nearest(plan) }
      case "text":
        return { matches: matches(plan) }
      case "hybrid":
        return { nearest: nearest(plan), matches: matches(plan) }
      case "newest":
        return { newest: newest(plan) }
    }
  }

  return {
    backend: "sqlite",
    insert: (memories) => attempt("remember", () => insertAll(memories)),
    recall: (plan, pick) =>
      attempt("recall", () =>
        // Its only writes are the access counters, so it commits without an fsync of its own (see
        // `immediateStatistics`).
        conn.immediateStatistics(() => {
          const hits = pick(candidates(plan))
          // One statement for every returned memory, in the transaction that read them.
          if (hits.length > 0) touch.run(plan.now, JSON.stringify(hits.map((h) => h.memory.id)))
          return hits
        })),
    get: (agent, id) =>
      attempt(
        "get",
        () => conn.read(() => Option.map(Option.fromNullable(s.byId.get(id, agent)), (r) => readMemory(s, r)))
      ),
    forget: (agent, id) =>
      attempt("forget", () =>
        conn.immediate(() => {
          const r = s.byId.get(id, agent)
          if (r === undefined) return false
          deleteMemory(s, storedRow(r).at)
          return true
        })),
    updateEmbedding: (agent, id, embedding) =>
      attempt("updateEmbedding", () =>
        conn.immediate(() => {
          const r = s.byId.get(id, agent)
          if (r === undefined) return false
          const { at, fields } = storedRow(r)
          setVector(s, at, fields, embedding)
          return true
        })),
    count: (agent, filter) =>
      Effect.suspend(() => {
        const params: Array<unknown> = [agent]
        const sql = `SELECT count(*) AS n FROM memories m WHERE m.agent_id = ?${memoryFilterSql(filter, params)}`
        return attempt("count", () => conn.get<{ n: number }>(sql, params)!.n)
      })
  }
}
