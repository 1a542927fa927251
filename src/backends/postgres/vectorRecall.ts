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
import { createHash } from "node:crypto"
import type { RecallPlan } from "../../core/recall.js"
import type { StorageError, StoreFailure } from "../../domain/errors.js"
import type { Memory } from "../../domain/memory.js"
import {
  type Connection,
  decodeRows,
  DEFAULT_EF_SEARCH,
  type PgClient,
  type Queryable,
  type Setup,
  type Statement
} from "./client.js"
import { distancedMemory, MEMORY_COLUMNS, settledMemory } from "./memories.js"
import { agentFilterSql, filterSql } from "./memoryFilter.js"
import { Params } from "./params.js"
import { vectorBinary } from "./vectorCodec.js"

/** A plan that has a query vector. */
export type VectorPlan = RecallPlan & { readonly embedding: ReadonlyArray<number> }

/** A candidate and its pgvector distance. */
interface Distanced {
  readonly memory: Memory
  readonly d: number
}

const distanced = (
  operation: string,
  rows: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Distanced>, StoreFailure> => decodeRows(operation, rows, distancedMemory)

/**
 * How far apart two pgvector distances must be for their order to be the exact (double precision)
 * one: a margin of several typical float32 rounding errors of a `dimensions`-long cosine. Closer
 * pairs at the `limit` boundary are settled by the core's exact ranking.
 */
export const distanceTolerance = (dimensions: number): number => 16 * Math.sqrt(dimensions) * 2 ** -24

/** Candidates fetched past `limit` when the boundary has to be settled exactly. */
const BAND_MARGIN = 16

/** Names of the statement texts seen so far (a recall's text depends only on its filters' shape and limit). */
const names = new Map<string, string>()
const MAX_NAMES = 1024

/** A statement prepared once per connection under a name derived from its text (its shape). */
export const prepared = (text: string, values: ReadonlyArray<unknown>): Statement => {
  let name = names.get(text)
  if (name === undefined) {
    name = `engram_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`
    if (names.size >= MAX_NAMES) names.clear()
    names.set(text, name)
  }
  return { name, text, values }
}

/**
 * A CTE that makes the statement's own transaction commit without waiting for the WAL flush. Only
 * the access-counter updates of recall use it: they are visible to every reader at once like any
 * commit, and a server crash can lose at most the last fraction of a second of them — never a
 * memory — while a recall no longer waits for a disk flush.
 */
export const ASYNC_COMMIT = "relaxed AS (SELECT set_config('synchronous_commit', 'off', true) AS setting)"

/** The `SET` that raises `hnsw.ef_search` on a connection when a query asks for more rows than it holds. */
const efSearchSetup = (client: PgClient, rows: number): Setup => (connection, joined) => {
  const wanted = Math.min(1000, Math.max(DEFAULT_EF_SEARCH, Math.ceil(rows / 20) * 20))
  // On an application's transaction connection the setting ends with the transaction (SET LOCAL),
  // so it is set every time rather than remembered.
  if (joined) return { text: `SET LOCAL hnsw.ef_search = ${wanted}` }
  if ((client.efSearch.get(connection) ?? DEFAULT_EF_SEARCH) === wanted) return undefined
  return { text: `SET hnsw.ef_search = ${wanted}`, done: () => client.efSearch.set(connection, wanted) }
}

/** Raise `hnsw.ef_search` on this connection when a query asks for more rows than it holds. */
const ensureEfSearch = (
  client: PgClient,
  q: Queryable,
  conn: Connection,
  rows: number
): Effect.Effect<void, StoreFailure> =>
  Effect.suspend((): Effect.Effect<void, StoreFailure> => {
    const setup = efSearchSetup(client, rows)(conn.client, conn.joined)
    if (setup === undefined) return Effect.void
    return Effect.tap(q.execute(setup.text), () => Effect.sync(() => setup.done?.()))
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
      const qv = `${p.add(vectorBinary(plan.embedding))}::vector`
      const text = `SELECT ${MEMORY_COLUMNS}, cosine_distance(embedding, ${qv}) AS d FROM memories
                    WHERE ${where} AND embedding IS NOT NULL ${tail(p, qv)}`
      return Effect.map(
        Effect.flatMap(q.query({ text, values: p.values }), (rows) => distanced("recall", rows)),
        (rows) => [...rows].sort((x, y) => x.d - y.d)
      )
    }
    // `<=>` in ORDER BY lets the planner use the HNSW index; `cosine_distance` (the same function)
    // is not an index-ordering operator, so the fallbacks below are exact.
    let rows = yield* select((p, qv) => `ORDER BY embedding <=> ${qv} LIMIT ${p.add(k)}`)
    if (rows.length < k && (yield* countVectors(q, plan, k)) > rows.length) {
      rows = yield* select((p, qv) =>
        `ORDER BY cosine_distance(embedding, ${qv}), created_at DESC, id DESC LIMIT ${p.add(k)}`
      )
    }
    if (rows.length === k && rows[k - 1]!.d <= rows[plan.limit - 1]!.d + eps) {
      const bound = rows[plan.limit - 1]!.d + eps
      rows = yield* select((p, qv) => `AND cosine_distance(embedding, ${qv}) <= ${p.add(bound)}::float8`)
    }
    return rows.map((r) => r.memory)
  })

