/**
 * SemanticStore conformance (the contract is the JSDoc of src/services/SemanticStore.ts, with the text
 * rules of src/domain/text.ts and the embedding rules of src/domain/embedding.ts).
 *
 * Backend-neutral by construction: the dimension comes from the store's embedding space, cosine
 * scores are compared with a float32 tolerance, text relevance is only compared where every sane
 * relevance function agrees (the scores themselves are backend-specific), and match sets are exact.
 */
import { assert } from "@effect/vitest"
import { Effect, Either, Option, TestClock } from "effect"
import { isUuidV7 } from "../domain/ids.js"
import type { JsonObject } from "../domain/json.js"
import {
  type Memory,
  type MemoryFilter,
  MemorySource,
  type RecallHit,
  type RecallMode,
  type RecallQuery,
  type RememberInput
} from "../domain/memory.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { angled, axis, conformance, sorted, vec } from "./harness.js"

type Store = SemanticStore["Type"]

/** Cosine scores are computed from float32 vectors, so they are compared with this tolerance. */
const TOL = 1e-5

/** A memory id that no test ever stores (well-formed, so lookups reach the store). */
const ABSENT_ID = "01900000-0000-7000-8000-00000000dead"

const ids = (hits: ReadonlyArray<RecallHit>): Array<string> => hits.map((h) => h.memory.id)
const contents = (hits: ReadonlyArray<RecallHit>): Array<string> => hits.map((h) => h.memory.content)
const plain = (m: Memory): Record<string, unknown> => ({ ...m })
const desc = (xs: ReadonlyArray<string>): Array<string> => [...xs].sort().reverse()

/** The typed failure of `effect`; a success fails the test. */
const failureOf = <E>(effect: Effect.Effect<unknown, E>, what: string): Effect.Effect<E> =>
  Effect.flatMap(
    Effect.either(effect),
    Either.match({
      onLeft: (e) => Effect.succeed(e),
      onRight: (a) => Effect.sync(() => assert.fail(`${what}: expected a typed failure, got ${JSON.stringify(a)}`))
    })
  )

type Failure = { readonly _tag: string; readonly field?: string }

const expectInvalidInput = (effect: Effect.Effect<unknown, Failure>, field: string, what = field) =>
  Effect.gen(function*() {
    const error = yield* failureOf(effect, what)
    assert.strictEqual(error._tag, "InvalidInput", `${what}: expected InvalidInput, got ${error._tag}`)
    assert.strictEqual(error.field, field, what)
  })

const expectInvalidEmbedding = <E extends Failure>(effect: Effect.Effect<unknown, E>, what: string) =>
  Effect.gen(function*() {
    const error = yield* failureOf(effect, what)
    assert.strictEqual(error._tag, "InvalidEmbedding", `${what}: expected InvalidEmbedding, got ${error._tag}`)
    return error
  })

const getOrFail = (store: Store, agentId: string, id: string) =>
  Effect.flatMap(store.get(agentId, id), (o) =>
    Option.match(o, {
      onNone: () => Effect.sync(() => assert.fail(`memory ${id} of ${agentId} should exist`)),
      onSome: (m) => Effect.succeed(m)
    }))

const isNone = (store: Store, agentId: string, id: string) => Effect.map(store.get(agentId, id), Option.isNone)

/**
 * Recall in every mode (newest, vector, text, hybrid) and count with the same filter. The fixture
 * memories of the filter tests all carry an embedding and the word "note", so every mode sees
 * every memory and all five answers must be the same set.
 */
const assertEveryMode = (store: Store, agentId: string, filter: MemoryFilter, expected: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const D = store.embeddingSpace.dimensions
    const label = JSON.stringify(filter)
    const base: RecallQuery = { agentId, limit: 1000, ...filter }
    const want = sorted(expected)
    assert.deepStrictEqual(sorted(contents(yield* store.recall(base))), want, `newest ${label}`)
    assert.deepStrictEqual(
      sorted(contents(yield* store.recall({ ...base, embedding: axis(0, D) }))),
      want,
      `vector ${label}`
    )
    assert.deepStrictEqual(sorted(contents(yield* store.recall({ ...base, text: "note" }))), want, `text ${label}`)
    assert.deepStrictEqual(
      sorted(contents(yield* store.recall({ ...base, text: "note", embedding: axis(0, D) }))),
      want,
      `hybrid ${label}`
    )
    assert.strictEqual(yield* store.count(agentId, filter), expected.length, `count ${label}`)
  })

/** A fixture memory whose content is `note <key>`. */
const note = (D: number, key: string, extra: Partial<RememberInput> = {}): RememberInput => ({
  agentId: "agent-1",
  content: `note ${key}`,
  source: "conversation",
  embedding: angled(D, 0.2),
  ...extra
})
const notes = (...keys: ReadonlyArray<string>) => keys.map((k) => `note ${k}`)

