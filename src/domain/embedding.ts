/**
 * Embeddings (SPEC R-DOM-5). A store has exactly one embedding space, recorded when it is first
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

/** A vector as it crosses the API (validated against the store's space by the core). */
export const Embedding = Schema.Array(Schema.Number)
export type Embedding = ReadonlyArray<number>
