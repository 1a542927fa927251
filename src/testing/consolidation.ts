/**
 * Consolidation conformance (the contract is the JSDoc of src/services/Consolidation.ts): decay of
 * stale memories and merge of near-duplicates, observed only through SemanticStore reads.
 *
 * Decay and merge are exercised in separate runs wherever both could touch the same memory, so the
 * suite does not depend on the order in which a backend applies them within one run. Confidence
 * values are compared with a tolerance (a store may keep them in float32).
 */
import { assert } from "@effect/vitest"
import { Clock, Effect, Either, Option, TestClock } from "effect"
import type { ConsolidationOptions } from "../domain/memory.js"
import { Consolidation } from "../services/Consolidation.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { angled, axis, conformance, sorted, vec } from "./harness.js"

type Store = SemanticStore["Type"]

const TOL = 1e-5
const HOUR = 3_600_000
const DAY = 86_400_000
/** Options that never decay anything, for runs that test merging alone. */
const NO_DECAY = { staleAfterMs: 10_000 * DAY } as const
/** Options that never merge distinct vectors, for runs that test decay alone. */
const NO_MERGE = { mergeThreshold: 1 } as const

const getOrFail = (store: Store, agentId: string, id: string) =>
  Effect.flatMap(store.get(agentId, id), (o) =>
    Option.match(o, {
      onNone: () => Effect.sync(() => assert.fail(`memory ${id} of ${agentId} should exist`)),
      onSome: (m) => Effect.succeed(m)
    }))

const confidenceOf = (store: Store, agentId: string, id: string) =>
  Effect.map(getOrFail(store, agentId, id), (m) => m.confidence)

const remember = (
  store: Store,
  content: string,
  embedding?: ReadonlyArray<number>,
  agentId = "agent-1",
  scope?: string
) =>
  store.remember({
    agentId,
    content,
    source: "observation",
    ...(embedding === undefined ? {} : { embedding }),
    ...(scope === undefined ? {} : { scope })
  })

