/**
 * UsageStore's port on SQLite: sums in SQL. `admitWithinBudget` reads the spend and inserts in one
 * `BEGIN IMMEDIATE` transaction, so concurrent callers in several processes are serialised and never
 * overspend.
 */
import { Option } from "effect"
import type { UsagePort } from "../../core/usageStore.js"
import { DAY_MS } from "../../domain/time.js"
import { insertInto } from "../../tables/table.js"
import { usageAggregates as aggregate, usageEventsTable } from "../../tables/usageEvents.js"
import { attempt, type SqliteConnection } from "./client.js"

const TOTALS = `total(input_tokens) AS inputTokens, total(output_tokens) AS outputTokens,
  total(cost_usd) AS costUsd, count(*) AS calls, total(tool_calls) AS toolCalls`

/** The port over `conn`; prepares its hot statements (and so may throw, at layer build). */
export const port = (conn: SqliteConnection): UsagePort => {
  const spentByAgent = conn.db.prepare(`SELECT total(cost_usd) FROM usage_events WHERE agent_id = ? AND timestamp >= ?`)
    .pluck()
  const spentByAll = conn.db.prepare(`SELECT total(cost_usd) FROM usage_events WHERE timestamp >= ?`).pluck()
  const insert = conn.db.prepare(insertInto(usageEventsTable, "sqlite"))

  /** USD spent at or after `since`, by one agent or by all (synchronous; inside a transaction). */
  const spent = (agent: string | undefined, since: number): number =>
    aggregate.amount(agent === undefined ? spentByAll.get(since) : spentByAgent.get(agent, since))

  return {
    backend: "sqlite",
    insert: (event) =>
      attempt("insert", () => {
        insert.run(...usageEventsTable.values(event))
      }),
    spentSince: (agent, since) =>
      attempt("spentSince", () =>
        // Several sums are read in one transaction, so they come from one snapshot.
        since.length === 1 ? [spent(agent, since[0]!)] : conn.read(() => since.map((s) => spent(agent, s)))),
    summary: (agent) =>
      attempt("summary", () =>
        aggregate.summary(
          agent === undefined
            ? conn.get(`SELECT ${TOTALS} FROM usage_events`)
            : conn.get(`SELECT ${TOTALS} FROM usage_events WHERE agent_id = ?`, [agent])
        )),
    byModel: () =>
      attempt("byModel", () =>
        conn.all(
          `SELECT model, total(cost_usd) AS costUsd, total(input_tokens) AS inputTokens,
             total(output_tokens) AS outputTokens, count(*) AS calls
           FROM usage_events GROUP BY model`
        ).map(aggregate.byModel)),
    daily: (since) =>
      attempt("daily", () =>
        // Integer division of non-negative epoch milliseconds gives the UTC day number.
        conn.all(
          `SELECT timestamp / ${DAY_MS} AS day, total(cost_usd) AS costUsd,
             total(input_tokens + output_tokens) AS tokens, count(*) AS calls
           FROM usage_events WHERE timestamp >= ? GROUP BY day`,
          [since]
        ).map(aggregate.day)),
    firstEventAt: () =>
      attempt(
        "firstEventAt",
        () => Option.fromNullable(aggregate.first(conn.get(`SELECT min(timestamp) AS first FROM usage_events`)).first)
      ),
    deleteBefore: (cutoff) =>
      attempt("deleteBefore", () => conn.run(`DELETE FROM usage_events WHERE timestamp < ?`, [cutoff]).changes),
    admitWithinBudget: (event, since, refuse) =>
      attempt("admitWithinBudget", () =>
        conn.immediate(() => {
          const refused = refuse({
            agent: since.agent.map((s) => spent(event.agentId, s)),
            global: since.global.map((s) => spent(undefined, s))
          })
          if (refused === undefined) insert.run(...usageEventsTable.values(event))
          return refused
        }))
  }
}
