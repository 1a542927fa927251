/**
 * UsageStore written once: decoding, the Clock, ids, window bounds (windows.ts), budget decisions
 * (budget.ts), ordering and instrumentation live here; a backend provides `UsagePort`, the storage
 * primitives over decoded values. A window reaches the port as the instant it starts at.
 */
import { Clock, type Context, Effect, type Option } from "effect"
import type { BackendName, BudgetWindow, QuotaExceeded, StoreFailure } from "../domain/errors.js"
import { type AgentId, mintUsageEventId } from "../domain/ids.js"
import { DAY_MS } from "../domain/time.js"
import type { ModelUsage, UsageEvent, UsageSummary } from "../domain/usage.js"
import { UsageStore } from "../services/UsageStore.js"
import { admissionRefused, budgetExceeded, limitedWindows } from "./budget.js"
import { usageInputs } from "./inputs.js"
import { instrumentService } from "./instrument.js"
import { compareCodePoints } from "./order.js"
import { breakdownStart, retentionCutoff, utcDate, windowStart } from "./windows.js"

const { budgetInput, days, limitsInput, optionalAgent, retentionDays, spendQuery, usageInput } = usageInputs

/** The totals of one UTC day; `day` is its number (epoch milliseconds / one day, rounded down). */
export interface UsageDay {
  readonly day: number
  readonly costUsd: number
  readonly tokens: number
  readonly calls: number
}

/** Instants (window starts), for the event's agent and for everyone. */
export interface BudgetSpans<A> {
  readonly agent: ReadonlyArray<A>
  readonly global: ReadonlyArray<A>
}

/** The storage primitives of UsageStore. Every argument is already decoded. */
export interface UsagePort {
  readonly backend: BackendName
  readonly insert: (event: UsageEvent) => Effect.Effect<void, StoreFailure>
  /** USD spent at or after each instant of `since` (in that order), by `agentId` or by everyone, from one snapshot. */
  readonly spentSince: (
    agentId: AgentId | undefined,
    since: ReadonlyArray<number>
  ) => Effect.Effect<ReadonlyArray<number>, StoreFailure>
  readonly summary: (agentId: AgentId | undefined) => Effect.Effect<UsageSummary, StoreFailure>
  /** Totals per model, in any order. */
  readonly byModel: () => Effect.Effect<ReadonlyArray<ModelUsage>, StoreFailure>
  /** Totals per UTC day of the events at or after `since`, in any order. */
  readonly daily: (since: number) => Effect.Effect<ReadonlyArray<UsageDay>, StoreFailure>
  readonly firstEventAt: () => Effect.Effect<Option.Option<number>, StoreFailure>
  /** Delete the events before `cutoff`; how many were deleted. */
  readonly deleteBefore: (cutoff: number) => Effect.Effect<number, StoreFailure>
  /**
   * Admit within budget, atomically with respect to every other admission, across processes: read
   * what the event's agent spent since each instant of `since.agent` and what everyone spent since
   * each of `since.global`, ask `refuse`, and insert the event only when it returns undefined.
   * Returns the refusal, if any.
   */
  readonly admitWithinBudget: (
    event: UsageEvent,
    since: BudgetSpans<number>,
    refuse: (spent: BudgetSpans<number>) => QuotaExceeded | undefined
  ) => Effect.Effect<QuotaExceeded | undefined, StoreFailure>
}

/** The spend of a window, from amounts read for `windows` in that order. */
const perWindow = (windows: ReadonlyArray<BudgetWindow>, amounts: ReadonlyArray<number>) => (w: BudgetWindow): number =>
  amounts[windows.indexOf(w)] ?? 0

/** UsageStore over a backend's port. */
export const makeUsageStore = (port: UsagePort): Context.Tag.Service<typeof UsageStore> => {
  const starts = (windows: ReadonlyArray<BudgetWindow>, now: number) => windows.map((w) => windowStart(w, now))

  return instrumentService(UsageStore, port.backend, { summary: 0, checkBudget: 0 })({
    record: (input) =>
      Effect.gen(function*() {
        const u = yield* usageInput(input)
        const now = yield* Clock.currentTimeMillis
        const event: UsageEvent = { id: yield* mintUsageEventId, ...u, timestamp: now }
        yield* port.insert(event)
        return event
      }),
    spend: (query) =>
      Effect.gen(function*() {
        const q = yield* spendQuery(query)
        const now = yield* Clock.currentTimeMillis
        const [amount] = yield* port.spentSince(q.agentId, [windowStart(q.window, now)])
        return amount ?? 0
      }),
    summary: (a) => Effect.flatMap(optionalAgent(a), port.summary),
    byModel: () =>
      Effect.map(
        port.byModel(),
        (rows) => [...rows].sort((x, y) => y.costUsd - x.costUsd || compareCodePoints(x.model, y.model))
      ),
    dailyBreakdown: (n) =>
      Effect.gen(function*() {
        const count = yield* days(n)
        const rows = yield* port.daily(breakdownStart(count, yield* Clock.currentTimeMillis))
        return [...rows]
          .sort((x, y) => x.day - y.day)
          .map((r) => ({ date: utcDate(r.day * DAY_MS), costUsd: r.costUsd, tokens: r.tokens, calls: r.calls }))
      }),
    firstEventAt: () => port.firstEventAt(),
    deleteOlderThan: (n) =>
      Effect.gen(function*() {
        const cutoff = retentionCutoff(yield* retentionDays(n), yield* Clock.currentTimeMillis)
        return yield* port.deleteBefore(cutoff)
      }),
    checkBudget: (a, l) =>
      Effect.gen(function*() {
        const agent = yield* optionalAgent(a)
        const limits = yield* limitsInput(l)
        const windows = limitedWindows(limits)
        if (windows.length === 0) return
        const spent = yield* port.spentSince(agent, starts(windows, yield* Clock.currentTimeMillis))
        const error = budgetExceeded(agent, limits, perWindow(windows, spent))
        if (error !== undefined) return yield* error
      }),
    recordWithinBudget: (input, b) =>
      Effect.gen(function*() {
        const u = yield* usageInput(input)
        const budget = yield* budgetInput(b)
        const now = yield* Clock.currentTimeMillis
        const event: UsageEvent = { id: yield* mintUsageEventId, ...u, timestamp: now }
        const windows = { agent: limitedWindows(budget.agent), global: limitedWindows(budget.global) }
        // Without a limit there is nothing to check, and nothing to serialise with.
        if (windows.agent.length === 0 && windows.global.length === 0) {
          yield* port.insert(event)
          return event
        }
        const refused = yield* port.admitWithinBudget(
          event,
          { agent: starts(windows.agent, now), global: starts(windows.global, now) },
          (spent) =>
            admissionRefused(
              u,
              budget,
              perWindow(windows.agent, spent.agent),
              perWindow(windows.global, spent.global)
            )
        )
        if (refused !== undefined) return yield* refused
        return event
      })
  })
}
