/**
 * SemanticStore's port on Qdrant (a memory as a point: memories.ts; its embedding: vectorCodec.ts).
 *
 * Every read sends the agent and every filter condition Qdrant can express (memoryFilter.ts), and
 * the candidates are checked again with the core's predicate, including the agent (never trust a
 * condition to have been applied); reads page on until they certainly hold what the core needs, so
 * a filter that Qdrant can only narrow still gives `limit` results whenever that many match.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { Effect, Option, Schema } from "effect"
import { type Filter, filterConditions, filterPredicate } from "../../core/memoryFilter.js"
import { type Candidates, type Hit, rankNearest, type RecallPlan, topHits } from "../../core/recall.js"
import type { SemanticPort } from "../../core/semantic.js"
import { textScore } from "../../core/textSearch.js"
import type { BackendUnavailable, StorageError } from "../../domain/errors.js"
import type { Memory } from "../../domain/memory.js"
import { type QdrantConnection, statusOf, VECTOR } from "./client.js"
import {
  embeddingPayload,
  filterKeys,
  filterViewOf,
  memoryOf,
  payloadFields,
  scrollPages,
  upsertOnce,
  WHOLE
} from "./memories.js"
import { conditionsOf, match } from "./memoryFilter.js"
import { encodeEmbedding, unitVector } from "./vectorCodec.js"

type Condition = Schemas["Condition"]

/** Largest page asked of Qdrant in one request. */
const MAX_PAGE = 1000
/**
 * Qdrant scores the float32 dot product of unit vectors; the core ranks by the double-precision
 * cosine of the stored embeddings. Reading stops only once Qdrant's scores fall this far below the
 * `limit`-th exact score, so a near-tie at the boundary is never cut off.
 */
const SCORE_SLACK = 1e-4

/** The core's verdict on a candidate, agent included. */
const acceptor = (agentId: string, filter: Filter) => {
  const passes = filterPredicate(filter)
  return (m: Memory): boolean => m.agentId === agentId && passes(m)
}

const TokensField = Schema.Struct({ tokens: Schema.String })

const hasMetadataCondition = (filter: Filter): boolean => filterConditions(filter).some((c) => c.kind === "metadata")

/**
 * The nearest candidates, without `offset` paging: each request asks for the next best points
 * among those not read yet (their ids excluded by the filter), so a point written between two
 * requests cannot shift a page and be read twice, and Qdrant's order among equal scores (which it
 * does not define) cannot hide one. Reading goes on, asking for more each time, until Qdrant's
 * scores fall below the exact `limit`-th score.
 */
const nearest = (conn: QdrantConnection, plan: RecallPlan, embedding: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const { exact, must } = conditionsOf(plan.agentId, plan.filter)
    const accepts = acceptor(plan.agentId, plan.filter)
    const limit = plan.limit
    const query = unitVector(embedding)
    const seen = new Set<string>()
    let want = Math.min(MAX_PAGE, exact ? limit + 10 : Math.max(2 * limit, 100))
    let best: Array<Hit> = []
    for (;;) {
      const page = yield* conn.run("vector recall", (c) =>
        c.query(conn.collection, {
          query,
          using: VECTOR,
          filter: { must: [...must], ...(seen.size === 0 ? {} : { must_not: [{ has_id: [...seen] }] }) },
          limit: want,
          ...WHOLE
        }))
      const found: Array<Memory> = []
      for (const point of page.points) {
        const id = String(point.id)
        if (seen.has(id)) continue
        seen.add(id)
        const m = yield* memoryOf("vector recall")(point)
        if (m.embedding !== null && accepts(m)) found.push(m)
      }
      // The exact ranking so far, kept to `limit` so reading many rounds needs bounded memory.
      best = rankNearest(embedding, [...best.map((h) => h.memory), ...found], limit)
      if (page.points.length < want) break
      if (best.length >= limit && page.points[page.points.length - 1]!.score < best[limit - 1]!.score - SCORE_SLACK) {
        break
      }
      want = Math.min(MAX_PAGE, want * 2)
    }
    return best.map((h) => h.memory)
  })

/** Whole memories by id, in no particular order (ids no longer there are left out). */
const retrieveWhole = (conn: QdrantConnection, operation: string, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (ids.length === 0) return new Map<string, Memory>()
    const records = yield* conn.run(operation, (c) => c.retrieve(conn.collection, { ids: [...ids], ...WHOLE }))
    const out = new Map<string, Memory>()
    for (const r of records) out.set(String(r.id), yield* memoryOf(operation)(r))
    return out
  })

