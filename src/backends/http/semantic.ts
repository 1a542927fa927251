/**
 * SemanticStore's port over an engram gateway: the gateway's SemanticStore is the store. The core
 * checks every input here first, as on any backend: JSON cannot carry NaN, ±Infinity or `undefined`
 * (they would arrive as null or vanish), so checking before sending is what makes an input get the
 * same typed error here as on a local store. The gateway's store checks again and stays the
 * authority (its content limit, id conflicts); ids are minted here, so they are stable across
 * retries, and the agent of every call is sent and enforced by the gateway.
 *
 * Retries (see client.ts): every call here is safe to repeat and is retried after a transient failure.
 * - insert: every memory carries its id, and the store treats a known id of the same agent as a
 *   replay that stores nothing, so a retried store whose first answer was lost creates no duplicate.
 * - get / count: read only. recall: a replay of a call whose answer was lost counts that access twice
 *   (the access counters are bookkeeping, not data).
 * - updateEmbedding: setting the same vector again leaves the same state.
 * - forget: the memory is gone however often it runs; after a lost answer, the retry's boolean says
 *   whether that attempt found the memory (false when the lost attempt had already removed it).
 */
import { Effect, Option } from "effect"
import type { Filter } from "../../core/memoryFilter.js"
import type { RecallPlan } from "../../core/recall.js"
import type { PortFailure, SemanticPort } from "../../core/semantic.js"
import { MemoryNotFound, StorageError } from "../../domain/errors.js"
import type { Memory, RecallQuery } from "../../domain/memory.js"
import {
  base64OfFloat32,
  RecallAgentsAnswer,
  RecallAnswer,
  RememberAnswer,
  RememberManyAnswer
} from "../../gateway/Api.js"
import { plainRecallAnswer } from "../../gateway/plainWire.js"
import type { CallError, GatewayConnection } from "./client.js"

const retried = (field: string) => ({ idempotent: true, field }) as const

/** Only updateEmbedding declares 404; anywhere else it means the gateway broke the API. */
const noNotFound = (operation: string) => <A>(self: Effect.Effect<A, CallError>): Effect.Effect<A, PortFailure> =>
  Effect.catchIf(
    self,
    (e): e is MemoryNotFound => e instanceof MemoryNotFound,
    (e) =>
      Effect.fail(new StorageError({ backend: "http", operation, message: `the gateway answered ${e.message} (404)` }))
  )

// Vectors travel in the wire form the gateway's bodies accept (`Float32Base64`): the core has rounded
// them to float32 already, so nothing is lost.

/** What the gateway's `remember` takes for a prepared memory (its id included), in wire form. */
const rememberInput = (m: Memory) => ({
  id: m.id,
  agentId: m.agentId,
  content: m.content,
  source: m.source,
  scope: m.scope,
  metadata: m.metadata,
  ...(m.embedding === null ? {} : { embedding: base64OfFloat32(m.embedding) })
})

/** A query in wire form. */
const wireQuery = <Q extends { readonly embedding?: ReadonlyArray<number> | Float32Array | undefined }>(query: Q) =>
  query.embedding === undefined ? query : { ...query, embedding: base64OfFloat32(query.embedding) }

/** The query that asks the gateway for exactly this plan. */
const queryOf = (plan: RecallPlan): RecallQuery => {
  const base = { agentId: plan.agentId, limit: plan.limit, ...plan.filter }
  switch (plan.mode) {
    case "vector":
      return { ...base, mode: "vector", embedding: plan.embedding }
    case "text":
      // Text without a vector leaves the mode to the gateway, which embeds it when it has an embedder.
      return plan.asked ? { ...base, mode: "text", text: plan.text } : { ...base, text: plan.text }
    case "hybrid":
      return { ...base, mode: "hybrid", embedding: plan.embedding, text: plan.text }
    case "newest":
      return base
  }
}

/** The port of the connected gateway. */
export const port = (c: GatewayConnection): SemanticPort => ({
  backend: "http",
  insert: (memories, { many }) =>
    (many
      ? Effect.asVoid(c.call(
        "rememberMany",
        retried("inputs"),
        c.post("inputs", "/v1/memories/batch", { inputs: memories.map(rememberInput) }, RememberManyAnswer)
      ))
      : Effect.asVoid(
        c.call(
          "remember",
          retried("input"),
          c.post("input", "/v1/memories", rememberInput(memories[0]!), RememberAnswer)
        )
      )).pipe(
        // The gateway refuses an id held by another agent itself (InvalidInput naming it).
        Effect.as(undefined),
        noNotFound("remember")
      ),
  // The gateway runs the whole recall (ranking and access counters): its answer is the answer.
  recall: (plan) =>
    Effect.map(
      c.call(
        "recall",
        retried("query"),
        c.post("query", "/v1/recall", wireQuery(queryOf(plan)), RecallAnswer, plainRecallAnswer)
      ),
      ({ hits }) => hits
    ).pipe(noNotFound("recall")),
  // One request for every agent: the gateway answers each agent as its own recall would.
  recallMany: (plans) =>
    Effect.suspend(() => {
      const { agentId: _, ...query } = queryOf(plans[0]!)
      const body = { agentIds: plans.map((p) => p.agentId), query: wireQuery(query) }
      return Effect.map(
        c.call("recallAgents", retried("query"), c.post("query", "/v1/recall/agents", body, RecallAgentsAnswer)),
        ({ hits }) => hits
      )
    }).pipe(noNotFound("recallAgents")),
  get: (agentId, id) =>
    Effect.map(
      c.call("get", retried("id"), c.api.semantic.get({ path: { id }, urlParams: { agentId } })),
      ({ memory }) => Option.fromNullable(memory)
    ).pipe(noNotFound("get")),
  forget: (agentId, id) =>
    Effect.map(
      c.call("forget", retried("id"), c.api.semantic.forget({ path: { id }, urlParams: { agentId } })),
      ({ forgotten }) => forgotten
    ).pipe(noNotFound("forget")),
  updateEmbedding: (agentId, id, embedding) =>
    Effect.gen(function*() {
      const body = { agentId, embedding }
      yield* c.fits("embedding", body)
      yield* c.call(
        "updateEmbedding",
        retried("embedding"),
        c.api.semantic.updateEmbedding({ path: { id }, payload: body })
      )
      return true
    }).pipe(Effect.catchIf((e): e is MemoryNotFound => e instanceof MemoryNotFound, () => Effect.succeed(false))),
  count: (agentId, filter: Filter) =>
    Effect.gen(function*() {
      const body = Object.keys(filter).length === 0 ? { agentId } : { agentId, filter }
      yield* c.fits("filter", body)
      const { count } = yield* c.call("count", retried("filter"), c.api.semantic.count({ payload: body }))
      return count
    }).pipe(noNotFound("count"))
})
