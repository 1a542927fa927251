/**
 * The hot routes answered in front of HttpApi (src/gateway/fastRoutes.ts) answer exactly as HttpApi
 * does. A body sent without a length (chunked) is left to HttpApi, so every request here is sent both
 * ways and the two answers compared: refusals (token's agents, inputs, limits, unknown sources), the
 * public form of a failing store, and successes (same shape; stores get their own ids).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import type { EmbeddingSpace } from "../src/domain/embedding.js"
import { StorageError } from "../src/domain/errors.js"
import { serve } from "../src/gateway/server.js"
import { SemanticStore } from "../src/services/SemanticStore.js"

const embedding: EmbeddingSpace = { model: "fast-routes-test", dimensions: 4 }
const ADMIN = "admin-token-0123456789"
const ALICE = "alice-token-0123456789"

interface Reply {
  readonly status: number
  readonly json: unknown
}

/** POST `body` with a length (the fast path) or chunked (HttpApi's path). */
const post = (url: string, token: string, body: unknown, chunked: boolean): Promise<Reply> => {
  const text = JSON.stringify(body)
  const init: RequestInit & { duplex?: "half" } = chunked
    ? {
      body: new ReadableStream({
        start: (c) => {
          c.enqueue(new TextEncoder().encode(text))
          c.close()
        }
      }),
      duplex: "half"
    }
    : { body: text }
  return fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...init
  }).then(async (r) => ({ status: r.status, json: await r.json() }))
}

/** Both answers to the same request: the fast path's first, then HttpApi's. */
const both = (url: string, token: string, body: unknown) =>
  Effect.promise(async () => [await post(url, token, body, false), await post(url, token, body, true)] as const)

const start = (store = memoryLayer({ embedding })) =>
  Effect.gen(function*() {
    const services = yield* Layer.build(store)
    const gateway = yield* serve({
      port: 0,
      tokens: [{ token: Redacted.make(ADMIN) }, { token: Redacted.make(ALICE), agents: ["alice"] }]
    }).pipe(Effect.provide(services))
    return gateway.url
  })

/** Ids differ between two stores of the same memory; everything else must not. */
const withoutIds = (reply: Reply): Reply =>
  JSON.parse(JSON.stringify(reply, (k, v) => (k === "id" ? "<id>" : k === "ids" ? v.map(() => "<id>") : v)))

