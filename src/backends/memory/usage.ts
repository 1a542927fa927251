/** UsageStore's port in memory: each primitive reads and writes inside one `Effect.sync`, so it is atomic. */
import { Effect, Option } from "effect"
import type { UsageDay, UsagePort } from "../../core/usageStore.js"
import { DAY_MS } from "../../domain/time.js"
import type { ModelUsage } from "../../domain/usage.js"
import type { MemoryDb } from "./client.js"

/** USD spent at or after `since`, by `agentId` or by everyone, summed in insertion order. */
const spent = (db: MemoryDb, agentId: string | undefined, since: number): number => {
  let sum = 0
  for (const e of db.usage) {
    if (e.timestamp >= since && (agentId === undefined || e.agentId === agentId)) sum += e.costUsd
  }
  return sum
}

export const port = (db: MemoryDb): UsagePort => ({
  backend: "memory",
  insert: (event) =>
    Effect.sync(() => {
      db.usage.push(event)
    }),
  spentSince: (agent, since) => Effect.sync(() => since.map((s) => spent(db, agent, s))),
  summary: (agent) =>
    Effect.sync(() => {
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
      const by = new Map<string, { -readonly [K in keyof ModelUsage]: ModelUsage[K] }>()
      for (const e of db.usage) {
        const m = by.get(e.model) ?? { model: e.model, costUsd: 0, inputTokens: 0, outputTokens: 0, calls: 0 }
        m.costUsd += e.costUsd
        m.inputTokens += e.inputTokens
        m.outputTokens += e.outputTokens
        m.calls++
        by.set(e.model, m)
      }
      return [...by.values()]
    }),
  daily: (since) =>
    Effect.sync(() => {
      const by = new Map<number, { -readonly [K in keyof UsageDay]: UsageDay[K] }>()
      for (const e of db.usage) {
        if (e.timestamp < since) continue
        const day = Math.floor(e.timestamp / DAY_MS)
        const d = by.get(day) ?? { day, costUsd: 0, tokens: 0, calls: 0 }
        d.costUsd += e.costUsd
        d.tokens += e.inputTokens + e.outputTokens
        d.calls++
        by.set(day, d)
      }
      return [...by.values()]
    }),
  firstEventAt: () =>
    // A loop, not Math.min(...timestamps): spreading a large array overflows the call stack.
    Effect.sync(() => {
      let first: number | undefined
      for (const e of db.usage) if (first === undefined || e.timestamp < first) first = e.timestamp
      return Option.fromNullable(first)
    }),
  deleteBefore: (cutoff) =>
    Effect.sync(() => {
      const keep = db.usage.filter((e) => e.timestamp >= cutoff)
      const removed = db.usage.length - keep.length
      // Refill in place without spreading: `splice(0, n, ...keep)` overflows the stack on large logs.
      db.usage.length = 0
      for (const e of keep) db.usage.push(e)
      return removed
    }),
  admitWithinBudget: (event, since, refuse) =>
    Effect.sync(() => {
      const refused = refuse({
        agent: since.agent.map((s) => spent(db, event.agentId, s)),
        global: since.global.map((s) => spent(db, undefined, s))
      })
      if (refused === undefined) db.usage.push(event)
      return refused
    })
})
