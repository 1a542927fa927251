/** Vector validation and cosine similarity, written once so every backend accepts and scores exactly the same vectors. */
import { Effect } from "effect"
import type { EmbeddingSpace } from "../domain/embedding.js"
import { InvalidEmbedding } from "../domain/errors.js"

/**
 * Check a vector against the store's space and round it to float32. Fails with `InvalidEmbedding`
 * for a wrong length, a non-finite or non-float32-representable value, or a zero vector (which has no
 * direction, so cosine similarity is undefined).
 */
export const validateEmbedding = (
  vector: ReadonlyArray<unknown> | Float32Array,
  space: EmbeddingSpace
): Effect.Effect<ReadonlyArray<number>, InvalidEmbedding> => {
  const problem = embeddingProblem(vector, space)
  return typeof problem === "string"
    ? Effect.fail(embeddingError(problem, vector, space))
    : Effect.succeed(problem.vector)
}

/** The `InvalidEmbedding` for `vector`, refused for `problem` (a message of `embeddingProblem`). */
export const embeddingError = (
  problem: string,
  vector: ReadonlyArray<unknown> | Float32Array,
  space: EmbeddingSpace
): InvalidEmbedding =>
  new InvalidEmbedding({
    message: problem,
    expectedDimensions: space.dimensions,
    actualDimensions: Array.isArray(vector) || vector instanceof Float32Array ? vector.length : 0
  })

/** The float32 vector (as an array), or why it is invalid. */
export const embeddingProblem = (
  vector: ReadonlyArray<unknown> | Float32Array,
  space: EmbeddingSpace
): string | { readonly vector: ReadonlyArray<number> } => {
  if (vector instanceof Float32Array) return float32Problem(vector, space)
  if (!Array.isArray(vector)) return "embedding must be an array of numbers or a Float32Array"
  if (vector.length !== space.dimensions) {
    return `embedding has ${vector.length} dimensions, the store's space ${space.model} has ${space.dimensions}`
  }
  const out = new Array<number>(vector.length)
  let norm = 0
  for (let i = 0; i < vector.length; i++) {
    const v = vector[i]
    if (typeof v !== "number" || !Number.isFinite(v)) return `embedding[${i}] is not a finite number`
    const f = Math.fround(v)
    if (!Number.isFinite(f)) return `embedding[${i}] is outside the float32 range`
    out[i] = f
    norm += f * f
  }
  if (norm === 0) return "embedding is a zero vector (no direction)"
  return { vector: out }
}

/** `embeddingProblem` for a Float32Array: its values are float32 already, so only finiteness is checked. */
const float32Problem = (vector: Float32Array, space: EmbeddingSpace) => {
  if (vector.length !== space.dimensions) {
    return `embedding has ${vector.length} dimensions, the store's space ${space.model} has ${space.dimensions}`
  }
  const out = new Array<number>(vector.length)
  let norm = 0
  for (let i = 0; i < vector.length; i++) {
    const f = vector[i]!
    if (!Number.isFinite(f)) return `embedding[${i}] is not a finite number`
    out[i] = f
    norm += f * f
  }
  if (norm === 0) return "embedding is a zero vector (no direction)"
  return { vector: out }
}

/**
 * Cosine similarity of two vectors of equal length (0 when either has no magnitude). Arrays and
 * typed arrays alike, so a store scoring a Float32Array view of its stored bytes gets exactly the
 * number the core's ranking computes from the same values.
 */
export const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}
