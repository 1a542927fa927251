/**
 * UsageStore's port on PostgreSQL: sums in SQL. `admitWithinBudget` reads the spend and inserts in
 * one transaction that holds an advisory lock per agent (and a global one when a global limit is
 * given), so concurrent callers in any number of processes are admitted one at a time and never
 * overspend.
 */
import { Effect, Option, Schema } from "effect"
import type { UsagePort } from "../../core/usageStore.js"
import { DAY_MS } from "../../domain/time.js"
import type { UsageEvent } from "../../domain/usage.js"
import { insertInto } from "../../tables/table.js"
import { usageAggregates as aggregate, usageEventsTable } from "../../tables/usageEvents.js"
import { decodeRows, lockKey, type PgClient, type Queryable } from "./client.js"

const INSERT = insertInto(usageEventsTable, "postgres")

const decodeSpent = Schema.decodeUnknownSync(Schema.Struct({ spent: Schema.Array(Schema.Number) }))
const spentRow = (row: unknown) => decodeSpent(row)

/**
 * What was spent at or after each instant of `since` (by `agentId`, or by everyone), in one
 * statement. Sums run in insertion order where the plan allows, like the in-memory reference.
 */
const spentSince = (q: Queryable, operation: string, agentId: string | undefined, since: ReadonlyArray<number>) => {
  if (since.length === 0) return Effect.succeed<ReadonlyArray<number>>([])
  const values: Array<unknown> = [...since, Math.min(...since)]
  const sums = since.map((_, i) => `coalesce(sum(cost_usd) FILTER (WHERE timestamp >= $${i + 1}::bigint), 0)::float8`)
  let agentClause = ""
  if (agentId !== undefined) {
    values.push(agentId)
    agentClause = ` AND agent_id = $${values.length}`
  }
  return Effect.flatMap(
    q.query({
      text: `SELECT ARRAY[${sums.join(", ")}] AS spent FROM usage_events WHERE timestamp >= $${
        since.length + 1
      }::bigint${agentClause}`,
      values
    }),
    (rows) => Effect.map(decodeRows(operation, rows, spentRow), (decoded) => decoded[0]!.spent)
  )
}

const insertEvent = (q: Queryable, e: UsageEvent) =>
  q.execute({ name: "engram_usage_insert", text: INSERT, values: usageEventsTable.values(e) })

const TOTALS = `coalesce(sum(input_tokens), 0)::bigint AS "inputTokens",
  coalesce(sum(output_tokens), 0)::bigint AS "outputTokens",
  coalesce(sum(cost_usd), 0)::float8 AS "costUsd",
  count(*)::bigint AS calls,
  coalesce(sum(tool_calls), 0)::bigint AS "toolCalls"`

export const port = (client: PgClient): UsagePort => {
  const budgetKey = (agentId?: string) =>
    agentId === undefined ? lockKey(client.schema, "budget") : lockKey(client.schema, "budget", agentId)

  return {
    backend: "postgres",
    insert: (event) => Effect.asVoid(client.withConnection("insert", (q) => insertEvent(q, event))),
    spentSince: (agent, since) => client.withConnection("spentSince", (q) => spentSince(q, "spentSince", agent, since)),
    summary: (agent) =>
      Effect.map(
        client.rows("summary", {
          text: `SELECT ${TOTALS} FROM usage_events WHERE $1::text IS NULL OR agent_id = $1`,
          values: [agent ?? null]
        }, aggregate.summary),
        (rows) => rows[0]!
      ),
    byModel: () =>
      client.rows(
        "byModel",
        `SELECT model, sum(cost_usd)::float8 AS "costUsd", sum(input_tokens)::bigint AS "inputTokens",
                sum(output_tokens)::bigint AS "outputTokens", count(*)::bigint AS calls
         FROM usage_events GROUP BY model`,
        aggregate.byModel
      ),
    daily: (since) =>
      client.rows("daily", {
        text: `SELECT timestamp / ${DAY_MS} AS day, sum(cost_usd)::float8 AS "costUsd",
                      sum(input_tokens + output_tokens)::bigint AS tokens, count(*)::bigint AS calls
               FROM usage_events WHERE timestamp >= $1 GROUP BY day`,
        values: [since]
      }, aggregate.day),
    firstEventAt: () =>
      Effect.map(
        client.rows("firstEventAt", "SELECT min(timestamp) AS first FROM usage_events", aggregate.first),
        (rows) => Option.fromNullable(rows[0]?.first ?? null)
      ),
    deleteBefore: (cutoff) =>
      client.execute("deleteBefore", { text: "DELETE FROM usage_events WHERE timestamp < $1", values: [cutoff] }),
    admitWithinBudget: (event, since, refuse) =>
      client.transaction("admitWithinBudget", (q) =>
        Effect.gen(function*() {
          // Agent lock first, then the global one: a holder of the global lock never waits for an
          // agent lock, so the two cannot deadlock. The locks are their own statement so the reads
          // below take their snapshot after they are held.
          const keys = [
            ...(since.agent.length > 0 ? [budgetKey(event.agentId)] : []),
            ...(since.global.length > 0 ? [budgetKey()] : [])
          ]
          if (keys.length > 0) {
            yield* q.execute({
              text: `SELECT ${keys.map((_, i) => `pg_advisory_xact_lock($${i + 1}::bigint)`).join(", ")}`,
              values: keys
            })
          }
          const refused = refuse({
            agent: yield* spentSince(q, "admitWithinBudget", event.agentId, since.agent),
            global: yield* spentSince(q, "admitWithinBudget", undefined, since.global)
          })
          if (refused !== undefined) return refused
          yield* insertEvent(q, event)
          return undefined
        }))
  }
}
