/**
 * `engram serve` runs its SQLite semantic store in a worker thread (src/gateway/storeThread.ts): values
 * and typed errors cross the thread unchanged, and a long store call does not hold unrelated requests.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { join } from "node:path"
import type { EmbeddingSpace } from "../src/domain/embedding.js"
import { semanticStoreThread } from "../src/gateway/storeThread.js"
import { startServe } from "./support/serve.js"
import { tempDir } from "./support/sqlite.js"

const embedding: EmbeddingSpace = { model: "store-thread-test", dimensions: 4 }

const request = (url: string, token: string, method: string, path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  }).then(async (r) => ({ status: r.status, json: await r.json() as Record<string, unknown> }))

describe("gateway store thread", () => {
  it.scoped(
    "results, absent memories and typed refusals cross the thread as the store gives them",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const { token, url } = yield* startServe(dir, embedding)
        const call = (method: string, path: string, body?: unknown) =>
          Effect.promise(() => request(url, token, method, path, body))
        const stored = yield* call("POST", "/v1/memories", {
          agentId: "a",
          content: "thread memory",
          source: "system",
          embedding: [1, 0, 0, 0]
        })
        assert.strictEqual(stored.status, 200)
        const id = stored.json["id"] as string
        const got = yield* call("GET", `/v1/memories/${id}?agentId=a`)
        assert.strictEqual((got.json["memory"] as { content: string }).content, "thread memory")
        const absent = yield* call("GET", `/v1/memories/01900000-0000-7000-8000-00000000dead?agentId=a`)
        assert.deepStrictEqual(absent, { status: 200, json: { memory: null } })
        const recalled = yield* call("POST", "/v1/recall", { agentId: "a", embedding: [1, 0, 0, 0] })
        assert.deepStrictEqual((recalled.json["hits"] as Array<{ memory: { id: string } }>).map((h) => h.memory.id), [
          id
        ])
        const badContent = yield* call("POST", "/v1/memories", {
          agentId: "a",
          content: "nul \u0000",
          source: "system"
        })
        assert.strictEqual(badContent.status, 400)
        assert.strictEqual(badContent.json["_tag"], "InvalidInput")
        assert.strictEqual(badContent.json["field"], "input.content")
        const badVector = yield* call("POST", "/v1/memories", {
          agentId: "a",
          content: "x",
          source: "system",
          embedding: [1]
        })
        assert.strictEqual(badVector.status, 400)
        assert.strictEqual(badVector.json["_tag"], "InvalidEmbedding")
        const missing = yield* call("PUT", `/v1/memories/01900000-0000-7000-8000-00000000dead/embedding`, {
          agentId: "a",
          embedding: [0, 1, 0, 0]
        })
        assert.strictEqual(missing.status, 404)
        assert.strictEqual(missing.json["_tag"], "MemoryNotFound")
      }),
    60_000
  )

  it.scoped(
    "a long store call does not hold other requests: /health answers while a large batch is written",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const { token, url } = yield* startServe(dir, embedding)
        const order: Array<string> = []
        // Each memory has ~150 distinct words to index, so writing the batch takes seconds, well beyond
        // the wait below, however fast the machine (a batch of short memories took ~0.3 s).
        const words = (i: number) => Array.from({ length: 150 }, (_, k) => `w${i}x${k}`).join(" ")
        const inputs = Array.from({ length: 10_000 }, (_, i) => ({
          agentId: `agent-${i % 10}`,
          content: `batch memory ${i} ${words(i)}`,
          source: "document",
          embedding: [1, i / 10_000, 0.5, 0.25]
        }))
        const batch = request(url, token, "POST", "/v1/memories/batch", { inputs }).then((r) => {
          order.push(`batch ${r.status}`)
        })
        // Ask for /health once the batch is being written: its body is sent and the server has it.
        yield* Effect.promise(() => new Promise((ok) => setTimeout(ok, 300)))
        const health = yield* Effect.promise(() => fetch(`${url}/health`).then((r) => r.status))
        order.push(`health ${health}`)
        yield* Effect.promise(() => batch)
        assert.deepStrictEqual(order, ["health 200", "batch 200"])
      }),
    120_000
  )

  it.scoped(
    "reads and writes do not wait for each other: recalls are answered while a long batch is written, a write while many recalls run",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const store = yield* semanticStoreThread({ path: join(dir, "engram.db"), embedding })
        yield* store.rememberMany(Array.from({ length: 5_000 }, (_, i) => ({
          agentId: "reader",
          content: `memory ${i} about rivers and stones`,
          source: "document" as const,
          embedding: [1, i / 5_000, 0.5, 0.25]
        })))
        const order: Array<string> = []
        const recall = (i: number) =>
          Effect.tap(
            store.recall({ agentId: "reader", text: "rivers stones", embedding: [1, i / 40, 0.5, 0.25], limit: 10 }),
            (hits) => Effect.sync(() => order.push(`recall ${hits.length}`))
          )
        // A batch of 10,000 keeps the writer busy for seconds; recalls sent meanwhile are answered before it ends.
        const busy = yield* Effect.fork(
          Effect.tap(
            store.rememberMany(Array.from({ length: 10_000 }, (_, i) => ({
              agentId: "busy",
              // ~150 distinct words each: writing the batch takes seconds (see the /health test).
              content: `busy memory ${i} ${Array.from({ length: 150 }, (_, k) => `w${i}x${k}`).join(" ")}`,
              source: "document" as const,
              embedding: [0.5, 1, i / 10_000, 0.25]
            }))),
            () => Effect.sync(() => order.push("batch"))
          )
        )
        yield* Effect.promise(() => new Promise((ok) => setTimeout(ok, 50)))
        yield* Effect.forEach(Array.from({ length: 5 }, (_, i) => i), recall, { discard: true })
        yield* Fiber.join(busy)
        assert.deepStrictEqual(order, [...Array.from({ length: 5 }, () => "recall 10"), "batch"])
        // Many recalls keep the reader busy; a write sent after them is answered before they all end.
        order.length = 0
        const recalls = yield* Effect.fork(
          Effect.forEach(Array.from({ length: 200 }, (_, i) => i), recall, { concurrency: "unbounded", discard: true })
        )
        yield* Effect.promise(() => new Promise((ok) => setTimeout(ok, 5)))
        const id = yield* store.remember({ agentId: "writer", content: "written while reads run", source: "system" })
        order.push("write")
        yield* Fiber.join(recalls)
        assert.strictEqual(order.length, 201)
        assert.isBelow(order.indexOf("write"), 200, order.join(" "))
        // What was acknowledged is there for the next read.
        const got = yield* store.get("writer", id)
        assert.strictEqual(got._tag, "Some")
      }),
    60_000
  )
})
