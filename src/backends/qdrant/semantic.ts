/**
 * SemanticStore on Qdrant. All validation, ids, time, ranking rules and filter semantics come from
 * src/core/semantic.ts; this file holds the point mapping and the client calls.
 *
 * Every read sends the agent and every filter field to Qdrant as conditions. Metadata equality is
 * sent too where Qdrant can express a condition that keeps every true match (Qdrant's `match`
 * also accepts arrays that merely contain the value, and cannot compare objects or arrays), and the
 * candidates are then checked exactly with the core `matchesFilter`; reads page on until `limit`
 * exact matches are known, so a filter that Qdrant cannot express exactly still returns `limit`
 * results whenever that many match.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { Effect, Either, Option, Schema } from "effect"
import { type BackendUnavailable, InvalidInput, MemoryNotFound, StorageError } from "../../domain/errors.js"
import { type Memory, Memory as MemorySchema, type RecallQuery } from "../../domain/memory.js"
import {
  accessed,
  decodeAgentId,
  decodeMemoryId,
  type Filter,
  fuseHybrid,
  hitOrder,
  matchesFilter,
  newestOrder,
  planRecall,
  prepareEmbedding,
  prepareFilter,
  prepareRemember,
  prepareRememberMany,
  type RecallPlan,
  type SemanticLimits
} from "../../core/semantic.js"
import { textScore, tokenize } from "../../core/textSearch.js"
import { cosine } from "../../core/vector.js"
import { SemanticStore } from "../../services/SemanticStore.js"
import { type QdrantConnection, statusOf, VECTOR } from "./client.js"

type Condition = Schemas["Condition"]
type QdrantFilter = Schemas["Filter"]
type Hit = { readonly memory: Memory; readonly score: number }
type PointLike = { readonly id: string | number; readonly payload?: Record<string, unknown> | null | undefined }

/** Largest page asked of Qdrant in one request. */
export const MAX_PAGE = 1000
/** Page size of scrolls that read every match (text recall, counts, consolidation). */
export const SCROLL_PAGE = 256
/** Most bytes of point JSON sent in one upsert (Qdrant's default request limit is 32 MiB). */
const MAX_UPSERT_BYTES = 16 * 1024 * 1024
/**
 * Qdrant scores cosine in float32 from normalised vectors; exact scores are recomputed here in
 * double precision from the stored vectors. Paging stops only once Qdrant's scores fall this far
 * below the `limit`-th exact score, so a near-tie at the boundary is never cut off.
 */
const SCORE_SLACK = 1e-4

// ---------------------------------------------------------------- point mapping

/** The payload of a memory: every field, the core tokens of its content, and the exact embedding. */
export const toPayload = (m: Memory): Record<string, unknown> => ({
  agent_id: m.agentId,
  content: m.content,
  tokens: tokenize(m.content).join(" "),
  source: m.source,
  scope: m.scope,
  metadata: m.metadata,
  confidence: m.confidence,
  created_at: m.createdAt,
  accessed_at: m.accessedAt,
  access_count: m.accessCount,
  embedding: m.embedding === null ? null : [...m.embedding]
})

/** A memory without an embedding is a point without the named vector: vector queries never see it. */
const toPoint = (m: Memory): Schemas["PointStruct"] => ({
  id: m.id,
  vector: m.embedding === null ? {} : { [VECTOR]: [...m.embedding] },
  payload: toPayload(m)
})

const decodeMemory = Schema.decodeUnknownEither(MemorySchema)

/** The memory a point holds; a point that does not hold one is a StorageError, never silently dropped. */
export const memoryOf = (operation: string) => (point: PointLike): Effect.Effect<Memory, StorageError> => {
  const p = point.payload ?? {}
  const decoded = decodeMemory({
    id: point.id,
    agentId: p["agent_id"],
    content: p["content"],
    source: p["source"],
    scope: p["scope"],
    metadata: p["metadata"],
    confidence: p["confidence"],
    createdAt: p["created_at"],
    accessedAt: p["accessed_at"],
    accessCount: p["access_count"],
    embedding: p["embedding"]
  })
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(
      new StorageError({
        backend: "qdrant",
        operation,
        message: `point ${String(point.id)} does not hold a valid memory: ${decoded.left.message}`,
        cause: decoded.left
      })
    )
}

// ---------------------------------------------------------------- filters

const match = (key: string, value: string | boolean): Condition => ({ key, match: { value } })

/** Metadata keys Qdrant's key syntax takes literally (others contain path syntax such as `.` or `[`). */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Qdrant conditions for the agent and a filter. `exact` is true when Qdrant's answer is exactly
 * the core's; with a metadata filter it is false, and the conditions only narrow the candidates
 * (each keeps every memory the core would accept).
 */
