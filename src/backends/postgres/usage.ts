/**
 * UsageStore on PostgreSQL. Window bounds and budget decisions come from src/core (windows.ts,
 * budget.ts); this file only sums. `recordWithinBudget` checks and records in one transaction that
 * holds an advisory lock per agent (and a global one when a global limit is given), so concurrent
 * callers in any number of processes are admitted one at a time and never overspend.
 */
import { Clock, Effect, Option } from "effect"
import { admissionRefused, budgetExceeded, limitedWindows } from "../../core/budget.js"
import { usageInputs } from "../../core/inputs.js"
import { newUsageEvent } from "../../core/usage.js"
import { breakdownStart, retentionCutoff, utcDate, windowStart } from "../../core/windows.js"
import type { BudgetWindow } from "../../domain/errors.js"
import { DAY_MS } from "../../domain/time.js"
import type { UsageEvent } from "../../domain/usage.js"
import { UsageStore } from "../../services/UsageStore.js"
import { lockKey, type PgClient, type Queryable } from "./client.js"

const { budgetInput, days, limitsInput, optionalAgent, retentionDays, spendQuery, usageInput } = usageInputs

type Spent = Readonly<Record<BudgetWindow, number>>

/**
 * What was spent in each of `windows` (by `agentId`, or by everyone), in one statement. Sums run in
 * insertion order where the plan allows, like the in-memory reference.
 */
const spentIn = (q: Queryable, agentId: string | undefined, windows: ReadonlyArray<BudgetWindow>, now: number) =>
  Effect.gen(function*() {
    const spent: Record<BudgetWindow, number> = { hour: 0, day: 0, month: 0 }
    if (windows.length === 0) return spent as Spent
    const values: Array<unknown> = []
    const sums = windows.map((w) => {
      values.push(windowStart(w, now))
      return `coalesce(sum(cost_usd) FILTER (WHERE at >= $${values.length}::bigint), 0)::float8 AS ${w}`
    })
    values.push(Math.min(...windows.map((w) => windowStart(w, now))))
    const from = `$${values.length}::bigint`
    let agentClause = ""
    if (agentId !== undefined) {
      values.push(agentId)
      agentClause = ` AND agent_id = $${values.length}`
    }
    const rows = yield* q.query<Record<BudgetWindow, number>>({
      text: `SELECT ${sums.join(", ")} FROM usage_events WHERE at >= ${from}${agentClause}`,
      values
    })
    for (const w of windows) spent[w] = rows[0]![w]
    return spent as Spent
  })

