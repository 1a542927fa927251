/** Time in the domain is UTC epoch milliseconds (SPEC R-DOM-3); "now" always comes from Effect's Clock. */
import { Schema } from "effect"

/** A UTC instant in epoch milliseconds. */
export const EpochMillis = Schema.Number.pipe(
  Schema.int({ message: () => "must be an integer number of epoch milliseconds" }),
  Schema.between(0, 8_640_000_000_000_000, { message: () => "must be a valid epoch millisecond instant" })
)
export type EpochMillis = typeof EpochMillis.Type

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000