describe("gateway fast routes", () => {
  it.scoped("refusals: the same status and body as HttpApi's", () =>
    Effect.gen(function*() {
      const url = yield* start()
      const cases: ReadonlyArray<[string, string, unknown]> = [
        ["/v1/recall", ALICE, { agentId: "bob", text: "x" }],
        ["/v1/recall", ADMIN, { agentId: "a", embedding: [1, 2] }],
        ["/v1/recall", ADMIN, { agentId: "a", text: "x", limit: 0 }],
        ["/v1/recall", ADMIN, { agentId: "", text: "x" }],
        ["/v1/memories", ALICE, { agentId: "bob", content: "c", source: "system" }],
        ["/v1/memories", ADMIN, { agentId: "a", content: "nul \u0000", source: "system" }],
        ["/v1/memories", ADMIN, { agentId: "a", content: "c", source: "system", embedding: [1, 2, 3] }],
        ["/v1/memories/batch", ALICE, {
          inputs: [
            { agentId: "alice", content: "c", source: "system" },
            { agentId: "bob", content: "c", source: "system" }
          ]
        }],
        ["/v1/memories/batch", ADMIN, { inputs: [{ agentId: "a", content: "c", source: "system", embedding: "AAA" }] }],
        // Plainly valid bodies (decoded without the Schema on the fast path) that the core refuses.
        ["/v1/memories/batch", ADMIN, {
          inputs: [{ agentId: "a", content: "c", source: "system", embedding: "AADAfwAAAAAAAAAAAAAAAA==" }]
        }],
        ["/v1/memories", ADMIN, { agentId: "a", content: "c", source: "system", embedding: "AACAPwAAAAAAAAAA" }],
        ["/v1/memories/batch", ADMIN, {
          inputs: [
            { agentId: "a", content: "c", source: "system" },
            { agentId: "a", content: "c", source: "system", id: "01900000-0000-7000-8000-000000000001" },
            { agentId: "a", content: "d", source: "system", id: "01900000-0000-7000-8000-000000000001" }
          ]
        }],
        // Not plainly valid: the Schema decides, on both paths.
        ["/v1/memories", ADMIN, { agentId: "a", content: "c", source: "system", embedding: "AAA" }],
        ["/v1/memories/batch", ADMIN, { inputs: [{ agentId: "a", content: "c", source: "system", colour: "red" }] }],
        ["/v1/memories/batch", ADMIN, { inputs: [{ agentId: "a", content: 7, source: "system" }] }],
        ["/memory/store", ALICE, { agentId: "bob", content: "c" }],
        ["/memory/store", ADMIN, { agentId: "a", content: "c", source: "rumour" }],
        ["/memory/search", ALICE, { query: "x", agentId: "bob" }],
        ["/memory/search", ADMIN, { query: "x", limit: 0 }],
        ["/memory/search", ADMIN, { query: "x", limit: 2.5 }],
        // Bodies that do not match the schema: HttpApi's own decode answer on both paths.
        ["/v1/recall", ADMIN, { agentId: "a", text: "x", extra: 1 }],
        ["/memory/store", ADMIN, { content: "no agent" }]
      ]
      for (const [path, token, body] of cases) {
        const [fast, api] = yield* both(`${url}${path}`, token, body)
        assert.isAtLeast(fast.status, 400, `${path} ${JSON.stringify(body)}`)
        assert.deepStrictEqual(fast, api, `${path} ${JSON.stringify(body)}`)
      }
    }))

  it.scoped("successes: the same answers as HttpApi's", () =>
    Effect.gen(function*() {
      const url = yield* start()
      for (
        const [path, body] of [
          ["/v1/memories", { agentId: "alice", content: "alpha river", source: "system", embedding: [1, 0, 0, 0] }],
          ["/v1/memories/batch", {
            inputs: [{
              agentId: "alice",
              content: "alpha cloud",
              source: "system",
              embedding: "AACAPwAAAAAAAAAAAAAAAA=="
            }]
          }],
          ["/memory/store", { agentId: "alice", content: "alpha stone", category: "semantic", tags: ["t"] }]
        ] as const
      ) {
        const [fast, api] = yield* both(`${url}${path}`, ALICE, body)
        assert.strictEqual(fast.status, 200)
        assert.deepStrictEqual(withoutIds(fast), withoutIds(api))
      }
      // Reads after the stores: each path sees every memory (and counts the access alike).
      const recall = { agentId: "alice", embedding: [1, 0, 0, 0], limit: 10 }
      const [fastRecall, apiRecall] = yield* both(`${url}/v1/recall`, ALICE, recall)
      const hits = (r: Reply) => (r.json as { hits: Array<{ memory: { id: string; accessCount: number } }> }).hits
      assert.strictEqual(hits(fastRecall).length, 4)
      assert.deepStrictEqual(
        hits(apiRecall).map((h) => h.memory.id),
        hits(fastRecall).map((h) => h.memory.id)
      )
      // Each path counted its access: the second recall sees the first one's.
      assert.deepStrictEqual(hits(fastRecall).map((h) => h.memory.accessCount), [1, 1, 1, 1])
      assert.deepStrictEqual(hits(apiRecall).map((h) => h.memory.accessCount), [2, 2, 2, 2])
      const search = { query: "alpha", agentId: "alice" }
      const [fastSearch, apiSearch] = yield* both(`${url}/memory/search`, ALICE, search)
      assert.strictEqual((fastSearch.json as { count: number }).count, 6)
      assert.deepStrictEqual(fastSearch, apiSearch)
    }))

  it.scoped("a failing store: the same public error (no cause) on both paths", () =>
    Effect.gen(function*() {
      const failing = Layer.effect(
        SemanticStore,
        Effect.map(SemanticStore, (store) => ({
          ...store,
          recall: () =>
            Effect.fail(new StorageError({ backend: "memory", operation: "recall", message: "disk on fire" }))
        }))
      ).pipe(Layer.provideMerge(memoryLayer({ embedding })))
      const url = yield* start(failing)
      const [fast, api] = yield* both(`${url}/v1/recall`, ADMIN, { agentId: "a", text: "x" })
      assert.strictEqual(fast.status, 500)
      assert.deepStrictEqual(fast, api)
      assert.notInclude(JSON.stringify(fast.json), "disk on fire")
    }))
})
