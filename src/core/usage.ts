/** Usage events (SPEC §2.5): the event a `record` (or an admitted `recordWithinBudget`) stores. */
import { Effect } from "effect"
import { mintUsageEventId } from "../domain/ids.js"
import type { UsageEvent, UsageInput } from "../domain/usage.js"

/** A new event for decoded `input`, with a fresh id, stamped `now`. */
export const newUsageEvent = (input: typeof UsageInput.Type, now: number): Effect.Effect<UsageEvent> =>
  Effect.map(mintUsageEventId, (id): UsageEvent => ({ id, ...input, timestamp: now }))