export const semanticStoreSuite = conformance<SemanticStore>("SemanticStore", (test) => {
  // ---------------------------------------------------------------- remember / get

  test("remember then get returns every field; the embedding comes back as float32 values", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      yield* TestClock.setTime(1_700_000_000_000)
      // Values such as 0.05 are not float32-representable: the store returns their float32 rounding.
      const embedding = Array.from({ length: D }, (_, i) => 0.1 * (i + 1) - 0.35)
      const metadata = { topic: "weather", tags: ["rain", "wind"], nested: { level: 2, ok: true, none: null } }
      const id = yield* store.remember({
        agentId: "agent-1",
        content: "It will rain tomorrow ☔",
        source: "observation",
        scope: "forecasts",
        metadata,
        embedding
      })
      const got = yield* getOrFail(store, "agent-1", id)
      assert.deepStrictEqual(plain(got), {
        id,
        agentId: "agent-1",
        content: "It will rain tomorrow ☔",
        source: "observation",
        scope: "forecasts",
        metadata,
        confidence: 1,
        createdAt: 1_700_000_000_000,
        accessedAt: 1_700_000_000_000,
        accessCount: 0,
        embedding: embedding.map(Math.fround)
      })
    }))

  test("defaults: scope episodic, empty metadata, confidence 1, no accesses, embedding null when none is given", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      yield* TestClock.setTime(5_000)
      const id = yield* store.remember({ agentId: "agent-1", content: "plain", source: "user_provided" })
      assert.deepStrictEqual(plain(yield* getOrFail(store, "agent-1", id)), {
        id,
        agentId: "agent-1",
        content: "plain",
        source: "user_provided",
        scope: "episodic",
        metadata: {},
        confidence: 1,
        createdAt: 5_000,
        accessedAt: 5_000,
        accessCount: 0,
        embedding: null
      })
    }))

  test("every source value and unusual content round-trip unchanged", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const sources: ReadonlyArray<MemorySource> = MemorySource.literals
      const texts = [
        "  leading and trailing spaces  ",
        "line 1\nline 2\r\n\ttabbed",
        "emoji 😀 and CJK 漢字 and RTL עברית",
        "composed \u00e9 and decomposed e\u0301 stay as given",
        "x",
        "quotes ' \" ` and backslash \\ and percent % and underscore _"
      ]
      for (const [i, source] of sources.entries()) {
        const content = texts[i]!
        const id = yield* store.remember({ agentId: "agent-1", content, source })
        const got = yield* getOrFail(store, "agent-1", id)
        assert.strictEqual(got.source, source)
        assert.strictEqual(got.content, content, `content ${i}`)
      }
      assert.strictEqual(yield* store.count("agent-1"), sources.length)
    }))

  test("minted ids are distinct UUIDv7; get of an unknown id or of another agent's memory is None", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const minted: Array<string> = []
      for (let i = 0; i < 5; i++) {
        minted.push(yield* store.remember({ agentId: "agent-1", content: `m${i}`, source: "system" }))
      }
      assert.strictEqual(new Set(minted).size, 5)
      for (const id of minted) assert.isTrue(isUuidV7(id), `${id} is a lower-case UUIDv7`)
      assert.isTrue(yield* isNone(store, "agent-1", ABSENT_ID))
      assert.isTrue(yield* isNone(store, "agent-2", minted[0]!))
    }))

  test("remember with a caller id is idempotent: the same id again stores nothing new", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const id = "01900000-0000-7000-8000-000000000001"
      yield* TestClock.setTime(1_000)
      assert.strictEqual(
        yield* store.remember({ id, agentId: "agent-1", content: "first", source: "system", embedding: axis(0, D) }),
        id
      )
      yield* TestClock.setTime(2_000)
      assert.strictEqual(
        yield* store.remember({
          id,
          agentId: "agent-1",
          content: "replayed",
          source: "document",
          embedding: axis(1, D)
        }),
        id
      )
      assert.strictEqual(yield* store.count("agent-1"), 1)
      const got = yield* getOrFail(store, "agent-1", id)
      assert.strictEqual(got.content, "first", "a replay is a no-op, it does not overwrite")
      assert.strictEqual(got.source, "system")
      assert.strictEqual(got.createdAt, 1_000)
      assert.deepStrictEqual(got.embedding, axis(0, D))
      const hits = yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) })
      assert.deepStrictEqual(ids(hits), [id], "exactly one memory is found")
    }))

  test("a caller id already used by another agent is InvalidInput and changes nothing", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const id = "01900000-0000-7000-8000-000000000002"
      yield* store.remember({ id, agentId: "agent-1", content: "mine", source: "system" })
      yield* expectInvalidInput(
        store.remember({ id, agentId: "agent-2", content: "theirs", source: "system" }),
        "input.id"
      )
      assert.strictEqual(yield* store.count("agent-2"), 0)
      assert.isTrue(yield* isNone(store, "agent-2", id))
      assert.strictEqual((yield* getOrFail(store, "agent-1", id)).content, "mine")
    }))

  test("rememberMany returns the ids in input order and stores each input as given", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      yield* TestClock.setTime(7_000)
      const inputs: ReadonlyArray<RememberInput> = [
        { agentId: "agent-1", content: "zero", source: "conversation", embedding: axis(0, D) },
        { agentId: "agent-1", content: "one", source: "document", scope: "docs", metadata: { n: 1 } },
        { agentId: "agent-2", content: "two", source: "inference", embedding: axis(2, D) },
        { agentId: "agent-1", content: "three", source: "system", metadata: { n: 3 }, embedding: axis(3, D) }
      ]
      const out = yield* store.rememberMany(inputs)
      assert.strictEqual(out.length, inputs.length)
      assert.strictEqual(new Set(out).size, inputs.length)
      for (const [i, input] of inputs.entries()) {
        const got = yield* getOrFail(store, input.agentId, out[i]!)
        assert.strictEqual(got.content, input.content, `input ${i}`)
        assert.strictEqual(got.source, input.source)
        assert.strictEqual(got.scope, input.scope ?? "episodic")
        assert.deepStrictEqual(got.metadata, input.metadata ?? {})
        assert.deepStrictEqual(got.embedding, input.embedding ?? null)
        assert.strictEqual(got.createdAt, 7_000)
      }
      assert.strictEqual(yield* store.count("agent-1"), 3)
      assert.strictEqual(yield* store.count("agent-2"), 1)
      assert.deepStrictEqual(yield* store.rememberMany([]), [])
    }))

  test("rememberMany is one transaction: an invalid item anywhere stores nothing", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const good = (i: number): RememberInput => ({
        agentId: "agent-1",
        content: `good ${i}`,
        source: "system",
        embedding: axis(i, D)
      })
      const batch = (bad: number, item: RememberInput) =>
        Array.from({ length: 5 }, (_, i) => (i === bad ? item : good(i)))
      for (const at of [0, 2, 4]) {
        yield* expectInvalidInput(
          store.rememberMany(batch(at, { ...good(at), content: "" })),
          `inputs[${at}].content`
        )
        yield* expectInvalidInput(
          store.rememberMany(batch(at, { ...good(at), agentId: "" })),
          `inputs[${at}].agentId`
        )
        yield* expectInvalidEmbedding(
          store.rememberMany(batch(at, { ...good(at), embedding: vec(D, 1, Number.NaN) })),
          `NaN at ${at}`
        )
      }
      assert.strictEqual(yield* store.count("agent-1"), 0)
      assert.deepStrictEqual(yield* store.recall({ agentId: "agent-1" }), [])
    }))

  test("rememberMany ids: duplicates in a batch and ids of other agents are InvalidInput; own replays are no-ops", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const a = "01900000-0000-7000-8000-00000000000a"
      const b = "01900000-0000-7000-8000-00000000000b"
      const item = (id: string, agentId: string, content: string): RememberInput => ({
        id,
        agentId,
        content,
        source: "system"
      })
      yield* expectInvalidInput(
        store.rememberMany([item(a, "agent-1", "x"), item(b, "agent-1", "y"), item(a, "agent-1", "z")]),
        "inputs[2].id"
      )
      assert.strictEqual(yield* store.count("agent-1"), 0)
      yield* store.remember(item(a, "agent-2", "owned by agent-2"))
      yield* expectInvalidInput(
        store.rememberMany([item(b, "agent-1", "new"), item(a, "agent-1", "conflict")]),
        "inputs[1].id"
      )
      assert.strictEqual(yield* store.count("agent-1"), 0, "the valid first item was not stored either")
      yield* store.remember(item(b, "agent-1", "original b"))
      const replay = yield* store.rememberMany([item(b, "agent-1", "replayed b"), {
        agentId: "agent-1",
        content: "fresh",
        source: "system"
      }])
      assert.strictEqual(replay[0], b)
      assert.strictEqual(yield* store.count("agent-1"), 2)
      assert.strictEqual((yield* getOrFail(store, "agent-1", b)).content, "original b")
      assert.strictEqual((yield* getOrFail(store, "agent-2", a)).content, "owned by agent-2")
    }))

  test("content up to 1 MiB of UTF-8 is accepted; one byte more is InvalidInput (bytes, not characters)", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const MiB = 1024 * 1024
      const exact = "é".repeat(MiB / 2) // 2 bytes each: exactly 1 MiB
      const id = yield* store.remember({ agentId: "agent-1", content: exact, source: "document" })
      assert.strictEqual((yield* getOrFail(store, "agent-1", id)).content, exact)
      yield* expectInvalidInput(
        store.remember({ agentId: "agent-1", content: exact + "a", source: "document" }),
        "input.content",
        "1 MiB + 1 byte"
      )
      // Fewer than 1 Mi characters but more than 1 MiB of UTF-8.
      yield* expectInvalidInput(
        store.remember({ agentId: "agent-1", content: "😀".repeat(MiB / 4 + 1), source: "document" }),
        "input.content",
        "4-byte characters"
      )
      assert.strictEqual(yield* store.count("agent-1"), 1)
    }))

  // ---------------------------------------------------------------- vector recall

  test("vector recall ranks by cosine similarity, highest first, with cosine scores", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const angles = [0.9, 0.1, 0.5, 1.3, 0.3]
      const byAngle = new Map<number, string>()
      for (const a of angles) {
        byAngle.set(
          a,
          yield* store.remember({ agentId: "agent-1", content: `at ${a}`, source: "system", embedding: angled(D, a) })
        )
      }
      const hits = yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) })
      const expected = [...angles].sort((x, y) => x - y)
      assert.deepStrictEqual(ids(hits), expected.map((a) => byAngle.get(a)!))
      hits.forEach((h, i) => assert.closeTo(h.score, Math.cos(expected[i]!), TOL, `score of angle ${expected[i]}`))
    }))

  test("cosine ignores magnitude, and dissimilar memories are still ranked (down to -1)", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const long = yield* store.remember({
        agentId: "agent-1",
        content: "long",
        source: "system",
        embedding: vec(D, 3)
      })
      const tiny = yield* store.remember({
        agentId: "agent-1",
        content: "tiny",
        source: "system",
        embedding: vec(D, 0.001, 0.001)
      })
      const opposite = yield* store.remember({
        agentId: "agent-1",
        content: "opposite",
        source: "system",
        embedding: vec(D, -2)
      })
      const orthogonal = yield* store.remember({
        agentId: "agent-1",
        content: "orthogonal",
        source: "system",
        embedding: axis(2, D)
      })
      const hits = yield* store.recall({ agentId: "agent-1", embedding: vec(D, 10) })
      assert.deepStrictEqual(ids(hits), [long, tiny, orthogonal, opposite])
      const expected = [1, Math.SQRT1_2, 0, -1]
      hits.forEach((h, i) => assert.closeTo(h.score, expected[i]!, TOL, h.memory.content))
    }))

  test("equal scores are ordered by createdAt desc, then id desc", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const same = angled(D, 0.5)
      const mk = (content: string, embedding: ReadonlyArray<number>): RememberInput => ({
        agentId: "agent-1",
        content,
        source: "system",
        embedding
      })
      yield* TestClock.setTime(1_000)
      const best = yield* store.remember(mk("best", axis(0, D)))
      const old = yield* store.remember(mk("old", same))
      yield* TestClock.setTime(2_000)
      const mid = yield* store.remember(mk("mid", same))
      yield* TestClock.setTime(3_000)
      const simultaneous = yield* store.rememberMany([mk("s1", same), mk("s2", same), mk("s3", same)])
      yield* TestClock.setTime(4_000)
      const hits = yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) })
      assert.deepStrictEqual(ids(hits), [best, ...desc(simultaneous), mid, old])
      const tied = hits.slice(1).map((h) => h.score)
      assert.isTrue(tied.every((s) => s === tied[0]), "identical vectors score identically")
      assert.closeTo(tied[0]!, Math.cos(0.5), TOL)
    }))

  test("memories without an embedding take no part in vector recall", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const withVector = yield* store.remember({
        agentId: "agent-1",
        content: "vector one",
        source: "system",
        embedding: axis(1, D)
      })
      for (let i = 0; i < 3; i++) {
        yield* store.remember({ agentId: "agent-1", content: `no vector ${i}`, source: "system" })
      }
      const implicit = yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) })
      const explicit = yield* store.recall({ agentId: "agent-1", embedding: axis(0, D), mode: "vector" })
      assert.deepStrictEqual(ids(implicit), [withVector])
      assert.deepStrictEqual(ids(explicit), [withVector])
    }))

  test("limit: 10 by default, exactly `limit` otherwise, 1 and 1000 accepted; 0, 1001 and fractions are InvalidInput", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const ranked = yield* store.rememberMany(
        Array.from({ length: 15 }, (_, i) => ({
          agentId: "agent-1",
          content: `memo ${i}`,
          source: "system" as const,
          embedding: angled(D, 0.05 * i)
        }))
      )
      const q = { agentId: "agent-1", embedding: axis(0, D) }
      assert.deepStrictEqual(ids(yield* store.recall(q)), ranked.slice(0, 10))
      assert.deepStrictEqual(ids(yield* store.recall({ ...q, limit: 3 })), ranked.slice(0, 3))
      assert.deepStrictEqual(ids(yield* store.recall({ ...q, limit: 1 })), ranked.slice(0, 1))
      assert.deepStrictEqual(ids(yield* store.recall({ ...q, limit: 1000 })), [...ranked])
      assert.strictEqual((yield* store.recall({ agentId: "agent-1" })).length, 10, "newest: 10 by default")
      assert.strictEqual((yield* store.recall({ agentId: "agent-1", text: "memo" })).length, 10, "text: 10 by default")
      for (const limit of [0, 1001, -1, 2.5]) {
        yield* expectInvalidInput(store.recall({ ...q, limit }), "query.limit", `limit ${limit}`)
      }
    }))

  test("with filters, exactly `limit` come back when enough match, even when the matches are the least similar", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const query = axis(0, D)
      yield* TestClock.setTime(1_000)
      // The agent's most similar memories; every filter below excludes them. More than any fixed
      // over-fetch (such as max(10 × limit, 100)) would look at.
      yield* store.rememberMany(Array.from({ length: 150 }, (_, i) => ({
        agentId: "agent-1",
        content: `common near ${i}`,
        source: "conversation" as const,
        scope: "near",
        metadata: { tier: "near" },
        embedding: angled(D, 0.001 * i)
      })))
      // Another agent's memories match every filter and equal the query: they must never appear.
      yield* store.rememberMany(Array.from({ length: 150 }, (_, i) => ({
        agentId: "agent-2",
        content: `common far ${i}`,
        source: "document" as const,
        scope: "far",
        metadata: { tier: "far" },
        embedding: query
      })))
      yield* TestClock.setTime(2_000)
      const far = yield* store.rememberMany(Array.from({ length: 8 }, (_, i) => ({
        agentId: "agent-1",
        content: `common far ${i}`,
        source: "document" as const,
        scope: "far",
        metadata: { tier: "far" },
        embedding: angled(D, 1.5 + 0.1 * i)
      })))
      const filters: ReadonlyArray<MemoryFilter> = [
        { scope: "far" },
        { source: "document" },
        { metadata: { tier: "far" } },
        { after: 1_500 },
        { scope: "far", source: "document", metadata: { tier: "far" }, after: 1_500, before: 3_000, minConfidence: 1 }
      ]
      for (const filter of filters) {
        const label = JSON.stringify(filter)
        const vector = yield* store.recall({ agentId: "agent-1", embedding: query, limit: 5, ...filter })
        assert.deepStrictEqual(ids(vector), far.slice(0, 5), `vector ${label}`)
        const text = yield* store.recall({ agentId: "agent-1", text: "common", limit: 5, ...filter })
        assert.strictEqual(text.length, 5, `text ${label}`)
        assert.isTrue(text.every((h) => far.includes(h.memory.id)), `text ${label}`)
        const hybrid = yield* store.recall({
          agentId: "agent-1",
          text: "common",
          embedding: query,
          limit: 5,
          ...filter
        })
        assert.strictEqual(hybrid.length, 5, `hybrid ${label}`)
        assert.isTrue(hybrid.every((h) => far.includes(h.memory.id)), `hybrid ${label}`)
      }
    }))

  // ---------------------------------------------------------------- filters

  test("scope filter: exact match only (not a prefix, not case-insensitive)", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      yield* store.rememberMany([
        note(D, "w1", { scope: "work" }),
        note(D, "w2", { scope: "work" }),
        note(D, "arch", { scope: "work-archive" }),
        note(D, "cap", { scope: "Work" }),
        note(D, "home", { scope: "home" }),
        note(D, "default")
      ])
      yield* assertEveryMode(store, "agent-1", { scope: "work" }, notes("w1", "w2"))
      yield* assertEveryMode(store, "agent-1", { scope: "episodic" }, notes("default"))
      yield* assertEveryMode(store, "agent-1", { scope: "wor" }, [])
    }))

  test("source filter", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      yield* store.rememberMany([
        note(D, "c", { source: "conversation" }),
        note(D, "d1", { source: "document" }),
        note(D, "d2", { source: "document" }),
        note(D, "u", { source: "user_provided" }),
        note(D, "s", { source: "system" })
      ])
      yield* assertEveryMode(store, "agent-1", { source: "document" }, notes("d1", "d2"))
      yield* assertEveryMode(store, "agent-1", { source: "user_provided" }, notes("u"))
      yield* assertEveryMode(store, "agent-1", { source: "inference" }, [])
    }))

  test("minConfidence is inclusive: fresh memories (confidence 1) pass 0, 0.5 and 1", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      yield* store.rememberMany([note(D, "a"), note(D, "b", { embedding: axis(1, D) })])
      for (const minConfidence of [0, 0.5, 1]) {
        yield* assertEveryMode(store, "agent-1", { minConfidence }, notes("a", "b"))
      }
    }))

  test("after and before are strict bounds on createdAt", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      for (const t of [1_000, 2_000, 3_000, 4_000]) {
        yield* TestClock.setTime(t)
        yield* store.remember(note(D, `t${t}`))
      }
      yield* assertEveryMode(store, "agent-1", { after: 2_000 }, notes("t3000", "t4000"))
      yield* assertEveryMode(store, "agent-1", { before: 3_000 }, notes("t1000", "t2000"))
      yield* assertEveryMode(store, "agent-1", { after: 1_000, before: 4_000 }, notes("t2000", "t3000"))
      yield* assertEveryMode(store, "agent-1", { after: 1_999, before: 2_001 }, notes("t2000"))
      yield* assertEveryMode(store, "agent-1", { after: 2_000, before: 3_000 }, [])
      yield* assertEveryMode(store, "agent-1", { after: 0 }, notes("t1000", "t2000", "t3000", "t4000"))
      yield* assertEveryMode(store, "agent-1", { before: 1_000 }, [])
    }))

  test("metadata filter: equality of top-level values, JSON types distinct, nested values compared whole", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      yield* store.rememberMany([
        note(D, "A", { metadata: { kind: "fact", n: 1, nested: { x: [1, 2], y: "z" }, flag: true, nil: null } }),
        note(D, "B", { metadata: { kind: "fact", n: "1", flag: 1 } }),
        note(D, "C", { metadata: { kind: "Fact", n: 1.5, nested: { x: [1] } } }),
        note(D, "D"),
        note(D, "E", { metadata: { nested: { y: "z", x: [1, 2] }, kind: "fact", flag: false } })
      ])
      const cases: ReadonlyArray<readonly [JsonObject, ReadonlyArray<string>]> = [
        [{}, ["A", "B", "C", "D", "E"]],
        [{ kind: "fact" }, ["A", "B", "E"]],
        [{ n: 1 }, ["A"]],
        [{ n: "1" }, ["B"]],
        [{ flag: true }, ["A"]],
        [{ flag: 1 }, ["B"]],
        [{ flag: false }, ["E"]],
        [{ nested: { x: [1, 2], y: "z" } }, ["A", "E"]],
        [{ nested: { y: "z", x: [1, 2] } }, ["A", "E"]],
        [{ nested: { x: [1, 2] } }, []],
        [{ nested: { x: [1] } }, ["C"]],
        [{ nested: { x: [2, 1], y: "z" } }, []],
        [{ nil: null }, ["A"]],
        [{ kind: "fact", n: 1 }, ["A"]],
        [{ kind: "fact", flag: false }, ["E"]],
        [{ kind: "fact", n: "2" }, []],
        [{ missing: "x" }, []]
      ]
      for (const [metadata, expected] of cases) {
        yield* assertEveryMode(store, "agent-1", { metadata }, notes(...expected))
      }
    }))

  test("all filters combined must all hold, in every mode and in count", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const hit = { scope: "work", source: "document" as const, metadata: { project: "x" } }
      yield* TestClock.setTime(1_000)
      yield* store.remember(note(D, "too-old", hit))
      yield* TestClock.setTime(2_000)
      yield* store.rememberMany([
        note(D, "match-1", hit),
        note(D, "wrong-scope", { ...hit, scope: "home" }),
        note(D, "wrong-source", { ...hit, source: "conversation" }),
        note(D, "wrong-meta", { ...hit, metadata: { project: "y" } }),
        note(D, "other-agent", { ...hit, agentId: "agent-2" })
      ])
      yield* TestClock.setTime(3_000)
      yield* store.remember(note(D, "match-2", { ...hit, embedding: axis(1, D) }))
      yield* TestClock.setTime(4_000)
      yield* store.remember(note(D, "too-new", hit))
      const filter: MemoryFilter = {
        scope: "work",
        source: "document",
        minConfidence: 1,
        after: 1_000,
        before: 4_000,
        metadata: { project: "x" }
      }
      yield* assertEveryMode(store, "agent-1", filter, notes("match-1", "match-2"))
    }))

  // ---------------------------------------------------------------- text recall

  test("text recall needs no embeddings; every query word must occur, in any order", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      for (const content of ["the quick brown fox", "the lazy brown dog", "quick thinking", "Fox news"]) {
        yield* store.remember({ agentId: "agent-1", content, source: "conversation" })
      }
      const text = (q: string) => Effect.map(store.recall({ agentId: "agent-1", text: q }), (h) => sorted(contents(h)))
      assert.deepStrictEqual(yield* text("brown fox"), ["the quick brown fox"])
      assert.deepStrictEqual(yield* text("fox brown"), ["the quick brown fox"])
      assert.deepStrictEqual(yield* text("fox"), ["Fox news", "the quick brown fox"])
      assert.deepStrictEqual(yield* text("quick"), ["quick thinking", "the quick brown fox"])
      assert.deepStrictEqual(yield* text("the brown"), ["the lazy brown dog", "the quick brown fox"])
      assert.deepStrictEqual(yield* text("brown cat"), [], "a missing word means no match, not a partial one")
      assert.deepStrictEqual(
        yield* store.recall({ agentId: "agent-1", text: "fox", mode: "text" }).pipe(
          Effect.map((h) => sorted(contents(h)))
        ),
        ["Fox news", "the quick brown fox"]
      )
    }))

  test("text matching is case-insensitive for every script (ÄRGER = ärger, ПРИВЕТ = привет)", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      for (const content of ["ÄRGER im Büro", "kein ärger", "Ärger!", "ärgerlich", "Привет мир", "ΚΑΛΗΜΕΡΑ κόσμε"]) {
        yield* store.remember({ agentId: "agent-1", content, source: "conversation" })
      }
      const text = (q: string) => Effect.map(store.recall({ agentId: "agent-1", text: q }), (h) => sorted(contents(h)))
      const anger = sorted(["ÄRGER im Büro", "kein ärger", "Ärger!"])
      assert.deepStrictEqual(yield* text("ärger"), anger)
      assert.deepStrictEqual(yield* text("ÄRGER"), anger)
      assert.deepStrictEqual(yield* text("äRgEr"), anger)
      assert.deepStrictEqual(yield* text("BÜRO"), ["ÄRGER im Büro"])
      assert.deepStrictEqual(yield* text("ПРИВЕТ"), ["Привет мир"])
      assert.deepStrictEqual(yield* text("καλημερα"), ["ΚΑΛΗΜΕΡΑ κόσμε"])
    }))

  test("text matching case-folds (STRASSE = straße, finance = ﬁnance, ΣΟΦΟΣ = σοφος); content stays as written", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      for (
        const content of ["Die Straße ist lang", "STRASSE 5", "ﬁnance report", "Finance Team", "σοφός", "ΣΟΦΟΣ", "cafe"]
      ) {
        yield* store.remember({ agentId: "agent-1", content, source: "conversation" })
      }
      const text = (q: string) => Effect.map(store.recall({ agentId: "agent-1", text: q }), (h) => sorted(contents(h)))
      const street = sorted(["Die Straße ist lang", "STRASSE 5"])
      assert.deepStrictEqual(yield* text("STRASSE"), street)
      assert.deepStrictEqual(yield* text("straße"), street)
      assert.deepStrictEqual(yield* text("Strasse"), street)
      const finance = sorted(["ﬁnance report", "Finance Team"])
      assert.deepStrictEqual(yield* text("finance"), finance)
      assert.deepStrictEqual(yield* text("ﬁnance"), finance)
      assert.deepStrictEqual(yield* text("ΣΟΦΌΣ"), sorted(["σοφός"]))
      assert.deepStrictEqual(yield* text("σοφοσ"), sorted(["ΣΟΦΟΣ"]))
    }))

  test("no accent folding: cafe and café are different words", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      for (const content of ["café au lait", "cafe racer", "CAFÉ NOIR"]) {
        yield* store.remember({ agentId: "agent-1", content, source: "conversation" })
      }
      const text = (q: string) => Effect.map(store.recall({ agentId: "agent-1", text: q }), (h) => sorted(contents(h)))
      assert.deepStrictEqual(yield* text("cafe"), ["cafe racer"])
      assert.deepStrictEqual(yield* text("café"), sorted(["café au lait", "CAFÉ NOIR"]))
      assert.deepStrictEqual(yield* text("CAFÉ"), sorted(["café au lait", "CAFÉ NOIR"]))
      assert.deepStrictEqual(yield* text("noir cafe"), [])
    }))

  test("text matches whole words: no stemming, no substrings", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      for (const content of ["cats and dogs", "concatenate strings", "a cat sat", "Cat.", "catalogue"]) {
        yield* store.remember({ agentId: "agent-1", content, source: "conversation" })
      }
      const text = (q: string) => Effect.map(store.recall({ agentId: "agent-1", text: q }), (h) => sorted(contents(h)))
      assert.deepStrictEqual(yield* text("cat"), sorted(["a cat sat", "Cat."]))
      assert.deepStrictEqual(yield* text("cats"), ["cats and dogs"])
      assert.deepStrictEqual(yield* text("dog"), [])
      assert.deepStrictEqual(yield* text("string"), [])
    }))

  test("words are split on anything that is not a letter or digit", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const a = "state-of-the-art e-mail: ops@example.com (v2.1)"
      const b = "release_notes.md, 2024/06/30"
      for (const content of [a, b, "stateoftheart"]) {
        yield* store.remember({ agentId: "agent-1", content, source: "document" })
      }
      const text = (q: string) => Effect.map(store.recall({ agentId: "agent-1", text: q }), (h) => sorted(contents(h)))
      assert.deepStrictEqual(yield* text("art mail"), [a])
      assert.deepStrictEqual(yield* text("state of the art"), [a])
      assert.deepStrictEqual(yield* text("example.com"), [a])
      assert.deepStrictEqual(yield* text("OPS v2"), [a])
      assert.deepStrictEqual(yield* text("release notes md"), [b])
      assert.deepStrictEqual(yield* text("2024 06"), [b])
      assert.deepStrictEqual(yield* text("stateoftheart"), ["stateoftheart"])
    }))

  test("SQL LIKE wildcards in a query are not patterns", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      for (const content of ["cat", "c_t", "50% off", "500 items", "100%"]) {
        yield* store.remember({ agentId: "agent-1", content, source: "document" })
      }
      const text = (q: string) => Effect.map(store.recall({ agentId: "agent-1", text: q }), (h) => sorted(contents(h)))
      assert.deepStrictEqual(yield* text("c%t"), ["c_t"], "% separates the words c and t")
      assert.deepStrictEqual(yield* text("c_t"), ["c_t"], "_ separates the words c and t")
      assert.deepStrictEqual(yield* text("50%"), ["50% off"])
      assert.deepStrictEqual(yield* text("10_"), [])
      for (const q of ["%", "_", "%%", "%_%"]) {
        yield* expectInvalidInput(store.recall({ agentId: "agent-1", text: q }), "query.text", `text ${q}`)
      }
    }))

  test("a text query without any word is InvalidInput naming query.text", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      yield* store.remember({ agentId: "agent-1", content: "something", source: "document" })
      for (const q of ["", "   ", "?!-", "...\n\t", "— · —"]) {
        yield* expectInvalidInput(store.recall({ agentId: "agent-1", text: q }), "query.text", JSON.stringify(q))
      }
    }))

  test("text recall ranks clearly more relevant content first; equal relevance is newest first", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const remember = (content: string) => store.remember({ agentId: "agent-1", content, source: "document" })
      yield* TestClock.setTime(1_000)
      const strong = yield* remember("apple apple apple")
      for (const filler of ["banana bread", "cherry pie", "date loaf", "elderberry wine", "fig jam", "grape juice"]) {
        yield* remember(filler)
      }
      yield* TestClock.setTime(2_000)
      const weak = yield* remember(
        "apple " + Array.from({ length: 40 }, (_, i) => `filler${i}`).join(" ")
      )
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", text: "apple" })), [strong, weak])
      const same: Array<string> = []
      for (const t of [3_000, 4_000, 5_000]) {
        yield* TestClock.setTime(t)
        same.push(yield* remember("daily standup notes"))
      }
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", text: "standup" })), [...same].reverse())
    }))

  test("memories without an embedding take part in text recall and newest recall", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const embedded = [
        yield* store.remember({
          agentId: "agent-1",
          content: "shared topic one",
          source: "system",
          embedding: axis(0, D)
        }),
        yield* store.remember({
          agentId: "agent-1",
          content: "shared topic two",
          source: "system",
          embedding: axis(1, D)
        })
      ]
      const bare = [
        yield* store.remember({ agentId: "agent-1", content: "shared topic three", source: "system" }),
        yield* store.remember({ agentId: "agent-1", content: "shared topic four", source: "system" })
      ]
      assert.deepStrictEqual(
        sorted(ids(yield* store.recall({ agentId: "agent-1", text: "shared topic" }))),
        sorted([...embedded, ...bare])
      )
      assert.deepStrictEqual(sorted(ids(yield* store.recall({ agentId: "agent-1" }))), sorted([...embedded, ...bare]))
      assert.deepStrictEqual(
        sorted(ids(yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) }))),
        sorted(embedded)
      )
    }))

  test("text recall honours filters and limit", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const inA = yield* store.rememberMany(Array.from({ length: 6 }, (_, i) => ({
        agentId: "agent-1",
        content: `weekly report ${i}`,
        source: "document" as const,
        scope: "a"
      })))
      yield* store.rememberMany(Array.from({ length: 6 }, (_, i) => ({
        agentId: "agent-1",
        content: `weekly report ${i}`,
        source: "document" as const,
        scope: "b"
      })))
      const hits = yield* store.recall({ agentId: "agent-1", text: "report", scope: "a", limit: 4 })
      assert.strictEqual(hits.length, 4)
      assert.isTrue(hits.every((h) => inA.includes(h.memory.id)))
      assert.strictEqual((yield* store.recall({ agentId: "agent-1", text: "weekly report", limit: 1000 })).length, 12)
    }))

  // ---------------------------------------------------------------- newest and hybrid

  test("without text or embedding: the newest memories matching the filters, score 0", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const byTime: Array<string> = []
      for (const t of [1_000, 2_000, 3_000, 4_000, 5_000]) {
        yield* TestClock.setTime(t)
        // Vectors differ and one is missing: neither matters to newest recall.
        byTime.push(
          yield* store.remember({
            agentId: "agent-1",
            content: `event at ${t}`,
            source: "observation",
            scope: t % 2000 === 0 ? "even" : "odd",
            ...(t === 3_000 ? {} : { embedding: angled(D, t / 10_000) })
          })
        )
      }
      const newest = yield* store.recall({ agentId: "agent-1" })
      assert.deepStrictEqual(ids(newest), [...byTime].reverse())
      assert.isTrue(newest.every((h) => h.score === 0))
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", limit: 2 })), [byTime[4], byTime[3]])
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", scope: "even" })), [byTime[3], byTime[1]])
      assert.deepStrictEqual(yield* store.recall({ agentId: "nobody" }), [])
    }))

  test("hybrid: with text and an embedding, the two rankings are fused", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const mk = (content: string, embedding?: ReadonlyArray<number>): RememberInput => ({
        agentId: "agent-1",
        content,
        source: "document",
        ...(embedding === undefined ? {} : { embedding })
      })
      // Vector ranking: A, B, C. Text ranking for "banana": B (short, thrice), then D (long, once; no vector).
      const a = yield* store.remember(mk("alpha", axis(0, D)))
      const b = yield* store.remember(mk("banana banana banana", angled(D, 0.3)))
      const c = yield* store.remember(mk("cherry", angled(D, 0.6)))
      const d = yield* store.remember(mk(
        "a long note that mentions banana only once among many other words about fruit and the market today",
        undefined
      ))
      const q = { agentId: "agent-1", text: "banana", embedding: axis(0, D) }
      const implicit = yield* store.recall(q)
      const explicit = yield* store.recall({ ...q, mode: "hybrid" })
      // In both rankings B beats everything but A, which it only meets in one ranking.
      assert.deepStrictEqual(ids(implicit), [b, a, d, c])
      assert.deepStrictEqual(ids(explicit), [b, a, d, c])
      for (let i = 1; i < implicit.length; i++) {
        assert.isTrue(implicit[i - 1]!.score >= implicit[i]!.score, "scores descend")
      }
      assert.deepStrictEqual(ids(yield* store.recall({ ...q, limit: 2 })), [b, a])
    }))

  test("an explicit mode must have its input: otherwise InvalidInput; given extra input is ignored", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const near = yield* store.remember({
        agentId: "agent-1",
        content: "zebra",
        source: "system",
        embedding: axis(0, D)
      })
      const far = yield* store.remember({
        agentId: "agent-1",
        content: "yak crossing",
        source: "system",
        embedding: axis(1, D)
      })
      const e = axis(0, D)
      const cases: ReadonlyArray<readonly [RecallQuery, string]> = [
        [{ agentId: "agent-1", text: "zebra", mode: "vector" }, "query.embedding"],
        [{ agentId: "agent-1", mode: "vector" }, "query.embedding"],
        [{ agentId: "agent-1", embedding: e, mode: "text" }, "query.text"],
        [{ agentId: "agent-1", mode: "text" }, "query.text"],
        [{ agentId: "agent-1", text: "zebra", mode: "hybrid" }, "query.embedding"],
        [{ agentId: "agent-1", embedding: e, mode: "hybrid" }, "query.text"]
      ]
      for (const [query, field] of cases) yield* expectInvalidInput(store.recall(query), field, JSON.stringify(query))
      const vectorOnly = yield* store.recall({
        agentId: "agent-1",
        text: "nothing matches this",
        embedding: e,
        mode: "vector"
      })
      assert.deepStrictEqual(ids(vectorOnly), [near, far])
      const textOnly = yield* store.recall({ agentId: "agent-1", text: "yak", embedding: e, mode: "text" })
      assert.deepStrictEqual(ids(textOnly), [far])
    }))

  // ---------------------------------------------------------------- isolation

  test("recall in every mode never crosses agents, including ids that look like prefixes or LIKE patterns", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const agents = ["acme", "acme-corp", "a%", "a_", "Acme", "ab"]
      const own = new Map<string, string>()
      for (const agentId of agents) {
        own.set(
          agentId,
          yield* store.remember({
            agentId,
            content: "shared secret plan",
            source: "conversation",
            embedding: axis(0, D)
          })
        )
      }
      for (const agentId of agents) {
        const queries: ReadonlyArray<RecallQuery> = [
          { agentId },
          { agentId, embedding: axis(0, D) },
          { agentId, text: "secret" },
          { agentId, text: "secret", embedding: axis(0, D) }
        ]
        for (const q of queries) {
          const hits = yield* store.recall(q)
          assert.deepStrictEqual(ids(hits), [own.get(agentId)], `${agentId}: ${JSON.stringify(q)}`)
          assert.isTrue(hits.every((h) => h.memory.agentId === agentId))
        }
      }
    }))

  test("get, forget, updateEmbedding and count never cross agents", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const agents = ["acme", "acme-corp", "a%", "a_", "ab"]
      const own = new Map<string, string>()
      for (const agentId of agents) {
        own.set(
          agentId,
          yield* store.remember({ agentId, content: `memory of ${agentId}`, source: "system", embedding: axis(0, D) })
        )
      }
      for (const agentId of agents) {
        assert.strictEqual(yield* store.count(agentId), 1, `count ${agentId}`)
        for (const other of agents) {
          if (other === agentId) continue
          assert.isTrue(yield* isNone(store, agentId, own.get(other)!), `${agentId} must not see ${other}`)
          assert.isFalse(yield* store.forget(agentId, own.get(other)!), `${agentId} must not forget ${other}`)
          const error = yield* failureOf(store.updateEmbedding(agentId, own.get(other)!, axis(1, D)), "updateEmbedding")
          assert.strictEqual(error._tag, "MemoryNotFound", `${agentId} must not update ${other}`)
        }
      }
      for (const agentId of agents) {
        const m = yield* getOrFail(store, agentId, own.get(agentId)!)
        assert.strictEqual(m.content, `memory of ${agentId}`)
        assert.deepStrictEqual(m.embedding, axis(0, D), "no other agent changed the vector")
        assert.strictEqual(yield* store.count(agentId), 1)
      }
      assert.strictEqual(yield* store.count("a"), 0)
      assert.strictEqual(yield* store.count("acme-"), 0)
    }))

  // ---------------------------------------------------------------- access counters

  test("recall returns memories accessed now with one more access; get sees it; others are unchanged", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      yield* TestClock.setTime(1_000)
      const [a, b, c] = yield* store.rememberMany([
        { agentId: "agent-1", content: "a", source: "system", embedding: axis(0, D) },
        { agentId: "agent-1", content: "b", source: "system", embedding: angled(D, 0.2) },
        { agentId: "agent-1", content: "c", source: "system", embedding: axis(2, D) }
      ])
      yield* TestClock.setTime(5_000)
      const first = yield* store.recall({ agentId: "agent-1", embedding: axis(0, D), limit: 2 })
      assert.deepStrictEqual(ids(first), [a!, b!])
      for (const h of first) {
        assert.strictEqual(h.memory.accessedAt, 5_000)
        assert.strictEqual(h.memory.accessCount, 1)
        assert.strictEqual(h.memory.createdAt, 1_000)
        assert.deepStrictEqual(plain(yield* getOrFail(store, "agent-1", h.memory.id)), plain(h.memory))
      }
      const untouched = yield* getOrFail(store, "agent-1", c!)
      assert.strictEqual(untouched.accessedAt, 1_000)
      assert.strictEqual(untouched.accessCount, 0)
      yield* TestClock.setTime(9_000)
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", embedding: axis(0, D), limit: 1 })), [a!])
      const again = yield* getOrFail(store, "agent-1", a!)
      assert.strictEqual(again.accessCount, 2)
      assert.strictEqual(again.accessedAt, 9_000)
      const bNow = yield* getOrFail(store, "agent-1", b!)
      assert.strictEqual(bNow.accessCount, 1)
      assert.strictEqual(bNow.accessedAt, 5_000)
    }))

  test("every recall mode updates the access counters of what it returns", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const id = yield* store.remember({
        agentId: "agent-1",
        content: "counted memory",
        source: "system",
        embedding: axis(0, D)
      })
      yield* TestClock.setTime(1)
      const bare = yield* store.remember({ agentId: "agent-1", content: "unrelated words", source: "system" })
      const queries: ReadonlyArray<RecallQuery> = [
        { agentId: "agent-1", text: "counted" },
        { agentId: "agent-1", text: "counted", embedding: axis(0, D) },
        { agentId: "agent-1", embedding: axis(0, D) },
        { agentId: "agent-1", limit: 1, before: 1 }
      ]
      for (const [i, q] of queries.entries()) {
        yield* TestClock.setTime(10_000 * (i + 1))
        const hits = yield* store.recall(q)
        assert.deepStrictEqual(ids(hits), [id], JSON.stringify(q))
        assert.strictEqual(hits[0]!.memory.accessCount, i + 1)
        assert.strictEqual(hits[0]!.memory.accessedAt, 10_000 * (i + 1))
      }
      const after = yield* getOrFail(store, "agent-1", id)
      assert.strictEqual(after.accessCount, queries.length)
      const other = yield* getOrFail(store, "agent-1", bare)
      assert.strictEqual(other.accessCount, 0, "a memory that was never returned keeps its counters")
    }))

  test("recallAgents answers each agent exactly as recall does, in the order asked, and counts the accesses", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      for (const [a, agentId] of ["agent-1", "agent-2", "agent-3"].entries()) {
        for (let k = 0; k < 4; k++) {
          yield* TestClock.setTime(100 * a + k)
          yield* store.remember({
            agentId,
            content: `shared topic ${agentId} ${k}`,
            source: "system",
            embedding: angled(D, 0.1 * k + 0.03 * a)
          })
        }
      }
      const agents = ["agent-3", "nobody", "agent-1", "agent-2"]
      const queries: ReadonlyArray<Omit<RecallQuery, "agentId">> = [
        { embedding: axis(0, D), limit: 3 },
        { text: "shared topic", limit: 2 },
        { text: "topic", embedding: angled(D, 0.2) },
        { limit: 2, scope: "episodic" }
      ]
      for (const [i, q] of queries.entries()) {
        yield* TestClock.setTime(10_000 * (i + 1))
        const grouped = yield* store.recallAgents(agents, q)
        assert.strictEqual(grouped.length, agents.length, JSON.stringify(q))
        for (const [g, agentId] of agents.entries()) {
          const one = yield* store.recall({ ...q, agentId })
          const label = `${agentId} ${JSON.stringify(q)}`
          assert.deepStrictEqual(ids(grouped[g]!), ids(one), label)
          for (const [j, hit] of one.entries()) {
            const seen = grouped[g]![j]!
            assert.closeTo(seen.score, hit.score, TOL, label)
            assert.strictEqual(seen.memory.agentId, agentId, label)
            assert.strictEqual(hit.memory.accessCount, seen.memory.accessCount + 1, `${label}: both calls counted`)
            assert.strictEqual(seen.memory.accessedAt, 10_000 * (i + 1), label)
          }
        }
      }
      assert.deepStrictEqual(yield* store.recallAgents([], { text: "topic" }), [])
      yield* expectInvalidInput(store.recallAgents(["agent-1", ""], { text: "topic" }), "agentIds.1")
      yield* expectInvalidInput(store.recallAgents(["agent-1"], { text: "topic", limit: 0 }), "query.limit")
    }))

  // ---------------------------------------------------------------- forget

  test("forget removes a memory from every later read; a second forget is false", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const gone = yield* store.remember({
        agentId: "agent-1",
        content: "forget me",
        source: "system",
        embedding: axis(0, D)
      })
      const kept = yield* store.remember({
        agentId: "agent-1",
        content: "keep me",
        source: "system",
        embedding: angled(D, 0.4)
      })
      assert.isTrue(yield* store.forget("agent-1", gone))
      assert.isTrue(yield* isNone(store, "agent-1", gone))
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1" })), [kept])
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) })), [kept])
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", text: "me" })), [kept])
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", text: "me", embedding: axis(0, D) })), [
        kept
      ])
      assert.deepStrictEqual(yield* store.recall({ agentId: "agent-1", text: "forget" }), [])
      assert.strictEqual(yield* store.count("agent-1"), 1)
      assert.isFalse(yield* store.forget("agent-1", gone))
      assert.isFalse(yield* store.forget("agent-1", ABSENT_ID))
      const error = yield* failureOf(store.updateEmbedding("agent-1", gone, axis(1, D)), "update forgotten")
      assert.strictEqual(error._tag, "MemoryNotFound")
    }))

  // ---------------------------------------------------------------- updateEmbedding

  test("updateEmbedding replaces the vector, keeps content, metadata, counters and times, and changes ranking", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      yield* TestClock.setTime(1_000)
      const m = yield* store.remember({
        agentId: "agent-1",
        content: "moving target",
        source: "inference",
        scope: "plans",
        metadata: { stage: 2, tags: ["x"] },
        embedding: axis(1, D)
      })
      const other = yield* store.remember({
        agentId: "agent-1",
        content: "steady",
        source: "system",
        embedding: angled(D, 0.3)
      })
      yield* TestClock.setTime(2_000)
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) })), [other, m])
      yield* TestClock.setTime(3_000)
      const before = yield* getOrFail(store, "agent-1", m)
      const next = vec(D, 0.7, 0.01, 0.003)
      yield* store.updateEmbedding("agent-1", m, next)
      const after = yield* getOrFail(store, "agent-1", m)
      assert.deepStrictEqual(plain(after), { ...plain(before), embedding: next.map(Math.fround) })
      assert.strictEqual(after.accessCount, 1)
      assert.strictEqual(after.accessedAt, 2_000, "an update is not an access")
      yield* TestClock.setTime(4_000)
      const hits = yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) })
      assert.deepStrictEqual(ids(hits), [m, other])
      assert.closeTo(hits[0]!.score, 0.7 / Math.hypot(0.7, 0.01, 0.003), TOL)
    }))

  test("updateEmbedding gives a vector to a memory stored without one", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const m = yield* store.remember({ agentId: "agent-1", content: "late vector", source: "document" })
      assert.deepStrictEqual(yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) }), [])
      yield* store.updateEmbedding("agent-1", m, axis(0, D))
      assert.deepStrictEqual((yield* getOrFail(store, "agent-1", m)).embedding, axis(0, D))
      const hits = yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) })
      assert.deepStrictEqual(ids(hits), [m])
      assert.closeTo(hits[0]!.score, 1, TOL)
      assert.deepStrictEqual(ids(yield* store.recall({ agentId: "agent-1", text: "late" })), [m])
    }))

  test("updateEmbedding of a missing memory or another agent's memory is MemoryNotFound", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const m = yield* store.remember({ agentId: "agent-1", content: "owned", source: "system", embedding: axis(0, D) })
      const missing = yield* failureOf(store.updateEmbedding("agent-1", ABSENT_ID, axis(1, D)), "missing")
      assert.deepStrictEqual(
        missing._tag === "MemoryNotFound" ? { agentId: missing.agentId, memoryId: missing.memoryId } : missing._tag,
        { agentId: "agent-1", memoryId: ABSENT_ID }
      )
      const foreign = yield* failureOf(store.updateEmbedding("agent-2", m, axis(1, D)), "foreign")
      assert.deepStrictEqual(
        foreign._tag === "MemoryNotFound" ? { agentId: foreign.agentId, memoryId: foreign.memoryId } : foreign._tag,
        { agentId: "agent-2", memoryId: m }
      )
      assert.deepStrictEqual((yield* getOrFail(store, "agent-1", m)).embedding, axis(0, D))
    }))

  // ---------------------------------------------------------------- count

  test("count counts one agent's memories under a filter", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      yield* TestClock.setTime(1_000)
      yield* store.rememberMany([
        { agentId: "agent-1", content: "a", source: "document", scope: "s1", metadata: { k: 1 } },
        { agentId: "agent-1", content: "b", source: "document", scope: "s2", metadata: { k: 2 } },
        { agentId: "agent-1", content: "c", source: "system", scope: "s1" },
        { agentId: "agent-2", content: "d", source: "document", scope: "s1", metadata: { k: 1 } }
      ])
      yield* TestClock.setTime(2_000)
      yield* store.remember({ agentId: "agent-1", content: "e", source: "document", scope: "s1", metadata: { k: 1 } })
      assert.strictEqual(yield* store.count("agent-1"), 4)
      assert.strictEqual(yield* store.count("agent-1", {}), 4)
      assert.strictEqual(yield* store.count("agent-1", { scope: "s1" }), 3)
      assert.strictEqual(yield* store.count("agent-1", { source: "document" }), 3)
      assert.strictEqual(yield* store.count("agent-1", { metadata: { k: 1 } }), 2)
      assert.strictEqual(yield* store.count("agent-1", { scope: "s1", source: "document", metadata: { k: 1 } }), 2)
      assert.strictEqual(yield* store.count("agent-1", { after: 1_000 }), 1)
      assert.strictEqual(yield* store.count("agent-1", { before: 2_000 }), 3)
      assert.strictEqual(yield* store.count("agent-1", { minConfidence: 1 }), 4)
      assert.strictEqual(yield* store.count("agent-2"), 1)
      assert.strictEqual(yield* store.count("agent-3"), 0)
    }))

  // ---------------------------------------------------------------- invalid input

  test("invalid vectors are InvalidEmbedding everywhere a vector is accepted, and change nothing", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const existing = yield* store.remember({
        agentId: "agent-1",
        content: "stable",
        source: "system",
        embedding: axis(0, D)
      })
      const bad: ReadonlyArray<readonly [string, ReadonlyArray<number>]> = [
        ["NaN", vec(D, 1, Number.NaN)],
        ["Infinity", vec(D, Number.POSITIVE_INFINITY)],
        ["-Infinity", vec(D, 1, 0, Number.NEGATIVE_INFINITY)],
        ["beyond float32", vec(D, 1e39)],
        ["one too many", axis(0, D + 1)],
        ["one too few", axis(0, D - 1)],
        ["empty", []],
        ["zero vector", vec(D)]
      ]
      for (const [what, embedding] of bad) {
        yield* expectInvalidEmbedding(
          store.remember({ agentId: "agent-1", content: "x", source: "system", embedding }),
          `remember ${what}`
        )
        yield* expectInvalidEmbedding(
          store.rememberMany([
            { agentId: "agent-1", content: "ok", source: "system" },
            { agentId: "agent-1", content: "x", source: "system", embedding }
          ]),
          `rememberMany ${what}`
        )
        yield* expectInvalidEmbedding(store.recall({ agentId: "agent-1", embedding }), `recall ${what}`)
        yield* expectInvalidEmbedding(store.recall({ agentId: "agent-1", embedding, text: "stable" }), `hybrid ${what}`)
        yield* expectInvalidEmbedding(store.updateEmbedding("agent-1", existing, embedding), `updateEmbedding ${what}`)
      }
      const wrong = yield* expectInvalidEmbedding(
        store.remember({ agentId: "agent-1", content: "x", source: "system", embedding: axis(0, D + 1) }),
        "dims"
      )
      assert.deepStrictEqual(
        wrong._tag === "InvalidEmbedding" ? [wrong.expectedDimensions, wrong.actualDimensions] : [],
        [D, D + 1]
      )
      assert.strictEqual(yield* store.count("agent-1"), 1)
      const m = yield* getOrFail(store, "agent-1", existing)
      assert.deepStrictEqual(m.embedding, axis(0, D))
      assert.strictEqual(m.accessCount, 0, "failed recalls touch nothing")
    }))

  test("invalid text, ids and fields are InvalidInput naming the field, and store nothing", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const D = store.embeddingSpace.dimensions
      const ok = { agentId: "agent-1", content: "fine", source: "system" } as const
      const cases: ReadonlyArray<readonly [Effect.Effect<unknown, Failure>, string]> = [
        [store.remember({ ...ok, agentId: "" }), "input.agentId"],
        [store.remember({ ...ok, agentId: "a".repeat(257) }), "input.agentId"],
        [store.remember({ ...ok, agentId: "agent\u0001" }), "input.agentId"],
        [store.remember({ ...ok, content: "" }), "input.content"],
        [store.remember({ ...ok, content: "nul \u0000 inside" }), "input.content"],
        [store.remember({ ...ok, content: "lone \ud800 high surrogate" }), "input.content"],
        [store.remember({ ...ok, content: "\udc00 lone low surrogate" }), "input.content"],
        [store.remember({ ...ok, source: "chat" as MemorySource }), "input.source"],
        [store.remember({ ...ok, scope: "" }), "input.scope"],
        [store.remember({ ...ok, scope: "bad\u0000scope" }), "input.scope"],
        [store.remember({ ...ok, metadata: { x: Number.NaN } }), "input.metadata"],
        [store.remember({ ...ok, metadata: { s: "nul\u0000" } }), "input.metadata"],
        [store.remember({ ...ok, metadata: ["not", "an", "object"] as unknown as JsonObject }), "input.metadata"],
        [store.remember({ ...ok, id: "not-a-uuid" }), "input.id"],
        [store.rememberMany([ok, { ...ok, content: "\ud800" }]), "inputs[1].content"],
        [store.recall({ agentId: "" }), "query.agentId"],
        [store.recall({ agentId: "agent-1", text: "nul \u0000" }), "query.text"],
        [store.recall({ agentId: "agent-1", text: "lone \ud800" }), "query.text"],
        [store.recall({ agentId: "agent-1", minConfidence: 1.5 }), "query.minConfidence"],
        [store.recall({ agentId: "agent-1", minConfidence: -0.1 }), "query.minConfidence"],
        [store.recall({ agentId: "agent-1", after: -1 }), "query.after"],
        [store.recall({ agentId: "agent-1", before: 1.5 }), "query.before"],
        [store.recall({ agentId: "agent-1", scope: "" }), "query.scope"],
        [store.recall({ agentId: "agent-1", source: "chat" as MemorySource }), "query.source"],
        [store.recall({ agentId: "agent-1", mode: "semantic" as RecallMode }), "query.mode"],
        [store.recall({ agentId: "agent-1", metadata: [] as unknown as JsonObject }), "query.metadata"],
        [store.get("", ABSENT_ID), "agentId"],
        [store.get("agent-1", "not-a-uuid"), "id"],
        [store.forget("", ABSENT_ID), "agentId"],
        [store.forget("agent-1", ""), "id"],
        [store.updateEmbedding("", ABSENT_ID, axis(0, D)), "agentId"],
        [store.updateEmbedding("agent-1", "nope", axis(0, D)), "id"],
        [store.count(""), "agentId"],
        [store.count("agent-1", { minConfidence: 2 }), "filter.minConfidence"],
        [store.count("agent-1", { scope: "" }), "filter.scope"],
        [store.count("agent-1", { after: 0.5 }), "filter.after"]
      ]
      for (const [effect, field] of cases) yield* expectInvalidInput(effect, field)
      assert.strictEqual(yield* store.count("agent-1"), 0)
      assert.deepStrictEqual(yield* store.recall({ agentId: "agent-1" }), [])
    }))
})
