/** Usage time windows, computed from Clock now so every backend agrees. */
import type { BudgetWindow } from "../domain/errors.js"
import { DAY_MS, HOUR_MS } from "../domain/time.js"

/** Start of UTC day containing `now`. */
const utcDayStart = (now: number): number => Math.floor(now / DAY_MS) * DAY_MS

/** Start of the UTC month containing `now`. */
const utcMonthStart = (now: number): number => {
  const d = new Date(now)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

/**
 * The inclusive lower bound of a window: hour = the last 60 minutes (an event exactly 60 minutes old
 * is inside, 61 minutes old is not), day = since UTC midnight, month = since the first of the UTC month.
 */
export const windowStart = (window: BudgetWindow, now: number): number => {
  switch (window) {
    case "hour":
      return now - HOUR_MS
    case "day":
      return utcDayStart(now)
    case "month":
      return utcMonthStart(now)
  }
}

/** `YYYY-MM-DD` of an instant, in UTC. */
export const utcDate = (t: number): string => new Date(t).toISOString().slice(0, 10)

/** Start of the `days`-day breakdown window: UTC midnight of the day `days - 1` days before today. */
export const breakdownStart = (days: number, now: number): number => utcDayStart(now) - (days - 1) * DAY_MS

/** Events older than this are deleted by `deleteOlderThan(days)`. */
export const retentionCutoff = (days: number, now: number): number => now - days * DAY_MS
