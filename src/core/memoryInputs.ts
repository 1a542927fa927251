/**
 * The inputs of semantic memory, checked the same way on every backend: the store's settings, the
 * boundary decoders, and the preparation of a memory to store (content size, vector, id, time).
 */
import { Clock, Effect, Schema } from "effect"
import { type EmbeddingInput, EmbeddingSpace } from "../domain/embedding.js"
import { InvalidEmbedding, InvalidInput } from "../domain/errors.js"
import { AgentId, isUuid, MemoryId, newMemoryId } from "../domain/ids.js"
import { isJsonObject, isPlainObject } from "../domain/json.js"
import { isMemorySource, type Memory, type MemorySource, RememberInput } from "../domain/memory.js"
import type { StoreOptions } from "../domain/options.js"
import { DEFAULT_MAX_CONTENT_BYTES, isName, textProblem, utf8Length } from "../domain/text.js"
import { decode, decodeSync, invalid } from "./decode.js"
import { embeddingError, embeddingProblem, validateEmbedding } from "./vector.js"

/** Settings every semantic store applies to input. */
export interface SemanticLimits {
  readonly space: EmbeddingSpace
  readonly maxContentBytes?: number
}

/** The limits of a store with these options. */
export const semanticLimits = (options: {
  readonly embedding: EmbeddingSpace
  readonly maxContentBytes?: number | undefined
}): SemanticLimits => ({
  space: options.embedding,
  ...(options.maxContentBytes === undefined ? {} : { maxContentBytes: options.maxContentBytes })
})

const decodeStoreOptions = decode(
  Schema.Struct({
    embedding: EmbeddingSpace,
    maxContentBytes: Schema.optional(Schema.Int.pipe(Schema.positive())),
    decayRate: Schema.optional(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)))
  }),
  "options"
)

/**
 * Check a store's options (a valid embedding space, a positive content limit, a default decay rate
 * strictly between 0 and 1); its limits.
 */
export const checkStoreOptions = (options: StoreOptions): Effect.Effect<SemanticLimits, InvalidInput> =>
  Effect.map(
    decodeStoreOptions({
      embedding: options.embedding,
      maxContentBytes: options.maxContentBytes,
      decayRate: options.decayRate
    }),
    semanticLimits
  )

export const decodeAgentId = decode(AgentId, "agentId")
export const decodeMemoryId = decode(MemoryId, "id")

/** Most memories one `rememberMany` call may carry. */
const MAX_BATCH = 10_000

/** Memories ready to store, and whether every id was minted here (so none can be taken already). */
export interface Prepared {
  readonly memories: ReadonlyArray<Memory>
  readonly minted: boolean
}

/** A decoded input, as `RememberInput` gives it. */
type Decoded = typeof RememberInput.Type

/**
 * Check content size and the vector, mint the id if none was given, stamp now: the memory, or why
 * the input cannot be stored. Synchronous, so a batch is one loop rather than an Effect per item.
 */
