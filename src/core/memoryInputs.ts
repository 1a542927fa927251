/**
 * The inputs of semantic memory, checked the same way on every backend: the store's settings, the
 * boundary decoders, and the preparation of a memory to store (content size, vector, id, time).
 */
import { Clock, Effect, Schema } from "effect"
import { type EmbeddingInput, EmbeddingSpace } from "../domain/embedding.js"
import type { InvalidEmbedding, InvalidInput } from "../domain/errors.js"
import { AgentId, MemoryId, mintMemoryId } from "../domain/ids.js"
import { type Memory, RememberInput } from "../domain/memory.js"
import type { StoreOptions } from "../domain/options.js"
import { DEFAULT_MAX_CONTENT_BYTES, utf8Length } from "../domain/text.js"
import { decode, invalid } from "./decode.js"
import { validateEmbedding } from "./vector.js"

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
const decodeRemember = decode(RememberInput, "input")

/** Most memories one `rememberMany` call may carry. */
const MAX_BATCH = 10_000

/** Memories ready to store, and whether every id was minted here (so none can be taken already). */
export interface Prepared {
  readonly memories: ReadonlyArray<Memory>
  readonly minted: boolean
}

/** Check content size and the vector, mint the id if none was given, stamp now. */
const prepareMemory = (
  input: typeof RememberInput.Type,
  limits: SemanticLimits,
  now: number,
  field: string
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
export const prepareRemember = (
  input: RememberInput,
  limits: SemanticLimits
): Effect.Effect<Prepared, InvalidInput | InvalidEmbedding> =>
  Effect.gen(function*() {
    const decoded = yield* decodeRemember(input)
    const memory = yield* prepareMemory(decoded, limits, yield* Clock.currentTimeMillis, "input")
    return { memories: [memory], minted: decoded.id === undefined }
  })

/** Decode and prepare a batch (all or nothing: the first invalid item fails the batch). */
export const prepareRememberMany = (
  inputs: ReadonlyArray<RememberInput>,
  limits: SemanticLimits
): Effect.Effect<Prepared, InvalidInput | InvalidEmbedding> =>
  Effect.gen(function*() {
    if (!Array.isArray(inputs)) return yield* invalid("inputs", "must be an array")
    if (inputs.length > MAX_BATCH) return yield* invalid("inputs", `must hold at most ${MAX_BATCH} memories`)
    const now = yield* Clock.currentTimeMillis
    const memories: Array<Memory> = []
    const ids = new Set<string>()
    let minted = true
    for (let i = 0; i < inputs.length; i++) {
      const decoded = yield* decode(RememberInput, `inputs[${i}]`)(inputs[i])
      const memory = yield* prepareMemory(decoded, limits, now, `inputs[${i}]`)
      if (ids.has(memory.id)) return yield* invalid(`inputs[${i}].id`, "appears twice in the batch")
      if (decoded.id !== undefined) minted = false
      ids.add(memory.id)
      memories.push(memory)
    }
    return { memories, minted }
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