/**
 * Vector recall in one statement: the `limit + 1` nearest rows by pgvector distance (the HNSW index
 * for a large filtered set, an exact scan of a small one: the planner's choice), whether they settle
 * the boundary (the `limit`-th and the next further apart than `eps`; or fewer came back and nothing
 * else matches), and — only when they do — the access counters of the first `limit`, which are then
 * exactly the hits the core returns. Only those first `limit` rows come back (the next one serves
 * the verdict alone), each carrying the verdict (`settled`). The limits are
 * written into the text so that the plan PostgreSQL caches for the prepared statement is made for
 * them.
 */
export const recallStatement = (plan: VectorPlan, eps: number): Statement => {
  const p = new Params()
  const where = filterSql(plan.agentId, plan.filter, p)
  const qv = `${p.add(vectorBinary(plan.embedding))}::vector`
  const limit = plan.limit
  const k = limit + 1
  const text = `WITH hits AS MATERIALIZED (
      SELECT ${MEMORY_COLUMNS}, embedding <=> ${qv} AS d FROM memories
      WHERE ${where} AND embedding IS NOT NULL ORDER BY embedding <=> ${qv} LIMIT ${k}
    ),
    ranked AS (SELECT id, d, row_number() OVER (ORDER BY d) AS rn FROM hits),
    edge AS (
      SELECT count(*) AS n, max(d) FILTER (WHERE rn = ${limit}) AS dl, max(d) FILTER (WHERE rn = ${k}) AS dk FROM ranked
    ),
    verdict AS (
      SELECT CASE WHEN n = ${k} THEN dk - dl > ${p.add(eps)}::float8
        ELSE n = (SELECT count(*) FROM (SELECT 1 FROM memories WHERE ${where} AND embedding IS NOT NULL LIMIT ${k}) c)
      END AS settled FROM edge
    ),
    ${ASYNC_COMMIT},
    touched AS (
      UPDATE memories m SET accessed_at = ${p.add(plan.now)}::bigint, access_count = m.access_count + 1
      FROM ranked r, verdict v, relaxed WHERE v.settled AND m.id = r.id AND r.rn <= ${limit}
    )
    SELECT h.*, v.settled FROM ranked r JOIN hits h ON h.id = r.id, verdict v WHERE r.rn <= ${limit} ORDER BY r.rn`
  return prepared(text, p.values)
}

/** The hits' candidates of `recallStatement`'s rows, or `undefined` when they do not settle the boundary. */
const countedOf = (
  rows: ReadonlyArray<unknown>,
  limit: number
): Effect.Effect<ReadonlyArray<Memory> | undefined, StorageError> =>
  Effect.map(decodeRows("recall", rows, settledMemory), (decoded) => {
    if (decoded.length === 0 || !decoded[0]!.settled) return undefined
    const sorted = [...decoded].sort((a, b) => a.d - b.d)
    return sorted.slice(0, limit).map((r) => r.memory)
  })

/**
 * Vector recall in one round trip when the nearest rows settle the boundary: the candidates, their
 * access already counted (see `recallStatement`). `undefined` when they do not — nothing was
 * counted, and the caller reads `settledCandidates` and counts the hits itself.
 */
export const nearestCounted = (client: PgClient, q: Queryable, conn: Connection, plan: VectorPlan, eps: number) =>
  Effect.gen(function*() {
    yield* ensureEfSearch(client, q, conn, plan.limit + 1)
    return yield* countedOf(yield* q.query(recallStatement(plan, eps)), plan.limit)
  })

/**
 * `nearestCounted` as one statement on a connection of its own (`PgClient.statement`: the fastest
 * way through the client), for a recall that needs no other statement when the boundary is settled.
 */
export const nearestCountedAlone = (client: PgClient, plan: VectorPlan, eps: number) =>
  Effect.flatMap(
    client.statement("recall", recallStatement(plan, eps), efSearchSetup(client, plan.limit + 1)),
    (rows) => countedOf(rows, plan.limit)
  )