const prepareMemory = (
  input: Decoded,
  limits: SemanticLimits,
  now: number,
  field: string
): Memory | InvalidInput | InvalidEmbedding => {
  const max = limits.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES
  if (input.content.length === 0) return invalid(`${field}.content`, "must not be empty")
  // A string of n UTF-16 units has at most 3n UTF-8 bytes: most contents need no count.
  if (input.content.length * 3 > max && utf8Length(input.content) > max) {
    return invalid(`${field}.content`, `is larger than the limit of ${max} bytes`)
  }
  let embedding: ReadonlyArray<number> | null = null
  if (input.embedding !== undefined) {
    const checked = embeddingProblem(input.embedding, limits.space)
    if (typeof checked === "string") return embeddingError(checked, input.embedding, limits.space)
    embedding = checked.vector
  }
  return {
    id: input.id ?? newMemoryId(),
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
}

const INPUT_KEYS: ReadonlySet<string> = new Set(Object.keys(RememberInput.fields))

/**
 * The decoded input when it plainly passes every check of `RememberInput` (the same predicates its
 * fields apply), else undefined — and then the Schema decodes it and names what is wrong, so a bad
 * input gets exactly the Schema's error. Decoding each item of a batch with the Schema cost about
 * 28 µs per memory, the largest part of a `rememberMany`; this costs about 1 µs plus a pass over the vector.
 * Anything unusual (a key set to `undefined`, a class instance, symbol keys) takes the Schema's path.
 */
export const plainlyValid = (u: unknown): Decoded | undefined => {
  if (!isPlainObject(u) || Object.getOwnPropertySymbols(u).length > 0) return undefined
  for (const k in u) if (!INPUT_KEYS.has(k) || u[k] === undefined) return undefined
  const { agentId, content, embedding, id, metadata, scope, source } = u
  if (typeof agentId !== "string" || !isName(agentId)) return undefined
  if (typeof content !== "string" || textProblem(content) !== undefined) return undefined
  if (!isMemorySource(source)) return undefined
  if (scope !== undefined && (typeof scope !== "string" || !isName(scope))) return undefined
  if (metadata !== undefined && !isJsonObject(metadata)) return undefined
  if (id !== undefined && (typeof id !== "string" || !isUuid(id))) return undefined
  if (
    embedding !== undefined &&
    !(embedding instanceof Float32Array || (Array.isArray(embedding) && embedding.every(isNumber)))
  ) return undefined
  return {
    agentId: agentId as AgentId,
    content,
    source: source as MemorySource,
    scope: scope ?? "episodic",
    metadata: metadata ?? {},
    ...(embedding === undefined ? {} : { embedding: embedding as EmbeddingInput }),
    ...(id === undefined ? {} : { id: id as MemoryId })
  }
}

const isNumber = (x: unknown): boolean => typeof x === "number"

/**
 * Decode one memory (the Schema names what is wrong when it is not plainly valid) and prepare it;
 * `field` is its path in the call ("input", "inputs[3]"). `minted` when the caller chose no id.
 */
const prepareItem = (
  u: unknown,
  field: string,
  limits: SemanticLimits,
  now: number
): { readonly memory: Memory; readonly minted: boolean } | InvalidInput | InvalidEmbedding => {
  const decoded = plainlyValid(u) ?? decodeSync(RememberInput, field)(u)
  if (decoded instanceof InvalidInput) return decoded
  const memory = prepareMemory(decoded, limits, now, field)
  if (memory instanceof InvalidInput || memory instanceof InvalidEmbedding) return memory
  return { memory, minted: decoded.id === undefined }
}

/** Decode and prepare one memory to store. */
export const prepareRemember = (
  input: RememberInput,
  limits: SemanticLimits
): Effect.Effect<Prepared, InvalidInput | InvalidEmbedding> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const item = prepareItem(input, "input", limits, now)
    if (item instanceof InvalidInput || item instanceof InvalidEmbedding) return Effect.fail(item)
    return Effect.succeed({ memories: [item.memory], minted: item.minted })
  })

/** Decode and prepare a batch (all or nothing: the first invalid item fails the batch). */
export const prepareRememberMany = (
  inputs: ReadonlyArray<RememberInput>,
  limits: SemanticLimits
): Effect.Effect<Prepared, InvalidInput | InvalidEmbedding> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    if (!Array.isArray(inputs)) return Effect.fail(invalid("inputs", "must be an array"))
    if (inputs.length > MAX_BATCH) return Effect.fail(invalid("inputs", `must hold at most ${MAX_BATCH} memories`))
    const memories: Array<Memory> = []
    const ids = new Set<string>()
    let minted = true
    for (let i = 0; i < inputs.length; i++) {
      const field = `inputs[${i}]`
      const item = prepareItem(inputs[i], field, limits, now)
      if (item instanceof InvalidInput || item instanceof InvalidEmbedding) return Effect.fail(item)
      const { memory } = item
      if (ids.has(memory.id)) return Effect.fail(invalid(`${field}.id`, "appears twice in the batch"))
      if (!item.minted) minted = false
      ids.add(memory.id)
      memories.push(memory)
    }
    return Effect.succeed({ memories, minted })
  })

/** Decode an embedding update. */
export const prepareEmbedding = (
  embedding: EmbeddingInput,
  limits: SemanticLimits
): Effect.Effect<ReadonlyArray<number>, InvalidInput | InvalidEmbedding> =>
  Array.isArray(embedding) || embedding instanceof Float32Array
    ? validateEmbedding(embedding, limits.space)
    : Effect.fail(invalid("embedding", "must be an array of numbers or a Float32Array"))

/**
 * The error for a caller-chosen id that already belongs to another agent's memory. `field` is the
 * id's path in the call ("input.id", "inputs[3].id"), like every other input error.
 */
export const idInUse = (field: string): InvalidInput => invalid(field, "is already used by another memory")
