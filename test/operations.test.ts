/**
 * The convenience operations: embedding on remember/recall when an Embedder is present
 * (and only then), refusing an embedder of another space, and purgeAgent across every store.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import { cosine } from "../src/core/vector.js"
import { Embedder, HashEmbedderLive, hashEmbedding, hashModelName } from "../src/embedder.js"
import * as Operations from "../src/operations.js"
import { AuditLog } from "../src/services/AuditLog.js"
import { KnowledgeStore } from "../src/services/KnowledgeStore.js"
import { SemanticStore } from "../src/services/SemanticStore.js"
import { StructuredStore } from "../src/services/StructuredStore.js"

const Store = memoryLayer({ embedding: { model: hashModelName, dimensions: 64 } })
const WithEmbedder = Layer.merge(Store, HashEmbedderLive(64))

describe("the deterministic embedder", () => {
  it("is deterministic, normalised, and gives texts sharing words a higher cosine", () => {
    const a = hashEmbedding("the user prefers dark mode", 64)
    assert.deepStrictEqual(a, hashEmbedding("the user prefers dark mode", 64))
    assert.closeTo(Math.hypot(...a), 1, 1e-6)
    const near = cosine(a, hashEmbedding("dark mode please", 64))
    const far = cosine(a, hashEmbedding("quarterly revenue forecast", 64))
    assert.isAbove(near, far)
    assert.isAbove(Math.hypot(...hashEmbedding("!!!", 64)), 0, "a text without words still has a direction")
  })
})

describe("convenience operations", () => {
  it.effect("with an Embedder, remember stores a vector and recall embeds the query (hybrid)", () =>
    Effect.gen(function*() {
      const id = yield* Operations.remember({
        agentId: "a",
        content: "the user prefers dark mode",
        source: "user_provided"
      })
      yield* Operations.remember({ agentId: "a", content: "quarterly revenue forecast", source: "document" })
      const stored = Option.getOrThrow(yield* (yield* SemanticStore).get("a", id))
      assert.deepStrictEqual(stored.embedding, hashEmbedding("the user prefers dark mode", 64))
      const hits = yield* Operations.recall({ agentId: "a", text: "dark mode", mode: "vector" })
      assert.strictEqual(hits[0]?.memory.id, id)
      assert.strictEqual(hits.length, 2, "vector recall ranks every memory with a vector")
      const batch = yield* Operations.rememberMany([
        { agentId: "a", content: "one", source: "system" },
        { agentId: "a", content: "two", source: "system", embedding: hashEmbedding("explicit", 64) }
      ])
      const store = yield* SemanticStore
      const [one, two] = yield* Effect.forEach(batch, (i) => Effect.map(store.get("a", i), Option.getOrThrow))
      assert.deepStrictEqual(one!.embedding, hashEmbedding("one", 64))
      assert.deepStrictEqual(two!.embedding, hashEmbedding("explicit", 64), "a given vector is kept")
    }).pipe(Effect.provide(WithEmbedder)))

  it.effect("without an Embedder, the operations pass through (text recall, no vectors)", () =>
    Effect.gen(function*() {
      const id = yield* Operations.remember({ agentId: "a", content: "plain memory", source: "system" })
      assert.isNull(Option.getOrThrow(yield* (yield* SemanticStore).get("a", id)).embedding)
      assert.deepStrictEqual((yield* Operations.recall({ agentId: "a", text: "plain" })).map((h) => h.memory.id), [id])
    }).pipe(Effect.provide(Store)))

  it.effect("an Embedder of another space is refused with EmbeddingSpaceMismatch, nothing stored", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Operations.remember({ agentId: "a", content: "x", source: "system" }))
      assert.strictEqual(error._tag, "EmbeddingSpaceMismatch")
      assert.strictEqual(yield* (yield* SemanticStore).count("a"), 0)
    }).pipe(
      Effect.provide(
        Layer.merge(
          Store,
          Layer.succeed(Embedder, Embedder.of({ model: "other", dimensions: 64, embed: () => Effect.succeed([]) }))
        )
      )
    ))

  it.effect("purgeAgent removes the agent's data from every store, keeps its neighbours', and is audited", () =>
    Effect.gen(function*() {
      for (const agent of ["acme", "acme-corp"]) {
        yield* (yield* StructuredStore).set(agent, "k", 1)
        yield* Operations.remember({ agentId: agent, content: `memory of ${agent}`, source: "system" })
        yield* (yield* KnowledgeStore).upsertEntity({ agentId: agent, id: "e", type: "concept", name: "E" })
      }
      const removed = yield* Operations.purgeAgent("acme")
      assert.strictEqual(removed["memories"], 1)
      assert.strictEqual(removed["kv"], 1)
      assert.strictEqual(removed["entities"], 1)
      assert.strictEqual(yield* (yield* SemanticStore).count("acme"), 0)
      assert.strictEqual(yield* (yield* SemanticStore).count("acme-corp"), 1)
      assert.isTrue(Option.isNone(yield* (yield* StructuredStore).get("acme", "k")))
      assert.isTrue(Option.isSome(yield* (yield* KnowledgeStore).getEntity("acme-corp", "e")))
      const [entry] = yield* (yield* AuditLog).entries({ agentId: "acme" })
      assert.strictEqual(entry?.action, "agent.purge")
      assert.include(entry!.detail, "\"memories\":1")
    }).pipe(Effect.provide(WithEmbedder)))
})
