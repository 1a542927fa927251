/**
 * Every public service method, on every layer, passes through `instrument`: it becomes a span named
 * `<Service>.<method>` (a child of the caller's span), feeds two Effect metrics, and any
 * `StorageError` it fails with carries that same name as its `operation`, whatever backend raised it.
 *
 * Span attributes are for triage and never carry content or secrets: `engram.backend`, the agent id
 * when the call names one, and `engram.result.count` for calls that return several things. Spans are
 * made when the application has installed a tracer (for instance @effect/opentelemetry's): under
 * Effect's built-in tracer, which exports nothing, a span would cost more than a key-value read and
 * nobody could ever see it, so none is made.
 *
 * Metrics (exportable with @effect/opentelemetry, see the README):
 * - `engram_calls_total` — a counter tagged `service`, `method`, `backend`, `outcome`
 *   (`success`, `failure` for a typed error, `defect`, `interrupted`);
 * - `engram_call_duration_seconds` — a histogram of wall time, tagged `service`, `method`, `backend`.
 * Each method's tagged metrics are resolved once, when the service is built: tagging per call would
 * make Effect look the metric up in its registry on every call.
 */
import {
  Cause,
  type Context,
  Effect,
  Exit,
  Metric,
  MetricBoundaries,
  MetricKey,
  MetricLabel,
  Option,
  Stream,
  type Tracer
} from "effect"
import { type BackendName, StorageError } from "../domain/errors.js"

const CALLS = "engram_calls_total"
const CALLS_DESCRIPTION = "engram service calls by service, method, backend and outcome"
const DURATION = "engram_call_duration_seconds"
const DURATION_DESCRIPTION = "engram service call latency in seconds"
/** 50 µs to ~26 s. */
const DURATION_BOUNDARIES = MetricBoundaries.exponential({ start: 0.00005, factor: 2, count: 20 })

/** The call counter, before tags (for reading it back: tag it as `instrument` does). */
export const callsTotal = Metric.counter(CALLS, { description: CALLS_DESCRIPTION, incremental: true })

/** The call latency histogram, before tags. */
export const callDuration = Metric.histogram(DURATION, DURATION_BOUNDARIES, DURATION_DESCRIPTION)

/** Effect's built-in tracer: it keeps spans in memory and exports none. */
export const builtInTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

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
 * The same error with `operation` set to the public method's name. The fields are copied one by one:
 * an error's `message` is not enumerable, so a spread would drop it and the constructor would throw.
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
    const counter = (outcome: Outcome) =>
      Metric.fromMetricKey(
        MetricKey.counter(CALLS, { description: CALLS_DESCRIPTION, incremental: true }).pipe(
          MetricKey.taggedWithLabels(labels({ ...tags, outcome }))
        )
      )
    const counters: Record<Outcome, Metric.Metric.Counter<number>> = {
      success: counter("success"),
      failure: counter("failure"),
      defect: counter("defect"),
      interrupted: counter("interrupted")
    }
    const latency = Metric.fromMetricKey(
      MetricKey.histogram(DURATION, DURATION_BOUNDARIES, DURATION_DESCRIPTION).pipe(
        MetricKey.taggedWithLabels(labels(tags))
      )
    )
    /** Count a finished call and record its wall time (a TestClock would record zeros). */
    const record = (exit: Exit.Exit<unknown, unknown>, started: number) => {
      counters[outcomeOf(exit)].unsafeUpdate(1, [])
      latency.unsafeUpdate((performance.now() - started) / 1000, [])
      return Effect.void
    }
    const rename = renamed(operation)
    const spanOptions = (args: ReadonlyArray<unknown>) => {
      const agent = agentOf(args, position)
      return {
        attributes: agent === undefined
          ? { "engram.backend": backend }
          : { "engram.backend": backend, "engram.agent_id": agent },
        kind: "client" as const,
        // The call site Effect would record is always this file (the span starts here, not at the
        // caller), and capturing it costs about as much as the rest of the span.
        captureStackTrace: false
      }
    }
    out[method] = (...args: ReadonlyArray<never>) => {
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
            Stream.ensuringWith((exit) => record(exit, started)),
            Stream.withSpan(operation, spanOptions(args))
          )
        })
      }
      const effect = Effect.mapError(result as Effect.Effect<unknown, unknown>, rename)
      return Effect.tracerWith((tracer) => {
        const started = performance.now()
        const traced = tracer === builtInTracer ? effect : effect.pipe(
          Effect.tap((value) => {
            const count = countOf(value)
            return count === undefined ? Effect.void : Effect.annotateCurrentSpan("engram.result.count", count)
          }),
          Effect.withSpan(operation, spanOptions(args))
        )
        return Effect.onExit(traced, (exit) => record(exit, started))
      })
    }
  }
  return out as S
}

/**
 * `instrument` for the implementation of `tag` over a backend, under the name the tag declares the
 * service with (`engram/TaskQueue` → `TaskQueue`), so that spans, metrics and operation names cannot
 * drift from the service they report on. Given the methods that name their agent by position
 * (`{}` for none), it returns the wrapper to apply to the service's methods.
 */
export const instrumentService =
  <Id, S extends object>(
    tag: Context.Tag<Id, S>,
    backend: BackendName,
    agentArguments: AgentArguments<S> = {}
  ) =>
  (service: S): S => instrument(tag.key.slice(tag.key.lastIndexOf("/") + 1), backend, service, agentArguments)

const labels = (tags: Record<string, string>): ReadonlyArray<MetricLabel.MetricLabel> =>
  Object.entries(tags).map(([k, v]) => MetricLabel.make(k, v))
