/**
 * QdrantSemanticLive where a real Qdrant (1.12) behaves differently from a naive emulation: the test
 * server follows Qdrant's rules (lossy JSON float parsing, the cosine normalisation threshold, the
 * 32 MiB request limit refused before parsing), and each probe here is a finding of issue 14 that
 * failed before its fix: vector recall without `offset` paging, rememberMany as one request measured
 * in UTF-8 bytes, the embedding stored once and returned bit-exact, tiny vectors ranked right, recall
 * writing only unindexed fields, reads selecting the payload they need, the gRPC port explained.
 */
import { assert, describe, it } from "@effect/vitest"
import { QdrantClient } from "@qdrant/js-client-rest"
import { Chunk, Context, Effect, Layer, type Option, type Scope, Stream, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import * as http2 from "node:http2"
import * as net from "node:net"
import * as Memory from "../../src/backends/memory/index.js"
import * as Qdrant from "../../src/backends/qdrant/index.js"
import type { EmbeddingSpace } from "../../src/domain/embedding.js"
import { SemanticStoreAdmin } from "../../src/services/Admin.js"
import { Consolidation } from "../../src/services/Consolidation.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { axis } from "../../src/testing/harness.js"
import {
  type LoggedRequest,
  type QdrantServerOptions,
  type QdrantTestServer,
  startQdrantServer
} from "../support/qdrantServer.js"

const D = 8
const space: EmbeddingSpace = { model: "rules", dimensions: D }

const freshCollection = () => `engram_rules_${randomUUID().replaceAll("-", "")}`

interface Harness {
  readonly server: QdrantTestServer
  readonly collection: string
  readonly store: SemanticStore["Type"]
  readonly consolidation: Consolidation["Type"]
}

const open = (options: Qdrant.QdrantOptions) =>
  Effect.map(Layer.build(Qdrant.layer(options)), (ctx) => ({
    store: Context.get(ctx, SemanticStore),
    consolidation: Context.get(ctx, Consolidation)
  }))

const withStore = <A, E>(
  body: (h: Harness) => Effect.Effect<A, E, Scope.Scope>,
  serverOptions: QdrantServerOptions = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* startQdrantServer(serverOptions)
    const collection = freshCollection()
    const services = yield* open({ url: server.url, collection, embedding: space })
    return yield* body({ server, collection, ...services })
  }))

/** A deterministic pseudo-random float32 in [-1, 1). */
const randomFloats = (seed: number) => {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return Math.fround(s / 2 ** 31 - 1)
  }
}

const isQuery = (r: LoggedRequest) => r.method === "POST" && r.path.endsWith("/points/query")
const isScroll = (r: LoggedRequest) => r.method === "POST" && r.path.endsWith("/points/scroll")

/** Payload keys a set_payload (alone or in a batch) writes. */
const setPayloadKeys = (r: LoggedRequest): Array<string> => {
  const body = r.body as {
    payload?: Record<string, unknown>
    operations?: Array<Record<string, { payload?: Record<string, unknown> }>>
  }
  if (r.path.endsWith("/points/payload")) return Object.keys(body.payload ?? {})
  if (!r.path.endsWith("/points/batch")) return []
  return (body.operations ?? []).flatMap((op) => Object.keys(op["set_payload"]?.payload ?? {}))
}

