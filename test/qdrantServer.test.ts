/**
 * The Qdrant test server (test/support/qdrantServer.ts) against the official REST client: these
 * pin the Qdrant behaviours the backend tests rely on, so that a backend bug (a payload erased by an
 * update, a missing agent filter, a filter not applied, a write not awaited) fails a test there.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Schemas } from "@qdrant/js-client-rest"
import { QdrantClient } from "@qdrant/js-client-rest"
import { Effect } from "effect"
import {
  type QdrantServerOptions,
  type QdrantTestServer,
  serdeNumber,
  startQdrantServer
} from "./support/qdrantServer.js"

const C = "things"

const clientFor = (server: QdrantTestServer, apiKey?: string) =>
  new QdrantClient({ url: server.url, checkCompatibility: false, ...(apiKey === undefined ? {} : { apiKey }) })

/** A server with a collection of named 3-d cosine vectors `v`, and its client. */
const withServer = <A, E>(
  body: (server: QdrantTestServer, client: QdrantClient) => Effect.Effect<A, E>,
  options: QdrantServerOptions = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* startQdrantServer(options)
    const client = clientFor(server, options.apiKey)
    yield* call(() => client.createCollection(C, { vectors: { v: { size: 3, distance: "Cosine" } } }))
    return yield* body(server, client)
  }))

const call = <A>(f: () => Promise<A>) => Effect.promise(f)

/** The HTTP status and error text of a rejected call; a success fails the test. */
const rejection = (f: () => Promise<unknown>) =>
  Effect.tryPromise(f).pipe(
    Effect.flip,
    Effect.orElse(() => Effect.sync(() => assert.fail("expected the call to be rejected"))),
    Effect.map((e) => {
      const cause = e.error as { status?: number; data?: { status?: { error?: string } } }
      return { status: cause.status, error: cause.data?.status?.error ?? "" }
    })
  )

const ids = (points: ReadonlyArray<{ readonly id: string | number }>) => points.map((p) => p.id)

const point = (
  id: number | string,
  v: ReadonlyArray<number> | null,
  payload: Record<string, unknown>
): Schemas["PointStruct"] => ({
  id,
  vector: v === null ? {} : { v: [...v] },
  payload
})

const scrollIds = (client: QdrantClient, filter: Schemas["Filter"]) =>
  Effect.map(call(() => client.scroll(C, { filter, limit: 100, with_payload: false })), (r) => ids(r.points))

