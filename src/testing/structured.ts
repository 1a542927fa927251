/** StructuredStore conformance (the contract is the JSDoc of src/services/StructuredStore.ts). */
import { assert } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import type { AgentId } from "../domain/ids.js"
import type { Json } from "../domain/json.js"
import type { AgentRecord } from "../domain/structured.js"
import { StructuredStore } from "../services/StructuredStore.js"
import { conformance, expectInvalidInputs } from "./harness.js"

const keysOf = (
  store: StructuredStore["Type"],
  agent: string,
  options?: Parameters<StructuredStore["Type"]["list"]>[1]
) => Effect.map(store.list(agent, options), (p) => p.items.map((e) => e.key))

/**
 * An agent with every field given, as the store must keep it but for its times; a fresh copy on
 * each call, so what is stored and what is expected never alias.
 */
const researcher = (): Omit<AgentRecord, "createdAt" | "updatedAt"> => ({
  id: "agent-7" as AgentId,
  name: "Researcher",
  state: "running",
  manifest: { model: "x", tools: ["search", "shell"], limits: { tokens: 1000 } },
  tags: ["research", "night-shift"],
  parent: "agent-1" as AgentId,
  metadata: { team: "blue", onboarding: { done: true } }
})

export const structuredStoreSuite = conformance<StructuredStore>("StructuredStore", (test) => {
  test("get of a missing key is None", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      assert.isTrue(Option.isNone(yield* kv.get("agent-1", "missing")))
    }))

  test("set returns version 1 on insert and +1 on each update; get returns the latest", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      assert.strictEqual(yield* kv.set("agent-1", "color", "blue"), 1)
      assert.strictEqual(yield* kv.set("agent-1", "color", "red"), 2)
      assert.strictEqual(yield* kv.set("agent-1", "color", "green"), 3)
      assert.deepStrictEqual(yield* kv.get("agent-1", "color"), Option.some("green"))
      const page = yield* kv.list("agent-1")
      assert.strictEqual(page.items[0]?.version, 3)
    }))

  test("every kind of JSON value round-trips unchanged", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      const values: ReadonlyArray<Json> = [
        null,
        true,
        false,
        0,
        -1.5,
        1e300,
        2 ** 53 - 1,
        "",
        "héllo wörld 😀",
        [],
        [1, "two", null, [3]],
        { a: { b: { c: [1, 2, { d: "e" }] } }, "key with spaces": 1, ünïcode: "✓" }
      ]
      for (const [i, v] of values.entries()) {
        yield* kv.set("agent-1", `k${i}`, v)
        assert.deepStrictEqual(yield* kv.get("agent-1", `k${i}`), Option.some(v), `value ${i}`)
      }
    }))

  test("a 100 KB value round-trips", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      const big = "x".repeat(100_000) + "é"
      yield* kv.set("agent-1", "big", { big })
      assert.deepStrictEqual(yield* kv.get("agent-1", "big"), Option.some({ big }))
    }))

  test("delete returns true once, then false; the key is gone", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      yield* kv.set("agent-1", "k", 42)
      assert.isTrue(yield* kv.delete("agent-1", "k"))
      assert.isFalse(yield* kv.delete("agent-1", "k"))
      assert.isTrue(Option.isNone(yield* kv.get("agent-1", "k")))
      assert.strictEqual(yield* kv.set("agent-1", "k", 43), 1, "a re-created key starts at version 1")
    }))

  test("agents are isolated, including ids that look like prefixes or LIKE patterns", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      const agents = ["acme", "acme-corp", "a%", "a_", "ab", "Acme", "acme "]
      for (const a of agents) yield* kv.set(a, "owner", a)
      for (const a of agents) {
        assert.deepStrictEqual(yield* kv.get(a, "owner"), Option.some(a))
        assert.deepStrictEqual(yield* keysOf(kv, a), ["owner"])
      }
      assert.isTrue(yield* kv.delete("a%", "owner"))
      assert.deepStrictEqual(yield* kv.get("ab", "owner"), Option.some("ab"), "deleting a% must not touch ab")
      assert.deepStrictEqual(yield* kv.get("a_", "owner"), Option.some("a_"))
    }))

  test("list is ordered by key ascending in code point order", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      const keys = ["b", "a", "B", "é", "😀", "\uff41", "aa", "a b", "10", "9"]
      for (const k of keys) yield* kv.set("agent-1", k, k)
      const expected = [...keys].sort((x, y) => {
        const cx = [...x].map((c) => c.codePointAt(0)!)
        const cy = [...y].map((c) => c.codePointAt(0)!)
        for (let i = 0; i < Math.min(cx.length, cy.length); i++) if (cx[i] !== cy[i]) return cx[i]! - cy[i]!
        return cx.length - cy.length
      })
      assert.deepStrictEqual(yield* keysOf(kv, "agent-1"), expected)
    }))

  test("list with a prefix returns only keys that start with it", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      for (const k of ["user:1", "user:2", "users", "task:1", "user:10"]) yield* kv.set("agent-1", k, 1)
      assert.deepStrictEqual(yield* keysOf(kv, "agent-1", { prefix: "user:" }), ["user:1", "user:10", "user:2"])
      assert.deepStrictEqual(yield* keysOf(kv, "agent-1", { prefix: "nothing" }), [])
    }))

  test("prefix characters that are wildcards in SQL match literally", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      for (const k of ["a%b", "axb", "a_c", "ayc", "a\\d"]) yield* kv.set("agent-1", k, 1)
      assert.deepStrictEqual(yield* keysOf(kv, "agent-1", { prefix: "a%" }), ["a%b"])
      assert.deepStrictEqual(yield* keysOf(kv, "agent-1", { prefix: "a_" }), ["a_c"])
      assert.deepStrictEqual(yield* keysOf(kv, "agent-1", { prefix: "a\\" }), ["a\\d"])
    }))

  test("pagination visits every key exactly once, in order", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      const keys = Array.from({ length: 7 }, (_, i) => `key-${i}`)
      for (const k of keys) yield* kv.set("agent-1", k, k)
      const seen: Array<string> = []
      let cursor: string | undefined
      let pages = 0
      for (;;) {
        const page = yield* kv.list("agent-1", { limit: 3, ...(cursor === undefined ? {} : { cursor }) })
        seen.push(...page.items.map((e) => e.key))
        pages++
        if (page.nextCursor === null) break
        cursor = page.nextCursor
      }
      assert.deepStrictEqual(seen, keys)
      assert.strictEqual(pages, 3)
    }))

  test("a page that ends exactly at the last key has no next cursor", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      for (const k of ["a", "b"]) yield* kv.set("agent-1", k, 1)
      const page = yield* kv.list("agent-1", { limit: 2 })
      assert.strictEqual(page.items.length, 2)
      assert.isNull(page.nextCursor)
    }))

  test("entries carry their version and updatedAt from the Clock", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      yield* TestClock.setTime(1_700_000_000_000)
      yield* kv.set("agent-1", "k", 1)
      yield* TestClock.adjust("5 seconds")
      yield* kv.set("agent-1", "k", 2)
      const [entry] = (yield* kv.list("agent-1")).items
      assert.deepStrictEqual(entry, { key: "k", value: 2, version: 2, updatedAt: 1_700_000_005_000 })
    }))

  test("invalid input is a typed InvalidInput naming the field", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      yield* expectInvalidInputs([
        [kv.set("", "k", 1), "agentId"],
        [kv.set("a".repeat(257), "k", 1), "agentId"],
        [kv.set("agent\u0001", "k", 1), "agentId"],
        [kv.set("agent-1", "", 1), "key"],
        [kv.set("agent-1", "k\u0000", 1), "key"],
        [kv.set("agent-1", "k\ud800", 1), "key"],
        [kv.set("agent-1", "k", Number.NaN), "value"],
        [kv.set("agent-1", "k", { s: "nul\u0000" }), "value"],
        [kv.set("agent-1", "k", undefined as unknown as Json), "value"],
        [kv.get("", "k"), "agentId"],
        [kv.delete("agent-1", ""), "key"],
        [kv.list("agent-1", { limit: 0 }), "options.limit"],
        [kv.list("agent-1", { limit: 1001 }), "options.limit"],
        [kv.list("agent-1", { cursor: "not a cursor" }), "cursor"]
      ])
    }))

  test("JSON nested deeper than 64 levels is rejected, 64 levels are accepted", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      const nest = (n: number): Json => {
        let v: Json = 1
        for (let i = 0; i < n; i++) v = [v]
        return v
      }
      yield* kv.set("agent-1", "ok", nest(64))
      assert.deepStrictEqual(yield* kv.get("agent-1", "ok"), Option.some(nest(64)))
      const error = yield* Effect.flip(kv.set("agent-1", "deep", nest(100_000)))
      assert.strictEqual(error._tag, "InvalidInput")
    }))

  test("saveAgent persists every field and loadAgent returns them unchanged", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      yield* TestClock.setTime(1_000)
      const saved = yield* kv.saveAgent(researcher())
      const loaded = yield* kv.loadAgent("agent-7")
      assert.deepStrictEqual(loaded, Option.some(saved))
      assert.deepStrictEqual(saved, { ...researcher(), createdAt: 1_000, updatedAt: 1_000 })
    }))

  test("saveAgent on an existing agent keeps createdAt and replaces the rest", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      yield* TestClock.setTime(1_000)
      yield* kv.saveAgent({ id: "agent-7", name: "Old", tags: ["a"] })
      yield* TestClock.setTime(9_000)
      yield* kv.saveAgent({ id: "agent-7", name: "New", state: "suspended" })
      const loaded = Option.getOrThrow(yield* kv.loadAgent("agent-7"))
      assert.strictEqual(loaded.name, "New")
      assert.strictEqual(loaded.state, "suspended")
      assert.deepStrictEqual(loaded.tags, [])
      assert.isNull(loaded.parent)
      assert.strictEqual(loaded.createdAt, 1_000)
      assert.strictEqual(loaded.updatedAt, 9_000)
    }))

  test("loadAgent of an unknown id is None; listAgents is ordered by id", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      assert.isTrue(Option.isNone(yield* kv.loadAgent("nobody")))
      for (const id of ["zeta", "alpha", "Mid", "beta"]) yield* kv.saveAgent({ id, name: id })
      assert.deepStrictEqual((yield* kv.listAgents()).map((a) => a.id), ["Mid", "alpha", "beta", "zeta"])
    }))

  test("removeAgent removes the registry entry once", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      yield* kv.saveAgent({ id: "agent-1", name: "One" })
      yield* kv.saveAgent({ id: "agent-10", name: "Ten" })
      assert.isTrue(yield* kv.removeAgent("agent-1"))
      assert.isFalse(yield* kv.removeAgent("agent-1"))
      assert.isTrue(Option.isNone(yield* kv.loadAgent("agent-1")))
      assert.isTrue(Option.isSome(yield* kv.loadAgent("agent-10")), "a similar id is untouched")
    }))

  test("an invalid agent record is InvalidInput naming the field", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      const badState = yield* Effect.flip(kv.saveAgent({ id: "a", name: "A", state: "sleeping" as "running" }))
      assert.strictEqual(badState._tag, "InvalidInput")
      assert.strictEqual(badState._tag === "InvalidInput" ? badState.field : "", "agent.state")
      const badName = yield* Effect.flip(kv.saveAgent({ id: "a", name: "" }))
      assert.strictEqual(badName._tag === "InvalidInput" ? badName.field : "", "agent.name")
    }))
})