const insertEvent = (q: Queryable, e: UsageEvent) =>
  q.execute({
    text: `INSERT INTO usage_events (id, agent_id, model, input_tokens, output_tokens, cost_usd, tool_calls, at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    values: [e.id, e.agentId, e.model, e.inputTokens, e.outputTokens, e.costUsd, e.toolCalls, e.timestamp]
  })

export const make = (client: PgClient) => {
  const budgetKey = (agentId?: string) =>
    agentId === undefined ? lockKey(client.schema, "budget") : lockKey(client.schema, "budget", agentId)
  const direct: Queryable = {
    query: (statement) => client.query("UsageStore", statement),
    execute: (statement) => client.execute("UsageStore", statement)
  }

  return UsageStore.of({
    record: (input) =>
      Effect.gen(function*() {
        const u = yield* usageInput(input)
        const event = yield* newUsageEvent(u, yield* Clock.currentTimeMillis)
        yield* client.withConnection("UsageStore.record", (q) => insertEvent(q, event))
        return event
      }),
    spend: (query) =>
      Effect.gen(function*() {
        const q = yield* spendQuery(query)
        const now = yield* Clock.currentTimeMillis
        return (yield* spentIn(direct, q.agentId, [q.window], now))[q.window]
      }),
    summary: (a) =>
      Effect.gen(function*() {
        const agent = yield* optionalAgent(a)
        const rows = yield* client.query<{
          input_tokens: number
          output_tokens: number
          cost_usd: number
          calls: number
          tool_calls: number
        }>("UsageStore.summary", {
          text: `SELECT coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
                        coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
                        coalesce(sum(cost_usd), 0)::float8 AS cost_usd,
                        count(*)::bigint AS calls,
                        coalesce(sum(tool_calls), 0)::bigint AS tool_calls
                 FROM usage_events WHERE $1::text IS NULL OR agent_id = $1`,
          values: [agent ?? null]
        })
        const r = rows[0]!
        return {
          inputTokens: r.input_tokens,
          outputTokens: r.output_tokens,
          costUsd: r.cost_usd,
          calls: r.calls,
          toolCalls: r.tool_calls
        }
      }),
    byModel: () =>
      Effect.map(
        client.query<{ model: string; cost_usd: number; input_tokens: number; output_tokens: number; calls: number }>(
          "UsageStore.byModel",
          `SELECT model, sum(cost_usd)::float8 AS cost_usd, sum(input_tokens)::bigint AS input_tokens,
                  sum(output_tokens)::bigint AS output_tokens, count(*)::bigint AS calls
           FROM usage_events GROUP BY model ORDER BY cost_usd DESC, model`
        ),
        (rows) =>
          rows.map((r) => ({
            model: r.model,
            costUsd: r.cost_usd,
            inputTokens: r.input_tokens,
            outputTokens: r.output_tokens,
            calls: r.calls
          }))
      ),
    dailyBreakdown: (n) =>
      Effect.gen(function*() {
        const count = yield* days(n)
        const start = breakdownStart(count, yield* Clock.currentTimeMillis)
        const rows = yield* client.query<{ day: number; cost_usd: number; tokens: number; calls: number }>(
          "UsageStore.dailyBreakdown",
          {
            text: `SELECT at / ${DAY_MS} AS day, sum(cost_usd)::float8 AS cost_usd,
                          sum(input_tokens + output_tokens)::bigint AS tokens, count(*)::bigint AS calls
                   FROM usage_events WHERE at >= $1 GROUP BY day ORDER BY day`,
            values: [start]
          }
        )
        return rows.map((r) => ({ date: utcDate(r.day * DAY_MS), costUsd: r.cost_usd, tokens: r.tokens, calls: r.calls }))
      }),
    firstEventAt: () =>
      Effect.map(
        client.query<{ first: number | null }>("UsageStore.firstEventAt", "SELECT min(at) AS first FROM usage_events"),
        (rows) => Option.fromNullable(rows[0]?.first ?? null)
      ),
    deleteOlderThan: (n) =>
      Effect.gen(function*() {
        const cutoff = retentionCutoff(yield* retentionDays(n), yield* Clock.currentTimeMillis)
        return yield* client.execute("UsageStore.deleteOlderThan", {
          text: "DELETE FROM usage_events WHERE at < $1",
          values: [cutoff]
        })
      }),
    checkBudget: (a, l) =>
      Effect.gen(function*() {
        const agent = yield* optionalAgent(a)
        const limits = yield* limitsInput(l)
        const now = yield* Clock.currentTimeMillis
        const spent = yield* spentIn(direct, agent, limitedWindows(limits), now)
        const error = budgetExceeded(agent, limits, (w) => spent[w])
        if (error !== undefined) return yield* error
      }),
    recordWithinBudget: (input, b) =>
      Effect.gen(function*() {
        const u = yield* usageInput(input)
        const budget = yield* budgetInput(b)
        const now = yield* Clock.currentTimeMillis
        const event = yield* newUsageEvent(u, now)
        const agentWindows = limitedWindows(budget.agent)
        const globalWindows = limitedWindows(budget.global)
        if (agentWindows.length === 0 && globalWindows.length === 0) {
          yield* client.withConnection("UsageStore.recordWithinBudget", (q) => insertEvent(q, event))
          return event
        }
        return yield* client.transaction("UsageStore.recordWithinBudget", (q) =>
          Effect.gen(function*() {
            // Agent lock first, then the global one: a holder of the global lock never waits for an
            // agent lock, so the two cannot deadlock. The locks are their own statement so the reads
            // below take their snapshot after they are held.
            const keys = [
              ...(agentWindows.length > 0 ? [budgetKey(u.agentId)] : []),
              ...(globalWindows.length > 0 ? [budgetKey()] : [])
            ]
            yield* q.execute({
              text: `SELECT ${keys.map((_, i) => `pg_advisory_xact_lock($${i + 1}::bigint)`).join(", ")}`,
              values: keys
            })
            const agentSpent = yield* spentIn(q, u.agentId, agentWindows, now)
            const globalSpent = yield* spentIn(q, undefined, globalWindows, now)
            const refused = admissionRefused(u, budget, (w) => agentSpent[w], (w) => globalSpent[w])
            if (refused !== undefined) return yield* refused
            yield* insertEvent(q, event)
            return event
          }))
      })
  })
}
