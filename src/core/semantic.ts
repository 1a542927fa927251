/**
 * Semantic-memory rules shared by every backend (SPEC §2.2): input preparation (decode, size limits,
 * vector checks, id and time), the recall plan (which mode, which filters), filter semantics and
 * the order of results. Backends only store rows and run the plan.
 */
import { Clock, Effect, Schema } from "effect"
import { EmbeddingSpace } from "../domain/embedding.js"
import type { InvalidEmbedding, InvalidInput } from "../domain/errors.js"
import { AgentId, MemoryId, mintMemoryId } from "../domain/ids.js"
import { jsonEquals, type JsonObject } from "../domain/json.js"
import {
  type Memory,
  MemoryFilter,
  type MemorySource,
  RecallQuery,
  RememberInput
} from "../domain/memory.js"
import type { StoreOptions } from "../domain/options.js"
import { DEFAULT_MAX_CONTENT_BYTES, utf8Length } from "../domain/text.js"
import { decode, invalid } from "./decode.js"
import { reciprocalRankFusion } from "./rrf.js"
import { queryTerms } from "./textSearch.js"
import { validateEmbedding } from "./vector.js"

/** Settings every semantic backend applies to input. */
export interface SemanticLimits {
  readonly space: EmbeddingSpace
  readonly maxContentBytes?: number
}

const decodeStoreOptions = decode(
  Schema.Struct({
    embedding: EmbeddingSpace,
    maxContentBytes: Schema.optional(Schema.Int.pipe(Schema.positive()))
  }),
  "options"
)

/** The limits of a store with these options. */
export const semanticLimits = (options: {
  readonly embedding: EmbeddingSpace
  readonly maxContentBytes?: number | undefined
}): SemanticLimits => ({
  space: options.embedding,
  ...(options.maxContentBytes === undefined ? {} : { maxContentBytes: options.maxContentBytes })
})

/** Check a store's options (a valid embedding space, a positive content limit); its limits. */
export const checkStoreOptions = (options: StoreOptions): Effect.Effect<SemanticLimits, InvalidInput> =>
  Effect.map(decodeStoreOptions({ embedding: options.embedding, maxContentBytes: options.maxContentBytes }), semanticLimits)

/** Most memories one `rememberMany` call may carry. */
const MAX_BATCH = 10_000

const decodeRemember = decode(RememberInput, "input")
const decodeQuery = decode(RecallQuery, "query")
const decodeFilter = decode(MemoryFilter, "filter")
export const decodeAgentId = decode(AgentId, "agentId")
export const decodeMemoryId = decode(MemoryId, "id")

/** A filter after decoding: every field optional, all must hold. */
export interface Filter {
  readonly scope?: string | undefined
  readonly source?: MemorySource | undefined
  readonly minConfidence?: number | undefined
  readonly after?: number | undefined
  readonly before?: number | undefined
  readonly metadata?: JsonObject | undefined
}

/** Check content size and the vector, mint the id if none was given, stamp now. */
const prepareMemory = (
  input: typeof RememberInput.Type,
  limits: SemanticLimits,
  now: number,
  field = "input"
): Effect.Effect<Memory, InvalidInput | InvalidEmbedding> =>
  Effect.gen(function*() {
    const max = limits.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES
    if (input.content.length === 0) return yield* invalid(`${field}.content`, "must not be empty")
    if (utf8Length(input.content) > max) {
      return yield* invalid(`${field}.content`, `is larger than the limit of ${max} bytes`)
    }
    const embedding = input.embedding === undefined ? null : yield* validateEmbedding(input.embedding, limits.space)
    const id = input.id ?? (yield* mintMemoryId)
    return {
      id,
      agentId: input.agentId,
      content: input.content,
      source: input.source,
      scope: input.scope,
      metadata: input.metadata,
      confidence: 1,
      createdAt: now,
      accessedAt: now,
      accessCount: 0,
      embedding
    }
  })

/** Decode and prepare one memory to store. */
export const prepareRemember = (input: RememberInput, limits: SemanticLimits) =>
  Effect.gen(function*() {
    const decoded = yield* decodeRemember(input)
    return yield* prepareMemory(decoded, limits, yield* Clock.currentTimeMillis)
  })

/** Decode and prepare a batch (all or nothing: the first invalid item fails the batch). */
export const prepareRememberMany = (inputs: ReadonlyArray<RememberInput>, limits: SemanticLimits) =>
  Effect.gen(function*() {
    if (!Array.isArray(inputs)) return yield* invalid("inputs", "must be an array")
    if (inputs.length > MAX_BATCH) return yield* invalid("inputs", `must hold at most ${MAX_BATCH} memories`)
    const now = yield* Clock.currentTimeMillis
    const out: Array<Memory> = []
    const ids = new Set<string>()
    for (let i = 0; i < inputs.length; i++) {
      const decoded = yield* decode(RememberInput, `inputs[${i}]`)(inputs[i])
      const memory = yield* prepareMemory(decoded, limits, now, `inputs[${i}]`)
      if (ids.has(memory.id)) return yield* invalid(`inputs[${i}].id`, "appears twice in the batch")
      ids.add(memory.id)
      out.push(memory)
    }
    return out
  })

/**
 * The error for a caller-chosen id that already belongs to another agent's memory. `field` is the
 * id's path in the call ("input.id", "inputs[3].id"), like every other input error.
 */
export const idInUse = (field: string): InvalidInput => invalid(field, "is already used by another memory")

