/**
 * UsageStore on SQLite. Windows and budget decisions come from the core; this file sums in SQL.
 * `recordWithinBudget` reads the spend and inserts in one `BEGIN IMMEDIATE` transaction, so
 * concurrent callers in several processes are serialised and never overspend.
 */
import { Clock, Effect, Option } from "effect"
import { admissionRefused, budgetExceeded } from "../../core/budget.js"
import { usageInputs } from "../../core/inputs.js"
import { newUsageEvent } from "../../core/usage.js"
import { breakdownStart, retentionCutoff, utcDate, windowStart } from "../../core/windows.js"
import type { BudgetWindow } from "../../domain/errors.js"
import { DAY_MS } from "../../domain/time.js"
import type { DailyUsage, ModelUsage, UsageEvent, UsageSummary } from "../../domain/usage.js"
import { UsageStore } from "../../services/UsageStore.js"
import { attempt, type SqliteConnection } from "./client.js"

const { budgetInput, days, limitsInput, optionalAgent, retentionDays, spendQuery, usageInput } = usageInputs

/** The service over `conn`; prepares its statements (and so may throw, at layer build). */
export const make = (conn: SqliteConnection) => {
  const spentByAgent = conn.db.prepare(
    `SELECT total(cost_usd) FROM usage_events WHERE agent_id = ? AND timestamp >= ?`
  ).pluck()
  const spentByAll = conn.db.prepare(`SELECT total(cost_usd) FROM usage_events WHERE timestamp >= ?`).pluck()
  const insert = conn.db.prepare(
    `INSERT INTO usage_events (id, agent_id, model, input_tokens, output_tokens, cost_usd, tool_calls, timestamp)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
  )

  /** USD spent in `window` at `now`, by one agent or by all (synchronous; inside a transaction). */
  const spent = (agent: string | undefined, window: BudgetWindow, now: number): number => {
    const start = windowStart(window, now)
    return (agent === undefined ? spentByAll.get(start) : spentByAgent.get(agent, start)) as number
  }

  const store = (e: UsageEvent): void => {
    insert.run(e.id, e.agentId, e.model, e.inputTokens, e.outputTokens, e.costUsd, e.toolCalls, e.timestamp)
  }

  return UsageStore.of({
    record: (input) =>
      Effect.gen(function*() {
        const u = yield* usageInput(input)
        const event = yield* newUsageEvent(u, yield* Clock.currentTimeMillis)
        yield* attempt("UsageStore.record", () => store(event))
        return event
      }),
    spend: (query) =>
      Effect.gen(function*() {
        const q = yield* spendQuery(query)
        const now = yield* Clock.currentTimeMillis
        return yield* attempt("UsageStore.spend", () => spent(q.agentId, q.window, now))
      }),
    summary: (a) =>
      Effect.gen(function*() {
        const agent = yield* optionalAgent(a)
        const columns = `total(input_tokens) AS inputTokens, total(output_tokens) AS outputTokens,
          total(cost_usd) AS costUsd, count(*) AS calls, total(tool_calls) AS toolCalls`
        return yield* attempt("UsageStore.summary", () =>
          (agent === undefined
            ? conn.get<UsageSummary>(`SELECT ${columns} FROM usage_events`)
            : conn.get<UsageSummary>(`SELECT ${columns} FROM usage_events WHERE agent_id = ?`, [agent]))!)
      }),
    byModel: () =>
      attempt("UsageStore.byModel", () =>
        conn.all<ModelUsage>(
          `SELECT model, total(cost_usd) AS costUsd, total(input_tokens) AS inputTokens,
             total(output_tokens) AS outputTokens, count(*) AS calls
           FROM usage_events GROUP BY model ORDER BY costUsd DESC, model`
        )),
    dailyBreakdown: (n) =>
      Effect.gen(function*() {
        const count = yield* days(n)
        const start = breakdownStart(count, yield* Clock.currentTimeMillis)
        // Integer division of non-negative epoch milliseconds gives the UTC day number.
        const rows = yield* attempt("UsageStore.dailyBreakdown", () =>
          conn.all<{ day: number; costUsd: number; tokens: number; calls: number }>(
            `SELECT timestamp / ${DAY_MS} AS day, total(cost_usd) AS costUsd,
               total(input_tokens + output_tokens) AS tokens, count(*) AS calls
             FROM usage_events WHERE timestamp >= ? GROUP BY day ORDER BY day`,
            [start]
          ))
        return rows.map((r): DailyUsage => ({ date: utcDate(r.day * DAY_MS), costUsd: r.costUsd, tokens: r.tokens, calls: r.calls }))
      }),
    firstEventAt: () =>
      attempt("UsageStore.firstEventAt", () =>
        Option.fromNullable(conn.get<{ first: number | null }>(`SELECT min(timestamp) AS first FROM usage_events`)!.first)),
    deleteOlderThan: (n) =>
      Effect.gen(function*() {
        const cutoff = retentionCutoff(yield* retentionDays(n), yield* Clock.currentTimeMillis)
        return yield* attempt("UsageStore.deleteOlderThan", () =>
          conn.run(`DELETE FROM usage_events WHERE timestamp < ?`, [cutoff]).changes)
      }),
    checkBudget: (a, l) =>
      Effect.gen(function*() {
        const agent = yield* optionalAgent(a)
        const limits = yield* limitsInput(l)
        const now = yield* Clock.currentTimeMillis
        const error = yield* attempt("UsageStore.checkBudget", () =>
          conn.read(() => budgetExceeded(agent, limits, (w) => spent(agent, w, now))))
        if (error !== undefined) return yield* error
      }),
    recordWithinBudget: (input, b) =>
      Effect.gen(function*() {
        const u = yield* usageInput(input)
        const budget = yield* budgetInput(b)
        const now = yield* Clock.currentTimeMillis
        const event = yield* newUsageEvent(u, now)
        const refused = yield* attempt("UsageStore.recordWithinBudget", () =>
          conn.immediate(() => {
            const error = admissionRefused(u, budget, (w) => spent(u.agentId, w, now), (w) => spent(undefined, w, now))
            if (error === undefined) store(event)
            return error
          }))
        if (refused !== undefined) return yield* refused
        return event
      })
  })
}