export const conditionsOf = (
  agentId: string,
  f: Filter
): { readonly must: ReadonlyArray<Condition>; readonly exact: boolean } => {
  const must: Array<Condition> = [match("agent_id", agentId)]
  if (f.scope !== undefined) must.push(match("scope", f.scope))
  if (f.source !== undefined) must.push(match("source", f.source))
  if (f.minConfidence !== undefined) must.push({ key: "confidence", range: { gte: f.minConfidence } })
  if (f.after !== undefined || f.before !== undefined) {
    must.push({
      key: "created_at",
      range: { ...(f.after === undefined ? {} : { gt: f.after }), ...(f.before === undefined ? {} : { lt: f.before }) }
    })
  }
  let exact = true
  for (const [k, v] of Object.entries(f.metadata ?? {})) {
    exact = false
    if (!PLAIN_KEY.test(k)) continue
    const key = `metadata.${k}`
    if (typeof v === "string" || typeof v === "boolean") must.push(match(key, v))
    // A range, not an integer match: Qdrant's integer match skips values it stored as floats.
    else if (typeof v === "number") must.push({ key, range: { gte: v, lte: v } })
    else if (v === null) must.push({ is_null: { key } })
    // Arrays and objects: no Qdrant condition compares them whole; checked in code only.
  }
  return { must, exact }
}

/** The core's verdict on a candidate, including the agent (never trust a filter to have been applied). */
const accepts = (plan: { readonly agentId: string; readonly filter: Filter }, m: Memory): boolean =>
  m.agentId === plan.agentId && matchesFilter(m, plan.filter)

// ---------------------------------------------------------------- reads

/** Visit every point matching `filter`, one page at a time (nothing is kept between pages). */
export const scrollPages = <E>(
  conn: QdrantConnection,
  operation: string,
  filter: QdrantFilter,
  withPayload: Schemas["WithPayloadInterface"],
  onPage: (points: ReadonlyArray<Schemas["Record"]>) => Effect.Effect<void, E>
): Effect.Effect<void, E | StorageError | BackendUnavailable> =>
  Effect.gen(function*() {
    let offset: Schemas["ExtendedPointId"] | undefined = undefined
    do {
      const from: Schemas["ExtendedPointId"] | undefined = offset
      const page: Schemas["ScrollResult"] = yield* conn.run(operation, (c) =>
        c.scroll(conn.collection, {
          filter,
          limit: SCROLL_PAGE,
          with_payload: withPayload,
          with_vector: false,
          ...(from === undefined ? {} : { offset: from })
        }))
      yield* onPage(page.points)
      const next = page.next_page_offset
      offset = typeof next === "string" || typeof next === "number" ? next : undefined
    } while (offset !== undefined)
  })

/** Every point matching `filter`. */
const scrollAll = (conn: QdrantConnection, operation: string, filter: QdrantFilter) =>
  Effect.gen(function*() {
    const all: Array<Schemas["Record"]> = []
    yield* scrollPages(conn, operation, filter, true, (points) => Effect.sync(() => all.push(...points)))
    return all
  })

/** Keep only the best `limit` hits by the core order (so reading many pages needs bounded memory). */
const keepBest = (hits: Array<Hit>, limit: number): void => {
  hits.sort(hitOrder)
  hits.length = Math.min(hits.length, limit)
}

const vectorHits = (conn: QdrantConnection, plan: RecallPlan, embedding: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const { exact, must } = conditionsOf(plan.agentId, plan.filter)
    const limit = plan.limit
    const pageSize = Math.min(MAX_PAGE, exact ? limit + 10 : Math.max(2 * limit, 100))
    const hits: Array<Hit> = []
    for (let offset = 0;; offset += pageSize) {
      const page = yield* conn.run("vector recall", (c) =>
        c.query(conn.collection, {
          query: [...embedding],
          using: VECTOR,
          filter: { must: [...must] },
          limit: pageSize,
          offset,
          with_payload: true,
          with_vector: false
        }))
      for (const point of page.points) {
        const m = yield* memoryOf("vector recall")(point)
        if (m.embedding !== null && accepts(plan, m)) hits.push({ memory: m, score: cosine(embedding, m.embedding) })
      }
      if (page.points.length < pageSize) break
      if (hits.length >= limit) {
        keepBest(hits, limit)
        const lowestSeen = page.points[page.points.length - 1]!.score
        if (lowestSeen < hits[limit - 1]!.score - SCORE_SLACK) break
      }
    }
    keepBest(hits, limit)
    return hits
  })