/** How a recall is answered. */
export type RecallPlan =
  & {
    readonly agentId: string
    readonly limit: number
    readonly filter: Filter
    readonly now: number
  }
  & (
    | { readonly mode: "vector"; readonly embedding: ReadonlyArray<number> }
    | { readonly mode: "text"; readonly terms: ReadonlyArray<string> }
    | { readonly mode: "hybrid"; readonly embedding: ReadonlyArray<number>; readonly terms: ReadonlyArray<string> }
    | { readonly mode: "newest" }
  )

const filterOf = (q: Filter): Filter => ({
  scope: q.scope,
  source: q.source,
  minConfidence: q.minConfidence,
  after: q.after,
  before: q.before,
  metadata: q.metadata
})

/**
 * Decide how to answer a query. The mode defaults to hybrid when both text and an embedding are
 * given, vector with an embedding, text with text, and "newest" with neither. Asking for a mode
 * whose input is missing is an InvalidInput, and so is text without any word in it.
 */
export const planRecall = (
  query: RecallQuery,
  limits: SemanticLimits
): Effect.Effect<RecallPlan, InvalidInput | InvalidEmbedding> =>
  Effect.gen(function*() {
    const q = yield* decodeQuery(query)
    const now = yield* Clock.currentTimeMillis
    const base = { agentId: q.agentId, limit: q.limit, filter: filterOf(q), now }
    const embedding = q.embedding === undefined ? undefined : yield* validateEmbedding(q.embedding, limits.space)
    let terms: ReadonlyArray<string> | undefined
    if (q.text !== undefined) {
      terms = queryTerms(q.text)
      if (terms.length === 0) return yield* invalid("query.text", "contains no words to search for")
    }
    const mode = q.mode ?? (embedding !== undefined && terms !== undefined
      ? "hybrid"
      : embedding !== undefined
      ? "vector"
      : terms !== undefined
      ? "text"
      : undefined)
    switch (mode) {
      case undefined:
        return { ...base, mode: "newest" as const }
      case "vector":
        if (embedding === undefined) return yield* invalid("query.embedding", "is required for vector recall")
        return { ...base, mode: "vector" as const, embedding }
      case "text":
        if (terms === undefined) return yield* invalid("query.text", "is required for text recall")
        return { ...base, mode: "text" as const, terms }
      case "hybrid":
        if (embedding === undefined) return yield* invalid("query.embedding", "is required for hybrid recall")
        if (terms === undefined) return yield* invalid("query.text", "is required for hybrid recall")
        return { ...base, mode: "hybrid" as const, embedding, terms }
    }
  })

/** Decode a count filter. */
export const prepareFilter = (filter: MemoryFilter | undefined): Effect.Effect<Filter, InvalidInput> =>
  Effect.map(decodeFilter(filter ?? {}), filterOf)

/** Decode an embedding update. */
export const prepareEmbedding = (embedding: ReadonlyArray<number>, limits: SemanticLimits) =>
  Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Unknown))(embedding).pipe(
    Effect.mapError(() => invalid("embedding", "must be an array of numbers"))
  ), (v) => validateEmbedding(v, limits.space))

/** True when `m` satisfies every field of `f` (the reference semantics every backend reproduces). */
export const matchesFilter = (m: Memory, f: Filter): boolean =>
  (f.scope === undefined || m.scope === f.scope) &&
  (f.source === undefined || m.source === f.source) &&
  (f.minConfidence === undefined || m.confidence >= f.minConfidence) &&
  (f.after === undefined || m.createdAt > f.after) &&
  (f.before === undefined || m.createdAt < f.before) &&
  (f.metadata === undefined ||
    Object.entries(f.metadata).every(([k, v]) => Object.hasOwn(m.metadata, k) && jsonEquals(m.metadata[k]!, v)))

const byId = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0)

/** Result order: score desc, then createdAt desc, then id desc (newest first on ties). */
export const hitOrder = (
  a: { readonly score: number; readonly memory: Memory },
  b: { readonly score: number; readonly memory: Memory }
): number => b.score - a.score || b.memory.createdAt - a.memory.createdAt || byId(a.memory.id, b.memory.id)

/** Order of "newest" recall: createdAt desc, then id desc. */
export const newestOrder = (a: Memory, b: Memory): number => b.createdAt - a.createdAt || byId(a.id, b.id)

/** The memory as returned by recall: accessed now, one more access. */
export const accessed = (m: Memory, now: number): Memory => ({ ...m, accessedAt: now, accessCount: m.accessCount + 1 })

/**
 * Hybrid results: the vector and text rankings (each taken to depth `limit`, which is enough for
 * `limit` fused results whenever that many memories match) fused by reciprocal rank fusion.
 */
export const fuseHybrid = (
  vector: ReadonlyArray<{ readonly memory: Memory; readonly score: number }>,
  text: ReadonlyArray<{ readonly memory: Memory; readonly score: number }>,
  limit: number
): ReadonlyArray<{ readonly memory: Memory; readonly score: number }> => {
  const byId = new Map<string, Memory>()
  for (const h of [...vector, ...text]) byId.set(h.memory.id, h.memory)
  return reciprocalRankFusion([vector.map((h) => h.memory.id), text.map((h) => h.memory.id)])
    .map(({ id, score }) => ({ memory: byId.get(id)!, score }))
    .sort(hitOrder)
    .slice(0, limit)
}
