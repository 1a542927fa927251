/**
 * Every public service method, on every layer, passes through `instrument`: it becomes a span named
 * `<Service>.<method>` (a child of the caller's span), feeds two Effect metrics, and any
 * `StorageError` it fails with carries that same name as its `operation`, whatever backend raised it.
 *
 * Span attributes are for triage and never carry content or secrets: `engram.backend`, the agent id
 * when the call names one, and `engram.result.count` for calls that return several things.
 *
 * Metrics (exportable with @effect/opentelemetry, see the README):
 * - `engram_calls_total` — a counter tagged `service`, `method`, `backend`, `outcome`
 *   (`success`, `failure` for a typed error, `defect`, `interrupted`);
 * - `engram_call_duration_seconds` — a histogram of wall time, tagged `service`, `method`, `backend`.
 */
import { Cause, Effect, Exit, Metric, MetricBoundaries, MetricLabel, Option, Stream } from "effect"
import { type BackendName, StorageError } from "../domain/errors.js"

/** The call counter, before tags. */
export const callsTotal = Metric.counter("engram_calls_total", {
  description: "engram service calls by service, method, backend and outcome",
  incremental: true
})

/** The call latency histogram (seconds, 50 µs to ~26 s), before tags. */
export const callDuration = Metric.histogram(
  "engram_call_duration_seconds",
  MetricBoundaries.exponential({ start: 0.00005, factor: 2, count: 20 }),
  "engram service call latency in seconds"
)

type Outcome = "success" | "failure" | "defect" | "interrupted"

const outcomeOf = <A, E>(exit: Exit.Exit<A, E>): Outcome =>
  Exit.isSuccess(exit)
    ? "success"
    : Cause.isInterruptedOnly(exit.cause)
    ? "interrupted"
    : Cause.isFailure(exit.cause)
    ? "failure"
    : "defect"

/** How many things a result holds, when it is a collection (arrays, pages, options). */
const countOf = (result: unknown): number | undefined => {
  if (Array.isArray(result)) return result.length
  if (Option.isOption(result)) return Option.isSome(result) ? 1 : 0
  if (typeof result === "object" && result !== null && "items" in result && Array.isArray(result.items)) {
    return result.items.length
  }
  return undefined
}

/** The agent a call is about: a string argument at `position`, or an `agentId` field of the first argument. */
const agentOf = (args: ReadonlyArray<unknown>, position: number | undefined): string | undefined => {
  if (position !== undefined) {
    const a = args[position]
    return typeof a === "string" ? a : undefined
  }
  const first = args[0]
  return typeof first === "object" && first !== null && "agentId" in first && typeof first.agentId === "string"
    ? first.agentId
    : undefined
}

/**
 * The same error with `operation` set to the public method's name. Its fields are named one by one:
 * an error's `message` is not an own enumerable property, so a spread would lose it.
 */
const renamed = (operation: string) => <E>(e: E): E =>
  e instanceof StorageError && e.operation !== operation
    ? new StorageError({
      backend: e.backend,
      operation,
      message: e.message,
      ...(e.cause === undefined ? {} : { cause: e.cause })
    }) as E
    : e

/** A service method, seen structurally: some arguments, an Effect (or a Stream, for exports) back. */
type Method = (...args: ReadonlyArray<never>) => unknown

/** Per method: the position of its agent-id argument, when it has one that is not `input.agentId`. */
export type AgentArguments<S> = { readonly [K in keyof S]?: number }

/**
 * Wrap every method of `service` (an object of functions returning Effects; other fields pass
 * through unchanged) with the span, metrics and operation name of `<name>.<method>`.
 */
export const instrument = <S extends object>(
  name: string,
  backend: BackendName,
  service: S,
  agentArguments: AgentArguments<S> = {}
): S => {
  const out: Record<string, unknown> = {}
  for (const [method, value] of Object.entries(service)) {
    if (typeof value !== "function") {
      out[method] = value
      continue
    }
    const fn = value as Method
    const operation = `${name}.${method}`
    const position = (agentArguments as Record<string, number | undefined>)[method]
    const tags = { service: name, method, backend }
    const counters: Record<Outcome, Metric.Metric.Counter<number>> = {
      success: Metric.taggedWithLabels(callsTotal, labels({ ...tags, outcome: "success" })),
      failure: Metric.taggedWithLabels(callsTotal, labels({ ...tags, outcome: "failure" })),
      defect: Metric.taggedWithLabels(callsTotal, labels({ ...tags, outcome: "defect" })),
      interrupted: Metric.taggedWithLabels(callsTotal, labels({ ...tags, outcome: "interrupted" }))
    }
    const latency = Metric.taggedWithLabels(callDuration, labels(tags))
    const rename = renamed(operation)
    out[method] = (...args: ReadonlyArray<never>) => {
      const agent = agentOf(args, position)
      const options = {
        attributes: agent === undefined
          ? { "engram.backend": backend }
          : { "engram.backend": backend, "engram.agent_id": agent },
        kind: "client" as const,
        // The call site would be this wrapper for every span, and capturing it (an Error and its
        // stack) costs more than the rest of the span and metrics together.
        captureStackTrace: false
      }
      let result: unknown
      try {
        result = fn(...args)
      } catch (defect) {
        result = Effect.die(defect)
      }
      // An export is a Stream: its span, count and duration cover the whole stream, and its errors
      // are renamed too.
      if (typeof result === "object" && result !== null && Stream.StreamTypeId in result) {
        const stream = result as Stream.Stream<unknown, unknown>
        return Stream.suspend(() => {
          const started = performance.now()
          return Stream.mapError(stream, rename).pipe(
            Stream.ensuringWith((exit) => measure(counters, latency, exit, started)),
            Stream.withSpan(operation, options)
          )
        })
      }
      return (result as Effect.Effect<unknown, unknown>).pipe(
        Effect.tap((value) => {
          const count = countOf(value)
          return count === undefined ? Effect.void : Effect.annotateCurrentSpan("engram.result.count", count)
        }),
        Effect.mapError(rename),
        Effect.withSpan(operation, options),
        timed(counters, latency)
      )
    }
  }
  return out as S
}

const labels = (tags: Record<string, string>): ReadonlyArray<MetricLabel.MetricLabel> =>
  Object.entries(tags).map(([k, v]) => MetricLabel.make(k, v))

/**
 * Count the call by outcome and record its duration. The duration is wall time on purpose: under a
 * TestClock the Effect clock stands still, and a latency histogram of zeros would say nothing.
 */
const timed = (
  counters: Record<Outcome, Metric.Metric.Counter<number>>,
  latency: Metric.Metric.Histogram<number>
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.onExit(self, (exit) => measure(counters, latency, exit, started))
  })

/** Count a call that ended with `exit` by its outcome, and record its duration since `started`. */
const measure = (
  counters: Record<Outcome, Metric.Metric.Counter<number>>,
  latency: Metric.Metric.Histogram<number>,
  exit: Exit.Exit<unknown, unknown>,
  started: number
): Effect.Effect<void> =>
  Effect.zipRight(
    Metric.increment(counters[outcomeOf(exit)]),
    Metric.update(latency, (performance.now() - started) / 1000)
  )
