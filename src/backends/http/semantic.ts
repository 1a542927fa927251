/**
 * SemanticStore over an engram gateway (R-BE-6). Ids are the server's (or, for `remember`, minted
 * here and adopted by the server); the agent of every call is sent and enforced by the gateway.
 *
 * Every input first goes through the core's boundary checks, as on any backend: JSON cannot carry
 * NaN, ±Infinity or `undefined` (they would arrive as null or vanish), so checking before sending is
 * what makes an input get the same typed error here as on a local store. The gateway's store checks
 * again and stays the authority (its content limit, id conflicts).
 *
 * Retries (see client.ts): every call here is safe to repeat and is retried after a transient failure.
 * - remember / rememberMany: ids are minted here (UUIDv7) when the caller gives none, and the store
 *   treats a known id of the same agent as a replay that stores nothing, so a retried store whose
 *   first answer was lost creates no duplicate.
 * - get / count: read only. recall: a replay of a call whose answer was lost counts that access twice
 *   (the access counters are bookkeeping, not data).
 * - updateEmbedding: setting the same vector again leaves the same state.
 * - forget: the memory is gone however often it runs; after a lost answer, the retry's boolean says
 *   whether that attempt found the memory (false when the lost attempt had already removed it).
 */
import { Effect, Option } from "effect"
import {
  decodeAgentId,
  decodeMemoryId,
  planRecall,
  prepareEmbedding,
  prepareFilter,
  prepareRemember,
  prepareRememberMany
} from "../../core/semantic.js"
import { MemoryNotFound, StorageError } from "../../domain/errors.js"
import { mintMemoryId } from "../../domain/ids.js"
import type { RememberInput } from "../../domain/memory.js"
import { SemanticStore } from "../../services/SemanticStore.js"
import type { CallError, GatewayConnection } from "./client.js"

const retried = (field: string) => ({ idempotent: true, field }) as const

/** Only updateEmbedding declares 404; anywhere else it means the gateway broke the API. */
const noNotFound = (operation: string) => <A>(self: Effect.Effect<A, CallError>) =>
  Effect.catchIf(self, (e): e is MemoryNotFound => e instanceof MemoryNotFound, (e) =>
    Effect.fail(new StorageError({ backend: "http", operation, message: `the gateway answered ${e.message} (404)` })))

/** The input with an id, so that sending it twice stores it once. */
const withId = (input: RememberInput) =>
  input.id === undefined ? Effect.map(mintMemoryId, (id): RememberInput => ({ ...input, id })) : Effect.succeed(input)

/** The SemanticStore of the connected gateway. */
export const make = (c: GatewayConnection) =>
  SemanticStore.of({
    embeddingSpace: c.info.embedding,
    remember: (input) =>
      Effect.gen(function*() {
        yield* prepareRemember(input, c.limits)
        const body = yield* withId(input)
        yield* c.fits("input", body)
        const { id } = yield* c.call("remember", retried("input"), c.api.semantic.remember({ payload: body }))
        return id
      }).pipe(noNotFound("remember")),
    rememberMany: (inputs) =>
      Effect.gen(function*() {
        yield* prepareRememberMany(inputs, c.limits)
        const body = { inputs: yield* Effect.forEach(inputs, withId) }
        yield* c.fits("inputs", body)
        const { ids } = yield* c.call("rememberMany", retried("inputs"), c.api.semantic.rememberMany({ payload: body }))
        return ids
      }).pipe(noNotFound("rememberMany")),
    recall: (query) =>
      Effect.gen(function*() {
        yield* planRecall(query, c.limits)
        yield* c.fits("query", query)
        const { hits } = yield* c.call("recall", retried("query"), c.api.semantic.recall({ payload: query }))
        return hits
      }).pipe(noNotFound("recall")),
    get: (a, i) =>
      Effect.gen(function*() {
        const [agentId, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        const { memory } = yield* c.call("get", retried("id"), c.api.semantic.get({ path: { id }, urlParams: { agentId } }))
        return Option.fromNullable(memory)
      }).pipe(noNotFound("get")),
    forget: (a, i) =>
      Effect.gen(function*() {
        const [agentId, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        const { forgotten } = yield* c.call("forget", retried("id"), c.api.semantic.forget({ path: { id }, urlParams: { agentId } }))
        return forgotten
      }).pipe(noNotFound("forget")),
    updateEmbedding: (a, i, e) =>
      Effect.gen(function*() {
        const [agentId, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        yield* prepareEmbedding(e, c.limits)
        const body = { agentId, embedding: e }
        yield* c.fits("embedding", body)
        yield* c.call("updateEmbedding", retried("embedding"), c.api.semantic.updateEmbedding({ path: { id }, payload: body }))
      }),
    count: (a, f) =>
      Effect.gen(function*() {
        const agentId = yield* decodeAgentId(a)
        yield* prepareFilter(f)
        const body = f === undefined ? { agentId } : { agentId, filter: f }
        yield* c.fits("filter", body)
        const { count } = yield* c.call("count", retried("filter"), c.api.semantic.count({ payload: body }))
        return count
      }).pipe(noNotFound("count"))
  })
