/** Budget decisions (SPEC §2.5), the same on every backend; backends only supply the spend figures. */
import type { BudgetWindow } from "../domain/errors.js"
import { QuotaExceeded } from "../domain/errors.js"
import type { BudgetLimits } from "../domain/usage.js"

export const WINDOWS: ReadonlyArray<BudgetWindow> = ["hour", "day", "month"]

/** The windows that have a limit above 0. */
export const limitedWindows = (limits: BudgetLimits | undefined): ReadonlyArray<BudgetWindow> =>
  limits === undefined ? [] : WINDOWS.filter((w) => (limits[w] ?? 0) > 0)

/**
 * The first window whose limit is broken by adding `cost` to what was spent, or undefined.
 * With cost 0 this is the `checkBudget` rule (spent ≥ limit is exceeded); with cost > 0 it is the
 * admission rule (spent + cost > limit is refused).
 */
export const exceeded = (
  scope: "agent" | "global",
  agentId: string | undefined,
  limits: BudgetLimits | undefined,
  spent: (window: BudgetWindow) => number,
  cost: number
): QuotaExceeded | undefined => {
  for (const window of limitedWindows(limits)) {
    const limit = limits![window]!
    const s = spent(window)
    // A tolerance of a billionth of the limit keeps float rounding in sums from refusing an exact fit.
    const broken = cost === 0 ? s >= limit : s + cost > limit * (1 + 1e-9)
    if (broken) {
      return new QuotaExceeded({ scope, window, spent: s, limit, ...(agentId === undefined ? {} : { agentId }) })
    }
  }
  return undefined
}
