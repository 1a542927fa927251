/**
 * The OpenAI-compatible embedder against a real HTTP server on loopback speaking the embeddings
 * protocol: batching, the API key, 429 with Retry-After, 5xx, timeouts, vectors of the wrong length,
 * and selection from configuration (code, ENGRAM_* variables, TOML).
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import { embedderLayerFromConfig } from "../src/composition/embedder.js"
import { configFromEnv, loadConfigFile, memoryConfig } from "../src/config.js"
import { Embedder } from "../src/embedder.js"
import { OpenAiEmbedderLive, type OpenAiEmbedderOptions, retryAfterMs } from "../src/openAiEmbedder.js"
import * as Operations from "../src/operations.js"
import { SemanticStore } from "../src/services/SemanticStore.js"
import { bagOfWords, openAiServer } from "./support/openAiServer.js"

const DIM = 16

const embedWith = (options: OpenAiEmbedderOptions, texts: ReadonlyArray<string>) =>
  Effect.flatMap(Embedder, (e) => e.embed(texts)).pipe(Effect.provide(OpenAiEmbedderLive(options)))

const base = (url: string): OpenAiEmbedderOptions => ({ url, model: "fake-embed", dimensions: DIM, retryBaseMs: 10 })

describe("OpenAI-compatible embedder over loopback HTTP", () => {
  it.live("sends batches of at most batchSize texts with the API key, answers in order", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      const texts = ["one", "two", "three", "four", "five"]
      const vectors = yield* embedWith({ ...base(server.url), batchSize: 2, apiKey: Redacted.make("sk-test") }, texts)
      assert.deepStrictEqual(vectors.map((v) => [...v]), texts.map((t) => bagOfWords(t, DIM)))
      assert.deepStrictEqual(server.requests.map((r) => r.body.input), [["one", "two"], ["three", "four"], ["five"]])
      assert.isTrue(server.requests.every((r) => r.path === "/v1/embeddings" && r.authorization === "Bearer sk-test"))
      assert.isTrue(server.requests.every((r) => r.body.model === "fake-embed" && r.body.dimensions === undefined))
    }).pipe(Effect.scoped))

  it.live("requestDimensions sends the space's dimensions", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      yield* embedWith({ ...base(server.url), requestDimensions: true }, ["x"])
      assert.strictEqual(server.requests[0]?.body.dimensions, DIM)
    }).pipe(Effect.scoped))

  it.live("a 429 is retried after the wait its Retry-After asks", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      server.next.push({ status: 429, headers: { "retry-after": "1" } })
      const [v] = yield* embedWith(base(server.url), ["dark mode"])
      assert.deepStrictEqual([...v!], bagOfWords("dark mode", DIM))
      assert.strictEqual(server.requests.length, 2)
      assert.isAtLeast(server.requests[1]!.at - server.requests[0]!.at, 900, "waited for Retry-After: 1")
    }).pipe(Effect.scoped))

  it.live("5xx answers are retried; after the last retry the failure is an EmbedderError", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      server.next.push({ status: 503 }, { status: 500 })
      const [v] = yield* embedWith({ ...base(server.url), retries: 2 }, ["ok"])
      assert.deepStrictEqual([...v!], bagOfWords("ok", DIM))
      assert.strictEqual(server.requests.length, 3)
      server.next.push({ status: 502 }, { status: 502 }, { status: 502 })
      const error = yield* Effect.flip(embedWith({ ...base(server.url), retries: 1 }, ["ok"]))
      assert.strictEqual(error._tag, "EmbedderError")
      assert.strictEqual(error.model, "fake-embed")
      assert.strictEqual(server.requests.length, 5, "one attempt and one retry")
      assert.strictEqual(server.next.length, 1, "no third attempt")
    }).pipe(Effect.scoped))

  it.live("a 4xx other than 408/429 is not retried", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      server.next.push({ status: 401, body: { error: { message: "bad key" } } })
      const error = yield* Effect.flip(embedWith(base(server.url), ["x"]))
      assert.strictEqual(error._tag, "EmbedderError")
      assert.strictEqual(server.requests.length, 1)
    }).pipe(Effect.scoped))

  it.live("an attempt that gets no answer within timeoutMs is abandoned and retried", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      server.next.push("hang")
      const [v] = yield* embedWith({ ...base(server.url), timeoutMs: 200, retries: 1 }, ["late"])
      assert.deepStrictEqual([...v!], bagOfWords("late", DIM))
      assert.strictEqual(server.requests.length, 2)
      server.next.push("hang")
      const error = yield* Effect.flip(embedWith({ ...base(server.url), timeoutMs: 200, retries: 0 }, ["late"]))
      assert.strictEqual(error._tag, "EmbedderError")
      assert.include(error.message, "200 ms")
    }).pipe(Effect.scoped))

  it.live("vectors of the wrong length are an EmbedderError, nothing is stored", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      server.dimensions = 8
      const store = memoryLayer({ embedding: { model: "fake-embed", dimensions: DIM } })
      yield* Effect.gen(function*() {
        const error = yield* Effect.flip(Operations.remember({ agentId: "a", content: "x", source: "system" }))
        assert.strictEqual(error._tag, "EmbedderError")
        assert.include(error.message, "8 dimensions, expected 16")
        assert.strictEqual(yield* (yield* SemanticStore).count("a"), 0)
      }).pipe(Effect.provide(Layer.merge(store, OpenAiEmbedderLive(base(server.url)))))
    }).pipe(Effect.scoped))

  it("Retry-After is read as seconds or as an HTTP date", () => {
    assert.strictEqual(retryAfterMs("2", 0), 2000)
    assert.strictEqual(retryAfterMs(" 0.5 ", 0), 500)
    assert.strictEqual(retryAfterMs(new Date(10_000).toUTCString(), 7_000), 3000)
    assert.isUndefined(retryAfterMs("soon", 0))
    assert.isUndefined(retryAfterMs(undefined, 0))
  })
})

describe("the embedder chosen by configuration", () => {
  const storeFor = (model: string) => memoryLayer({ embedding: { model, dimensions: DIM } })

  const rememberAndRead = (layer: Layer.Layer<Embedder, unknown, SemanticStore>, model: string) =>
    Effect.gen(function*() {
      const id = yield* Operations.remember({
        agentId: "a",
        content: "The user prefers dark mode",
        source: "user_provided"
      })
      return Option.getOrThrow(yield* (yield* SemanticStore).get("a", id)).embedding
    }).pipe(Effect.provide(layer.pipe(Layer.provideMerge(storeFor(model)))))

  it.live("ENGRAM_EMBEDDER_* variables select the endpoint; what is remembered is embedded by it", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      const c = yield* configFromEnv.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([
        ["ENGRAM_EMBEDDING_MODEL", "fake-embed"],
        ["ENGRAM_EMBEDDING_DIMENSIONS", String(DIM)],
        ["ENGRAM_EMBEDDER_URL", server.url],
        ["ENGRAM_EMBEDDER_API_KEY", "sk-env"],
        ["ENGRAM_EMBEDDER_BATCH_SIZE", "7"],
        ["ENGRAM_EMBEDDER_REQUEST_DIMENSIONS", "true"]
      ]))))
      assert.strictEqual(c.embedder?.batchSize, 7)
      assert.strictEqual(String(c.embedder?.apiKey), "<redacted>")
      const layer = Option.getOrThrow(embedderLayerFromConfig(c))
      const stored = yield* rememberAndRead(layer, "fake-embed")
      assert.deepStrictEqual(stored, bagOfWords("The user prefers dark mode", DIM).map(Math.fround))
      assert.strictEqual(server.requests[0]?.authorization, "Bearer sk-env")
      assert.strictEqual(server.requests[0]?.body.dimensions, DIM)
    }).pipe(Effect.scoped))

  it.live("a TOML [memory.embedder] table selects the endpoint", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      const dir = mkdtempSync(join(tmpdir(), "engram-embedder-"))
      const file = join(dir, "engram.toml")
      writeFileSync(
        file,
        [
          "[memory]",
          "[memory.embedding]",
          `model = "fake-embed"`,
          `dimensions = ${DIM}`,
          "[memory.embedder]",
          `url = "${server.url}"`,
          "retries = 0"
        ].join("\n")
      )
      const c = yield* loadConfigFile(file)
      assert.strictEqual(c.embedder?.retries, 0)
      const stored = yield* rememberAndRead(Option.getOrThrow(embedderLayerFromConfig(c)), "fake-embed")
      assert.strictEqual(stored?.length, DIM)
      assert.strictEqual(server.requests.length, 1)
    }).pipe(Effect.scoped))

  it.effect("without an embedder section: the hash embedder for its own space, none for another", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isSome(embedderLayerFromConfig(yield* memoryConfig({}))))
      assert.isTrue(
        Option.isNone(embedderLayerFromConfig(yield* memoryConfig({ embedding: { model: "byo", dimensions: 8 } })))
      )
      const bad = Option.getOrThrow(
        embedderLayerFromConfig(yield* memoryConfig({ embedder: { url: "http://127.0.0.1:1/v1" } }))
      )
      const error = yield* Effect.flip(
        Layer.build(bad.pipe(Layer.provide(storeFor("engram-hash-v1")))).pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "ConfigError")
    }))

  it.effect("an endpoint configured for another space than the store's is refused at layer build", () =>
    Effect.gen(function*() {
      const c = yield* memoryConfig({
        embedding: { model: "fake-embed", dimensions: DIM },
        embedder: { url: "http://127.0.0.1:1/v1" }
      })
      const layer = Option.getOrThrow(embedderLayerFromConfig(c))
      const error = yield* Effect.flip(
        Layer.build(layer.pipe(Layer.provide(storeFor("other-model")))).pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "EmbeddingSpaceMismatch")
    }))
})
