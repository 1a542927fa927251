/**
 * Embeddings through @effect/ai's `EmbeddingModel`. engram's `Embedder` is an adapter over an
 * `EmbeddingModel`: it names the embedding space the model produces (model name and dimensions, which
 * `EmbeddingModel` does not carry), maps `AiError` to `EmbedderError`, and checks every vector it
 * returns. With an Embedder in the context, the convenience operations (src/operations.ts) embed content
 * on remember and the query on recall. The deterministic hash embedder is the offline default, itself an
 * `EmbeddingModel` layer; src/openAiEmbedder.ts provides one for any OpenAI-compatible endpoint.
 */
import * as EmbeddingModel from "@effect/ai/EmbeddingModel"
import { Context, Effect, Layer, Schema } from "effect"
import { tokenize } from "./core/textSearch.js"
import type { EmbeddingSpace } from "./domain/embedding.js"
import { EmbeddingSpaceMismatch } from "./domain/errors.js"
import type { RecallQuery, RememberInput } from "./domain/memory.js"
import { SemanticStore } from "./services/SemanticStore.js"

/** An embedding model failed, or answered something that is not a vector of its space. */
export class EmbedderError extends Schema.TaggedError<EmbedderError>()("EmbedderError", {
  model: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export class Embedder extends Context.Tag("engram/Embedder")<Embedder, {
  /** The model name recorded as the store's embedding space. */
  readonly model: string
  readonly dimensions: number
  /** One vector per text, in order. */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbedderError>
}>() {}

/** Why a vector is not one of the space's, or undefined when it is. */
const vectorProblem = (v: ReadonlyArray<number>, dimensions: number): string | undefined => {
  if (v.length !== dimensions) return `returned a vector of ${v.length} dimensions, expected ${dimensions}`
  for (const x of v) if (!Number.isFinite(x)) return "returned a vector holding a non-finite number"
  return undefined
}

/**
 * engram's Embedder over an `EmbeddingModel` producing `space`. The model's failures become
 * EmbedderError (the AiError is kept as the cause); so does a vector of the wrong length, or a count
 * of vectors other than the count of texts.
 */
export const embedderOf = (space: EmbeddingSpace, model: EmbeddingModel.Service): Embedder["Type"] =>
  Embedder.of({
    model: space.model,
    dimensions: space.dimensions,
    embed: (texts) =>
      texts.length === 0 ? Effect.succeed([]) : model.embedMany(texts).pipe(
        Effect.mapError((cause) => new EmbedderError({ model: space.model, message: cause.message, cause })),
        Effect.flatMap((vectors) => {
          if (vectors.length !== texts.length) {
            return Effect.fail(new EmbedderError({
              model: space.model,
              message: `returned ${vectors.length} vectors for ${texts.length} texts`
            }))
          }
          for (const v of vectors) {
            const problem = vectorProblem(v, space.dimensions)
            if (problem !== undefined) return Effect.fail(new EmbedderError({ model: space.model, message: problem }))
          }
          return Effect.succeed(vectors)
        })
      )
  })

/** `inputs` with every missing embedding filled in by one `embed` call (the same array when none is missing). */
export const fillEmbeddings = (
  embedder: Embedder["Type"],
  inputs: ReadonlyArray<RememberInput>
): Effect.Effect<ReadonlyArray<RememberInput>, EmbedderError> => {
  const missing = inputs.flatMap((input, i) => (input.embedding === undefined ? [i] : []))
  if (missing.length === 0) return Effect.succeed(inputs)
  return Effect.map(embedder.embed(missing.map((i) => inputs[i]!.content)), (vectors) => {
    const filled = [...inputs]
    missing.forEach((i, j) => (filled[i] = { ...inputs[i]!, embedding: vectors[j]! }))
    return filled
  })
}

/** Whether `embedQuery` would embed `query`: it has text, no vector, and does not ask for text only. */
export const needsQueryEmbedding = (query: Omit<RecallQuery, "agentId">): boolean =>
  query.embedding === undefined && query.text !== undefined && query.mode !== "text"

/** `query` with its text embedded, unless it carries a vector already, has no text, or asks for text only. */
export const embedQuery = <Q extends Omit<RecallQuery, "agentId">>(
  embedder: Embedder["Type"],
  query: Q
): Effect.Effect<Q, EmbedderError> =>
  needsQueryEmbedding(query) && query.text !== undefined
    ? Effect.map(embedder.embed([query.text]), ([embedding]) => ({ ...query, embedding: embedding! }))
    : Effect.succeed(query)

/** The Embedder over the `EmbeddingModel` in the context, for the space that model produces. */
export const EmbedderFromModel = (space: EmbeddingSpace): Layer.Layer<Embedder, never, EmbeddingModel.EmbeddingModel> =>
  Layer.effect(Embedder, Effect.map(EmbeddingModel.EmbeddingModel, (model) => embedderOf(space, model)))

/**
 * Check at layer build that the Embedder produces the store's embedding space, so a misconfigured
 * model is refused before anything is embedded (rather than storing vectors of two models side by side).
 */
export const checkEmbedderSpace: Effect.Effect<void, EmbeddingSpaceMismatch, Embedder | SemanticStore> = Effect.gen(
  function*() {
    const embedder = yield* Embedder
    const store = yield* SemanticStore
    if (embedder.model !== store.embeddingSpace.model || embedder.dimensions !== store.embeddingSpace.dimensions) {
      return yield* new EmbeddingSpaceMismatch({
        expected: { model: embedder.model, dimensions: embedder.dimensions },
        actual: store.embeddingSpace
      })
    }
  }
)

/** The Embedder of `embedder`, refused at build unless it produces the store's embedding space. */
export const EmbedderChecked = <E, R>(
  embedder: Layer.Layer<Embedder, E, R>
): Layer.Layer<Embedder, E | EmbeddingSpaceMismatch, R | SemanticStore> =>
  Layer.effect(Embedder, Effect.tap(Embedder, () => checkEmbedderSpace)).pipe(Layer.provideMerge(embedder))

/** 32-bit FNV-1a. */
const fnv1a = (s: string, seed: number): number => {
  let h = 0x811c9dc5 ^ seed
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * Feature hashing of words and their character trigrams into `dimensions` signed buckets, L2-normalised.
 * Texts that share words get a high cosine; the same text always gives the same vector. It carries no
 * meaning beyond shared surface forms — good for tests, demos and the zero-setup gateway, not a
 * substitute for a trained model.
 */
export const hashEmbedding = (text: string, dimensions: number): ReadonlyArray<number> => {
  const v = new Float64Array(dimensions)
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature, 0)
    v[h % dimensions]! += (fnv1a(feature, 0x9e3779b9) & 1) === 0 ? weight : -weight
  }
  for (const word of tokenize(text)) {
    add(`w:${word}`, 1)
    const padded = `^${word}$`
    for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3)}`, 0.25)
  }
  let norm = 0
  for (const x of v) norm += x * x
  // A text without words still needs a direction (a zero vector has no cosine): use a fixed one.
  if (norm === 0) {
    v[0] = 1
    norm = 1
  }
  const scale = 1 / Math.sqrt(norm)
  return Array.from(v, (x) => Math.fround(x * scale))
}

/** The deterministic embedder's model name for a dimension. */
export const hashModelName = "engram-hash-v1"

/** Most texts the hash model embeds in one batch (it has no limit of its own; this bounds a batch's memory). */
const HASH_MAX_BATCH = 256

/** The deterministic embedder as an @effect/ai `EmbeddingModel` (offline, no dependencies). */
export const HashEmbeddingModel = (dimensions = 384): Layer.Layer<EmbeddingModel.EmbeddingModel> =>
  Layer.effect(
    EmbeddingModel.EmbeddingModel,
    EmbeddingModel.make({
      embedMany: (inputs) =>
        Effect.sync(() => inputs.map((text, index) => ({ index, embeddings: [...hashEmbedding(text, dimensions)] }))),
      maxBatchSize: HASH_MAX_BATCH
    })
  )

/**
 * The deterministic embedder as engram's Embedder. It is called directly rather than through
 * `HashEmbeddingModel`: the model does no I/O, so @effect/ai's request batching, which it would go
 * through per text, has nothing to batch — and cost ~0.25 ms of CPU per call against ~0.02 ms for
 * the hashing itself (a gateway embeds every store and every search). The vectors are the same.
 */
export const HashEmbedderLive = (dimensions = 384): Layer.Layer<Embedder> =>
  Layer.succeed(
    Embedder,
    Embedder.of({
      model: hashModelName,
      dimensions,
      embed: (texts) => Effect.sync(() => texts.map((text) => hashEmbedding(text, dimensions)))
    })
  )
