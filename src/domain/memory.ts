/** Semantic memory: what is remembered, how it is recalled, and consolidation. */
import { Schema } from "effect"
import { Embedding, EmbeddingInput } from "./embedding.js"
import { AgentId, isUuid, MemoryId } from "./ids.js"
import { isJsonObject, JsonObject, JsonObjectOrEmpty } from "./json.js"
import { intInRange } from "./page.js"
import { isName, Name, Text, textProblem } from "./text.js"
import { EpochMillis } from "./time.js"

export const MemorySource = Schema.Literal(
  "conversation",
  "document",
  "observation",
  "inference",
  "user_provided",
  "system"
)
export type MemorySource = typeof MemorySource.Type

/** A stored memory. `embedding` is null for memories stored without one (they take part in text recall only). */
export const Memory = Schema.Struct({
  id: MemoryId,
  agentId: AgentId,
  content: Text,
  source: MemorySource,
  scope: Name,
  metadata: JsonObject,
  confidence: Schema.Number,
  createdAt: EpochMillis,
  accessedAt: EpochMillis,
  accessCount: Schema.Number,
  embedding: Schema.NullOr(Embedding)
})
export type Memory = typeof Memory.Type

const SOURCES: ReadonlySet<unknown> = new Set<unknown>(MemorySource.literals)

/** True when `u` is one of `MemorySource`'s literals (for hot paths that check without the Schema). */
export const isMemorySource = (u: unknown): u is MemorySource => SOURCES.has(u)
const isEpochMillis = (u: unknown): boolean => Number.isInteger(u) && (u as number) >= 0 && (u as number) <= 8.64e15

/**
 * `u`'s fields other than `embedding` as a `Memory`, when they plainly pass every check of its
 * Schema, else undefined (then the Schema decodes it and says what is wrong): for hot paths that read
 * many memories, where the Schema cost ~15 µs a memory.
 */
export const plainMemoryFields = (u: Record<string, unknown>): Omit<Memory, "embedding"> | undefined => {
  const { accessCount, accessedAt, agentId, confidence, content, createdAt, id, metadata, scope, source } = u
  if (typeof id !== "string" || !isUuid(id) || typeof agentId !== "string" || !isName(agentId)) return undefined
  if (typeof content !== "string" || textProblem(content) !== undefined || !isMemorySource(source)) return undefined
  if (typeof scope !== "string" || !isName(scope) || !isJsonObject(metadata)) return undefined
  if (typeof confidence !== "number" || typeof accessCount !== "number") return undefined
  if (!isEpochMillis(createdAt) || !isEpochMillis(accessedAt)) return undefined
  return {
    id: id as MemoryId,
    agentId: agentId as AgentId,
    content,
    source: source as MemorySource,
    scope,
    metadata,
    confidence,
    createdAt: createdAt as number,
    accessedAt: accessedAt as number,
    accessCount
  }
}

/** What `remember` takes. `id` makes the call idempotent: remembering an existing id again is a no-op. */
export const RememberInput = Schema.Struct({
  agentId: AgentId,
  content: Text,
  source: MemorySource,
  scope: Schema.optionalWith(Name, { default: () => "episodic" }),
  metadata: JsonObjectOrEmpty,
  embedding: Schema.optional(EmbeddingInput),
  id: Schema.optional(MemoryId)
})
export type RememberInput = typeof RememberInput.Encoded

/** Filters shared by recall and count; every field is honoured by every backend. */
export const MemoryFilterFields = {
  scope: Schema.optional(Name),
  source: Schema.optional(MemorySource),
  minConfidence: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  /** createdAt strictly after this instant */
  after: Schema.optional(EpochMillis),
  /** createdAt strictly before this instant */
  before: Schema.optional(EpochMillis),
  /** equality on top-level metadata keys */
  metadata: Schema.optional(JsonObject)
}
export const MemoryFilter = Schema.Struct(MemoryFilterFields)
export type MemoryFilter = typeof MemoryFilter.Encoded

export const RecallMode = Schema.Literal("vector", "text", "hybrid")
export type RecallMode = typeof RecallMode.Type

/** Largest `limit` a recall may ask for. */
export const MAX_RECALL_LIMIT = 1000

/** `limit` of a recall that asks for none. */
export const DEFAULT_RECALL_LIMIT = 10

export const RecallQuery = Schema.Struct({
  agentId: AgentId,
  text: Schema.optional(Text),
  embedding: Schema.optional(EmbeddingInput),
  limit: intInRange(1, MAX_RECALL_LIMIT, DEFAULT_RECALL_LIMIT),
  mode: Schema.optional(RecallMode),
  ...MemoryFilterFields
})
export type RecallQuery = typeof RecallQuery.Encoded

/** One recalled memory with its score: cosine similarity (vector), relevance (text), fused rank score (hybrid), 0 (newest). */
export const RecallHit = Schema.Struct({
  memory: Memory,
  score: Schema.Number
})
export type RecallHit = typeof RecallHit.Type

export const ConsolidationOptions = Schema.Struct({
  decayRate: Schema.optionalWith(Schema.Number, { default: () => 0.1 }),
  staleAfterMs: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 7 * 86_400_000 }),
  floor: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.1 }),
  mergeThreshold: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.97 })
})
export type ConsolidationOptions = typeof ConsolidationOptions.Encoded

export const ConsolidationReport = Schema.Struct({
  decayed: Schema.Number,
  merged: Schema.Number,
  durationMs: Schema.Number
})
export type ConsolidationReport = typeof ConsolidationReport.Type
