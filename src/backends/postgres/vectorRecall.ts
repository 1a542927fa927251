/**
 * The vector candidates of a recall on PostgreSQL + pgvector: a set of the agent's memories passing
 * the filters that certainly holds the exact top `limit` (the core ranks them, core/recall.ts).
 *
 * pgvector's HNSW index (cosine) gives the nearest rows. Every connection runs with
 * `hnsw.iterative_scan = relaxed_order` (client.ts), so a selective filter (one agent among many)
 * makes the index keep scanning until enough rows pass instead of returning the few that happened to
 * be among the first `ef_search` candidates; `hnsw.ef_search` is raised per connection when a query
 * asks for more rows than it holds. When the agent's filtered set is small the planner answers with
 * an exact scan of it instead.
 *
 * pgvector computes distances in float32 while the core ranks by double-precision cosine (then
 * createdAt desc, id desc), so a recall reads the `limit + 1` nearest rows and keeps the first
 * `limit` when the `limit`-th and the next are further apart than float32 error can bridge — and,
 * when fewer came back, when nothing else matches. Otherwise (a near-tie at the boundary, or an index
 * scan that gave up early) the boundary band is fetched — exactly, without the index, when the
 * candidates are not known to contain it.
 */
import { Effect, Schema } from "effect"
import type { RecallPlan } from "../../core/recall.js"
import type { StoreFailure } from "../../domain/errors.js"
import type { Memory } from "../../domain/memory.js"
import { type Connection, decodeRows, DEFAULT_EF_SEARCH, type PgClient, type Queryable } from "./client.js"
import { distancedMemory, MEMORY_COLUMNS } from "./memories.js"
import { filterSql } from "./memoryFilter.js"
import { Params } from "./params.js"
import { vectorText } from "./vectorCodec.js"

/** A plan that has a query vector. */
export type VectorPlan = RecallPlan & { readonly embedding: ReadonlyArray<number> }

/** A candidate and its pgvector distance. */
interface Distanced {
  readonly memory: Memory
  readonly d: number
}

const distanced = (operation: string, rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<Distanced>, StoreFailure> =>
  decodeRows(operation, rows, distancedMemory)

/**
 * How far apart two pgvector distances must be for their order to be the exact (double precision)
 * one: a margin of several typical float32 rounding errors of a `dimensions`-long cosine. Closer
 * pairs at the `limit` boundary are settled by the core's exact ranking.
 */
export const distanceTolerance = (dimensions: number): number => 16 * Math.sqrt(dimensions) * 2 ** -24

/** Candidates fetched past `limit` when the boundary has to be settled exactly. */
const BAND_MARGIN = 16

/** Raise `hnsw.ef_search` on this connection when a query asks for more rows than it holds. */
const ensureEfSearch = (client: PgClient, q: Queryable, conn: Connection, rows: number) =>
  Effect.suspend(() => {
    const wanted = Math.min(1000, Math.max(DEFAULT_EF_SEARCH, Math.ceil(rows / 20) * 20))
    // On an application's transaction connection the setting ends with the transaction (SET LOCAL),
    // so it is set every time rather than remembered.
    if (conn.joined) return q.execute(`SET LOCAL hnsw.ef_search = ${wanted}`)
    if ((client.efSearch.get(conn.client) ?? DEFAULT_EF_SEARCH) === wanted) return Effect.void
    return Effect.tap(q.execute(`SET hnsw.ef_search = ${wanted}`), () => Effect.sync(() => client.efSearch.set(conn.client, wanted)))
  })

/** The agent's memories passing the filters with a vector, capped at `cap` (are there more than found?). */
const countVectors = (q: Queryable, plan: VectorPlan, cap: number) =>
  Effect.gen(function*() {
    const p = new Params()
    const rows = yield* q.query({
      text: `SELECT count(*)::int AS n FROM (SELECT 1 FROM memories
               WHERE ${filterSql(plan.agentId, plan.filter, p)} AND embedding IS NOT NULL LIMIT ${p.add(cap)}) t`,
      values: p.values
    })
    const [n] = yield* decodeRows("recall", rows, (row) => decodeCount(row).n)
    return n ?? 0
  })

const decodeCount = Schema.decodeUnknownSync(Schema.Struct({ n: Schema.Number }))

/**
 * Candidates settled at the boundary: the index's nearest `limit + BAND_MARGIN` rows. Falls back to
 * an exact scan of the filtered set when the index returned fewer rows than asked while more match,
 * and to the exact band of rows within float32 error of the boundary when a near-tie group runs past
 * the candidates.
 */
export const settledCandidates = (client: PgClient, q: Queryable, conn: Connection, plan: VectorPlan, eps: number) =>
  Effect.gen(function*() {
    const k = plan.limit + BAND_MARGIN
    yield* ensureEfSearch(client, q, conn, k)
    const select = (tail: (p: Params, qv: string) => string) => {
      const p = new Params()
      const where = filterSql(plan.agentId, plan.filter, p)
      const qv = `${p.add(vectorText(plan.embedding))}::vector`
      const text = `SELECT ${MEMORY_COLUMNS}, cosine_distance(embedding, ${qv}) AS d FROM memories
                    WHERE ${where} AND embedding IS NOT NULL ${tail(p, qv)}`
      return Effect.map(Effect.flatMap(q.query({ text, values: p.values }), (rows) => distanced("recall", rows)), (rows) =>
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
    return rows.map((r) => r.memory)
  })

const byIdDesc = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0)

/**
 * The vector candidates, usually from one short statement: the `limit + 1` nearest rows by pgvector
 * distance (the HNSW index, or an exact scan when the planner finds the filtered set small). When
 * their order settles the boundary the first `limit` are the candidates; otherwise
 * `settledCandidates` reads more.
 */
export const nearestCandidates = (client: PgClient, q: Queryable, conn: Connection, plan: VectorPlan, eps: number) =>
  Effect.gen(function*() {
    const k = plan.limit + 1
    yield* ensureEfSearch(client, q, conn, k)
    const p = new Params()
    const where = filterSql(plan.agentId, plan.filter, p)
    const qv = p.add(vectorText(plan.embedding))
    const rows = yield* distanced(
      "recall",
      yield* q.query({
        text: `SELECT ${MEMORY_COLUMNS}, embedding <=> ${qv}::vector AS d FROM memories
               WHERE ${where} AND embedding IS NOT NULL
               ORDER BY embedding <=> ${qv}::vector LIMIT ${p.add(k)}`,
        values: p.values
      })
    )
    // Relaxed-order index scans return candidates nearly sorted: sort them, ties like the core.
    const sorted = [...rows].sort((a, b) =>
      a.d - b.d || b.memory.createdAt - a.memory.createdAt || byIdDesc(a.memory.id, b.memory.id)
    )
    const settled = sorted.length === k
      ? sorted[k - 1]!.d - sorted[plan.limit - 1]!.d > eps
      : (yield* countVectors(q, plan, k)) === sorted.length
    return settled ? sorted.slice(0, plan.limit).map((r) => r.memory) : yield* settledCandidates(client, q, conn, plan, eps)
  })
