/**
 * The semantic memory-api: with an OpenAI-compatible embedder configured (a loopback server speaking
 * the embeddings protocol with a tiny bag-of-words model), the gateway embeds what it stores and what
 * it searches, so a question finds the memory that answers it; scores are on one [0, 1] scale that
 * is identical on every backend.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { join } from "node:path"
import { layer as httpLayer } from "../src/backends/http/index.js"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import { layer as composedLayer } from "../src/composition/layer.js"
import { relevance } from "../src/core/relevance.js"
import { BackendUnavailable } from "../src/domain/errors.js"
import { EmbedderChecked } from "../src/embedder.js"
import { serve } from "../src/gateway/server.js"
import { OpenAiEmbedderLive } from "../src/openAiEmbedder.js"
import type { SemanticStoreAdmin } from "../src/services/Admin.js"
import type { Consolidation } from "../src/services/Consolidation.js"
import { SemanticStore } from "../src/services/SemanticStore.js"
import { bagOfWords, openAiServer } from "./support/openAiServer.js"
import { freshSchemaScoped, unavailable as pgUnavailable, urlForSchema } from "./support/postgres.js"
import { tempDir } from "./support/sqlite.js"

const DIM = 16
const SPACE = { model: "fake-embed", dimensions: DIM }
const TOKEN = "memory-api-token"
const AGENT = "assistant"

type Stores = SemanticStore | Consolidation | SemanticStoreAdmin

const post = (url: string, body: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body)
    })
    return { status: response.status, json: (await response.json()) as Record<string, unknown> }
  })

interface Result {
  readonly id: string
  readonly content: string
  readonly score: number
}

/** A gateway over `stores`, with the OpenAI-compatible embedder at `embedderUrl` when given. */
const gateway = <E>(stores: Layer.Layer<Stores, E>, embedderUrl?: string, retries = 3) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      embedderUrl === undefined
        ? stores
        : EmbedderChecked(OpenAiEmbedderLive({ url: embedderUrl, ...SPACE, retries, retryBaseMs: 10 })).pipe(
          Layer.provideMerge(stores)
        )
    )
    const address = yield* serve({ port: 0, tokens: [{ token: Redacted.make(TOKEN) }] }).pipe(Effect.provide(context))
    return { url: address.url, store: yield* Effect.provide(SemanticStore, context) }
  })

const MEMORIES = [
  "The user prefers dark mode",
  "Quarterly revenue forecast for the sales team",
  "The cat sat on the mat"
]

/** Store the memories and run the searches through the memory-api; the answers' results. */
const storeAndSearch = (url: string, queries: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    for (const content of MEMORIES) {
      const stored = yield* post(`${url}/memory/store`, { content, agentId: AGENT, category: "episodic" })
      assert.strictEqual(stored.status, 200, JSON.stringify(stored.json))
    }
    return yield* Effect.forEach(
      queries,
      (query) =>
        Effect.map(post(`${url}/memory/search`, { query, limit: 5 }), (r) => {
          assert.strictEqual(r.status, 200, JSON.stringify(r.json))
          return r.json["results"] as ReadonlyArray<Result>
        })
    )
  })

const QUERIES = ["what does the user prefer", "dark mode", "revenue"]

