/**
 * engram's Embedder as an adapter over @effect/ai's EmbeddingModel: the hash model as an
 * EmbeddingModel layer, batching, typed errors, vectors checked against the space, and the store's
 * embedding space checked when the layer is built.
 */
import * as AiError from "@effect/ai/AiError"
import * as EmbeddingModel from "@effect/ai/EmbeddingModel"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option } from "effect"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import {
  Embedder,
  EmbedderChecked,
  EmbedderFromModel,
  HashEmbedderLive,
  hashEmbedding,
  HashEmbeddingModel,
  hashModelName
} from "../src/embedder.js"
import * as Operations from "../src/operations.js"
import { SemanticStore } from "../src/services/SemanticStore.js"

const space = { model: "counting", dimensions: 4 }
const Store = memoryLayer({ embedding: space })

/** An EmbeddingModel that records each batch it is asked for and answers `vector(text)`. */
const recordingModel = (
  batches: Array<ReadonlyArray<string>>,
  vector: (text: string) => Array<number> = (t) => [t.length, 1, 0, 0],
  maxBatchSize?: number
) =>
  Layer.effect(
    EmbeddingModel.EmbeddingModel,
    EmbeddingModel.make({
      embedMany: (inputs) =>
        Effect.sync(() => {
          batches.push([...inputs])
          return inputs.map((t, index) => ({ index, embeddings: vector(t) }))
        }),
      ...(maxBatchSize === undefined ? {} : { maxBatchSize })
    })
  )

const failingModel = Layer.succeed(EmbeddingModel.EmbeddingModel, {
  embed: () => Effect.fail(new AiError.UnknownError({ module: "Test", method: "embed", description: "model down" })),
  embedMany: () =>
    Effect.fail(new AiError.UnknownError({ module: "Test", method: "embedMany", description: "model down" }))
})

const oddModel = recordingModel(
  [],
  (t) => t === "short" ? [1, 2, 3] : t === "nan" ? [1, Number.NaN, 0, 0] : [1, 2, 3, 4]
)

describe("Embedder over EmbeddingModel", () => {
  it.effect("the hash EmbeddingModel layer gives the deterministic vectors", () =>
    Effect.gen(function*() {
      const model = yield* EmbeddingModel.EmbeddingModel
      const v = yield* model.embed("the user prefers dark mode")
      assert.deepStrictEqual(v, [...hashEmbedding("the user prefers dark mode", 32)])
      const e = yield* Embedder
      assert.strictEqual(e.model, hashModelName)
      assert.strictEqual(e.dimensions, 32)
      assert.deepStrictEqual(yield* e.embed(["a b", "c"]), [hashEmbedding("a b", 32), hashEmbedding("c", 32)])
    }).pipe(Effect.provide(Layer.merge(HashEmbeddingModel(32), HashEmbedderLive(32)))))

  it.effect("many texts go to the model in batches of at most maxBatchSize, answers in order", () => {
    const batches: Array<ReadonlyArray<string>> = []
    return Effect.gen(function*() {
      const e = yield* Embedder
      const texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ggggggg"]
      const vectors = yield* e.embed(texts)
      assert.deepStrictEqual(vectors.map((v) => v[0]), [1, 2, 3, 4, 5, 6, 7])
      assert.deepStrictEqual(batches.map((b) => b.length), [3, 3, 1])
    }).pipe(Effect.provide(EmbedderFromModel(space).pipe(Layer.provide(recordingModel(batches, undefined, 3)))))
  })

  it.effect("rememberMany embeds every missing vector in one model call", () => {
    const batches: Array<ReadonlyArray<string>> = []
    return Effect.gen(function*() {
      const ids = yield* Operations.rememberMany(
        ["one", "two", "three"].map((content) => ({ agentId: "a", content, source: "system" as const }))
      )
      assert.deepStrictEqual(batches, [["one", "two", "three"]])
      const stored = Option.getOrThrow(yield* (yield* SemanticStore).get("a", ids[2]!))
      assert.deepStrictEqual(stored.embedding, [5, 1, 0, 0])
    }).pipe(Effect.provide(Layer.merge(Store, EmbedderFromModel(space).pipe(Layer.provide(recordingModel(batches))))))
  })

  it.effect("a model failure is an EmbedderError carrying the AiError; nothing is stored", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Operations.remember({ agentId: "a", content: "x", source: "system" }))
      assert.strictEqual(error._tag, "EmbedderError")
      if (error._tag !== "EmbedderError") return
      assert.strictEqual(error.model, "counting")
      assert.include(error.message, "model down")
      assert.isTrue(AiError.isAiError(error.cause))
      assert.strictEqual(yield* (yield* SemanticStore).count("a"), 0)
      const recallError = yield* Effect.flip(Operations.recall({ agentId: "a", text: "x" }))
      assert.strictEqual(recallError._tag, "EmbedderError")
    }).pipe(Effect.provide(Layer.merge(Store, EmbedderFromModel(space).pipe(Layer.provide(failingModel))))))

  it.effect("a vector of the wrong length or with a non-finite number is an EmbedderError", () =>
    Effect.gen(function*() {
      const e = yield* Embedder
      const short = yield* Effect.flip(e.embed(["short"]))
      assert.include(short.message, "3 dimensions, expected 4")
      const nan = yield* Effect.flip(e.embed(["nan"]))
      assert.include(nan.message, "non-finite")
      assert.deepStrictEqual(yield* e.embed(["fine"]), [[1, 2, 3, 4]])
    }).pipe(Effect.provide(EmbedderFromModel(space).pipe(Layer.provide(oddModel)))))

  it.effect("embedding no text does not call the model", () => {
    const batches: Array<ReadonlyArray<string>> = []
    return Effect.gen(function*() {
      assert.deepStrictEqual(yield* (yield* Embedder).embed([]), [])
      assert.strictEqual(batches.length, 0)
    }).pipe(Effect.provide(EmbedderFromModel(space).pipe(Layer.provide(recordingModel(batches)))))
  })

  it.effect("the store's embedding space is checked when the layer is built", () =>
    Effect.gen(function*() {
      const wrong = EmbedderChecked(
        EmbedderFromModel({ model: "counting", dimensions: 8 }).pipe(Layer.provide(recordingModel([])))
      )
      const exit = yield* Effect.exit(Layer.build(wrong.pipe(Layer.provide(Store))).pipe(Effect.scoped))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Layer.build(wrong.pipe(Layer.provide(Store))).pipe(Effect.scoped))
      assert.strictEqual(error._tag, "EmbeddingSpaceMismatch")
      const other = EmbedderChecked(HashEmbedderLive(4))
      const otherError = yield* Effect.flip(Layer.build(other.pipe(Layer.provide(Store))).pipe(Effect.scoped))
      assert.strictEqual(otherError._tag, "EmbeddingSpaceMismatch", "same dimensions, another model")
      const right = EmbedderChecked(EmbedderFromModel(space).pipe(Layer.provide(recordingModel([]))))
      const ctx = yield* Layer.build(right.pipe(Layer.provide(Store))).pipe(Effect.scoped)
      assert.isDefined(ctx)
    }))
})
