/** LLM usage metering and budgets. Costs are USD. */
import { Schema } from "effect"
import { BudgetWindow } from "./errors.js"
import { AgentId, UsageEventId } from "./ids.js"
import { Name } from "./text.js"
import { EpochMillis } from "./time.js"

const Count = Schema.Int.pipe(Schema.nonNegative())
const Usd = Schema.Number.pipe(Schema.nonNegative(), Schema.finite())

export const UsageInput = Schema.Struct({
  agentId: AgentId,
  model: Name,
  inputTokens: Schema.optionalWith(Count, { default: () => 0 }),
  outputTokens: Schema.optionalWith(Count, { default: () => 0 }),
  costUsd: Schema.optionalWith(Usd, { default: () => 0 }),
  toolCalls: Schema.optionalWith(Count, { default: () => 0 })
})
export type UsageInput = typeof UsageInput.Encoded

export const UsageEvent = Schema.Struct({
  id: UsageEventId,
  agentId: AgentId,
  model: Schema.String,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number,
  toolCalls: Schema.Number,
  timestamp: EpochMillis
})
export type UsageEvent = typeof UsageEvent.Type

export { BudgetWindow }

export const SpendQuery = Schema.Struct({
  agentId: Schema.optional(AgentId),
  window: BudgetWindow
})
export type SpendQuery = typeof SpendQuery.Encoded

export const UsageSummary = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  costUsd: Schema.Number,
  calls: Schema.Number,
  toolCalls: Schema.Number
})
export type UsageSummary = typeof UsageSummary.Type

export const ModelUsage = Schema.Struct({
  model: Schema.String,
  costUsd: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  calls: Schema.Number
})
export type ModelUsage = typeof ModelUsage.Type

export const DailyUsage = Schema.Struct({
  /** UTC date, YYYY-MM-DD */
  date: Schema.String,
  costUsd: Schema.Number,
  tokens: Schema.Number,
  calls: Schema.Number
})
export type DailyUsage = typeof DailyUsage.Type

/** Spend limits in USD per window; 0 or absent means no limit. */
export const BudgetLimits = Schema.Struct({
  hour: Schema.optional(Usd),
  day: Schema.optional(Usd),
  month: Schema.optional(Usd)
})
export type BudgetLimits = typeof BudgetLimits.Encoded

/** Limits for the record's agent and/or for all agents together. */
export const Budget = Schema.Struct({
  agent: Schema.optional(BudgetLimits),
  global: Schema.optional(BudgetLimits)
})
export type Budget = typeof Budget.Encoded