describe("memory-api with an embedder", () => {
  it.live("\"what does the user prefer\" finds \"The user prefers dark mode\"", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      const { url, store } = yield* gateway(memoryLayer({ embedding: SPACE }), server.url)
      const [results] = yield* storeAndSearch(url, ["what does the user prefer"])
      assert.strictEqual(results![0]?.content, "The user prefers dark mode")
      assert.isAbove(results![0]!.score, results![1]?.score ?? 0)
      for (const r of results!) assert.isTrue(r.score >= 0 && r.score <= 1, `${r.score} in [0, 1]`)
      // What was stored carries the model's vector.
      const memory = Option.getOrThrow(yield* store.get(AGENT, results![0]!.id))
      assert.deepStrictEqual(memory.embedding, bagOfWords("The user prefers dark mode", DIM).map(Math.fround))
      // The embedder was asked for each stored content and each query.
      assert.strictEqual(server.requests.length, MEMORIES.length + 1)
    }).pipe(Effect.scoped))

  it.live("without an embedder the same question finds nothing (every word must match), and scores stay in [0, 1]", () =>
    Effect.gen(function*() {
      const { url } = yield* gateway(memoryLayer({ embedding: SPACE }))
      const [question, words] = yield* storeAndSearch(url, ["what does the user prefer", "dark mode"])
      assert.deepStrictEqual(question, [])
      assert.strictEqual(words![0]?.content, "The user prefers dark mode")
      assert.isTrue(words![0]!.score > 0 && words![0]!.score < 1)
    }).pipe(Effect.scoped))

  it.live("an embedder failing past its retries is a 502 EmbedderError; nothing is stored", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      const { url, store } = yield* gateway(memoryLayer({ embedding: SPACE }), server.url, 0)
      server.next.push({ status: 503 })
      const reply = yield* post(`${url}/memory/store`, { content: "x", agentId: AGENT })
      assert.strictEqual(reply.status, 502)
      assert.strictEqual(reply.json["_tag"], "EmbedderError")
      assert.strictEqual(reply.json["model"], "fake-embed")
      assert.isUndefined(reply.json["cause"])
      assert.strictEqual(yield* store.count(AGENT), 0)
      server.next.push({ status: 503 })
      const search = yield* post(`${url}/memory/search`, { query: "x", agentId: AGENT })
      assert.strictEqual(search.status, 502)
    }).pipe(Effect.scoped))

  it.live("/v1 through HttpSemanticLive: content sent without a vector is embedded, a text recall finds by meaning", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      const { url, store } = yield* gateway(memoryLayer({ embedding: SPACE }), server.url, 0)
      const remote = Context.get(
        yield* Layer.build(httpLayer({ url, token: Redacted.make(TOKEN), embedding: SPACE, retries: 0 })),
        SemanticStore
      )
      const id = yield* remote.remember({ agentId: AGENT, content: MEMORIES[0]!, source: "conversation" })
      const ids = yield* remote.rememberMany(
        MEMORIES.slice(1).map((content) => ({ agentId: AGENT, content, source: "document" as const }))
      )
      // One embedder call for the single store, one for the whole batch.
      assert.strictEqual(server.requests.length, 2)
      for (const [memoryId, content] of [[id, MEMORIES[0]!], [ids[1]!, MEMORIES[2]!]] as const) {
        const stored = Option.getOrThrow(yield* store.get(AGENT, memoryId))
        assert.deepStrictEqual(stored.embedding, bagOfWords(content, DIM).map(Math.fround))
      }
      // A vector given by the client is kept as sent, and costs no embedder call.
      const own = bagOfWords("something else entirely", DIM)
      const kept = yield* remote.remember({ agentId: AGENT, content: "mine", source: "system", embedding: own })
      assert.deepStrictEqual(Option.getOrThrow(yield* store.get(AGENT, kept)).embedding, own.map(Math.fround))
      assert.strictEqual(server.requests.length, 2)
      // No word of the question but "user" is in the memory: only its meaning can find it first.
      const hits = yield* remote.recall({ agentId: AGENT, text: "what does the user prefer", limit: 2 })
      assert.strictEqual(hits[0]?.memory.content, "The user prefers dark mode")
      assert.strictEqual(server.requests.length, 3)
      // mode "text" asks for words only: no embedder call.
      yield* remote.recall({ agentId: AGENT, text: "dark mode", mode: "text" })
      assert.strictEqual(server.requests.length, 3)
      // The gateway's embedder failing is the client's BackendUnavailable, and nothing is stored.
      server.next.push({ status: 503 })
      const failed = yield* Effect.flip(remote.remember({ agentId: AGENT, content: "lost", source: "system" }))
      assert.instanceOf(failed, BackendUnavailable)
      assert.include(failed.message, "fake-embed")
      assert.strictEqual(yield* store.count(AGENT), MEMORIES.length + 1)
    }).pipe(Effect.scoped))

  it("relevance: one [0, 1] scale from the memory and query alone", () => {
    const q = bagOfWords("dark mode", DIM)
    const same = relevance({ terms: ["dark", "mode"], embedding: q }, { content: "dark mode", embedding: q })
    assert.isTrue(same > 0.5 && same <= 1)
    assert.strictEqual(relevance({ terms: ["zebra"] }, { content: "dark mode", embedding: null }), 0)
    assert.strictEqual(relevance({ terms: [] }, { content: "dark mode", embedding: null }), 0)
    const opposite = relevance({ terms: [], embedding: [1, 0] }, { content: "", embedding: [-1, 0] })
    assert.strictEqual(opposite, 0, "a negative cosine counts as no similarity")
    assert.isAbove(
      relevance({ terms: ["plan"] }, { content: "plan", embedding: null }),
      relevance(
        { terms: ["plan"] },
        { content: "one plan among very many other words that dilute it", embedding: null }
      )
    )
  })

  it.live("scores and order are identical on the memory, SQLite and PostgreSQL backends", () =>
    Effect.gen(function*() {
      const server = yield* openAiServer(DIM)
      const dir = yield* tempDir
      const backends: Array<[string, Layer.Layer<Stores, unknown>]> = [
        ["memory", memoryLayer({ embedding: SPACE })],
        ["sqlite", composedLayer({ backend: "sqlite", sqlite: { path: join(dir, "engram.db") }, embedding: SPACE })]
      ]
      if (pgUnavailable === undefined) {
        const schema = yield* freshSchemaScoped
        backends.push([
          "postgres",
          composedLayer({ backend: "postgres", postgres: { url: urlForSchema(schema) }, embedding: SPACE })
        ])
      } else {
        console.log(`scores across backends: PostgreSQL skipped (${pgUnavailable})`)
      }
      const answers: Array<[string, ReadonlyArray<ReadonlyArray<[string, number]>>]> = []
      for (const [name, stores] of backends) {
        const { url } = yield* gateway(stores, server.url)
        const results = yield* storeAndSearch(url, QUERIES)
        answers.push([name, results.map((rs) => rs.map((r): [string, number] => [r.content, r.score]))])
      }
      const [first, ...rest] = answers
      assert.strictEqual(first![1][0]![0]![0], "The user prefers dark mode")
      for (const [name, a] of rest) assert.deepStrictEqual(a, first![1], `${name} answers as ${first![0]} does`)
    }).pipe(Effect.scoped))
})
