import { Context, type Effect, type Option } from "effect"
import type { InvalidInput, QuotaExceeded, StoreFailure } from "../domain/errors.js"
import type {
  Budget,
  BudgetLimits,
  DailyUsage,
  ModelUsage,
  SpendQuery,
  UsageEvent,
  UsageInput,
  UsageSummary
} from "../domain/usage.js"

type E = InvalidInput | StoreFailure

/**
 * LLM usage metering and budgets. Windows: hour = the last 60 minutes (rolling),
 * day = since UTC midnight, month = since the first of the UTC month; "now" is the Effect Clock.
 */
export class UsageStore extends Context.Tag("engram/UsageStore")<UsageStore, {
  /** Record an event stamped with Clock now. */
  readonly record: (input: UsageInput) => Effect.Effect<UsageEvent, E>
  /** USD spent in the window, by one agent or by all. */
  readonly spend: (query: SpendQuery) => Effect.Effect<number, E>
  readonly summary: (agentId?: string) => Effect.Effect<UsageSummary, E>
  /** Per model, cost descending (ties by model name). */
  readonly byModel: () => Effect.Effect<ReadonlyArray<ModelUsage>, E>
  /** The last `days` UTC days including today, date ascending; days without events are omitted. */
  readonly dailyBreakdown: (days: number) => Effect.Effect<ReadonlyArray<DailyUsage>, E>
  readonly firstEventAt: () => Effect.Effect<Option.Option<number>, E>
  /** Delete events older than `days` days; returns how many. */
  readonly deleteOlderThan: (days: number) => Effect.Effect<number, E>
  /** Fails when any window with a limit > 0 is already spent (spent ≥ limit). */
  readonly checkBudget: (agentId: string | undefined, limits: BudgetLimits) => Effect.Effect<void, E | QuotaExceeded>
  /**
   * Check and record atomically: admitted only when spent + cost ≤ limit in every limited window,
   * for the agent and globally. Concurrent callers in several processes never overspend.
   */
  readonly recordWithinBudget: (input: UsageInput, budget: Budget) => Effect.Effect<UsageEvent, E | QuotaExceeded>
}>() {}