/**
 * `recallStatement` for one query in several agents (`plans` differ only in the agent): each
 * agent's `limit + 1` nearest rows through its own index scan (a LATERAL join over the agents), each
 * agent's verdict, and the access counters of the settled agents' first `limit` rows, in one
 * statement. Each row carries its agent's position (`ord`, from 1) and verdict; an agent without
 * rows comes back as one row whose memory columns are NULL.
 */
export const recallManyStatement = (plans: ReadonlyArray<VectorPlan>, eps: number): Statement => {
  const plan = plans[0]!
  const p = new Params()
  const agents = p.add(plans.map((x) => x.agentId))
  const qv = `${p.add(vectorBinary(plan.embedding))}::vector`
  const where = (agent: string) => agentFilterSql(agent, plan.filter, p)
  const limit = plan.limit
  const k = limit + 1
  const text = `WITH agents AS MATERIALIZED (SELECT a, ord FROM unnest(${agents}::text[]) WITH ORDINALITY AS t(a, ord)),
    hits AS MATERIALIZED (
      SELECT g.ord, h.* FROM agents g CROSS JOIN LATERAL (
        SELECT ${MEMORY_COLUMNS}, embedding <=> ${qv} AS d FROM memories
        WHERE ${where("g.a")} AND embedding IS NOT NULL ORDER BY embedding <=> ${qv} LIMIT ${k}
      ) h
    ),
    ranked AS (SELECT ord, id, d, row_number() OVER (PARTITION BY ord ORDER BY d) AS rn FROM hits),
    edge AS (
      SELECT g.ord, g.a, count(r.id) AS n, max(r.d) FILTER (WHERE r.rn = ${limit}) AS dl,
             max(r.d) FILTER (WHERE r.rn = ${k}) AS dk
      FROM agents g LEFT JOIN ranked r ON r.ord = g.ord GROUP BY g.ord, g.a
    ),
    verdict AS (
      SELECT e.ord, CASE WHEN e.n = ${k} THEN e.dk - e.dl > ${p.add(eps)}::float8
        ELSE e.n = (SELECT count(*) FROM (SELECT 1 FROM memories WHERE ${
          where("e.a")
        } AND embedding IS NOT NULL LIMIT ${k}) c)
      END AS settled FROM edge e
    ),
    ${ASYNC_COMMIT},
    touched AS (
      UPDATE memories m SET accessed_at = ${p.add(plan.now)}::bigint, access_count = m.access_count + 1
      FROM ranked r JOIN verdict v ON v.ord = r.ord, relaxed WHERE v.settled AND m.id = r.id AND r.rn <= ${limit}
    )
    SELECT v.ord AS agent_ord, v.settled AS agent_settled, h.* FROM verdict v LEFT JOIN hits h ON h.ord = v.ord`
  return prepared(text, p.values)
}

const decodeAgentRow = Schema.decodeUnknownSync(
  Schema.Struct({ agent_ord: Schema.Number, agent_settled: Schema.Boolean, id: Schema.NullOr(Schema.Unknown) })
)

/**
 * `nearestCounted` for several plans that differ only in the agent, in one round trip: per plan, the
 * hits' candidates with their access already counted, or `undefined` when that agent's boundary is
 * not settled (nothing of it was counted; the caller answers it as a single recall).
 */
export const nearestCountedMany = (
  client: PgClient,
  q: Queryable,
  conn: Connection,
  plans: ReadonlyArray<VectorPlan>,
  eps: number
): Effect.Effect<ReadonlyArray<ReadonlyArray<Memory> | undefined>, StoreFailure> =>
  Effect.gen(function*() {
    const limit = plans[0]!.limit
    yield* ensureEfSearch(client, q, conn, limit + 1)
    const rows = yield* q.query(recallManyStatement(plans, eps))
    const settled = plans.map(() => false)
    const found: Array<Array<Distanced>> = plans.map(() => [])
    const decoded = yield* decodeRows("recall", rows, (row) => {
      const head = decodeAgentRow(row)
      return {
        at: head.agent_ord - 1,
        ok: head.agent_settled,
        hit: head.id === null ? undefined : distancedMemory(row)
      }
    })
    for (const { at, ok, hit } of decoded) {
      settled[at] = ok
      if (hit !== undefined) found[at]!.push(hit)
    }
    return found.map((hits, i) =>
      settled[i] ? [...hits].sort((a, b) => a.d - b.d).slice(0, limit).map((h) => h.memory) : undefined
    )
  })