/**
 * Text candidates: every match is scored (ranking needs every relevance), reading only the
 * filter's fields and the tokens; then the best `limit` are read whole.
 */
const matches = (conn: QdrantConnection, plan: RecallPlan, terms: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { must } = conditionsOf(plan.agentId, plan.filter)
    const accepts = acceptor(plan.agentId, plan.filter)
    const view = filterViewOf("text recall")
    const readTokens = payloadFields(TokensField, "text recall")
    let best: Array<Hit> = []
    yield* scrollPages(
      conn,
      "text recall",
      { must: [...must, { key: "tokens", match: { text: terms.join(" ") } }] },
      [...filterKeys(hasMetadataCondition(plan.filter)), "tokens"],
      (points) =>
        Effect.gen(function*() {
          const found: Array<Hit> = []
          for (const point of points) {
            const m = yield* view(point)
            if (!accepts(m)) continue
            const { tokens } = yield* readTokens(point)
            const score = textScore(terms, tokens === "" ? [] : tokens.split(" "))
            if (score !== undefined) found.push({ memory: m, score })
          }
          best = topHits([...best, ...found], plan.limit)
        })
    )
    const whole = yield* retrieveWhole(conn, "text recall", best.map((h) => h.memory.id))
    // A memory forgotten or changed since it was scored is left out rather than returned stale.
    return best.flatMap((h) => {
      const m = whole.get(h.memory.id)
      return m !== undefined && accepts(m) ? [{ memory: m, score: h.score }] : []
    })
  })

/**
 * Newest first: Qdrant orders by `created_at` (range index), a page at a time. Points sharing the
 * oldest instant of a page are all read, so every memory that could be among the newest `limit` is
 * a candidate, whatever the order among equal instants.
 */
const newest = (conn: QdrantConnection, plan: RecallPlan) =>
  Effect.gen(function*() {
    const { exact, must } = conditionsOf(plan.agentId, plan.filter)
    const accepts = acceptor(plan.agentId, plan.filter)
    const pageSize = Math.min(MAX_PAGE, exact ? plan.limit + 1 : Math.max(2 * plan.limit, 100))
    const found: Array<Memory> = []
    let below: number | undefined
    for (;;) {
      const bound: Array<Condition> = below === undefined ? [] : [{ key: "created_at", range: { lt: below } }]
      const page = yield* conn.run("newest recall", (c) =>
        c.scroll(conn.collection, {
          filter: { must: [...must, ...bound] },
          limit: pageSize,
          ...WHOLE,
          order_by: { key: "created_at", direction: "desc" }
        }))
      if (page.points.length === 0) break
      const memories = yield* Effect.forEach(page.points, memoryOf("newest recall"))
      const oldest = Math.min(...memories.map((m) => m.createdAt))
      const complete = page.points.length < pageSize
      for (const m of memories) if ((complete || m.createdAt > oldest) && accepts(m)) found.push(m)
      if (!complete) {
        yield* scrollPages(
          conn,
          "newest recall",
          { must: [...must, { key: "created_at", range: { gte: oldest, lte: oldest } }] },
          true,
          (points) =>
            Effect.gen(function*() {
              for (const point of points) {
                const m = yield* memoryOf("newest recall")(point)
                if (accepts(m)) found.push(m)
              }
            }),
          [VECTOR]
        )
      }
      if (complete || found.length >= plan.limit) break
      below = oldest
    }
    return found
  })

const candidates = (
  conn: QdrantConnection,
  plan: RecallPlan
): Effect.Effect<Candidates, StorageError | BackendUnavailable> => {
  switch (plan.mode) {
    case "vector":
      return Effect.map(nearest(conn, plan, plan.embedding), (found) => ({ nearest: found }))
    case "text":
      return Effect.map(matches(conn, plan, plan.terms), (found) => ({ matches: found }))
    case "hybrid":
      return Effect.map(
        Effect.all([nearest(conn, plan, plan.embedding), matches(conn, plan, plan.terms)], { concurrency: 2 }),
        ([vector, text]) => ({ nearest: vector, matches: text })
      )
    case "newest":
      return Effect.map(newest(conn, plan), (found) => ({ newest: found }))
  }
}

/**
 * Record the access of the returned memories (their counts as `pick` left them): one `set_payload`
 * per resulting count, in one request, on the access counters only — fields without a payload
 * index (client.ts). A filter selector, not a point list: a memory forgotten meanwhile is skipped
 * instead of failing the recall.
 */