export const consolidationSuite = conformance<SemanticStore | Consolidation>("Consolidation", (test) => {
  test("an empty store: nothing decayed, nothing merged, a finite duration", () =>
    Effect.gen(function*() {
      const report = yield* (yield* Consolidation).consolidate()
      assert.strictEqual(report.decayed, 0)
      assert.strictEqual(report.merged, 0)
      assert.isTrue(Number.isFinite(report.durationMs) && report.durationMs >= 0)
    }))

  test("durationMs is measured with the Effect Clock (a clock that steps 1.5 s per reading gives 1500)", () =>
    Effect.gen(function*() {
      const base = yield* Effect.clock
      let nanos = base.unsafeCurrentTimeNanos()
      const stepping: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis(),
        currentTimeMillis: base.currentTimeMillis,
        unsafeCurrentTimeNanos: () => (nanos += 1_500_000_000n),
        currentTimeNanos: Effect.sync(() => (nanos += 1_500_000_000n)),
        sleep: (d) => base.sleep(d)
      }
      const report = yield* Effect.withClock((yield* Consolidation).consolidate(), stepping)
      assert.strictEqual(report.durationMs, 1500)
    }))

  test("defaults: memories not accessed for 7 days lose 10% confidence; recent ones are untouched", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const old = yield* remember(store, "old", axis(0, D))
      yield* TestClock.setTime(3 * DAY)
      const recent = yield* remember(store, "recent", axis(1, D))
      yield* TestClock.setTime(8 * DAY)
      const report = yield* consolidation.consolidate()
      assert.strictEqual(report.decayed, 1)
      assert.strictEqual(report.merged, 0)
      const m = yield* getOrFail(store, "agent-1", old)
      assert.closeTo(m.confidence, 0.9, TOL)
      assert.strictEqual(m.accessedAt, 0, "decay is not an access")
      assert.strictEqual(m.accessCount, 0)
      assert.strictEqual(m.content, "old")
      assert.strictEqual(yield* confidenceOf(store, "agent-1", recent), 1)
    }))

  test("staleAfterMs and decayRate are honoured, and decay compounds over runs", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const stale = yield* remember(store, "stale", axis(0, D))
      yield* TestClock.setTime(30 * 60_000)
      const fresh = yield* remember(store, "fresh", axis(1, D))
      yield* TestClock.setTime(HOUR + 60_000)
      const options = { decayRate: 0.5, staleAfterMs: HOUR, ...NO_MERGE }
      assert.strictEqual((yield* consolidation.consolidate(options)).decayed, 1)
      assert.closeTo(yield* confidenceOf(store, "agent-1", stale), 0.5, TOL)
      assert.strictEqual(yield* confidenceOf(store, "agent-1", fresh), 1)
      assert.strictEqual((yield* consolidation.consolidate(options)).decayed, 1)
      assert.closeTo(yield* confidenceOf(store, "agent-1", stale), 0.25, TOL)
      assert.strictEqual(yield* confidenceOf(store, "agent-1", fresh), 1)
    }))

  test("confidence never drops below the floor, and a memory at the floor is not counted again", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const a = yield* remember(store, "a", axis(0, D))
      const b = yield* remember(store, "b", axis(1, D))
      yield* TestClock.setTime(30 * DAY)
      // 1 → 0.5 → 0.25 (= floor), then no further change; later c reaches a floor of 0.3 by clamping.
      const runA = { decayRate: 0.5, floor: 0.25, ...NO_MERGE }
      assert.strictEqual((yield* consolidation.consolidate(runA)).decayed, 2)
      assert.strictEqual((yield* consolidation.consolidate(runA)).decayed, 2)
      assert.closeTo(yield* confidenceOf(store, "agent-1", a), 0.25, TOL)
      assert.closeTo(yield* confidenceOf(store, "agent-1", b), 0.25, TOL)
      assert.strictEqual((yield* consolidation.consolidate(runA)).decayed, 0, "both are at the floor")
      assert.closeTo(yield* confidenceOf(store, "agent-1", a), 0.25, TOL)
      const c = yield* remember(store, "c", axis(2, D))
      yield* TestClock.setTime(60 * DAY)
      const runC = { decayRate: 0.5, floor: 0.3, ...NO_MERGE }
      yield* consolidation.consolidate(runC)
      assert.closeTo(yield* confidenceOf(store, "agent-1", c), 0.5, TOL)
      yield* consolidation.consolidate(runC)
      assert.closeTo(yield* confidenceOf(store, "agent-1", c), 0.3, TOL, "max(floor, 0.25) = 0.3")
    }))

  test("a recall resets staleness: recalled memories are not decayed", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const recalled = yield* remember(store, "remember the milk", axis(0, D))
      const ignored = yield* remember(store, "ignored note", axis(1, D))
      yield* TestClock.setTime(6 * DAY)
      const hits = yield* store.recall({ agentId: "agent-1", text: "milk" })
      assert.deepStrictEqual(hits.map((h) => h.memory.id), [recalled])
      yield* TestClock.setTime(8 * DAY)
      const report = yield* consolidation.consolidate()
      assert.strictEqual(report.decayed, 1)
      assert.strictEqual(yield* confidenceOf(store, "agent-1", recalled), 1)
      assert.closeTo(yield* confidenceOf(store, "agent-1", ignored), 0.9, TOL)
      yield* TestClock.setTime(14 * DAY)
      assert.strictEqual((yield* consolidation.consolidate()).decayed, 2, "both are stale again")
    }))

  test("decay covers every agent and scope, and minConfidence sees the decayed values", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const staleIds = [
        yield* remember(store, "one", axis(0, D), "acme"),
        yield* remember(store, "two", axis(1, D), "acme-corp", "facts"),
        yield* remember(store, "three", undefined, "a%")
      ]
      yield* TestClock.setTime(10 * DAY)
      const fresh = yield* remember(store, "four", axis(2, D), "acme")
      assert.strictEqual((yield* consolidation.consolidate({ decayRate: 0.5 })).decayed, 3)
      assert.closeTo(yield* confidenceOf(store, "acme", staleIds[0]!), 0.5, TOL)
      assert.closeTo(yield* confidenceOf(store, "acme-corp", staleIds[1]!), 0.5, TOL)
      assert.closeTo(yield* confidenceOf(store, "a%", staleIds[2]!), 0.5, TOL)
      assert.strictEqual(yield* store.count("acme", { minConfidence: 0.75 }), 1)
      assert.strictEqual(yield* store.count("acme", { minConfidence: 0.5 }), 2, "minConfidence is inclusive")
      const strict = yield* store.recall({ agentId: "acme", minConfidence: 0.75 })
      assert.deepStrictEqual(strict.map((h) => h.memory.id), [fresh])
      const loose = yield* store.recall({ agentId: "acme", embedding: axis(0, D), minConfidence: 0.4 })
      assert.deepStrictEqual(loose.map((h) => h.memory.id), [staleIds[0], fresh])
    }))

  test("invalid options are InvalidInput naming the option, and change nothing", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const stale = yield* remember(store, "stale", axis(0, D))
      const twin = yield* remember(store, "twin", axis(0, D))
      yield* TestClock.setTime(30 * DAY)
      const cases: ReadonlyArray<readonly [ConsolidationOptions, string]> = [
        [{ decayRate: 0 }, "options.decayRate"],
        [{ decayRate: 1 }, "options.decayRate"],
        [{ decayRate: -0.1 }, "options.decayRate"],
        [{ decayRate: 1.5 }, "options.decayRate"],
        [{ decayRate: Number.NaN }, "options.decayRate"],
        [{ floor: -0.1 }, "options.floor"],
        [{ floor: 1.5 }, "options.floor"],
        [{ staleAfterMs: -1 }, "options.staleAfterMs"],
        [{ staleAfterMs: 1.5 }, "options.staleAfterMs"],
        [{ mergeThreshold: 1.01 }, "options.mergeThreshold"]
      ]
      for (const [options, field] of cases) {
        const result = yield* Effect.either(consolidation.consolidate(options))
        assert.isTrue(Either.isLeft(result), `${JSON.stringify(options)} must fail`)
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, "InvalidInput", JSON.stringify(options))
          assert.strictEqual(result.left._tag === "InvalidInput" ? result.left.field : "", field)
        }
      }
      assert.strictEqual(yield* confidenceOf(store, "agent-1", stale), 1)
      assert.strictEqual(yield* store.count("agent-1"), 2, "no merge happened")
      assert.isTrue(Option.isSome(yield* store.get("agent-1", twin)))
    }))

  test("near-duplicates merge into the oldest: access counts summed, the others forgotten", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      yield* TestClock.setTime(1_000)
      const oldest = yield* remember(store, "the cafeteria closes at five", axis(0, D))
      yield* TestClock.setTime(2_000)
      const dup = yield* remember(store, "cafeteria shuts at 5pm", angled(D, 0.1)) // cosine 0.995
      yield* TestClock.setTime(3_000)
      const distinct = yield* remember(store, "parking is free", axis(2, D))
      yield* TestClock.setTime(4_000)
      // Access counts: oldest 1, dup 2, distinct 0.
      for (const [query, n] of [[axis(0, D), 1], [angled(D, 0.1), 2]] as const) {
        for (let i = 0; i < n; i++) yield* store.recall({ agentId: "agent-1", embedding: query, limit: 1 })
      }
      assert.strictEqual((yield* getOrFail(store, "agent-1", dup)).accessCount, 2)
      const report = yield* consolidation.consolidate(NO_DECAY)
      assert.strictEqual(report.merged, 1)
      assert.strictEqual(report.decayed, 0)
      const kept = yield* getOrFail(store, "agent-1", oldest)
      assert.strictEqual(kept.content, "the cafeteria closes at five")
      assert.strictEqual(kept.createdAt, 1_000)
      assert.deepStrictEqual(kept.embedding, axis(0, D))
      assert.strictEqual(kept.accessCount, 3)
      assert.strictEqual((yield* getOrFail(store, "agent-1", distinct)).accessCount, 0)
      assert.isTrue(Option.isNone(yield* store.get("agent-1", dup)))
      assert.strictEqual(yield* store.count("agent-1"), 2)
      const hits = yield* store.recall({ agentId: "agent-1", embedding: angled(D, 0.1) })
      assert.deepStrictEqual(hits.map((h) => h.memory.id), [oldest, distinct])
      assert.deepStrictEqual((yield* store.recall({ agentId: "agent-1", text: "cafeteria" })).map((h) => h.memory.id), [
        oldest
      ])
      assert.isFalse(yield* store.forget("agent-1", dup))
      const error = yield* Effect.flip(store.updateEmbedding("agent-1", dup, axis(1, D)))
      assert.strictEqual(error._tag, "MemoryNotFound")
    }))

  test("the merged memory keeps the highest confidence of its group", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const oldest = yield* remember(store, "old but decayed", axis(0, D))
      yield* TestClock.setTime(5 * DAY)
      const newer = yield* remember(store, "newer and confident", angled(D, 0.1))
      yield* TestClock.setTime(7 * DAY + HOUR)
      const decayOnly = yield* consolidation.consolidate({ ...NO_MERGE, decayRate: 0.5 })
      assert.deepStrictEqual([decayOnly.decayed, decayOnly.merged], [1, 0])
      assert.closeTo(yield* confidenceOf(store, "agent-1", oldest), 0.5, TOL)
      const mergeOnly = yield* consolidation.consolidate(NO_DECAY)
      assert.deepStrictEqual([mergeOnly.decayed, mergeOnly.merged], [0, 1])
      const kept = yield* getOrFail(store, "agent-1", oldest)
      assert.strictEqual(kept.content, "old but decayed")
      assert.closeTo(kept.confidence, 1, TOL)
      assert.isTrue(Option.isNone(yield* store.get("agent-1", newer)))
    }))

  test("merging never crosses agents or scopes", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const same = axis(0, D)
      const placed: ReadonlyArray<readonly [string, string]> = [
        ["acme", "episodic"],
        ["acme-corp", "episodic"],
        ["a%", "episodic"],
        ["a_", "episodic"],
        ["acme", "semantic"],
        ["acme", "Episodic"]
      ]
      const idOf = new Map<string, string>()
      for (const [agentId, scope] of placed) {
        idOf.set(`${agentId}/${scope}`, yield* remember(store, `fact for ${agentId}/${scope}`, same, agentId, scope))
      }
      assert.strictEqual((yield* consolidation.consolidate(NO_DECAY)).merged, 0)
      for (const [agentId, scope] of placed) {
        assert.isTrue(
          Option.isSome(yield* store.get(agentId, idOf.get(`${agentId}/${scope}`)!)),
          `${agentId}/${scope} kept`
        )
      }
      yield* TestClock.setTime(1_000)
      const twin = yield* remember(store, "twin in acme/episodic", same, "acme", "episodic")
      assert.strictEqual((yield* consolidation.consolidate(NO_DECAY)).merged, 1)
      assert.isTrue(Option.isNone(yield* store.get("acme", twin)))
      assert.strictEqual(yield* store.count("acme"), 3)
      for (const agentId of ["acme-corp", "a%", "a_"]) assert.strictEqual(yield* store.count(agentId), 1)
    }))

  test("memories without an embedding are never merged", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const bare = [
        yield* remember(store, "identical words"),
        yield* remember(store, "identical words"),
        yield* remember(store, "identical words")
      ]
      const embedded = yield* remember(store, "identical words", axis(0, D))
      const report = yield* consolidation.consolidate({ ...NO_DECAY, mergeThreshold: 0 })
      assert.strictEqual(report.merged, 0)
      assert.strictEqual(yield* store.count("agent-1"), 4)
      for (const id of [...bare, embedded]) assert.isTrue(Option.isSome(yield* store.get("agent-1", id)))
    }))

  test("mergeThreshold is a cosine bound: magnitude is irrelevant, less similar pairs stay apart", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      // Same direction, very different lengths: cosine ≈ 1, Euclidean distance ≈ 99.
      const small = yield* remember(store, "small", vec(D, 1), "agent-1", "magnitude")
      const large = yield* remember(store, "large", vec(D, 100, 1), "agent-1", "magnitude")
      // cosine 0.955 (merges at 0.9) and 0.878 (does not).
      const close = [
        yield* remember(store, "close a", axis(0, D), "agent-1", "close"),
        yield* remember(store, "close b", angled(D, 0.3), "agent-1", "close")
      ]
      const apart = [
        yield* remember(store, "apart a", axis(0, D), "agent-1", "apart"),
        yield* remember(store, "apart b", angled(D, 0.5), "agent-1", "apart")
      ]
      const report = yield* consolidation.consolidate({ ...NO_DECAY, mergeThreshold: 0.9 })
      assert.strictEqual(report.merged, 2)
      assert.isTrue(Option.isSome(yield* store.get("agent-1", small)))
      assert.isTrue(Option.isNone(yield* store.get("agent-1", large)))
      assert.isTrue(Option.isSome(yield* store.get("agent-1", close[0]!)))
      assert.isTrue(Option.isNone(yield* store.get("agent-1", close[1]!)))
      for (const id of apart) assert.isTrue(Option.isSome(yield* store.get("agent-1", id)))
      assert.strictEqual((yield* consolidation.consolidate({ ...NO_DECAY, mergeThreshold: 0.9 })).merged, 0)
    }))

  test("a group of near-duplicates collapses into its oldest member with every access counted", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      const group: Array<string> = []
      for (const [i, angle] of [0.03, 0, 0.06].entries()) {
        yield* TestClock.setTime(1_000 * (i + 1))
        group.push(yield* remember(store, `variant ${i}`, angled(D, angle)))
      }
      yield* TestClock.setTime(10_000)
      // Every recall returns all three: 3 accesses each.
      for (let i = 0; i < 3; i++) yield* store.recall({ agentId: "agent-1", embedding: axis(0, D) })
      const report = yield* consolidation.consolidate(NO_DECAY)
      assert.strictEqual(report.merged, 2)
      const kept = yield* getOrFail(store, "agent-1", group[0]!)
      assert.strictEqual(kept.content, "variant 0")
      assert.strictEqual(kept.accessCount, 9)
      assert.deepStrictEqual(
        sorted((yield* store.recall({ agentId: "agent-1", limit: 100 })).map((h) => h.memory.id)),
        [group[0]!]
      )
    }))

  test("the report counts exactly what was decayed and merged in a mixed run", () =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      const consolidation = yield* Consolidation
      const D = store.embeddingSpace.dimensions
      // Three stale, mutually dissimilar memories.
      for (const e of [axis(2, D), axis(3, D), vec(D, -1)]) yield* remember(store, "stale", e)
      yield* TestClock.setTime(8 * DAY)
      // Fresh groups in their own scopes: two pairs and one triple (1 + 1 + 2 merges).
      for (const [scope, angles] of [["p1", [0, 0.05]], ["p2", [0, 0.05]], ["p3", [0, 0.03, 0.06]]] as const) {
        for (const a of angles) yield* remember(store, `fresh ${scope}`, angled(D, a), "agent-1", scope)
      }
      const report = yield* consolidation.consolidate()
      assert.strictEqual(report.decayed, 3)
      assert.strictEqual(report.merged, 4)
      assert.isTrue(Number.isFinite(report.durationMs) && report.durationMs >= 0)
      assert.strictEqual(yield* store.count("agent-1"), 6)
      const again = yield* consolidation.consolidate()
      assert.strictEqual(again.decayed, 3, "still stale, still above the floor")
      assert.strictEqual(again.merged, 0, "nothing left to merge")
    }))
})
