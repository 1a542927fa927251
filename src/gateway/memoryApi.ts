/**
 * The memory-api protocol (`POST /memory/store`, `POST /memory/search`) over the semantic store, so
 * existing clients of that protocol work unchanged, with the agent filter honoured and every result
 * carrying its real owner. With an Embedder in the gateway's context, what is stored is embedded and
 * a search embeds its query: hybrid recall, so a question finds a memory that shares its meaning but
 * not all its words. Scores are `relevance` (src/core/relevance.ts): one scale in [0, 1], the same
 * on every backend.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Option } from "effect"
import { type Hit, hitOrder } from "../core/recall.js"
import { relevance } from "../core/relevance.js"
import { queryTerms } from "../core/textSearch.js"
import { InvalidInput, type StoreFailure } from "../domain/errors.js"
import { MAX_RECALL_LIMIT, type MemorySource } from "../domain/memory.js"
import { allowAgent } from "./agentAccess.js"
import { Caller, EngramApi, type Forbidden, type MemoryApiSearchRequest, type MemoryApiStoreRequest } from "./Api.js"
import { type GatewayDeps, gatewayDeps } from "./deps.js"
import { publicEmbedderError } from "./embedding.js"
import { publicErrors } from "./publicErrors.js"

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
    ? Effect.fail(
      new InvalidInput({ field: "source", message: `must be one of ${Object.keys(MEMORY_API_SOURCES).join(", ")}` })
    )
    : Effect.succeed(known)
}

/**
 * The search limit: 10 when absent, else an integer in 1..MAX_RECALL_LIMIT — checked before any
 * agent is searched, so a bad limit is refused even when no agent has memories yet.
 */
const searchLimit = (limit: number | undefined): Effect.Effect<number, InvalidInput> =>
  limit === undefined
    ? Effect.succeed(10)
    : Number.isInteger(limit) && limit >= 1 && limit <= MAX_RECALL_LIMIT
    ? Effect.succeed(limit)
    : Effect.fail(new InvalidInput({ field: "limit", message: `must be an integer from 1 to ${MAX_RECALL_LIMIT}` }))

/**
 * The memory-api protocol. Its search names no agent: it searches the agents the token may see (all
 * agents holding memories, from `SemanticStoreAdmin.agents`, for an unrestricted token), `agentId`
 * narrows it, and every result carries the agent that really owns it. All the agents are recalled in
 * one store call (`recallAgents`), each with the full limit, and the answers are merged by score, so
 * a memory recalled from one agent but cut by the merge still counts that access. Written once for
 * HttpApi's handlers (below) and the routes answered in front of it (fastRoutes.ts).
 */
export const memoryApiFlows = ({ admin, embedding: embedder, grouped, store }: GatewayDeps) => {
  const agentsToSearch = (
    narrow: string | undefined
  ): Effect.Effect<ReadonlyArray<string>, Forbidden | StoreFailure, Caller> =>
    Effect.gen(function*() {
      if (narrow !== undefined) {
        yield* allowAgent(narrow)
        return [narrow]
      }
      const caller = yield* Caller
      return Option.isSome(caller.agents) ? [...caller.agents.value] : yield* admin.agents()
    })
  return {
    store: (payload: typeof MemoryApiStoreRequest.Type) =>
      Effect.gen(function*() {
        yield* allowAgent(payload.agentId)
        const source = yield* memoryApiSource(payload.source)
        const embedding = yield* embedder.embedText(payload.content)
        const id = yield* grouped.remember({
          ...(embedding === undefined ? {} : { embedding }),
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
      }).pipe(publicEmbedderError("memory/store"), publicErrors("memory/store")),
    search: (payload: typeof MemoryApiSearchRequest.Type) =>
      Effect.gen(function*() {
        const limit = yield* searchLimit(payload.limit)
        const agents = yield* agentsToSearch(payload.agentId)
        const terms = queryTerms(payload.query)
        // A query without any word cannot be matched as text: without an embedder it asks for the
        // newest memories.
        const text = terms.length > 0 ? { text: payload.query } : {}
        const vector = yield* embedder.embedText(payload.query)
        const queryVector = vector === undefined ? {} : { embedding: vector }
        const scope = payload.category === undefined ? {} : { scope: payload.category }
        // One store call for every agent (one round trip when the store is remote).
        const perAgent = yield* store.recallAgents(agents, { limit, ...text, ...queryVector, ...scope })
        const hits = perAgent.flat()
          .map(({ memory }): Hit => ({ memory, score: relevance({ terms, embedding: vector }, memory) }))
          .sort(hitOrder)
          .slice(0, limit)
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
      }).pipe(publicEmbedderError("memory/search"), publicErrors("memory/search"))
  }
}

/** The memory-api routes of HttpApi. */
export const MemoryApiGroupLive = HttpApiBuilder.group(
  EngramApi,
  "memoryApi",
  (handlers) =>
    Effect.map(gatewayDeps, (deps) => {
      const flows = memoryApiFlows(deps)
      return handlers
        .handle("store", ({ payload }) => flows.store(payload))
        .handle("search", ({ payload }) => flows.search(payload))
    })
)
