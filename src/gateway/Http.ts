/**
 * The gateway's handlers: the API of `Api.ts` implemented over the SemanticStore and Consolidation
 * tags, so any semantic backend can sit behind the gateway. The handlers add only what the gateway
 * owns: agent confinement per token, the memory-api mapping, and the public (cause-free) error forms.
 */
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Cause, Effect, Layer, Option } from "effect"
import { hitOrder } from "../core/semantic.js"
import { queryTerms } from "../core/textSearch.js"
import { BackendUnavailable, InvalidInput, StorageError } from "../domain/errors.js"
import type { AgentId } from "../domain/ids.js"
import type { MemorySource } from "../domain/memory.js"
import { SemanticStoreAdmin } from "../services/Admin.js"
import { Consolidation } from "../services/Consolidation.js"
import { SemanticStore } from "../services/SemanticStore.js"
import {
  Authorization,
  Caller,
  EngramApi,
  Forbidden,
  GATEWAY_VERSION,
  PublicBackendUnavailable,
  PublicStorageError,
  type Unauthorized
} from "./Api.js"

/** Decides what the bearer token of a request may do, from its raw `Authorization` header. */
export type Authenticate = (authorization: string | undefined) => Effect.Effect<Caller["Type"], Unauthorized>

/** The Authorization middleware over an authenticator (which lives in the server: it holds the tokens). */
export const AuthorizationLive = (authenticate: Authenticate): Layer.Layer<Authorization> =>
  Layer.succeed(Authorization, {
    // HttpApiSecurity.bearer hands over the header minus its first 7 characters whatever the scheme
    // says; the authenticator reads the whole header so that only "Bearer <token>" is accepted.
    bearer: () => Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => authenticate(request.headers.authorization))
  })

/**
 * Replace the store's failures by their public forms. The full error (with its cause: SQL text,
 * driver messages) goes to the server log only.
 */
const publicErrors = (operation: string) =>
<A, E, R>(
  self: Effect.Effect<A, E | StorageError | BackendUnavailable, R>
): Effect.Effect<A, Exclude<E, StorageError | BackendUnavailable> | PublicStorageError | PublicBackendUnavailable, R> =>
  Effect.catchIf(self, (e): e is StorageError | BackendUnavailable =>
    e instanceof StorageError || e instanceof BackendUnavailable, (e) =>
    Effect.zipRight(
      Effect.logError(`gateway ${operation}: ${e._tag}`, Cause.fail(e)),
      Effect.fail(
        e._tag === "StorageError"
          ? new PublicStorageError({ backend: e.backend, operation, message: `the ${e.backend} store failed (${operation})` })
          : new PublicBackendUnavailable({ backend: e.backend, message: `the ${e.backend} store is unavailable` })
      )
    ))

/** Fail with Forbidden unless the request's token may use `agentId`. */
const allowAgent = (agentId: string) =>
  Effect.flatMap(Caller, (caller) =>
    Option.match(caller.agents, {
      onNone: () => Effect.void,
      onSome: (agents) =>
        agents.has(agentId)
          ? Effect.void
          : Effect.fail(new Forbidden({ message: `this token may not use agent ${JSON.stringify(agentId)}` }))
    }))

/** Consolidation touches every agent's memories, so only a token not limited to agents may run it. */
const allowEveryAgent = Effect.flatMap(Caller, (caller) =>
  Option.isNone(caller.agents)
    ? Effect.void
    : Effect.fail(new Forbidden({ message: "consolidation runs over every agent: it needs a token not limited to agents" })))

/** The semantic API. `maxBodyBytes` is reported by `/v1/info` so clients can size their requests. */
export const SemanticGroupLive = (settings: { readonly maxBodyBytes: number }) =>
  HttpApiBuilder.group(EngramApi, "semantic", (handlers) =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      return handlers
        .handle("remember", ({ payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.remember(payload)),
            Effect.map((id) => ({ id })),
            publicErrors("remember")
          ))
        .handle("rememberMany", ({ payload }) =>
          Effect.forEach(payload.inputs, (input) => allowAgent(input.agentId), { discard: true }).pipe(
            Effect.zipRight(store.rememberMany(payload.inputs)),
            Effect.map((ids) => ({ ids })),
            publicErrors("rememberMany")
          ))
        .handle("recall", ({ payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.recall(payload)),
            Effect.map((hits) => ({ hits })),
            publicErrors("recall")
          ))
        .handle("get", ({ path, urlParams }) =>
          allowAgent(urlParams.agentId).pipe(
            Effect.zipRight(store.get(urlParams.agentId, path.id)),
            Effect.map((memory) => ({ memory: Option.getOrNull(memory) })),
            publicErrors("get")
          ))
        .handle("forget", ({ path, urlParams }) =>
          allowAgent(urlParams.agentId).pipe(
            Effect.zipRight(store.forget(urlParams.agentId, path.id)),
            Effect.map((forgotten) => ({ forgotten })),
            publicErrors("forget")
          ))
        .handle("updateEmbedding", ({ path, payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.updateEmbedding(payload.agentId, path.id, payload.embedding)),
            publicErrors("updateEmbedding")
          ))
        .handle("count", ({ payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.count(payload.agentId, payload.filter)),
            Effect.map((count) => ({ count })),
            publicErrors("count")
          ))
        .handle("info", () =>
          Effect.succeed({ embedding: store.embeddingSpace, maxBodyBytes: settings.maxBodyBytes, version: GATEWAY_VERSION }))
    }))