const textHits = (conn: QdrantConnection, plan: RecallPlan, terms: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { must } = conditionsOf(plan.agentId, plan.filter)
    // Ranking needs every match's relevance, so every match is read; only the best `limit` are kept.
    const hits: Array<Hit> = []
    yield* scrollPages(
      conn,
      "text recall",
      { must: [...must, { key: "tokens", match: { text: terms.join(" ") } }] },
      true,
      (points) =>
        Effect.gen(function*() {
          for (const point of points) {
            const m = yield* memoryOf("text recall")(point)
            const score = accepts(plan, m) ? textScore(terms, tokenize(m.content)) : undefined
            if (score !== undefined) hits.push({ memory: m, score })
          }
          keepBest(hits, plan.limit)
        })
    )
    return hits
  })

/**
 * Newest first: Qdrant orders by `created_at` (range index), a page at a time. Points sharing the
 * oldest instant of a page are all read, so the createdAt-desc, id-desc order is exact across pages.
 */
const newestHits = (conn: QdrantConnection, plan: RecallPlan) =>
  Effect.gen(function*() {
    const { exact, must } = conditionsOf(plan.agentId, plan.filter)
    const pageSize = Math.min(MAX_PAGE, exact ? plan.limit + 1 : Math.max(2 * plan.limit, 100))
    const found: Array<Memory> = []
    let below: number | undefined
    for (;;) {
      const bound: Array<Condition> = below === undefined ? [] : [{ key: "created_at", range: { lt: below } }]
      const page = yield* conn.run("newest recall", (c) =>
        c.scroll(conn.collection, {
          filter: { must: [...must, ...bound] },
          limit: pageSize,
          with_payload: true,
          with_vector: false,
          order_by: { key: "created_at", direction: "desc" }
        }))
      if (page.points.length === 0) break
      const memories = yield* Effect.forEach(page.points, memoryOf("newest recall"))
      const oldest = Math.min(...memories.map((m) => m.createdAt))
      const complete = page.points.length < pageSize
      for (const m of memories) if ((complete || m.createdAt > oldest) && accepts(plan, m)) found.push(m)
      if (!complete) {
        const tied = yield* scrollAll(conn, "newest recall", {
          must: [...must, { key: "created_at", range: { gte: oldest, lte: oldest } }]
        })
        for (const point of tied) {
          const m = yield* memoryOf("newest recall")(point)
          if (accepts(plan, m)) found.push(m)
        }
      }
      if (complete || found.length >= plan.limit) break
      below = oldest
    }
    return found.sort(newestOrder).slice(0, plan.limit).map((memory): Hit => ({ memory, score: 0 }))
  })

const answer = (conn: QdrantConnection, plan: RecallPlan): Effect.Effect<ReadonlyArray<Hit>, StorageError | BackendUnavailable> => {
  switch (plan.mode) {
    case "vector":
      return vectorHits(conn, plan, plan.embedding)
    case "text":
      return textHits(conn, plan, plan.terms)
    case "hybrid":
      return Effect.map(
        Effect.all([vectorHits(conn, plan, plan.embedding), textHits(conn, plan, plan.terms)], { concurrency: 2 }),
        ([vector, text]) => fuseHybrid(vector, text, plan.limit)
      )
    case "newest":
      return newestHits(conn, plan)
  }
}

// ---------------------------------------------------------------- writes

/** Record an access on the returned memories: one `set_payload` per resulting count, in one request. */
const recordAccess = (conn: QdrantConnection, hits: ReadonlyArray<Hit>, now: number) => {
  if (hits.length === 0) return Effect.void
  const byCount = new Map<number, Array<string>>()
  for (const { memory } of hits) {
    const n = memory.accessCount + 1
    const ids = byCount.get(n)
    if (ids === undefined) byCount.set(n, [memory.id])
    else ids.push(memory.id)
  }
  // A filter selector, not a point list: a memory forgotten meanwhile is skipped instead of failing the recall.
  const operations: Array<Schemas["UpdateOperation"]> = [...byCount].map(([count, ids]) => ({
    set_payload: { payload: { accessed_at: now, access_count: count }, filter: { must: [{ has_id: ids }] } }
  }))
  return Effect.asVoid(conn.run("record access", (c) => c.batchUpdate(conn.collection, { wait: true, operations })))
}

/** Upsert points, split so that no request exceeds Qdrant's body limit. */
export const upsertAll = (conn: QdrantConnection, memories: ReadonlyArray<Memory>) =>
  Effect.gen(function*() {
    let batch: Array<Schemas["PointStruct"]> = []
    let bytes = 0
    const flush = (points: Array<Schemas["PointStruct"]>) =>
      conn.run("remember", (c) => c.upsert(conn.collection, { wait: true, points }))
    for (const m of memories) {
      const point = toPoint(m)
      const size = JSON.stringify(point).length
      if (batch.length > 0 && bytes + size > MAX_UPSERT_BYTES) {
        yield* flush(batch)
        batch = []
        bytes = 0
      }
      batch.push(point)
      bytes += size
    }
    if (batch.length > 0) yield* flush(batch)
  })