describe("QdrantSemanticLive as a real Qdrant behaves", () => {
  it.effect("(a) vector recall never pages with `offset` and never returns an id twice, even when a point arrives between two requests", () =>
    withStore(({ collection, server, store }) =>
      Effect.gen(function*() {
        // 40 equal scores: Qdrant may return ties in any order, so one request cannot decide the top 20.
        const ids = yield* store.rememberMany(
          Array.from({ length: 40 }, (_, i) => ({
            agentId: "a",
            content: `tie ${i}`,
            source: "system" as const,
            embedding: axis(0, D)
          }))
        )
        const template = server.points(collection)!.find((p) => p.id === ids[0])!
        let queries = 0
        server.onRequest((r) => {
          // Just before the second vector query, a new point with the same score and the lowest id
          // arrives: an offset-paged read would see the point at the page boundary twice.
          if (isQuery(r) && ++queries === 2) {
            server.upsertNow(collection, [{ ...template, id: "00000000-0000-4000-8000-000000000001" }])
          }
        })
        server.clearRequests()
        const hits = yield* store.recall({ agentId: "a", embedding: axis(0, D), limit: 20 })
        server.onRequest(undefined)
        const returned = hits.map((h) => h.memory.id)
        assert.strictEqual(returned.length, 20)
        assert.strictEqual(new Set(returned).size, 20, `duplicates in ${returned.join(",")}`)
        const sent = server.requests.filter(isQuery)
        assert.isAtLeast(sent.length, 1)
        for (const r of sent) assert.notProperty(r.body as object, "offset", "no offset paging")
      })
    ))

  it.effect("(b) rememberMany is one upsert request, measured in UTF-8 bytes: 15 × 1 MB goes in one request", () =>
    withStore(({ collection, server, store }) =>
      Effect.gen(function*() {
        server.clearRequests()
        const content = "a".repeat(1_000_000)
        const ids = yield* store.rememberMany(
          Array.from({ length: 15 }, () => ({ agentId: "a", content, source: "system" as const }))
        )
        assert.strictEqual(ids.length, 15)
        const upserts = server.requests.filter((r) =>
          r.method === "PUT" && r.path === `/collections/${collection}/points`
        )
        assert.strictEqual(upserts.length, 1, "one request: the batch is one unit")
        assert.strictEqual(server.points(collection)!.length, 16)
      })
    ))

  it.effect("(b) a rememberMany above Qdrant's 32 MiB request limit (CJK: 3 bytes a character) is InvalidInput naming the limit, and stores nothing", () =>
    withStore(({ collection, server, store }) =>
      Effect.gen(function*() {
        const content = "語".repeat(349_000) // 1,047,000 bytes of UTF-8, within the 1 MiB content limit
        const error = yield* Effect.flip(
          store.rememberMany(Array.from({ length: 30 }, () => ({ agentId: "a", content, source: "system" as const })))
        )
        assert.strictEqual(error._tag, "InvalidInput", error.message)
        assert.match(error.message, /32 MiB/)
        assert.strictEqual(server.points(collection)!.length, 1, "nothing but the collection record")
      })
    ))

  it.effect("(b) import splits by UTF-8 bytes: 17 × 1 MiB of CJK is imported whole, every request within 32 MiB", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startQdrantServer()
      const admin = (collection: string) =>
        Effect.map(Layer.build(Qdrant.layer({ url: server.url, collection, embedding: space })), (ctx) => ({
          store: Context.get(ctx, SemanticStore),
          admin: Context.get(ctx, SemanticStoreAdmin)
        }))
      const source = yield* admin(freshCollection())
      const content = "語".repeat(349_000)
      // About 2.1 MB of request each (the content and its tokens): 17 need two requests.
      for (const n of [9, 8]) {
        yield* source.store.rememberMany(
          Array.from({ length: n }, () => ({ agentId: "a", content, source: "system" as const }))
        )
      }
      const records = Chunk.toReadonlyArray(yield* Stream.runCollect(source.admin.export()))
      assert.strictEqual(records.length, 17)
      const target = freshCollection()
      const { store } = yield* admin(target)
      server.clearRequests()
      yield* (yield* admin(target)).admin.import(records)
      const upserts = server.requests.filter((r) => r.method === "PUT" && r.path === `/collections/${target}/points`)
      assert.isAtLeast(upserts.length, 2)
      for (const r of upserts) assert.isAtMost(Buffer.byteLength(JSON.stringify(r.body), "utf8"), 32 * 1024 * 1024)
      assert.strictEqual(yield* store.count("a"), 17)
    })))

  it.effect("(c) the embedding is stored once (no copy in the payload) and comes back bit-exact, through Qdrant's lossy float parsing", () =>
    withStore(({ collection, server, store }) =>
      Effect.gen(function*() {
        const next = randomFloats(7)
        const inputs = Array.from({ length: 60 }, (_, i) => ({
          agentId: "a",
          content: `memory ${i}`,
          source: "system" as const,
          embedding: Array.from({ length: D }, next)
        }))
        const ids = yield* store.rememberMany(inputs)
        for (const p of server.points(collection)!) assert.notProperty(p.payload, "embedding")
        for (const [i, id] of ids.entries()) {
          const m = yield* store.get("a", id)
          assert.deepStrictEqual(m._tag === "Some" ? m.value.embedding : null, inputs[i]!.embedding, `memory ${i}`)
        }
        const hits = yield* store.recall({ agentId: "a", embedding: inputs[3]!.embedding, limit: 60 })
        assert.strictEqual(hits[0]!.memory.id, ids[3])
        for (const h of hits) assert.deepStrictEqual(h.memory.embedding, inputs[ids.indexOf(h.memory.id)]!.embedding)
        const moved = Array.from({ length: D }, next)
        yield* store.updateEmbedding("a", ids[0]!, moved)
        const after = yield* store.get("a", ids[0]!)
        assert.deepStrictEqual(after._tag === "Some" ? after.value.embedding : null, moved)
      })
    ))

  it.effect("(d) embeddings on both sides of Qdrant's normalisation threshold (length ~3.45e-4) rank and come back exactly", () =>
    withStore(({ store }) =>
      Effect.gen(function*() {
        const direction = [0.6, 0.8, 0, 0, 0, 0, 0, 0]
        const scaled = (k: number) => direction.map((x) => Math.fround(x * k))
        const others = Array.from({ length: 30 }, (_, i) => ({
          agentId: "a",
          content: `other ${i}`,
          source: "system" as const,
          embedding: [0.6, 0.7, 0.1 + i / 100, 0, 0, 0, 0, 0]
        }))
        yield* store.rememberMany(others)
        for (const k of [1e-6, 3e-4, 4e-4, 1, 1000]) {
          const id = yield* store.remember({
            agentId: "a",
            content: `scaled ${k}`,
            source: "system",
            embedding: scaled(k)
          })
          const hits = yield* store.recall({ agentId: "a", embedding: direction, limit: 1 })
          assert.strictEqual(hits[0]?.memory.id, id, `length ${k}: the exact direction is the nearest`)
          assert.deepStrictEqual(hits[0]?.memory.embedding, scaled(k))
          yield* store.forget("a", id)
        }
      })
    ))

  it.effect("(e) recall writes no indexed payload field; text recall, filtered count and merge select the payload they read", () =>
    withStore(({ collection, server, store, consolidation }) =>
      Effect.gen(function*() {
        const indexed = new Set(server.indexes(collection)!.keys())
        assert.isFalse(indexed.has("accessed_at") || indexed.has("access_count"), "access counters are not indexed")
        yield* store.rememberMany(
          Array.from({ length: 12 }, (_, i) => ({
            agentId: "a",
            content: `alpha beta ${"filler ".repeat(50)}${i}`,
            source: "system" as const,
            metadata: { k: i % 2 === 0 ? "v" : "w" },
            embedding: i < 6 ? axis(0, D) : [1, 0.001, 0, 0, 0, 0, 0, 0]
          }))
        )
        server.clearRequests()
        yield* store.recall({ agentId: "a", embedding: axis(0, D), limit: 5 })
        yield* store.recall({ agentId: "a", text: "alpha", limit: 5 })
        yield* store.recall({ agentId: "a", text: "beta", embedding: axis(0, D), limit: 5 })
        for (const r of server.requests) {
          for (const key of setPayloadKeys(r)) assert.isFalse(indexed.has(key), `recall wrote the indexed field ${key}`)
        }
        const textScrolls = server.requests.filter(isScroll)
        assert.isAtLeast(textScrolls.length, 1)
        server.clearRequests()
        assert.strictEqual(yield* store.count("a", { metadata: { k: "v" } }), 6)
        yield* TestClock.setTime(86_400_000)
        const report = yield* consolidation.consolidate({ mergeThreshold: 0.99 })
        assert.isAtLeast(report.merged, 1)
        const scrolls = [...textScrolls, ...server.requests.filter(isScroll)]
        for (const r of scrolls) {
          const selector = (r.body as { with_payload?: unknown }).with_payload
          assert.isTrue(Array.isArray(selector), `${JSON.stringify(r.body)}: a payload selector, not the whole payload`)
          assert.notInclude(selector as Array<string>, "content", "the content is not read to filter or rank")
        }
      })
    ))

  it.effect("confidence after decay comes back exactly as MemoryTest computes it, through Qdrant's lossy float parsing", () =>
    withStore(({ store, consolidation }) =>
      Effect.gen(function*() {
        const reference = yield* Layer.build(Memory.layer({ embedding: space }))
        const refStore = Context.get(reference, SemanticStore)
        const refConsolidation = Context.get(reference, Consolidation)
        const inputs = Array.from({ length: 40 }, (_, i) => ({
          id: `0190a000-0000-7000-8000-${String(i).padStart(12, "0")}`,
          agentId: "a",
          content: `memory ${i}`,
          source: "system" as const
        }))
        yield* store.rememberMany(inputs)
        yield* refStore.rememberMany(inputs)
        const confidences = (xs: ReadonlyArray<Option.Option<{ readonly confidence: number }>>) =>
          xs.map((x) => (x._tag === "Some" ? x.value.confidence : -1))
        for (let round = 1; round <= 6; round++) {
          yield* TestClock.setTime(round * 30 * 86_400_000)
          // 1 × (1 − 0.01 − 2/37) × (1 − 0.01 − 1/37) = 0.9012906501095691: 17 digits, read one unit off by Qdrant.
          const rate = 0.01 + round / 37
          yield* consolidation.consolidate({ decayRate: rate, mergeThreshold: 1 })
          yield* refConsolidation.consolidate({ decayRate: rate, mergeThreshold: 1 })
          const expected = confidences(yield* Effect.forEach(inputs, (m) => refStore.get("a", m.id)))
          const actual = confidences(yield* Effect.forEach(inputs, (m) => store.get("a", m.id)))
          assert.deepStrictEqual(actual, expected, `round ${round}`)
          assert.strictEqual(yield* store.count("a", { minConfidence: expected[0]! }), 40, `round ${round}`)
        }
      })
    ))

  it.effect("metadata numbers come back exactly and match their own value, through Qdrant's lossy float parsing", () =>
    withStore(({ store }) =>
      Effect.gen(function*() {
        const x = Math.fround(0.013) // sent as 0.013000000268220901, read by Qdrant as 0.0130000002682209
        const metadata = { x, nested: { list: [x, 2, "s"] }, big: 2 ** 60, plain: 7 }
        const id = yield* store.remember({ agentId: "a", content: "measured", source: "system", metadata })
        const got = yield* store.get("a", id)
        assert.deepStrictEqual(got._tag === "Some" ? got.value.metadata : null, metadata)
        const hits = yield* store.recall({ agentId: "a", text: "measured", metadata: { x } })
        assert.deepStrictEqual(hits.map((h) => h.memory.id), [id])
        assert.strictEqual(yield* store.count("a", { metadata: { x } }), 1)
      })
    ))

  it.effect("a collection of the old layout (cosine vector, payload format 1) is refused with a StorageError saying how to migrate", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startQdrantServer()
      const collection = freshCollection()
      const client = new QdrantClient({ url: server.url, checkCompatibility: false })
      yield* Effect.promise(() =>
        client.createCollection(collection, { vectors: { embedding: { size: D, distance: "Cosine" } } })
      )
      yield* Effect.promise(() =>
        client.upsert(collection, {
          wait: true,
          points: [{
            id: "00000000-0000-0000-0000-000000000000",
            vector: {},
            payload: { engram: "collection", format: 1, model: "rules", dimensions: D }
          }]
        })
      )
      const error = yield* Effect.scoped(Effect.flip(open({ url: server.url, collection, embedding: space })))
      assert.strictEqual(error._tag, "StorageError", error.message)
      assert.match(error.message, /format 1/)
      assert.match(error.message, /engram export/)
    })))

  it.effect("the gRPC port: `http://…:6334`, or a server answering HTTP/2 only, fails with BackendUnavailable saying engram speaks REST on 6333", () =>
    Effect.scoped(Effect.gen(function*() {
      const grpcPort = yield* buildError("http://127.0.0.1:6334")
      assert.strictEqual(grpcPort._tag, "BackendUnavailable")
      assert.match(grpcPort.message, /6334 is Qdrant's gRPC port.*REST.*6333/)
      const h2 = yield* Effect.acquireRelease(
        Effect.async<http2.Http2Server>((resume) => {
          const s = http2.createServer((_req, res) => res.end())
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.async<void>((resume) => void s.close(() => resume(Effect.void)))
      )
      const port = (h2.address() as net.AddressInfo).port
      const http2Only = yield* buildError(`http://127.0.0.1:${port}`)
      assert.strictEqual(http2Only._tag, "BackendUnavailable")
      assert.match(http2Only.message, /gRPC.*REST.*6333/)
    })))
})

const buildError = (url: string) =>
  Effect.scoped(Effect.flip(open({ url, collection: freshCollection(), embedding: space, timeoutMs: 3_000 })))
