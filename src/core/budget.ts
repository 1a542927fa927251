/** Budget decisions, the same on every backend; backends only supply the spend figures. */
import type { BudgetWindow } from "../domain/errors.js"
import { QuotaExceeded } from "../domain/errors.js"
import type { Budget, BudgetLimits } from "../domain/usage.js"

export const WINDOWS: ReadonlyArray<BudgetWindow> = ["hour", "day", "month"]

/** The windows that have a limit above 0. */
export const limitedWindows = (limits: BudgetLimits | undefined): ReadonlyArray<BudgetWindow> =>
  limits === undefined ? [] : WINDOWS.filter((w) => (limits[w] ?? 0) > 0)

// A tolerance of a billionth of the limit keeps float rounding in sums from refusing an exact fit.
const TOLERANCE = 1e-9

const firstBroken = (
  scope: "agent" | "global",
  agentId: string | undefined,
  limits: BudgetLimits | undefined,
  spent: (window: BudgetWindow) => number,
  broken: (spent: number, limit: number) => boolean
): QuotaExceeded | undefined => {
  for (const window of limitedWindows(limits)) {
    const limit = limits![window]!
    const s = spent(window)
    if (broken(s, limit)) {
      return new QuotaExceeded({ scope, window, spent: s, limit, ...(agentId === undefined ? {} : { agentId }) })
    }
  }
  return undefined
}

/**
 * The `checkBudget` rule: the first limited window already spent (spent ≥ limit), or undefined.
 * `agentId` undefined checks everyone's spend against global limits.
 */
export const budgetExceeded = (
  agentId: string | undefined,
  limits: BudgetLimits | undefined,
  spent: (window: BudgetWindow) => number
): QuotaExceeded | undefined =>
  firstBroken(agentId === undefined ? "global" : "agent", agentId, limits, spent, (s, limit) => s >= limit)

/**
 * The `recordWithinBudget` rule: the first limited window that recording the event's cost would
 * take above its limit (spent + cost > limit) — the agent's limits first, then the global ones — or
 * undefined when the event is admitted. This is a different rule from `budgetExceeded`: a window
 * spent exactly to its limit still admits a zero-cost record.
 */
export const admissionRefused = (
  event: { readonly agentId: string; readonly costUsd: number },
  budget: Budget,
  agentSpent: (window: BudgetWindow) => number,
  globalSpent: (window: BudgetWindow) => number
): QuotaExceeded | undefined => {
  const over = (s: number, limit: number) => s + event.costUsd > limit * (1 + TOLERANCE)
  return firstBroken("agent", event.agentId, budget.agent, agentSpent, over) ??
    firstBroken("global", undefined, budget.global, globalSpent, over)
}