describe("Qdrant test server", () => {
  it.effect("collection info reports the vectors and payload indexes; existing is 409, missing is 404", () =>
    withServer((_server, client) =>
      Effect.gen(function*() {
        const info = yield* call(() => client.getCollection(C))
        assert.deepStrictEqual(info.config.params.vectors, { v: { size: 3, distance: "Cosine" } })
        assert.deepStrictEqual(info.payload_schema, {})
        yield* call(() => client.createPayloadIndex(C, { field_name: "agent", field_schema: "keyword", wait: true }))
        yield* call(() =>
          client.createPayloadIndex(C, {
            field_name: "body",
            field_schema: { type: "text", tokenizer: "whitespace", lowercase: false },
            wait: true
          })
        )
        const after = yield* call(() => client.getCollection(C))
        assert.strictEqual(after.payload_schema["agent"]?.data_type, "keyword")
        assert.deepStrictEqual(after.payload_schema["body"]?.params, {
          type: "text",
          tokenizer: "whitespace",
          lowercase: false
        })
        const conflict = yield* rejection(() =>
          client.createCollection(C, { vectors: { v: { size: 3, distance: "Cosine" } } })
        )
        assert.strictEqual(conflict.status, 409)
        const missing = yield* rejection(() => client.getCollection("nope"))
        assert.strictEqual(missing.status, 404)
        assert.match(missing.error, /doesn't exist/)
        assert.deepStrictEqual(yield* call(() => client.collectionExists("nope")), { exists: false })
        assert.deepStrictEqual(yield* call(() => client.collectionExists(C)), { exists: true })
        const unnamed = yield* call(() => client.createCollection("plain", { vectors: { size: 4, distance: "Dot" } }))
        assert.isTrue(unnamed)
        assert.deepStrictEqual((yield* call(() => client.getCollection("plain"))).config.params.vectors, {
          size: 4,
          distance: "Dot"
        })
      })
    ))

  it.effect("vector size is enforced (400) on upsert, update_vectors and query; nothing is stored", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        const up = yield* rejection(() => client.upsert(C, { wait: true, points: [point(1, [1, 0], {})] }))
        assert.strictEqual(up.status, 400)
        assert.match(up.error, /expected dim: 3, got 2/)
        const long = yield* rejection(() => client.upsert(C, { wait: true, points: [point(1, [1, 0, 0, 0], {})] }))
        assert.strictEqual(long.status, 400)
        assert.deepStrictEqual(server.points(C), [])
        yield* call(() => client.upsert(C, { wait: true, points: [point(1, [1, 0, 0], { a: 1 })] }))
        const update = yield* rejection(() =>
          client.updateVectors(C, { wait: true, points: [{ id: 1, vector: { v: [1] } }] })
        )
        assert.strictEqual(update.status, 400)
        const query = yield* rejection(() => client.query(C, { query: [1, 0], using: "v" }))
        assert.strictEqual(query.status, 400)
        const name = yield* rejection(() => client.query(C, { query: [1, 0, 0], using: "other" }))
        assert.strictEqual(name.status, 400)
        assert.match(name.error, /Not existing vector name/)
        assert.deepStrictEqual(server.points(C)?.[0]?.vectors, { v: [1, 0, 0] })
      })
    ))

  it.effect("JSON cannot carry NaN or Infinity: they arrive as null and the request is a 400 format error", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const r = yield* rejection(() => client.upsert(C, { wait: true, points: [point(1, [1, bad, 0], {})] }))
          assert.strictEqual(r.status, 400, String(bad))
          assert.match(r.error, /Format error/)
        }
        // A raw NaN literal is not JSON at all.
        const raw = yield* call(() =>
          fetch(`${server.url}/collections/${C}/points?wait=true`, {
            method: "PUT",
            headers: { "content-type": "application/json" },
            body: "{\"points\":[{\"id\":1,\"vector\":{\"v\":[NaN,0,0]}}]}"
          })
        )
        assert.strictEqual(raw.status, 400)
        assert.deepStrictEqual(server.points(C), [])
      })
    ))

  it.effect("cosine: vectors are stored normalised, scores are cosine similarities, best first", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        yield* call(() =>
          client.upsert(C, {
            wait: true,
            points: [
              point(1, [3, 0, 0], {}),
              point(2, [1, 1, 0], {}),
              point(3, [-2, 0, 0], {}),
              point(4, [0, 0, 5], {})
            ]
          })
        )
        assert.deepStrictEqual(server.points(C)?.[0]?.vectors["v"], [1, 0, 0])
        const r = yield* call(() => client.query(C, { query: [10, 0, 0], using: "v", with_vector: true }))
        assert.deepStrictEqual(ids(r.points), [1, 2, 4, 3])
        const scores = r.points.map((p) => p.score)
        ;[1, Math.SQRT1_2, 0, -1].forEach((s, i) => assert.closeTo(scores[i]!, s, 1e-6))
        const v2 = r.points[1]!.vector as Record<string, ReadonlyArray<number>>
        assert.closeTo(v2["v"]![0]!, Math.SQRT1_2, 1e-6, "returned vectors are the normalised ones")
        const limited = yield* call(() => client.query(C, { query: [1, 0, 0], using: "v", limit: 2, offset: 1 }))
        assert.deepStrictEqual(ids(limited.points), [2, 4])
        assert.isUndefined(limited.points[0]!.payload ?? undefined, "query returns no payload unless asked")
        const threshold = yield* call(() => client.query(C, { query: [1, 0, 0], using: "v", score_threshold: 0.5 }))
        assert.deepStrictEqual(ids(threshold.points), [1, 2])
      })
    ))

  it.effect("cosine normalisation follows Qdrant 1.12: a vector shorter than ~3.45e-4, or already of length 1 ± 1e-6, is kept as is", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        const tiny = [3e-4, 0, 0] // squared length 9e-8 < f32::EPSILON: not normalised
        const small = [4e-4, 0, 0] // squared length 1.6e-7 ≥ f32::EPSILON: normalised
        const nearlyUnit = [0.6, 0.8000002, 0]
        yield* call(() =>
          client.upsert(C, { wait: true, points: [point(1, tiny, {}), point(2, small, {}), point(3, nearlyUnit, {})] })
        )
        const stored = server.points(C)!.map((p) => p.vectors["v"])
        assert.deepStrictEqual(stored[0], tiny.map(Math.fround))
        assert.deepStrictEqual(stored[1], [1, 0, 0])
        assert.deepStrictEqual(stored[2], nearlyUnit.map(Math.fround))
      })
    ))

  it.effect("a body above 32 MiB is a 400 with actix's message, and nothing of it is applied", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        const big = "語".repeat(12 * 1024 * 1024) // 12 Mi characters, 36 MiB of UTF-8
        const r = yield* rejection(() => client.upsert(C, { wait: true, points: [point(1, [1, 0, 0], { big })] }))
        assert.strictEqual(r.status, 400)
        assert.match(r.error, /^JSON payload \(\d+ bytes\) is larger than allowed \(limit: 33554432 bytes\)\.$/)
        assert.deepStrictEqual(server.points(C), [])
      })
    ))

  it.effect("JSON numbers are read as Qdrant 1.12 reads them (serde_json): some come back one unit in the last place away", () =>
    Effect.gen(function*() {
      // float32 0.013 is sent as 0.013000000268220901 (17 digits): 13000000268220901 is rounded to
      // a double, then divided by 1e18 — a second rounding, one unit in the last place off.
      const f = Math.fround(0.013)
      assert.strictEqual(serdeNumber(f), 0.0130000002682209)
      assert.notStrictEqual(serdeNumber(f), f)
      assert.strictEqual(serdeNumber(0.5), 0.5)
      assert.strictEqual(serdeNumber(1234567), 1234567)
      const lossy = yield* withServer((server, client) =>
        Effect.gen(function*() {
          yield* call(() => client.upsert(C, { wait: true, points: [point(1, [1, 0, 0], { x: f, n: 7 })] }))
          return server.points(C)![0]!.payload
        })
      )
      assert.deepStrictEqual(lossy, { x: 0.0130000002682209, n: 7 })
      const exact = yield* withServer((server, client) =>
        Effect.gen(function*() {
          yield* call(() => client.upsert(C, { wait: true, points: [point(1, [1, 0, 0], { x: f })] }))
          return server.points(C)![0]!.payload
        }), { exactFloats: true })
      assert.deepStrictEqual(exact, { x: f })
    }))

  it.effect("named vectors may be absent: such points are stored but never returned by a query on the vector", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        yield* call(() =>
          client.upsert(C, {
            wait: true,
            points: [point(1, [1, 0, 0], { k: "with" }), point(2, null, { k: "without" })]
          })
        )
        const r = yield* call(() => client.query(C, { query: [1, 0, 0], using: "v", limit: 10 }))
        assert.deepStrictEqual(ids(r.points), [1])
        assert.deepStrictEqual(ids((yield* call(() => client.scroll(C, {}))).points), [1, 2])
        assert.deepStrictEqual(server.points(C)?.[1]?.vectors, {})
        const got = yield* call(() => client.retrieve(C, { ids: [2], with_vector: true }))
        assert.deepStrictEqual(got[0]?.vector, {})
        yield* call(() => client.updateVectors(C, { wait: true, points: [{ id: 2, vector: { v: [0, 1, 0] } }] }))
        const now = yield* call(() => client.query(C, { query: [0, 1, 0], using: "v", with_payload: true }))
        assert.deepStrictEqual(ids(now.points), [2, 1])
        assert.deepStrictEqual(now.points[0]!.payload, { k: "without" }, "adding a vector keeps the payload")
      })
    ))

  it.effect("upsert replaces the whole point: the old payload and vectors are gone", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        yield* call(() => client.upsert(C, { wait: true, points: [point(1, [1, 0, 0], { a: 1, b: 2 })] }))
        yield* call(() => client.upsert(C, { wait: true, points: [{ id: 1, vector: {}, payload: { c: 3 } }] }))
        assert.deepStrictEqual(server.points(C), [{ id: 1, vectors: {}, payload: { c: 3 } }])
        yield* call(() => client.upsert(C, { wait: true, points: [{ id: 1, vector: { v: [0, 1, 0] } }] }))
        assert.deepStrictEqual(server.points(C), [{ id: 1, vectors: { v: [0, 1, 0] }, payload: {} }])
      })
    ))

  it.effect("set_payload merges, overwrite_payload replaces, update_vectors keeps the payload", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        const payload = { agent: "a", content: "keep me", meta: { x: 1 } }
        yield* call(() => client.upsert(C, { wait: true, points: [point(1, [1, 0, 0], payload)] }))
        yield* call(() => client.updateVectors(C, { wait: true, points: [{ id: 1, vector: { v: [0, 2, 0] } }] }))
        assert.deepStrictEqual(server.points(C), [{ id: 1, vectors: { v: [0, 1, 0] }, payload }])
        yield* call(() => client.setPayload(C, { wait: true, points: [1], payload: { count: 2, content: "changed" } }))
        assert.deepStrictEqual(server.points(C)?.[0]?.payload, {
          agent: "a",
          content: "changed",
          meta: { x: 1 },
          count: 2
        })
        yield* call(() => client.setPayload(C, { wait: true, points: [1], payload: { y: 2 }, key: "meta" }))
        assert.deepStrictEqual(server.points(C)?.[0]?.payload["meta"], { x: 1, y: 2 })
        yield* call(() =>
          client.setPayload(C, { wait: true, filter: { must: [{ has_id: [1] }] }, payload: { by: "filter" } })
        )
        assert.strictEqual(server.points(C)?.[0]?.payload["by"], "filter")
        yield* call(() => client.overwritePayload(C, { wait: true, points: [1], payload: { only: true } }))
        assert.deepStrictEqual(server.points(C), [{ id: 1, vectors: { v: [0, 1, 0] }, payload: { only: true } }])
      })
    ))

  it.effect("updating a missing point by id is 404; by a filter that matches nothing is a no-op", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        yield* call(() => client.upsert(C, { wait: true, points: [point(1, [1, 0, 0], { a: 1 })] }))
        const vectors = yield* rejection(() =>
          client.updateVectors(C, { wait: true, points: [{ id: 9, vector: { v: [1, 0, 0] } }] })
        )
        assert.strictEqual(vectors.status, 404)
        const payload = yield* rejection(() => client.setPayload(C, { wait: true, points: [9], payload: { a: 2 } }))
        assert.strictEqual(payload.status, 404)
        yield* call(() => client.setPayload(C, { wait: true, filter: { must: [{ has_id: [9] }] }, payload: { a: 2 } }))
        assert.deepStrictEqual(server.points(C)?.map((p) => p.payload), [{ a: 1 }])
      })
    ))

  it.effect("match value is typed (1, \"1\" and true differ), arrays match any element, keys are paths", () =>
    withServer((_server, client) =>
      Effect.gen(function*() {
        yield* call(() =>
          client.upsert(C, {
            wait: true,
            points: [
              point(1, null, { m: { n: 1, flag: true, tags: ["a", "b"] } }),
              point(2, null, { m: { n: "1", flag: 1, tags: "a" } }),
              point(3, null, { m: { n: 1.5, nested: { deep: "x" } } }),
              point(4, null, { list: [{ name: "p" }, { name: "q" }] }),
              point(5, null, { "m.n": 1 })
            ]
          })
        )
        const by = (key: string, value: string | number | boolean) =>
          scrollIds(client, { must: [{ key, match: { value } }] })
        assert.deepStrictEqual(yield* by("m.n", 1), [1])
        assert.deepStrictEqual(yield* by("m.n", "1"), [2])
        assert.deepStrictEqual(yield* by("m.flag", true), [1])
        assert.deepStrictEqual(yield* by("m.flag", 1), [2])
        assert.deepStrictEqual(yield* by("m.tags", "a"), [1, 2], "an array matches when an element does")
        assert.deepStrictEqual(yield* by("m.nested.deep", "x"), [3])
        assert.deepStrictEqual(yield* by("list[].name", "q"), [4])
        assert.deepStrictEqual(yield* by("list.name", "q"), [], "a key does not descend into an array without []")
        assert.deepStrictEqual(yield* by("\"m.n\"", 1), [5], "a quoted key is literal")
        const float = yield* rejection(() =>
          client.scroll(C, { filter: { must: [{ key: "m.n", match: { value: 1.5 } }] } })
        )
        assert.strictEqual(float.status, 400, "floats cannot be matched, only ranged")
        assert.deepStrictEqual(yield* scrollIds(client, { must: [{ key: "m.n", range: { gte: 1.5, lte: 1.5 } }] }), [3])
        assert.deepStrictEqual(yield* scrollIds(client, { must: [{ key: "m.n", match: { any: [1, 2] } }] }), [1])
        assert.deepStrictEqual(yield* scrollIds(client, { must: [{ key: "m.tags", match: { any: ["b", "z"] } }] }), [1])
      })
    ))

  it.effect("must, should, must_not, nested filters, range, is_empty, is_null and has_id", () =>
    withServer((_server, client) =>
      Effect.gen(function*() {
        yield* call(() =>
          client.upsert(C, {
            wait: true,
            points: [
              point(1, null, { agent: "a", t: 10, e: null, x: [] }),
              point(2, null, { agent: "a", t: 20, e: "v" }),
              point(3, null, { agent: "b", t: 30, e: [1] }),
              point(4, null, { agent: "ab", t: 40 })
            ]
          })
        )
        const agent = (a: string): Schemas["Condition"] => ({ key: "agent", match: { value: a } })
        assert.deepStrictEqual(
          yield* scrollIds(client, { must: [agent("a")] }),
          [1, 2],
          "keyword match is exact, not a prefix"
        )
        assert.deepStrictEqual(yield* scrollIds(client, { must: [agent("a"), { key: "t", range: { gt: 10 } }] }), [2])
        assert.deepStrictEqual(yield* scrollIds(client, { should: [agent("b"), agent("ab")] }), [3, 4])
        assert.deepStrictEqual(yield* scrollIds(client, { must_not: [agent("a")] }), [3, 4])
        assert.deepStrictEqual(yield* scrollIds(client, { must: [{ key: "t", range: { gte: 20, lt: 40 } }] }), [2, 3])
        assert.deepStrictEqual(yield* scrollIds(client, { must: [{ key: "t", range: { lte: 10 } }] }), [1])
        assert.deepStrictEqual(
          yield* scrollIds(client, { must: [{ is_empty: { key: "e" } }] }),
          [1, 4],
          "missing and null are empty"
        )
        assert.deepStrictEqual(
          yield* scrollIds(client, { must: [{ is_empty: { key: "x" } }] }),
          [1, 2, 3, 4],
          "[] is empty"
        )
        assert.deepStrictEqual(yield* scrollIds(client, { must: [{ is_null: { key: "e" } }] }), [1])
        assert.deepStrictEqual(yield* scrollIds(client, { must: [{ has_id: [2, 4, 99] }] }), [2, 4])
        assert.deepStrictEqual(
          yield* scrollIds(client, { must: [{ should: [agent("a"), agent("b")] }], must_not: [{ has_id: [1] }] }),
          [2, 3]
        )
        assert.deepStrictEqual(
          yield* scrollIds(client, { must: [agent("a")], should: [] }),
          [1, 2],
          "an empty should is no constraint"
        )
        const unknown = yield* rejection(() =>
          client.scroll(C, { filter: { must: [{ key: "agent", values_count: { gt: 1 } }] } })
        )
        assert.strictEqual(unknown.status, 400, "an unimplemented condition is refused, not ignored")
      })
    ))

  it.effect("match text: every query token, by the index's tokenizer and lowercase setting; substring without an index", () =>
    withServer((_server, client) =>
      Effect.gen(function*() {
        yield* call(() =>
          client.upsert(C, {
            wait: true,
            points: [
              point(1, null, { exact: "the quick brown fox", lower: "The Quick fox", raw: "concatenate" }),
              point(2, null, { exact: "quick thinking", lower: "QUICK", raw: "cat" }),
              point(3, null, { exact: "Brown Fox", lower: "slow", raw: "dog" })
            ]
          })
        )
        yield* call(() =>
          client.createPayloadIndex(C, {
            field_name: "exact",
            field_schema: { type: "text", tokenizer: "whitespace", lowercase: false },
            wait: true
          })
        )
        yield* call(() =>
          client.createPayloadIndex(C, {
            field_name: "lower",
            field_schema: { type: "text", tokenizer: "word" },
            wait: true
          })
        )
        const text = (key: string, t: string) => scrollIds(client, { must: [{ key, match: { text: t } }] })
        assert.deepStrictEqual(yield* text("exact", "brown fox"), [1])
        assert.deepStrictEqual(yield* text("exact", "fox brown"), [1], "any order")
        assert.deepStrictEqual(yield* text("exact", "quick"), [1, 2])
        assert.deepStrictEqual(yield* text("exact", "brown cat"), [], "every token is required")
        assert.deepStrictEqual(yield* text("exact", "bro"), [], "whole tokens, not substrings")
        assert.deepStrictEqual(yield* text("exact", "Brown"), [3], "no lower-casing when lowercase is false")
        assert.deepStrictEqual(yield* text("lower", "quick"), [1, 2], "lower-cased by default")
        assert.deepStrictEqual(yield* text("raw", "cat"), [1, 2], "without an index: substring")
      })
    ))

  it.effect("scroll pages in id order with offset / next_page_offset; order_by needs a range index and refuses offset", () =>
    withServer((_server, client) =>
      Effect.gen(function*() {
        const uuids = ["00000000-0000-7000-8000-00000000000b", "00000000-0000-7000-8000-00000000000a"]
        yield* call(() =>
          client.upsert(C, {
            wait: true,
            points: [
              ...[5, 3, 9, 1, 7].map((id) => point(id, null, { t: id % 4 })),
              ...uuids.map((id, i) => point(id.toUpperCase(), null, { t: 10 + i }))
            ]
          })
        )
        const seen: Array<string | number> = []
        let offset: Schemas["ExtendedPointId"] | undefined
        let pages = 0
        do {
          const from = offset
          const page = yield* call(() =>
            client.scroll(C, { limit: 2, ...(from === undefined ? {} : { offset: from }) })
          )
          seen.push(...ids(page.points))
          const next = page.next_page_offset
          offset = typeof next === "string" || typeof next === "number" ? next : undefined
          pages++
        } while (offset !== undefined)
        assert.deepStrictEqual(
          seen,
          [1, 3, 5, 7, 9, uuids[1]!, uuids[0]!],
          "integers first, UUIDs normalised and ordered"
        )
        assert.strictEqual(pages, 4)
        const noIndex = yield* rejection(() => client.scroll(C, { order_by: { key: "t", direction: "desc" } }))
        assert.strictEqual(noIndex.status, 400)
        assert.match(noIndex.error, /No range index/)
        yield* call(() => client.createPayloadIndex(C, { field_name: "t", field_schema: "integer", wait: true }))
        const desc = yield* call(() => client.scroll(C, { order_by: { key: "t", direction: "desc" }, limit: 4 }))
        assert.deepStrictEqual(ids(desc.points), [uuids[1]!, uuids[0]!, 3, 7], "t desc, ties by id")
        assert.strictEqual(desc.next_page_offset ?? null, null)
        const from = yield* call(() =>
          client.scroll(C, { order_by: { key: "t", direction: "asc", start_from: 1 }, limit: 2 })
        )
        assert.deepStrictEqual(ids(from.points), [1, 5])
        const withOffset = yield* rejection(() => client.scroll(C, { order_by: "t", offset: 1 }))
        assert.strictEqual(withOffset.status, 400)
      })
    ))

  it.effect("query and count honour the filter; with_payload selects keys", () =>
    withServer((_server, client) =>
      Effect.gen(function*() {
        yield* call(() =>
          client.upsert(C, {
            wait: true,
            points: [
              point(1, [1, 0, 0], { agent: "a", body: "x" }),
              point(2, [0.9, 0.1, 0], { agent: "b", body: "y" }),
              point(3, [0, 1, 0], { agent: "a", body: "z" })
            ]
          })
        )
        const filter = { must: [{ key: "agent", match: { value: "a" } }] }
        const r = yield* call(() => client.query(C, { query: [1, 0, 0], using: "v", filter, with_payload: ["body"] }))
        assert.deepStrictEqual(ids(r.points), [1, 3], "the other agent's nearer point is filtered out")
        assert.deepStrictEqual(r.points[0]!.payload, { body: "x" })
        assert.deepStrictEqual(yield* call(() => client.count(C, { filter, exact: true })), { count: 2 })
        assert.deepStrictEqual(yield* call(() => client.count(C, {})), { count: 3 })
        const got = yield* call(() => client.retrieve(C, { ids: [3, 1, 42], with_payload: { exclude: ["body"] } }))
        assert.deepStrictEqual(got.map((p) => [p.id, p.payload]), [[3, { agent: "a" }], [1, { agent: "a" }]])
      })
    ))

  it.effect("batch update applies its operations in order, each with its own result", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        const results = yield* call(() =>
          client.batchUpdate(C, {
            wait: true,
            operations: [
              { upsert: { points: [point(1, [1, 0, 0], { a: 1 }), point(2, [0, 1, 0], { a: 2 })] } },
              { set_payload: { payload: { b: true }, filter: { must: [{ has_id: [1] }] } } },
              { update_vectors: { points: [{ id: 2, vector: { v: [0, 0, 1] } }] } },
              { delete: { points: [1] } }
            ]
          })
        )
        assert.deepStrictEqual(results.map((r) => r.status), ["completed", "completed", "completed", "completed"])
        assert.deepStrictEqual(server.points(C), [{ id: 2, vectors: { v: [0, 0, 1] }, payload: { a: 2 } }])
        const missing = yield* rejection(() =>
          client.batchUpdate(C, {
            wait: true,
            operations: [{ update_vectors: { points: [{ id: 5, vector: { v: [1, 0, 0] } }] } }]
          })
        )
        assert.strictEqual(missing.status, 404)
      })
    ))

  it.live("wait: an unawaited write is acknowledged and applied later; a waited write applies everything queued first", () =>
    withServer((server, client) =>
      Effect.gen(function*() {
        const pending = yield* call(() => client.upsert(C, { wait: false, points: [point(1, [1, 0, 0], { a: 1 })] }))
        assert.strictEqual(pending.status, "acknowledged")
        assert.deepStrictEqual(ids(yield* call(() => client.retrieve(C, { ids: [1] }))), [], "not visible yet")
        assert.deepStrictEqual(ids((yield* call(() => client.query(C, { query: [1, 0, 0], using: "v" }))).points), [])
        yield* call(() => new Promise((resolve) => setTimeout(resolve, 300)))
        assert.deepStrictEqual(ids(yield* call(() => client.retrieve(C, { ids: [1] }))), [1], "applied after the delay")
        // The client's delete does not wait unless told to.
        yield* call(() => client.delete(C, { points: [1] }))
        assert.deepStrictEqual(
          ids(yield* call(() => client.retrieve(C, { ids: [1] }))),
          [1],
          "an unawaited delete is not applied yet"
        )
        const done = yield* call(() =>
          client.setPayload(C, { wait: true, filter: { must: [{ has_id: [1] }] }, payload: { b: 2 } })
        )
        assert.strictEqual(done.status, "completed")
        assert.deepStrictEqual(server.points(C), [], "the queued delete ran before the waited write")
        const late = yield* call(() =>
          client.updateVectors(C, { wait: false, points: [{ id: 7, vector: { v: [1, 0, 0] } }] })
        )
        assert.strictEqual(late.status, "acknowledged")
        server.flush()
        assert.match(server.backgroundErrors[0] ?? "", /No point with id 7/)
        const wrongWait = yield* call(() =>
          fetch(`${server.url}/collections/${C}/points?wait=yes`, { method: "PUT", body: "{}" })
        )
        assert.strictEqual(wrongWait.status, 400)
      }), { applyDelayMs: 100 }))

  it.effect("an API key is required when configured (health endpoints excepted), and the request log records calls", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startQdrantServer({ apiKey: "s3cret" })
      const anonymous = new QdrantClient({ url: server.url, checkCompatibility: false })
      assert.isString((yield* call(() => anonymous.versionInfo())).version, "/ needs no key")
      const refused = yield* rejection(() => anonymous.getCollections())
      assert.strictEqual(refused.status, 401)
      const wrong = yield* rejection(() =>
        new QdrantClient({ url: server.url, checkCompatibility: false, headers: { "api-key": "nope" } })
          .getCollections()
      )
      assert.strictEqual(wrong.status, 401)
      const authed = new QdrantClient({ url: server.url, checkCompatibility: false, headers: { "api-key": "s3cret" } })
      assert.deepStrictEqual(yield* call(() => authed.getCollections()), { collections: [] })
      server.clearRequests()
      yield* call(() => authed.createCollection(C, { vectors: { v: { size: 3, distance: "Cosine" } } }))
      yield* call(() => authed.upsert(C, { wait: true, points: [point(1, [1, 0, 0], {})] }))
      const logged = server.requests.map((r) => [r.method, r.path, r.query["wait"]])
      assert.deepStrictEqual(logged, [
        ["PUT", `/collections/${C}`, undefined],
        ["PUT", `/collections/${C}/points`, "true"]
      ])
      server.failNext({ path: /\/points\/query$/, status: 500, error: "injected" })
      const injected = yield* rejection(() => authed.query(C, { query: [1, 0, 0], using: "v" }))
      assert.deepStrictEqual(injected, { status: 500, error: "injected" })
      assert.strictEqual(
        (yield* call(() => authed.query(C, { query: [1, 0, 0], using: "v" }))).points.length,
        1,
        "only once"
      )
    })))
})
