/**
 * The `usage_events` table: one row per usage event, the same columns in SQLite and PostgreSQL
 * (PostgreSQL adds a generated `seq`, which keeps insertion order and is never written). Also the
 * shapes of the aggregates read from it, decoded like rows.
 */
import { Schema } from "effect"
import { EpochMillis } from "../domain/time.js"
import { DailyUsage, ModelUsage, UsageEvent, UsageSummary } from "../domain/usage.js"
import { recordTable } from "./table.js"

export const usageEventsTable = recordTable({ name: "usage_events", fields: UsageEvent.fields, key: ["id"] })

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
