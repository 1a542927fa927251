/**
 * The `usage_events` table: one row per usage event, the same columns in SQLite and PostgreSQL
 * (PostgreSQL adds a generated `seq`, which keeps insertion order and is never written). Also the
 * shapes of the aggregates read from it, decoded like rows.
 */
import { Schema } from "effect"
import { EpochMillis } from "../domain/time.js"
import { DailyUsage, ModelUsage, type UsageEvent, UsageSummary } from "../domain/usage.js"
import { storedBrand, table } from "./table.js"

export const UsageEventRow = Schema.Struct({
  id: storedBrand("UsageEventId"),
  agent_id: storedBrand("AgentId"),
  model: Schema.String,
  input_tokens: Schema.Number,
  output_tokens: Schema.Number,
  cost_usd: Schema.Number,
  tool_calls: Schema.Number,
  timestamp: EpochMillis
})

export const usageEventsTable = table({
  name: "usage_events",
  row: UsageEventRow,
  key: ["id"],
  fromRow: (r): UsageEvent => ({
    id: r.id,
    agentId: r.agent_id,
    model: r.model,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    costUsd: r.cost_usd,
    toolCalls: r.tool_calls,
    timestamp: r.timestamp
  }),
  toRow: (e) => ({
    id: e.id,
    agent_id: e.agentId,
    model: e.model,
    input_tokens: e.inputTokens,
    output_tokens: e.outputTokens,
    cost_usd: e.costUsd,
    tool_calls: e.toolCalls,
    timestamp: e.timestamp
  })
})

/** A decoder of one row that throws when it does not match (one argument, so it is safe in `map`). */
const rowDecoder = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknownSync(schema)
  return (row: unknown): A => decode(row)
}

const { date: _, ...dayTotals } = DailyUsage.fields

/** The aggregates read from the table, each decoded like a row. */
export const usageAggregates = {
  /** `inputTokens, outputTokens, costUsd, calls, toolCalls` */
  summary: rowDecoder(UsageSummary),
  /** `model, costUsd, inputTokens, outputTokens, calls` */
  byModel: rowDecoder(ModelUsage),
  /** `day, costUsd, tokens, calls`, where `day` is the UTC day number (epoch ms / one day, rounded down) */
  day: rowDecoder(Schema.Struct({ day: Schema.Number, ...dayTotals })),
  /** `first`: the earliest event time, null without events */
  first: rowDecoder(Schema.Struct({ first: Schema.NullOr(EpochMillis) })),
  /** a sum of costs */
  amount: rowDecoder(Schema.Number)
}
