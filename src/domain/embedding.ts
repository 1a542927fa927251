/**
 * Embeddings. A store has exactly one embedding space, recorded when it is first
 * initialised. Vectors are float32 everywhere: values are rounded to float32 on the way in, so every
 * backend stores and returns the same numbers.
 */
import { Schema } from "effect"

/** Largest dimension accepted (sqlite-vec's limit; pgvector's HNSW index stops at 2,000). */
export const MAX_DIMENSIONS = 8192

/** The model that produced a store's vectors and their length. */
export const EmbeddingSpace = Schema.Struct({
  model: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)),
  dimensions: Schema.Int.pipe(Schema.between(1, MAX_DIMENSIONS))
})
export type EmbeddingSpace = typeof EmbeddingSpace.Type

/**
 * A vector as it crosses the API (validated against the store's space by the core). Declared with one
 * type check instead of `Schema.Array(Schema.Number)`: element-wise array decoding costs about 0.2 µs
 * per number — some 80 µs for a 384-dimension vector — which dominated every remember and recall.
 */
export const Embedding: Schema.Schema<ReadonlyArray<number>> = Schema.declare(
  (u: unknown): u is ReadonlyArray<number> => Array.isArray(u) && u.every((x) => typeof x === "number"),
  {
    identifier: "Embedding",
    description: "an array of numbers",
    message: () => "must be an array of numbers",
    jsonSchema: { type: "array", items: { type: "number" } },
    arbitrary: () => (fc) => fc.array(fc.double()),
    pretty: () => (v) => `[${v.join(", ")}]`
  }
)
export type Embedding = ReadonlyArray<number>

/**
 * A vector as a caller may give it: an array of numbers, or a Float32Array (what embedding models
 * and their clients usually produce), taken without a conversion by the caller. The core checks it
 * against the store's space like an array.
 */
export const EmbeddingInput: Schema.Schema<ReadonlyArray<number> | Float32Array> = Schema.declare(
  (u: unknown): u is ReadonlyArray<number> | Float32Array =>
    u instanceof Float32Array || (Array.isArray(u) && u.every((x) => typeof x === "number")),
  {
    identifier: "EmbeddingInput",
    description: "an array of numbers or a Float32Array",
    message: () => "must be an array of numbers or a Float32Array",
    jsonSchema: { type: "array", items: { type: "number" } },
    arbitrary: () => (fc) => fc.array(fc.double()),
    pretty: () => (v) => `[${Array.from(v).join(", ")}]`
  }
)
export type EmbeddingInput = ReadonlyArray<number> | Float32Array
