/**
 * SemanticStore written once: decoding, the Clock, id minting, embedding checks, the recall plan and
 * ranking, the access-counter rule, typed refusals and instrumentation live here; a backend provides
 * `SemanticPort`, the storage primitives over decoded values.
 */
import { type Context, Effect, type Option, Schema } from "effect"
import {
  type BackendName,
  type InvalidEmbedding,
  type InvalidInput,
  MemoryNotFound,
  type StoreFailure
} from "../domain/errors.js"
import { AgentId, type MemoryId } from "../domain/ids.js"
import type { Memory } from "../domain/memory.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { decode } from "./decode.js"
import { instrumentService } from "./instrument.js"
import { type Filter, prepareFilter } from "./memoryFilter.js"
import {
  decodeAgentId,
  decodeMemoryId,
  idInUse,
  prepareEmbedding,
  prepareRemember,
  prepareRememberMany,
  type SemanticLimits
} from "./memoryInputs.js"
import { type Candidates, type Hit, pickHits, planRecall, type RecallPlan } from "./recall.js"

/**
 * How a port fails. Local stores fail only with `StoreFailure`; a remote store (the gateway) may
 * also refuse an input by its own rules (its content limit, say).
 */
export type PortFailure = StoreFailure | InvalidInput | InvalidEmbedding

/** How `insert` was called. */
export interface InsertShape {
  /** Every id was minted here: none can be taken already, so there is nothing to check. */
  readonly minted: boolean
  /** The call was `rememberMany` (a remote store names inputs by their position in the batch). */
  readonly many: boolean
}

/** The storage primitives of SemanticStore. Every argument is already decoded and checked. */
export interface SemanticPort {
  readonly backend: BackendName
  /**
   * Store memories, all or none. An id that already holds a memory of the same agent is a replay:
   * that memory is kept as it is (the first write wins). When an id holds another agent's memory,
   * nothing is stored and the result is the position of the first such memory; otherwise undefined.
   */
  readonly insert: (
    memories: ReadonlyArray<Memory>,
    shape: InsertShape
  ) => Effect.Effect<number | undefined, PortFailure>
  /**
   * Answer a recall: read the `Candidates` the plan's mode needs, let `pick` choose the hits, and
   * record the access of exactly those memories (accessedAt = plan.now, accessCount + 1), in one unit
   * of the store's isolation where it has one; returns what `pick` returned. A remote store that
   * runs the whole recall itself returns its own answer instead.
   */
  readonly recall: (
    plan: RecallPlan,
    pick: (found: Candidates) => ReadonlyArray<Hit>
  ) => Effect.Effect<ReadonlyArray<Hit>, PortFailure>
  /**
   * Optional: answer several plans (one query in several agents) at once, each as `recall` would,
   * the answers in the order of the plans. A remote store provides it to answer in one round trip;
   * without it the plans are answered one after the other with `recall`.
   */
  readonly recallMany?: (
    plans: ReadonlyArray<RecallPlan>,
    pick: (plan: RecallPlan) => (found: Candidates) => ReadonlyArray<Hit>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<Hit>>, PortFailure>
  readonly get: (agentId: AgentId, id: MemoryId) => Effect.Effect<Option.Option<Memory>, PortFailure>
  /** True when the agent's memory existed; it is gone from every later read. */
  readonly forget: (agentId: AgentId, id: MemoryId) => Effect.Effect<boolean, PortFailure>
  /** Replace the vector of the agent's memory (content, metadata and counters kept); false when there is none. */
  readonly updateEmbedding: (
    agentId: AgentId,
    id: MemoryId,
    embedding: ReadonlyArray<number>
  ) => Effect.Effect<boolean, PortFailure>
  /** How many of the agent's memories pass the filter. */
  readonly count: (agentId: AgentId, filter: Filter) => Effect.Effect<number, PortFailure>
}

const decodeAgentIds = decode(Schema.Array(AgentId), "agentIds")

/** SemanticStore over a backend's port. */
export const makeSemanticStore = (
  port: SemanticPort,
  limits: SemanticLimits
): Context.Tag.Service<typeof SemanticStore> =>
  instrumentService(SemanticStore, port.backend, { get: 0, forget: 0, updateEmbedding: 0, count: 0 })({
    embeddingSpace: limits.space,
    remember: (input) =>
      Effect.gen(function*() {
        const { memories, minted } = yield* prepareRemember(input, limits)
        const conflict = yield* port.insert(memories, { minted, many: false })
        if (conflict !== undefined) return yield* idInUse("input.id")
        return memories[0]!.id
      }),
    rememberMany: (inputs) =>
      Effect.gen(function*() {
        const { memories, minted } = yield* prepareRememberMany(inputs, limits)
        if (memories.length === 0) return []
        const conflict = yield* port.insert(memories, { minted, many: true })
        if (conflict !== undefined) return yield* idInUse(`inputs[${conflict}].id`)
        return memories.map((m) => m.id)
      }),
    recall: (query) => Effect.flatMap(planRecall(query, limits), (plan) => port.recall(plan, pickHits(plan))),
    recallAgents: (agentIds, query) =>
      Effect.gen(function*() {
        const agents = yield* decodeAgentIds(agentIds)
        if (agents.length === 0) return []
        // One plan decides the mode, filters and "now" for all; each agent only swaps its id in.
        const first = yield* planRecall({ ...query, agentId: agents[0]! }, limits)
        const plans = agents.map((agentId): RecallPlan => ({ ...first, agentId }))
        return port.recallMany === undefined
          ? yield* Effect.forEach(plans, (plan) => port.recall(plan, pickHits(plan)))
          : yield* port.recallMany(plans, pickHits)
      }),
    get: (a, i) =>
      Effect.flatMap(decodeAgentId(a), (agent) => Effect.flatMap(decodeMemoryId(i), (id) => port.get(agent, id))),
    forget: (a, i) =>
      Effect.flatMap(decodeAgentId(a), (agent) => Effect.flatMap(decodeMemoryId(i), (id) => port.forget(agent, id))),
    updateEmbedding: (a, i, e) =>
      Effect.gen(function*() {
        const agent = yield* decodeAgentId(a)
        const id = yield* decodeMemoryId(i)
        const embedding = yield* prepareEmbedding(e, limits)
        if (!(yield* port.updateEmbedding(agent, id, embedding))) {
          return yield* new MemoryNotFound({ agentId: agent, memoryId: id })
        }
      }),
    count: (a, f) =>
      Effect.flatMap(
        decodeAgentId(a),
        (agent) => Effect.flatMap(prepareFilter(f), (filter) => port.count(agent, filter))
      )
  })
