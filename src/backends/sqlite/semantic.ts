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
 * `limit`. Text recall is FTS5 over the core's tokens, ranked by bm25. A recall reads and counts the
 * access of what it returns in one transaction.
 */
import type Database from "better-sqlite3"
import { Effect, Option } from "effect"
import type { Candidates, Hit, RecallPlan } from "../../core/recall.js"
import type { SemanticPort } from "../../core/semantic.js"
import type { Memory } from "../../domain/memory.js"
import { attempt, type SqliteConnection } from "./client.js"
import {
  deleteMemory,
  MEMORY_COLUMNS,
  readMemory,
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

/**
 * Hits whose access counters are updated by rowid with a statement of their own arity (one cached
 * statement per count); a larger recall passes its rowids as one JSON array.
 */
const TOUCH_BY_RID_MAX = 100

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
export const port = (conn: SqliteConnection, dimensions: number, loadSlice?: number): SemanticPort => {
  const s = statements(conn)
  const cache = new VectorCache(conn, dimensions, loadSlice)
  const byRid = conn.db.prepare(
    `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.rid IN (SELECT value FROM json_each(?))`
  )
  const touch = conn.db.prepare(
    `UPDATE memories SET accessed_at = ?, access_count = access_count + 1 WHERE id IN (SELECT value FROM json_each(?))`
  )
  /**
   * The rowid of each memory the current recall read (cleared by every recall): the access counters
   * of the hits are then updated by rowid, with a statement of as many parameters as hits — no
   * lookup in the id index and no JSON (measured ~40 µs of a 10-hit update's ~290 here).
   */
  const seen = new Map<string, number>()
  const touchByRid: Array<Database.Statement | undefined> = []
  const touchRids = conn.db.prepare(
    `UPDATE memories SET accessed_at = ?, access_count = access_count + 1 WHERE rid IN (SELECT value FROM json_each(?))`
  )
  const read = (row: unknown): Memory => {
    const { memory, rid } = readMemoryAt(row)
    seen.set(memory.id, rid)
    return memory
  }
  /** Record the access of every hit (inside the recall's transaction). */
  const touchHits = (now: number, hits: ReadonlyArray<Hit>): void => {
    const rids = new Array<number>(hits.length)
    for (let i = 0; i < hits.length; i++) {
      const rid = seen.get(hits[i]!.memory.id)
      // Every hit was read by this recall; by id otherwise, should that ever change.
      if (rid === undefined) {
        touch.run(now, JSON.stringify(hits.map((h) => h.memory.id)))
        return
      }
      rids[i] = rid
    }
    if (rids.length > TOUCH_BY_RID_MAX) {
      touchRids.run(now, JSON.stringify(rids))
      return
    }
    touchByRid[rids.length] ??= conn.db.prepare(
      `UPDATE memories SET accessed_at = ?, access_count = access_count + 1 WHERE rid IN (${
        rids.map(() => "?").join(", ")
      })`
    )
    touchByRid[rids.length]!.run(now, ...rids)
  }

  /** Store a batch in one transaction; the index of an input whose id another agent owns, if any. */
  const insertAll = (ms: ReadonlyArray<Memory>): number | undefined => {
    try {
      conn.immediate(() => {
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
    // all its columns (its vector blob among them) cost a quarter of the statement.
    const sql = `SELECT t.score AS score, ${MEMORY_COLUMNS}
      FROM (SELECT m.rid AS rid, -bm25(memories_fts) AS score, m.created_at AS created_at, m.id AS id
        FROM memories_fts JOIN memories m ON m.rid = memories_fts.rowid
        WHERE memories_fts MATCH ? AND m.agent_id = ?${memoryFilterSql(plan.filter, params)}
        ORDER BY bm25(memories_fts), m.created_at DESC, m.id DESC LIMIT ?) t
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
      attempt("recall", () => {
        // Inside an application's transaction (interop.ts) the cache is neither read nor updated:
        // that transaction may hold uncommitted rows, and may roll them back.
        const cached = !conn.db.inTransaction
        // Its only writes are the access counters, so it commits without an fsync of its own (see
        // `immediateStatistics`).
        return conn.immediateStatistics(() => {
          seen.clear()
          const hits = pick(candidates(plan, cached))
          // One statement for every returned memory, in the transaction that read them.
          if (hits.length > 0) touchHits(plan.now, hits)
          return hits
        })
      }),
    get: (agent, id) =>
      attempt(
        "get",
        () => conn.read(() => Option.map(Option.fromNullable(s.byId.get(id, agent)), readMemory))
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
