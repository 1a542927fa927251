/**
 * SemanticStore's port on SQLite (a memory's tables: memories.ts).
 *
 * Vector recall outside an application's transaction, with any filter but a metadata one, is
 * answered by the resident vector cache (vectorCache.ts): the exact top `limit` of the agent, caught
 * up with every committed change first, inside the recall's own transaction. Otherwise (a metadata
 * filter, or inside an application's transaction, whose uncommitted rows the cache must never hold)
 * SQL scans the agent's filtered rows ordered by sqlite-vec's `vec_distance_cosine` over the
 * `embedding` column; the rows read go on past `limit` until the page does not end inside a group of
 * near-equal distances, so the core's exact ranking sees every memory that could be in the top
 * `limit`. Text recall is FTS5 over the core's tokens, ranked by bm25. A recall reads in one read
 * transaction and records the accesses of what it returns with `AccessCounts` (accessCounts.ts),
 * which writes them in batches; inside an application's transaction it updates them in that
 * transaction. Every memory read here passes through `AccessCounts.seen`.
 */
import { Effect, Option } from "effect"
import type { Candidates, Hit, RecallPlan } from "../../core/recall.js"
import type { SemanticPort } from "../../core/semantic.js"
import type { Memory } from "../../domain/memory.js"
import type { AccessCounts } from "./accessCounts.js"
import { attempt, type SqliteConnection } from "./client.js"
import {
  deleteMemory,
  MEMORY_COLUMNS,
  readMemoryAt,
  setVector,
  statements,
  storedRow,
  storeMemories,
  toBlob
} from "./memories.js"
import { memoryFilterSql } from "./memoryFilter.js"
import { cacheable, pruneLog, VectorCache } from "./vectorCache.js"

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

/**
 * The port over `conn` for vectors of `dimensions`; prepares its statements (and so may throw, at
 * layer build). The vector cache starts empty: each agent is loaded on its first vector recall.
 */