/** The owning agent of each existing point among `ids` (null for a point that is not a memory). */
const ownersOf = (conn: QdrantConnection, ids: ReadonlyArray<string>) =>
  Effect.map(
    conn.run("read owners", (c) =>
      c.retrieve(conn.collection, { ids: [...ids], with_payload: ["agent_id"], with_vector: false })),
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

const inUse = (field: string) => new InvalidInput({ field, message: "is already in use" })

// ---------------------------------------------------------------- the service

export const make = (conn: QdrantConnection, limits: SemanticLimits) =>
  SemanticStore.of({
    embeddingSpace: limits.space,
    remember: Effect.fn("SemanticStore.remember")(function*(input) {
      const m = yield* prepareRemember(input, limits)
      if (input.id !== undefined) {
        // A caller id makes remember idempotent: a replay by its owner stores nothing new.
        const owners = yield* ownersOf(conn, [m.id])
        if (owners.has(m.id)) {
          if (owners.get(m.id) === m.agentId) return m.id
          return yield* inUse("input.id")
        }
      }
      yield* upsertAll(conn, [m])
      return m.id
    }),
    rememberMany: Effect.fn("SemanticStore.rememberMany")(function*(inputs) {
      const ms = yield* prepareRememberMany(inputs, limits)
      const given = ms.filter((_, i) => inputs[i]?.id !== undefined).map((m) => m.id)
      const owners = given.length === 0 ? new Map<string, string | null>() : yield* ownersOf(conn, given)
      for (const [i, m] of ms.entries()) {
        if (owners.has(m.id) && owners.get(m.id) !== m.agentId) return yield* inUse(`inputs[${i}].id`)
      }
      yield* upsertAll(conn, ms.filter((m) => !owners.has(m.id)))
      return ms.map((m) => m.id)
    }),
    recall: Effect.fn("SemanticStore.recall")(function*(query: RecallQuery) {
      const plan = yield* planRecall(query, limits)
      const hits = yield* answer(conn, plan)
      yield* recordAccess(conn, hits, plan.now)
      return hits.map((h) => ({ memory: accessed(h.memory, plan.now), score: h.score }))
    }),
    get: Effect.fn("SemanticStore.get")(function*(a, i) {
      const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
      const [record] = yield* conn.run("get", (c) =>
        c.retrieve(conn.collection, { ids: [id], with_payload: true, with_vector: false }))
      if (record === undefined || record.payload?.["agent_id"] !== agent) return Option.none()
      return Option.some(yield* memoryOf("get")(record))
    }),
    forget: Effect.fn("SemanticStore.forget")(function*(a, i) {
      const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
      if (!(yield* owns(conn, agent, id))) return false
      // The agent condition again, so a point that changed hands meanwhile is never deleted.
      yield* conn.run("forget", (c) =>
        c.delete(conn.collection, { wait: true, filter: { must: [{ has_id: [id] }, match("agent_id", agent)] } }))
      return true
    }),
    updateEmbedding: Effect.fn("SemanticStore.updateEmbedding")(function*(a, i, e) {
      const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
      const embedding = yield* prepareEmbedding(e, limits)
      if (!(yield* owns(conn, agent, id))) return yield* new MemoryNotFound({ agentId: agent, memoryId: id })
      // Update the vector only (an upsert would replace the whole point and erase its payload),
      // plus the exact copy of the embedding kept in the payload, merged into it.
      yield* conn.run("update embedding", (c) =>
        c.batchUpdate(conn.collection, {
          wait: true,
          operations: [
            { update_vectors: { points: [{ id, vector: { [VECTOR]: [...embedding] } }] } },
            { set_payload: { payload: { embedding: [...embedding] }, points: [id] } }
          ]
        })).pipe(
          Effect.catchIf(
            (err) => err._tag === "StorageError" && statusOf(err.cause) === 404,
            () => Effect.fail(new MemoryNotFound({ agentId: agent, memoryId: id }))
          )
        )
    }),
    count: Effect.fn("SemanticStore.count")(function*(a, f) {
      const agentId = yield* decodeAgentId(a)
      const filter = yield* prepareFilter(f)
      const { exact, must } = conditionsOf(agentId, filter)
      if (exact) {
        const result = yield* conn.run("count", (c) => c.count(conn.collection, { filter: { must: [...must] }, exact: true }))
        return result.count
      }
      let n = 0
      yield* scrollPages(conn, "count", { must: [...must] }, true, (points) =>
        Effect.gen(function*() {
          for (const point of points) if (accepts({ agentId, filter }, yield* memoryOf("count")(point))) n++
        }))
      return n
    })
  })
