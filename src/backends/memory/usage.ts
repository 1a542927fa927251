/** UsageStore in memory. */
import { Clock, Effect, Option } from "effect"
import { admissionRefused, budgetExceeded } from "../../core/budget.js"
import { usageInputs } from "../../core/inputs.js"
import { compareCodePoints } from "../../core/order.js"
import { newUsageEvent } from "../../core/usage.js"
import { breakdownStart, retentionCutoff, utcDate, windowStart } from "../../core/windows.js"
import type { BudgetWindow } from "../../domain/errors.js"
import { UsageStore } from "../../services/UsageStore.js"
import type { MemoryDb } from "./client.js"

const { budgetInput, days, limitsInput, optionalAgent, retentionDays, spendQuery, usageInput } = usageInputs

const spent = (db: MemoryDb, agentId: string | undefined, window: BudgetWindow, now: number): number => {
  const start = windowStart(window, now)
  let sum = 0
  for (const e of db.usage) if (e.timestamp >= start && (agentId === undefined || e.agentId === agentId)) sum += e.costUsd
  return sum
}

export const make = (db: MemoryDb) =>
  UsageStore.of({
    record: (input) =>
      Effect.gen(function*() {
        const u = yield* usageInput(input)
        const event = yield* newUsageEvent(u, yield* Clock.currentTimeMillis)
        yield* Effect.sync(() => db.usage.push(event))
        return event
      }),
    spend: (query) =>
      Effect.gen(function*() {
        const q = yield* spendQuery(query)
        return spent(db, q.agentId, q.window, yield* Clock.currentTimeMillis)
      }),
    summary: (a) =>
      Effect.gen(function*() {
        const agent = yield* optionalAgent(a)
        const s = { inputTokens: 0, outputTokens: 0, costUsd: 0, calls: 0, toolCalls: 0 }
        for (const e of db.usage) {
          if (agent !== undefined && e.agentId !== agent) continue
          s.inputTokens += e.inputTokens
          s.outputTokens += e.outputTokens
          s.costUsd += e.costUsd
          s.calls++
          s.toolCalls += e.toolCalls
        }
        return s
      }),
    byModel: () =>
      Effect.sync(() => {
        const by = new Map<string, { model: string; costUsd: number; inputTokens: number; outputTokens: number; calls: number }>()
        for (const e of db.usage) {
          const m = by.get(e.model) ?? { model: e.model, costUsd: 0, inputTokens: 0, outputTokens: 0, calls: 0 }
          m.costUsd += e.costUsd
          m.inputTokens += e.inputTokens
          m.outputTokens += e.outputTokens
          m.calls++
          by.set(e.model, m)
        }
        return [...by.values()].sort((x, y) => y.costUsd - x.costUsd || compareCodePoints(x.model, y.model))
      }),
    dailyBreakdown: (n) =>
      Effect.gen(function*() {
        const count = yield* days(n)
        const start = breakdownStart(count, yield* Clock.currentTimeMillis)
        const by = new Map<string, { date: string; costUsd: number; tokens: number; calls: number }>()
        for (const e of db.usage) {
          if (e.timestamp < start) continue
          const date = utcDate(e.timestamp)
          const d = by.get(date) ?? { date, costUsd: 0, tokens: 0, calls: 0 }
          d.costUsd += e.costUsd
          d.tokens += e.inputTokens + e.outputTokens
          d.calls++
          by.set(date, d)
        }
        return [...by.values()].sort((x, y) => compareCodePoints(x.date, y.date))
      }),
    firstEventAt: () =>
      // A loop, not Math.min(...timestamps): spreading a large array overflows the call stack.
      Effect.sync(() => {
        let first: number | undefined
        for (const e of db.usage) if (first === undefined || e.timestamp < first) first = e.timestamp
        return Option.fromNullable(first)
      }),
    deleteOlderThan: (n) =>
      Effect.gen(function*() {
        const cutoff = retentionCutoff(yield* retentionDays(n), yield* Clock.currentTimeMillis)
        return yield* Effect.sync(() => {
          const keep = db.usage.filter((e) => e.timestamp >= cutoff)
          const removed = db.usage.length - keep.length
          // Refill in place without spreading: `splice(0, n, ...keep)` overflows the stack on large logs.
          db.usage.length = 0
          for (const e of keep) db.usage.push(e)
          return removed
        })
      }),
    checkBudget: (a, l) =>
      Effect.gen(function*() {
        const agent = yield* optionalAgent(a)
        const limits = yield* limitsInput(l)
        const now = yield* Clock.currentTimeMillis
        const error = budgetExceeded(agent, limits, (w) => spent(db, agent, w, now))
        if (error !== undefined) return yield* error
      }),
    recordWithinBudget: (input, b) =>
      Effect.gen(function*() {
        const u = yield* usageInput(input)
        const budget = yield* budgetInput(b)
        const now = yield* Clock.currentTimeMillis
        const event = yield* newUsageEvent(u, now)
        const error = yield* Effect.sync(() => {
          const refused = admissionRefused(u, budget, (w) => spent(db, u.agentId, w, now), (w) => spent(db, undefined, w, now))
          if (refused === undefined) db.usage.push(event)
          return refused
        })
        if (error !== undefined) return yield* error
        return event
      })
  })