export const port = (
  conn: SqliteConnection,
  counts: AccessCounts,
  dimensions: number,
  loadSlice?: number
): SemanticPort => {
  const s = statements(conn)
  const cache = new VectorCache(conn, dimensions, loadSlice)
  const byRid = conn.db.prepare(
    `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.rid IN (SELECT value FROM json_each(?))`
  )
  const touch = conn.db.prepare(
    `UPDATE memories SET accessed_at = ?, access_count = access_count + 1 WHERE id IN (SELECT value FROM json_each(?))`
  )
  /**
   * The rowid of each memory the current recall read (cleared by every recall), so the accesses of
   * its hits are recorded with their rowids and written by rowid (no lookup in the id index).
   */
  const ridOf = new Map<string, number>()
  /** A memory row as this process sees it: with the accesses not yet written. */
  const read = (row: unknown): Memory => {
    const { memory, rid } = readMemoryAt(row)
    ridOf.set(memory.id, rid)
    return counts.seen(memory)
  }

  /** Store a batch in one transaction; the index of an input whose id another agent owns, if any. */
  const insertAll = (ms: ReadonlyArray<Memory>): number | undefined => {
    try {
      counts.immediate(() => {
        // A taken id stores nothing; it is a conflict unless the owner is this memory's agent.
        storeMemories(s, ms, (i) => {
          if (s.ownerOf.get(ms[i]!.id) !== ms[i]!.agentId) throw new IdConflict(i)
        })
        pruneLog(conn)
      })
      return undefined
    } catch (e) {
      if (e instanceof IdConflict) return e.index
      throw e
    }
  }

  /**
   * Vector candidates by SQL: an exact scan of the agent's filtered rows (only those with a rowid
   * past `after`, when given) for the rowids of the nearest, then those rows (the scan itself
   * carries no column it does not rank by).
   */
  const scanned = (plan: RecallPlan & { readonly embedding: ReadonlyArray<number> }, after?: number): Array<Memory> => {
    const params: Array<unknown> = [toBlob(plan.embedding), plan.agentId]
    const past = after === undefined ? "" : (params.push(after), " AND m.rid > ?")
    const sql = `SELECT m.rid AS rid, vec_distance_cosine(m.embedding, ?) AS distance
      FROM memories m WHERE m.agent_id = ?${past} AND m.embedding IS NOT NULL${memoryFilterSql(plan.filter, params)}
      ORDER BY distance LIMIT ?`
    const nearest = untilTieFree(plan.limit, (k) => conn.all<Distanced & { rid: number }>(sql, [...params, k]))
    return nearest.length === 0 ? [] : byRid.all(JSON.stringify(nearest.map((r) => r.rid))).map(read)
  }

  /**
   * Vector candidates: from the cache when `cached` (the recall runs in its own transaction) and it
   * can answer the filter, else by SQL. While a large agent is still being loaded (a slice per
   * recall), the exact top `limit` of the rows it holds and the exact top `limit` of the rest (by
   * SQL) are both candidates: the core's exact ranking of the two is the exact answer.
   */
  const nearest = (plan: RecallPlan & { readonly embedding: ReadonlyArray<number> }, cached: boolean) => {
    if (!cached || !cacheable(plan.filter)) return scanned(plan)
    cache.sync()
    const through = cache.hold(plan.agentId)
    if (through === undefined) return scanned(plan)
    const held = cache.nearest(plan.agentId, plan.embedding, plan.limit, plan.filter).map(read)
    return through === Number.POSITIVE_INFINITY ? held : [...held, ...scanned(plan, through)]
  }

  const matches = (plan: RecallPlan & { readonly terms: ReadonlyArray<string> }): Array<Hit> => {
    // Every term as a quoted FTS5 string, implicitly AND-ed. Terms are runs of letters, digits and
    // marks, so they never contain a quote or an FTS5 operator.
    const params: Array<unknown> = [plan.terms.map((t) => `"${t}"`).join(" "), plan.agentId]
    // Ranked on the sort keys alone, whole rows read for the winners only: sorting every match with
    // all its columns (its vector blob among them) cost a quarter of the statement. Sorted by the
    // selected score, so bm25 is computed once per match.
    const sql = `SELECT t.score AS score, ${MEMORY_COLUMNS}
      FROM (SELECT m.rid AS rid, -bm25(memories_fts) AS score, m.created_at AS created_at, m.id AS id
        FROM memories_fts JOIN memories m ON m.rid = memories_fts.rowid
        WHERE memories_fts MATCH ? AND m.agent_id = ?${memoryFilterSql(plan.filter, params)}
        ORDER BY score DESC, m.created_at DESC, m.id DESC LIMIT ?) t
      JOIN memories m ON m.rid = t.rid
      ORDER BY t.score DESC, t.created_at DESC, t.id DESC`
    params.push(plan.limit)
    return conn.all<{ score: number }>(sql, params).map((r) => ({ memory: read(r), score: r.score }))
  }

  const newest = (plan: RecallPlan): Array<Memory> => {
    const params: Array<unknown> = [plan.agentId]
    const sql = `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.agent_id = ?${memoryFilterSql(plan.filter, params)}
      ORDER BY m.created_at DESC, m.id DESC LIMIT ?`
    params.push(plan.limit)
    return conn.all(sql, params).map(read)
  }

  const candidates = (plan: RecallPlan, cached: boolean): Candidates => {
    switch (plan.mode) {
      case "vector":
        return { nearest: nearest(plan, cached) }
      case "text":
        return { matches: matches(plan) }
      case "hybrid":
        return { nearest: nearest(plan, cached), matches: matches(plan) }
      case "newest":
        return { newest: newest(plan) }
    }
  }

  return {
    backend: "sqlite",
    insert: (memories) => attempt("remember", () => insertAll(memories)),
    recall: (plan, pick) =>
      Effect.suspend(() => {
        // Inside an application's transaction (interop.ts) the cache is neither read nor updated:
        // that transaction may hold uncommitted rows, and may roll them back. The counters are
        // updated in it, and go with it.
        if (conn.db.inTransaction) {
          return attempt("recall", () =>
            conn.immediateStatistics(() => {
              const hits = pick(candidates(plan, false))
              if (hits.length > 0) touch.run(plan.now, JSON.stringify(hits.map((h) => h.memory.id)))
              return hits
            }))
        }
        return Effect.flatMap(
          attempt("recall", () =>
            conn.read(() => {
              ridOf.clear()
              return pick(candidates(plan, true))
            })),
          (hits) => Effect.as(counts.record(hits.map((h) => [h.memory.id, ridOf.get(h.memory.id)]), plan.now), hits)
        )
      }),
    get: (agent, id) =>
      attempt(
        "get",
        () => conn.read(() => Option.map(Option.fromNullable(s.byId.get(id, agent)), read))
      ),
    forget: (agent, id) =>
      attempt("forget", () =>
        counts.immediate(() => {
          const r = s.byId.get(id, agent)
          if (r === undefined) return false
          deleteMemory(s, storedRow(r).at)
          return true
        })),
    updateEmbedding: (agent, id, embedding) =>
      attempt("updateEmbedding", () =>
        counts.immediate(() => {
          const r = s.byId.get(id, agent)
          if (r === undefined) return false
          setVector(s, storedRow(r).at, embedding)
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
