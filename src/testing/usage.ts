/** UsageStore conformance (the contract is the JSDoc of src/services/UsageStore.ts). */
import { assert } from "@effect/vitest"
import { Effect, Either, Option, TestClock } from "effect"
import type { QuotaExceeded } from "../domain/errors.js"
import { isUuidV7 } from "../domain/ids.js"
import type { BudgetWindow, UsageInput } from "../domain/usage.js"
import { UsageStore } from "../services/UsageStore.js"
import { conformance, expectInvalidInputs, failsWith } from "./harness.js"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/** 2024-06-15 12:00:00 UTC, a Saturday in the middle of a month. */
const NOON = Date.UTC(2024, 5, 15, 12)
const WINDOWS: ReadonlyArray<BudgetWindow> = ["hour", "day", "month"]

/** Costs in these tests are sums of powers of two, exact in binary floating point on every backend. */
const usage = (agentId: string, costUsd: number, model = "model-a"): UsageInput => ({ agentId, model, costUsd })

/** What a budget refusal says: which budget, whose, which window, how much was spent of what limit. */
const refusal = (e: QuotaExceeded) => ({
  scope: e.scope,
  agentId: e.agentId,
  window: e.window,
  spent: e.spent,
  limit: e.limit
})

/** Record `input` with the Clock at `at`. */
const recordAt = (store: UsageStore["Type"], at: number, input: UsageInput) =>
  Effect.zipRight(TestClock.setTime(at), store.record(input))

/** Set the clock to `at` and record `inputs` there, in order. */
const recordAllAt = (store: UsageStore["Type"], at: number, inputs: ReadonlyArray<UsageInput>) =>
  Effect.zipRight(TestClock.setTime(at), Effect.forEach(inputs, (input) => store.record(input), { discard: true }))

const spendAll = (store: UsageStore["Type"], agentId?: string) =>
  Effect.all(WINDOWS.map((window) => store.spend(agentId === undefined ? { window } : { agentId, window })))

