import { Context, type Effect, type Option } from "effect"
import type { EmbeddingInput, EmbeddingSpace } from "../domain/embedding.js"
import type { InvalidEmbedding, InvalidInput, MemoryNotFound, StoreFailure } from "../domain/errors.js"
import type { MemoryId } from "../domain/ids.js"
import type { Memory, MemoryFilter, RecallHit, RecallQuery, RememberInput } from "../domain/memory.js"

type E = InvalidInput | InvalidEmbedding | StoreFailure

/** Memories with optional vectors: vector, full-text and hybrid recall inside one agent. */
export class SemanticStore extends Context.Tag("engram/SemanticStore")<SemanticStore, {
  /** The store's embedding space; every vector must have `dimensions` entries. */
  readonly embeddingSpace: EmbeddingSpace
  readonly remember: (input: RememberInput) => Effect.Effect<MemoryId, E>
  /** Many memories in one round trip and one transaction; ids in input order. */
  readonly rememberMany: (inputs: ReadonlyArray<RememberInput>) => Effect.Effect<ReadonlyArray<MemoryId>, E>
  /** Ranked memories of one agent; returned memories have their access counters updated. */
  readonly recall: (query: RecallQuery) => Effect.Effect<ReadonlyArray<RecallHit>, E>
  /**
   * One query recalled in each of several agents, in one call (one round trip on a remote store):
   * the answer holds, for each agent of `agentIds` in that order, exactly what
   * `recall({ ...query, agentId })` would have returned, access counters included.
   */
  readonly recallAgents: (
    agentIds: ReadonlyArray<string>,
    query: Omit<RecallQuery, "agentId">
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<RecallHit>>, E>
  readonly get: (agentId: string, id: string) => Effect.Effect<Option.Option<Memory>, E>
  /** True when the memory existed; it is gone from every later read. */
  readonly forget: (agentId: string, id: string) => Effect.Effect<boolean, E>
  /** Replace the vector; content, metadata and counters are kept. */
  readonly updateEmbedding: (
    agentId: string,
    id: string,
    embedding: EmbeddingInput
  ) => Effect.Effect<void, E | MemoryNotFound>
  readonly count: (agentId: string, filter?: MemoryFilter) => Effect.Effect<number, E>
}>() {}
