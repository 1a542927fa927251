/** Time in the domain is UTC epoch milliseconds; "now" always comes from Effect's Clock, so
 * tests can drive time with TestClock and every backend agrees on the same instant. */
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