export const usageStoreSuite = conformance<UsageStore>("UsageStore", (test) => {
  test("record stamps the event with Clock now and returns it; omitted counts are 0", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* TestClock.setTime(NOON)
      const full = yield* store.record({
        agentId: "acme",
        model: "gpt-x",
        inputTokens: 1200,
        outputTokens: 340,
        costUsd: 0.75,
        toolCalls: 3
      })
      assert.isTrue(isUuidV7(full.id), `minted id ${full.id}`)
      assert.deepStrictEqual(full, {
        id: full.id,
        agentId: "acme" as typeof full.agentId,
        model: "gpt-x",
        inputTokens: 1200,
        outputTokens: 340,
        costUsd: 0.75,
        toolCalls: 3,
        timestamp: NOON
      })
      yield* TestClock.adjust("1 second")
      const bare = yield* store.record({ agentId: "acme", model: "gpt-y" })
      assert.notStrictEqual(bare.id, full.id)
      assert.deepStrictEqual(
        [bare.inputTokens, bare.outputTokens, bare.costUsd, bare.toolCalls, bare.timestamp],
        [0, 0, 0, 0, NOON + 1_000]
      )
      assert.deepStrictEqual(yield* store.summary("acme"), {
        inputTokens: 1200,
        outputTokens: 340,
        costUsd: 0.75,
        calls: 2,
        toolCalls: 3
      })
    }))

  test("spend with no events is 0 in every window, for an agent and globally", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* TestClock.setTime(NOON)
      assert.deepStrictEqual(yield* spendAll(store), [0, 0, 0])
      assert.deepStrictEqual(yield* spendAll(store, "acme"), [0, 0, 0])
    }))

  test("hour is the last 60 minutes: 59 and exactly 60 minutes old are in, 61 minutes old is not", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* recordAt(store, NOON, usage("acme", 1))
      yield* recordAt(store, NOON + MINUTE, usage("acme", 2))
      yield* recordAt(store, NOON + 2 * MINUTE, usage("acme", 4))
      yield* TestClock.setTime(NOON + 60 * MINUTE)
      assert.strictEqual(
        yield* store.spend({ agentId: "acme", window: "hour" }),
        7,
        "the oldest is exactly 60 minutes old"
      )
      yield* TestClock.setTime(NOON + 61 * MINUTE)
      assert.strictEqual(yield* store.spend({ agentId: "acme", window: "hour" }), 6, "61, 60 and 59 minutes old")
      assert.strictEqual(yield* store.spend({ window: "hour" }), 6)
      yield* TestClock.setTime(NOON + 62 * MINUTE + 1)
      assert.strictEqual(yield* store.spend({ agentId: "acme", window: "hour" }), 0)
      assert.strictEqual(
        yield* store.spend({ agentId: "acme", window: "day" }),
        7,
        "the day window still holds all three"
      )
    }))

  test("the hour window rolls across midnight while the day window starts again", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      const midnight = Date.UTC(2024, 5, 15)
      yield* recordAt(store, midnight - 30 * MINUTE, usage("acme", 1))
      yield* recordAt(store, midnight + 5 * MINUTE, usage("acme", 2))
      yield* TestClock.setTime(midnight + 10 * MINUTE)
      assert.strictEqual(yield* store.spend({ agentId: "acme", window: "hour" }), 3)
      assert.strictEqual(yield* store.spend({ agentId: "acme", window: "day" }), 2)
    }))

  test("day is since UTC midnight: 23:59:59.999 yesterday is out, 00:00:00.000 today is in", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      const today = Date.UTC(2024, 5, 15)
      yield* recordAt(store, today - 1, usage("acme", 1))
      yield* recordAt(store, today, usage("acme", 2))
      yield* recordAt(store, today + 18 * HOUR, usage("acme", 4))
      yield* TestClock.setTime(today + DAY - 1)
      assert.strictEqual(yield* store.spend({ agentId: "acme", window: "day" }), 6)
      assert.strictEqual(yield* store.spend({ window: "day" }), 6)
      yield* TestClock.setTime(today + DAY)
      assert.strictEqual(yield* store.spend({ window: "day" }), 0, "a new UTC day starts empty")
      assert.strictEqual(yield* store.spend({ window: "month" }), 7)
    }))

  test("month is since the first of the UTC month, across a month boundary", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      const feb1 = Date.UTC(2025, 1, 1)
      yield* recordAt(store, Date.UTC(2025, 0, 1), usage("acme", 8))
      yield* recordAt(store, feb1 - 1, usage("acme", 1))
      assert.strictEqual(yield* store.spend({ window: "month" }), 9, "January 31st 23:59:59.999 counts all of January")
      yield* recordAt(store, feb1, usage("acme", 2))
      assert.strictEqual(yield* store.spend({ window: "month" }), 2)
      yield* TestClock.setTime(Date.UTC(2025, 1, 28, 23, 59, 59, 999))
      assert.strictEqual(yield* store.spend({ agentId: "acme", window: "month" }), 2)
      assert.strictEqual(yield* store.spend({ window: "day" }), 0)
    }))

  test("February has 28 days in 2023 and 29 in 2024; the month window follows the calendar", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* recordAt(store, Date.UTC(2023, 1, 28, 23, 59, 59, 999), usage("acme", 1))
      yield* TestClock.setTime(Date.UTC(2023, 2, 1))
      assert.strictEqual(yield* store.spend({ window: "month" }), 0, "2023-03-01 is a new month")
      yield* recordAt(store, Date.UTC(2024, 1, 1), usage("acme", 2))
      yield* recordAt(store, Date.UTC(2024, 1, 29, 12), usage("acme", 4))
      yield* TestClock.setTime(Date.UTC(2024, 1, 29, 23, 59, 59, 999))
      assert.strictEqual(yield* store.spend({ window: "month" }), 6, "February 29th 2024 is still February")
      assert.strictEqual(yield* store.spend({ window: "day" }), 4)
      yield* TestClock.setTime(Date.UTC(2024, 2, 1))
      assert.strictEqual(yield* store.spend({ window: "month" }), 0)
      yield* store.record(usage("acme", 8))
      assert.strictEqual(yield* store.spend({ window: "month" }), 8)
    }))

  test("spend is per agent, compared exactly (acme vs acme-corp), or global without an agent", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* recordAllAt(store, NOON, [usage("acme", 1), usage("acme", 2), usage("acme-corp", 4), usage("Acme", 8)])
      for (const window of WINDOWS) {
        assert.strictEqual(yield* store.spend({ agentId: "acme", window }), 3, window)
        assert.strictEqual(yield* store.spend({ agentId: "acme-corp", window }), 4, window)
        assert.strictEqual(yield* store.spend({ agentId: "Acme", window }), 8, window)
        assert.strictEqual(yield* store.spend({ agentId: "acm", window }), 0, window)
        assert.strictEqual(yield* store.spend({ window }), 15, window)
      }
    }))

  test("summary totals tokens, cost, calls and tool calls per agent or globally; zeros when empty", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      const zero = { inputTokens: 0, outputTokens: 0, costUsd: 0, calls: 0, toolCalls: 0 }
      assert.deepStrictEqual(yield* store.summary(), zero)
      assert.deepStrictEqual(yield* store.summary("acme"), zero)
      yield* TestClock.setTime(NOON)
      yield* store.record({
        agentId: "acme",
        model: "m1",
        inputTokens: 100,
        outputTokens: 10,
        costUsd: 0.5,
        toolCalls: 1
      })
      yield* TestClock.setTime(NOON - 40 * DAY)
      yield* store.record({
        agentId: "acme",
        model: "m2",
        inputTokens: 200,
        outputTokens: 20,
        costUsd: 0.25,
        toolCalls: 0
      })
      yield* store.record({
        agentId: "acme-corp",
        model: "m1",
        inputTokens: 1,
        outputTokens: 2,
        costUsd: 4,
        toolCalls: 5
      })
      assert.deepStrictEqual(yield* store.summary("acme"), {
        inputTokens: 300,
        outputTokens: 30,
        costUsd: 0.75,
        calls: 2,
        toolCalls: 1
      })
      assert.deepStrictEqual(yield* store.summary("acme-corp"), {
        inputTokens: 1,
        outputTokens: 2,
        costUsd: 4,
        calls: 1,
        toolCalls: 5
      })
      assert.deepStrictEqual(yield* store.summary(), {
        inputTokens: 301,
        outputTokens: 32,
        costUsd: 4.75,
        calls: 3,
        toolCalls: 6
      })
      assert.deepStrictEqual(yield* store.summary("nobody"), zero)
    }))

  test("byModel totals per model over all agents, cost descending, ties by model name in code point order", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      assert.deepStrictEqual(yield* store.byModel(), [])
      yield* recordAllAt(store, NOON, [
        { agentId: "acme", model: "b-model", inputTokens: 10, outputTokens: 1, costUsd: 1 },
        { agentId: "acme-corp", model: "b-model", inputTokens: 20, outputTokens: 2, costUsd: 0.5 },
        { agentId: "acme", model: "a-model", inputTokens: 5, outputTokens: 5, costUsd: 1.5 },
        { agentId: "acme", model: "Z-model", inputTokens: 7, outputTokens: 0, costUsd: 1.5 },
        { agentId: "acme", model: "c-model", inputTokens: 1, outputTokens: 1, costUsd: 3 },
        { agentId: "acme", model: "free", inputTokens: 9, outputTokens: 9, costUsd: 0 }
      ])
      assert.deepStrictEqual(yield* store.byModel(), [
        { model: "c-model", costUsd: 3, inputTokens: 1, outputTokens: 1, calls: 1 },
        { model: "Z-model", costUsd: 1.5, inputTokens: 7, outputTokens: 0, calls: 1 },
        { model: "a-model", costUsd: 1.5, inputTokens: 5, outputTokens: 5, calls: 1 },
        { model: "b-model", costUsd: 1.5, inputTokens: 30, outputTokens: 3, calls: 2 },
        { model: "free", costUsd: 0, inputTokens: 9, outputTokens: 9, calls: 1 }
      ])
    }))

  test("dailyBreakdown covers exactly the last `days` UTC days including today, date ascending, empty days omitted", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      const day = (d: number, h = 0) => Date.UTC(2024, 5, d, h)
      yield* recordAt(store, day(13) - 1, { agentId: "acme", model: "m", inputTokens: 1000, costUsd: 16 })
      yield* recordAt(store, day(13), { agentId: "acme", model: "m", inputTokens: 10, outputTokens: 5, costUsd: 1 })
      yield* recordAt(store, day(13, 22), {
        agentId: "acme-corp",
        model: "n",
        inputTokens: 20,
        outputTokens: 0,
        costUsd: 2
      })
      yield* recordAt(store, day(15, 11), { agentId: "acme", model: "m", inputTokens: 1, outputTokens: 2, costUsd: 4 })
      yield* TestClock.setTime(NOON)
      assert.deepStrictEqual(yield* store.dailyBreakdown(3), [
        { date: "2024-06-13", costUsd: 3, tokens: 35, calls: 2 },
        { date: "2024-06-15", costUsd: 4, tokens: 3, calls: 1 }
      ])
      assert.deepStrictEqual(yield* store.dailyBreakdown(1), [{ date: "2024-06-15", costUsd: 4, tokens: 3, calls: 1 }])
      assert.deepStrictEqual(yield* store.dailyBreakdown(2), [{ date: "2024-06-15", costUsd: 4, tokens: 3, calls: 1 }])
      assert.deepStrictEqual((yield* store.dailyBreakdown(4)).map((d) => d.date), [
        "2024-06-12",
        "2024-06-13",
        "2024-06-15"
      ])
      yield* TestClock.setTime(day(16))
      assert.deepStrictEqual(yield* store.dailyBreakdown(1), [], "a new day with no events")
    }))

  test("dailyBreakdown crosses a month boundary through a leap day", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* recordAt(store, Date.UTC(2024, 1, 28, 23), usage("acme", 1))
      yield* recordAt(store, Date.UTC(2024, 1, 29, 1), usage("acme", 2))
      yield* recordAt(store, Date.UTC(2024, 1, 29, 23, 59, 59, 999), usage("acme", 4))
      yield* recordAt(store, Date.UTC(2024, 2, 1, 0, 0, 0, 1), usage("acme", 8))
      assert.deepStrictEqual(yield* store.dailyBreakdown(2), [
        { date: "2024-02-29", costUsd: 6, tokens: 0, calls: 2 },
        { date: "2024-03-01", costUsd: 8, tokens: 0, calls: 1 }
      ])
      assert.deepStrictEqual((yield* store.dailyBreakdown(3)).map((d) => d.date), [
        "2024-02-28",
        "2024-02-29",
        "2024-03-01"
      ])
    }))

  test("firstEventAt is None without events, then the earliest timestamp", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      assert.isTrue(Option.isNone(yield* store.firstEventAt()))
      yield* recordAt(store, NOON, usage("acme", 1))
      yield* recordAt(store, NOON + DAY, usage("acme-corp", 1))
      assert.deepStrictEqual(yield* store.firstEventAt(), Option.some(NOON))
      yield* TestClock.setTime(NOON + 40 * DAY)
      assert.strictEqual(yield* store.deleteOlderThan(39), 1)
      assert.deepStrictEqual(yield* store.firstEventAt(), Option.some(NOON + DAY))
      assert.strictEqual(yield* store.deleteOlderThan(1), 1)
      assert.isTrue(Option.isNone(yield* store.firstEventAt()))
    }))

  test("deleteOlderThan(days) deletes events strictly older than `days` days and returns how many", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* recordAt(store, NOON - 30 * DAY - 1, usage("acme", 1))
      yield* recordAt(store, NOON - 30 * DAY - 1, usage("acme-corp", 2))
      yield* recordAt(store, NOON - 30 * DAY, usage("acme", 4))
      yield* recordAt(store, NOON - 29 * DAY, usage("acme", 8))
      yield* recordAt(store, NOON, usage("acme", 16))
      assert.strictEqual(yield* store.deleteOlderThan(30), 2)
      assert.deepStrictEqual(yield* store.summary(), {
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 28,
        calls: 3,
        toolCalls: 0
      })
      assert.deepStrictEqual(
        yield* store.firstEventAt(),
        Option.some(NOON - 30 * DAY),
        "an event exactly 30 days old is kept"
      )
      assert.strictEqual(yield* store.deleteOlderThan(30), 0)
      assert.strictEqual(yield* store.deleteOlderThan(29), 1)
      assert.strictEqual((yield* store.summary()).costUsd, 24)
    }))

  // ---- budgets --------------------------------------------------------------------------------

  test("checkBudget: a limit of 0 or no limit never fails", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* recordAt(store, NOON, usage("acme", 1_000))
      yield* store.checkBudget("acme", {})
      yield* store.checkBudget("acme", { hour: 0, day: 0, month: 0 })
      yield* store.checkBudget(undefined, {})
      yield* store.checkBudget(undefined, { hour: 0, day: 0, month: 0 })
      const error = yield* failsWith(store.checkBudget("acme", { hour: 0, day: 0, month: 999 }), "QuotaExceeded")
      assert.strictEqual(error.window, "month", "only the window with a limit is checked")
    }))

  test("checkBudget fails with QuotaExceeded { window, spent, limit } when spent ≥ limit, in each window", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* recordAt(store, NOON, usage("acme", 1))
      yield* recordAt(store, NOON + MINUTE, usage("acme", 0.5))
      yield* store.checkBudget("acme", { hour: 2, day: 2, month: 2 })
      yield* store.checkBudget("acme", { hour: 1.5 + 2 ** -20 })
      for (const window of WINDOWS) {
        const atLimit = yield* failsWith(store.checkBudget("acme", { [window]: 1.5 }), "QuotaExceeded")
        assert.deepStrictEqual(
          {
            scope: atLimit.scope,
            agentId: atLimit.agentId,
            window: atLimit.window,
            spent: atLimit.spent,
            limit: atLimit.limit
          },
          { scope: "agent", agentId: "acme", window, spent: 1.5, limit: 1.5 }
        )
        const over = yield* failsWith(store.checkBudget("acme", { [window]: 1 }), "QuotaExceeded")
        assert.deepStrictEqual([over.window, over.spent, over.limit], [window, 1.5, 1])
      }
    }))

  test("checkBudget looks only at the spend inside each window", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* recordAt(store, Date.UTC(2024, 4, 31, 12), usage("acme", 8))
      yield* recordAt(store, NOON - DAY, usage("acme", 4))
      yield* recordAt(store, NOON - 2 * HOUR, usage("acme", 2))
      yield* TestClock.setTime(NOON)
      yield* store.checkBudget("acme", { hour: 1 })
      yield* store.checkBudget("acme", { day: 2.5 })
      yield* store.checkBudget("acme", { month: 6.5 })
      const day = yield* failsWith(store.checkBudget("acme", { day: 2 }), "QuotaExceeded")
      assert.deepStrictEqual([day.window, day.spent], ["day", 2])
      const month = yield* failsWith(store.checkBudget("acme", { hour: 1, day: 2.5, month: 6 }), "QuotaExceeded")
      assert.deepStrictEqual([month.window, month.spent, month.limit], ["month", 6, 6])
    }))

  test("checkBudget for an agent counts only that agent; without an agent it counts everyone (scope global)", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* recordAllAt(store, NOON, [usage("acme", 1), usage("acme-corp", 2)])
      yield* store.checkBudget("acme", { day: 2 })
      yield* store.checkBudget("nobody", { day: 0.25 })
      const corp = yield* failsWith(store.checkBudget("acme-corp", { day: 2 }), "QuotaExceeded")
      assert.deepStrictEqual([corp.scope, corp.agentId, corp.spent], ["agent", "acme-corp", 2])
      yield* store.checkBudget(undefined, { day: 3.5 })
      const global = yield* failsWith(store.checkBudget(undefined, { day: 3 }), "QuotaExceeded")
      assert.deepStrictEqual(
        {
          scope: global.scope,
          agentId: global.agentId,
          window: global.window,
          spent: global.spent,
          limit: global.limit
        },
        { scope: "global", agentId: undefined, window: "day", spent: 3, limit: 3 }
      )
    }))

  test("recordWithinBudget admits while spent + cost ≤ the agent's limit and refuses, recording nothing, beyond it", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* TestClock.setTime(NOON)
      const budget = { agent: { day: 1 } }
      const first = yield* store.recordWithinBudget(usage("acme", 0.5), budget)
      assert.strictEqual(first.timestamp, NOON)
      assert.strictEqual(first.costUsd, 0.5)
      yield* store.recordWithinBudget(usage("acme", 0.5), budget)
      const refused = yield* failsWith(store.recordWithinBudget(usage("acme", 0.25), budget), "QuotaExceeded")
      assert.deepStrictEqual(
        refusal(refused),
        { scope: "agent", agentId: "acme", window: "day", spent: 1, limit: 1 }
      )
      assert.deepStrictEqual(yield* store.summary("acme"), {
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 1,
        calls: 2,
        toolCalls: 0
      })
      const free = yield* store.recordWithinBudget(usage("acme", 0), budget)
      assert.strictEqual(free.costUsd, 0, "a zero-cost call still fits: spent + 0 ≤ limit")
      yield* store.recordWithinBudget(usage("acme-corp", 0.75), budget)
      assert.strictEqual(
        yield* store.spend({ agentId: "acme-corp", window: "day" }),
        0.75,
        "another agent has its own allowance"
      )
      yield* TestClock.setTime(NOON + DAY)
      yield* store.recordWithinBudget(usage("acme", 1), budget)
      assert.strictEqual((yield* store.summary("acme")).calls, 4, "a new day has a new allowance")
    }))

  test("recordWithinBudget against a global limit counts every agent and refuses with scope global", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* TestClock.setTime(NOON)
      yield* store.record(usage("acme", 0.75))
      const budget = { global: { month: 1 } }
      const refused = yield* failsWith(store.recordWithinBudget(usage("acme-corp", 0.5), budget), "QuotaExceeded")
      assert.deepStrictEqual(
        refusal(refused),
        { scope: "global", agentId: undefined, window: "month", spent: 0.75, limit: 1 }
      )
      assert.strictEqual(yield* store.spend({ window: "month" }), 0.75, "nothing was recorded")
      yield* store.recordWithinBudget(usage("acme-corp", 0.25), budget)
      assert.strictEqual(yield* store.spend({ window: "month" }), 1)
    }))

  test("recordWithinBudget with agent and global limits refuses when either would be exceeded", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* TestClock.setTime(NOON)
      const budget = { agent: { hour: 1 }, global: { day: 2 } }
      yield* store.recordWithinBudget(usage("acme", 1), budget)
      const agent = yield* failsWith(store.recordWithinBudget(usage("acme", 0.5), budget), "QuotaExceeded")
      assert.deepStrictEqual([agent.scope, agent.window, agent.spent, agent.limit], ["agent", "hour", 1, 1])
      yield* store.recordWithinBudget(usage("acme-corp", 1), budget)
      const global = yield* failsWith(store.recordWithinBudget(usage("other", 0.5), budget), "QuotaExceeded")
      assert.deepStrictEqual([global.scope, global.window, global.spent, global.limit], ["global", "day", 2, 2])
      assert.strictEqual((yield* store.summary()).calls, 2)
      assert.strictEqual((yield* store.recordWithinBudget(usage("other", 0.5), {})).costUsd, 0.5, "no limits: admitted")
      yield* store.recordWithinBudget(usage("other", 8), { agent: { hour: 0, day: 0, month: 0 }, global: { hour: 0 } })
      assert.strictEqual(yield* store.spend({ window: "day" }), 10.5, "limits of 0 are no limits")
    }))

  test("recordWithinBudget with an hour limit ignores spend older than an hour", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      const budget = { agent: { hour: 1 } }
      yield* TestClock.setTime(NOON)
      yield* store.recordWithinBudget(usage("acme", 1), budget)
      yield* TestClock.setTime(NOON + 60 * MINUTE)
      const stillIn = yield* failsWith(store.recordWithinBudget(usage("acme", 0.5), budget), "QuotaExceeded")
      assert.strictEqual(stillIn.spent, 1, "exactly 60 minutes old still counts")
      yield* TestClock.setTime(NOON + 61 * MINUTE)
      yield* store.recordWithinBudget(usage("acme", 1), budget)
      const refused = yield* failsWith(store.recordWithinBudget(usage("acme", 0.5), budget), "QuotaExceeded")
      assert.deepStrictEqual([refused.window, refused.spent], ["hour", 1])
    }))

  test("50 concurrent recordWithinBudget calls never admit more than the budget", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      yield* TestClock.setTime(NOON)
      const budget = { agent: { day: 5 }, global: { month: 5 } }
      const outcomes = yield* Effect.all(
        Array.from({ length: 50 }, () => Effect.either(store.recordWithinBudget(usage("acme", 0.25), budget))),
        { concurrency: "unbounded" }
      )
      const admitted = outcomes.filter(Either.isRight)
      const refused = outcomes.filter(Either.isLeft)
      for (const r of refused) assert.strictEqual(r.left._tag, "QuotaExceeded")
      assert.strictEqual(admitted.length, 20, "exactly the 20 calls that fit in $5 are admitted")
      assert.strictEqual(refused.length, 30)
      assert.strictEqual(new Set(admitted.map((a) => a.right.id)).size, 20)
      const summary = yield* store.summary("acme")
      assert.strictEqual(summary.calls, admitted.length, "the recorded events are exactly the admitted ones")
      assert.strictEqual(summary.costUsd, 0.25 * admitted.length)
      assert.isAtMost(yield* store.spend({ window: "day" }), 5)
    }))

  test("invalid input is a typed InvalidInput naming the field, and nothing is recorded", () =>
    Effect.gen(function*() {
      const store = yield* UsageStore
      const ok = usage("acme", 1)
      yield* expectInvalidInputs([
        [store.record({ ...ok, inputTokens: -1 }), "input.inputTokens"],
        [store.record({ ...ok, outputTokens: 1.5 }), "input.outputTokens"],
        [store.record({ ...ok, toolCalls: -2 }), "input.toolCalls"],
        [store.record({ ...ok, costUsd: Number.NaN }), "input.costUsd"],
        [store.record({ ...ok, costUsd: Number.POSITIVE_INFINITY }), "input.costUsd"],
        [store.record({ ...ok, costUsd: -0.5 }), "input.costUsd"],
        [store.record({ ...ok, agentId: "" }), "input.agentId"],
        [store.record({ ...ok, model: "" }), "input.model"],
        [store.record({ ...ok, model: "m\u0000" }), "input.model"],
        [store.spend({ window: "week" as BudgetWindow }), "query.window"],
        [store.spend({ agentId: "", window: "day" }), "query.agentId"],
        [store.summary(""), "agentId"],
        [store.dailyBreakdown(0), "days"],
        [store.dailyBreakdown(-3), "days"],
        [store.dailyBreakdown(1.5), "days"],
        [store.deleteOlderThan(-1), "days"],
        [store.deleteOlderThan(Number.NaN), "days"],
        [store.checkBudget("", {}), "agentId"],
        [store.checkBudget("acme", { hour: -1 }), "limits.hour"],
        [store.checkBudget(undefined, { day: Number.NaN }), "limits.day"],
        [store.recordWithinBudget({ ...ok, inputTokens: -1 }, {}), "input.inputTokens"],
        [store.recordWithinBudget(ok, { agent: { month: -5 } }), "budget.agent.month"],
        [store.recordWithinBudget(ok, { global: { hour: Number.POSITIVE_INFINITY } }), "budget.global.hour"]
      ])
      assert.strictEqual((yield* store.summary()).calls, 0)
    }))
})