/** Consolidation on the gateway's store, for tokens not limited to agents. */
export const ConsolidationGroupLive = HttpApiBuilder.group(EngramApi, "consolidation", (handlers) =>
  Effect.gen(function*() {
    const consolidation = yield* Consolidation
    return handlers.handle("consolidate", ({ payload }) =>
      allowEveryAgent.pipe(Effect.zipRight(consolidation.consolidate(payload)), publicErrors("consolidate")))
  }))

/** memory-api source names (the lower-cased variant names that protocol's client sends). */
const MEMORY_API_SOURCES: Readonly<Record<string, MemorySource>> = {
  conversation: "conversation",
  document: "document",
  observation: "observation",
  inference: "inference",
  user_provided: "user_provided",
  userprovided: "user_provided",
  system: "system"
}

const memoryApiSource = (source: string | undefined): Effect.Effect<MemorySource, InvalidInput> => {
  if (source === undefined) return Effect.succeed("conversation")
  const known = Object.hasOwn(MEMORY_API_SOURCES, source) ? MEMORY_API_SOURCES[source] : undefined
  return known === undefined
    ? Effect.fail(new InvalidInput({ field: "source", message: `must be one of ${Object.keys(MEMORY_API_SOURCES).join(", ")}` }))
    : Effect.succeed(known)
}

/** Most agents one memory-api search recalls from at the same time. */
const SEARCH_CONCURRENCY = 4

/**
 * The memory-api protocol. Its search names no agent: it searches the agents the token may see (all
 * agents holding memories for an unrestricted token, when the store can list them), `agentId`
 * narrows it, and every result carries the agent that really owns it. Each agent is recalled with
 * the full limit and the answers are merged by score, so a memory recalled from one agent but cut
 * by the merge still counts that access.
 */
export const MemoryApiGroupLive = HttpApiBuilder.group(EngramApi, "memoryApi", (handlers) =>
  Effect.gen(function*() {
    const store = yield* SemanticStore
    // Listing the agents that hold memories: the admin service has it on every backend that provides
    // one; SemanticStore.agents is the optional fallback for a store served without its admin service.
    const admin = yield* Effect.serviceOption(SemanticStoreAdmin)
    const listAgents = Option.isSome(admin) ? admin.value.agents : store.agents
    const agentsToSearch = (narrow: string | undefined): Effect.Effect<
      ReadonlyArray<string>,
      Forbidden | InvalidInput | StorageError | BackendUnavailable,
      Caller
    > =>
      Effect.gen(function*() {
        if (narrow !== undefined) {
          yield* allowAgent(narrow)
          return [narrow]
        }
        const caller = yield* Caller
        if (Option.isSome(caller.agents)) return [...caller.agents.value]
        if (listAgents === undefined) {
          return yield* new InvalidInput({ field: "agentId", message: "is required: this store cannot list its agents" })
        }
        const all: ReadonlyArray<AgentId> = yield* listAgents()
        return all
      })
    return handlers
      .handle("store", ({ payload }) =>
        Effect.gen(function*() {
          yield* allowAgent(payload.agentId)
          const source = yield* memoryApiSource(payload.source)
          const id = yield* store.remember({
            agentId: payload.agentId,
            content: payload.content,
            source,
            scope: payload.category ?? "episodic",
            metadata: {
              ...(payload.importance === undefined ? {} : { importance: payload.importance }),
              ...(payload.tags === undefined ? {} : { tags: payload.tags })
            }
          })
          return { id, deduplicated: false }
        }).pipe(publicErrors("memory/store")))
      .handle("search", ({ payload }) =>
        Effect.gen(function*() {
          const agents = yield* agentsToSearch(payload.agentId)
          const limit = payload.limit ?? 10
          // A query without any word cannot be matched as text: it asks for the newest memories.
          const text = queryTerms(payload.query).length > 0 ? { text: payload.query } : {}
          const scope = payload.category === undefined ? {} : { scope: payload.category }
          const perAgent = yield* Effect.forEach(
            agents,
            (agentId) => store.recall({ agentId, limit, ...text, ...scope }),
            { concurrency: SEARCH_CONCURRENCY }
          )
          const hits = perAgent.flat().sort(hitOrder).slice(0, limit)
          return {
            results: hits.map(({ memory, score }) => ({
              id: memory.id,
              content: memory.content,
              category: memory.scope,
              score,
              createdAt: memory.createdAt,
              agentId: memory.agentId
            })),
            count: hits.length
          }
        }).pipe(publicErrors("memory/search")))
  }))

/** `/health`: the process serves (the store is not probed: that is what the other routes are for). */
export const HealthGroupLive = HttpApiBuilder.group(EngramApi, "health", (handlers) =>
  handlers.handle("health", () => Effect.succeed({ status: "ok" })))

/** The whole API over the store tags, with the given authenticator. */
export const ApiLive = (settings: { readonly maxBodyBytes: number; readonly authenticate: Authenticate }) =>
  HttpApiBuilder.api(EngramApi).pipe(
    Layer.provide([SemanticGroupLive(settings), ConsolidationGroupLive, MemoryApiGroupLive, HealthGroupLive]),
    // The groups need the middleware too (their handlers are wrapped in it), so it is provided last.
    Layer.provide(AuthorizationLive(settings.authenticate))
  )