const recordAccess = (conn: QdrantConnection, hits: ReadonlyArray<Hit>, now: number) => {
  if (hits.length === 0) return Effect.void
  const byCount = new Map<number, Array<string>>()
  for (const { memory } of hits) {
    const ids = byCount.get(memory.accessCount)
    if (ids === undefined) byCount.set(memory.accessCount, [memory.id])
    else ids.push(memory.id)
  }
  const operations: Array<Schemas["UpdateOperation"]> = [...byCount].map(([count, ids]) => ({
    set_payload: { payload: { accessed_at: now, access_count: count }, filter: { must: [{ has_id: ids }] } }
  }))
  return Effect.asVoid(conn.run("record access", (c) => c.batchUpdate(conn.collection, { wait: true, operations })))
}

/** The owning agent of each existing point among `ids` (null for a point that is not a memory). */
const ownersOf = (conn: QdrantConnection, ids: ReadonlyArray<string>) =>
  Effect.map(
    conn.run(
      "read owners",
      (c) => c.retrieve(conn.collection, { ids: [...ids], with_payload: ["agent_id"], with_vector: false })
    ),
    (records) => {
      const owners = new Map<string, string | null>()
      for (const r of records) {
        const agent = r.payload?.["agent_id"]
        owners.set(String(r.id), typeof agent === "string" ? agent : null)
      }
      return owners
    }
  )

const owns = (conn: QdrantConnection, agentId: string, id: string) =>
  Effect.map(ownersOf(conn, [id]), (owners) => owners.get(id) === agentId)

export const port = (conn: QdrantConnection): SemanticPort => ({
  backend: "qdrant",
  insert: (memories, { minted }) =>
    Effect.gen(function*() {
      // Caller ids make remember idempotent: an id its agent already holds is a replay that stores nothing.
      const owners = minted ? new Map<string, string | null>() : yield* ownersOf(conn, memories.map((m) => m.id))
      const conflict = memories.findIndex((m) => owners.has(m.id) && owners.get(m.id) !== m.agentId)
      if (conflict >= 0) return conflict
      yield* upsertOnce(conn, memories.filter((m) => !owners.has(m.id)))
      return undefined
    }),
  recall: (plan, pick) =>
    Effect.gen(function*() {
      const hits = pick(yield* candidates(conn, plan))
      yield* recordAccess(conn, hits, plan.now)
      return hits
    }),
  get: (agent, id) =>
    Effect.gen(function*() {
      const [record] = yield* conn.run("get", (c) => c.retrieve(conn.collection, { ids: [id], ...WHOLE }))
      if (record === undefined || record.payload?.["agent_id"] !== agent) return Option.none()
      return Option.some(yield* memoryOf("get")(record))
    }),
  forget: (agent, id) =>
    Effect.gen(function*() {
      if (!(yield* owns(conn, agent, id))) return false
      // The agent condition again, so a point that changed hands meanwhile is never deleted.
      yield* conn.run(
        "forget",
        (c) => c.delete(conn.collection, { wait: true, filter: { must: [{ has_id: [id] }, match("agent_id", agent)] } })
      )
      return true
    }),
  updateEmbedding: (agent, id, embedding) =>
    Effect.gen(function*() {
      if (!(yield* owns(conn, agent, id))) return false
      // Update the vector only (an upsert would replace the whole point and erase its payload),
      // plus the embedding's length and fixes, merged into the payload — in one request.
      const stored = encodeEmbedding(embedding)
      return yield* conn.run("update embedding", (c) =>
        c.batchUpdate(conn.collection, {
          wait: true,
          operations: [
            { update_vectors: { points: [{ id, vector: { [VECTOR]: stored.unit } }] } },
            { set_payload: { payload: embeddingPayload(stored), points: [id] } }
          ]
        })).pipe(
          Effect.as(true),
          Effect.catchIf(
            (err) => err._tag === "StorageError" && statusOf(err.cause) === 404,
            () => Effect.succeed(false)
          )
        )
    }),
  count: (agent, filter) =>
    Effect.gen(function*() {
      const { exact, must } = conditionsOf(agent, filter)
      if (exact) {
        const result = yield* conn.run(
          "count",
          (c) => c.count(conn.collection, { filter: { must: [...must] }, exact: true })
        )
        return result.count
      }
      // Qdrant can only narrow this filter: each candidate is checked, reading only the filter's fields.
      const accepts = acceptor(agent, filter)
      const view = filterViewOf("count")
      let n = 0
      yield* scrollPages(
        conn,
        "count",
        { must: [...must] },
        filterKeys(hasMetadataCondition(filter)),
        (points) =>
          Effect.gen(function*() {
            for (const point of points) {
              if (accepts(yield* view(point))) n++
            }
          })
      )
      return n
    })
})
