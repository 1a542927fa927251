/**
 * Consolidation written once: option decoding (with the store's default decay rate), the Clock, the
 * run — decay page by page, then merge one agent and scope at a time — and its report. The rules are
 * core/decay.ts and core/merge.ts; a store provides `ConsolidationPort`, the primitives that read
 * candidates and write results with its own isolation. A store that runs consolidation itself (the
 * gateway) provides `RemoteConsolidationPort` instead.
 */
import { Clock, type Context, Effect } from "effect"
import type { BackendName, InvalidInput, StoreFailure } from "../domain/errors.js"
import type { AgentId } from "../domain/ids.js"
import { ConsolidationOptions } from "../domain/memory.js"
import { Consolidation } from "../services/Consolidation.js"
import { decayed, isStale, type StaleBound, staleBound } from "./decay.js"
import { decode, invalid } from "./decode.js"
import { instrumentService } from "./instrument.js"
import { type MergeCandidate, type MergeGroup, planMerges } from "./merge.js"

export type ConsolidationSettings = typeof ConsolidationOptions.Type

/** What decay needs to know about a memory that may be stale. */
export interface StaleMemory {
  readonly confidence: number
  readonly accessedAt: number
}

/** The memories merge looks at together: one agent's memories with an embedding in one scope. */
export interface MergePartition {
  readonly agentId: AgentId
  readonly scope: string
}

/** What a decay page did, and where the next one starts (undefined: this was the last). */
export interface DecayPage {
  readonly decayed: number
  readonly next: string | undefined
}

/** The storage primitives of consolidation. */
export interface ConsolidationPort {
  readonly backend: BackendName
  /**
   * One page of the memories inside `bound` (the query form of `isStale`), from `cursor` (undefined:
   * the first page; the store's own cursors otherwise). Each gets the confidence `decay` returns for
   * it, none when it returns undefined, in one unit of isolation with the read; a memory is visited
   * once per run.
   */
  readonly decayPage: (
    bound: StaleBound,
    cursor: string | undefined,
    decay: (m: StaleMemory) => number | undefined
  ) => Effect.Effect<DecayPage, StoreFailure>
  /** The (agent, scope) pairs holding at least one memory with an embedding. */
  readonly partitions: () => Effect.Effect<ReadonlyArray<MergePartition>, StoreFailure>
  /**
   * Read the partition's memories with an embedding and apply the merges `plan` makes of them (each
   * `keep` gets the group's access count and confidence, the `others` are forgotten), in one unit of
   * isolation; how many memories were forgotten.
   */
  readonly mergePartition: (
    partition: MergePartition,
    plan: (candidates: ReadonlyArray<MergeCandidate>) => ReadonlyArray<MergeGroup>
  ) => Effect.Effect<number, StoreFailure>
}

/**
 * A store that runs consolidation itself, given checked options (it applies its own defaults to
 * what they leave out); how many memories it decayed and merged.
 */
export interface RemoteConsolidationPort {
  readonly backend: BackendName
  readonly consolidate: (
    options: ConsolidationOptions
  ) => Effect.Effect<{ readonly decayed: number; readonly merged: number }, InvalidInput | StoreFailure>
}

/** What a store's options set for consolidation. */
export interface ConsolidationDefaults {
  /** The decay rate when the call names none (the Schema's default otherwise). */
  readonly decayRate?: number | undefined
}

const decodeOptions = decode(ConsolidationOptions, "options")

/** The options of a call with the store's default decay rate filled in. */
const withDefaults = (
  options: ConsolidationOptions | undefined,
  defaults: ConsolidationDefaults
): ConsolidationOptions => {
  const given = options ?? {}
  return defaults.decayRate === undefined || given.decayRate !== undefined
    ? given
    : { ...given, decayRate: defaults.decayRate }
}

/** Decode options; `decayRate` must lie strictly between 0 and 1. */
const consolidationSettings = (
  options: ConsolidationOptions | undefined
): Effect.Effect<ConsolidationSettings, InvalidInput> =>
  Effect.flatMap(decodeOptions(options ?? {}), (o) =>
    o.decayRate > 0 && o.decayRate < 1
      ? Effect.succeed(o)
      : Effect.fail(invalid("options.decayRate", "must be strictly between 0 and 1")))

/** Decay, page by page, then merge, one partition at a time. */
const runLocally = (port: ConsolidationPort, s: ConsolidationSettings, now: number) =>
  Effect.gen(function*() {
    const bound = staleBound(now, s)
    const decay = (
      m: StaleMemory
    ) => (isStale(m.accessedAt, m.confidence, now, s) ? decayed(m.confidence, s) : undefined)
    let decayedCount = 0
    let cursor: string | undefined
    do {
      const page = yield* port.decayPage(bound, cursor, decay)
      decayedCount += page.decayed
      cursor = page.next
    } while (cursor !== undefined)
    const plan = (candidates: ReadonlyArray<MergeCandidate>) => planMerges(candidates, s.mergeThreshold)
    let merged = 0
    for (const partition of yield* port.partitions()) merged += yield* port.mergePartition(partition, plan)
    return { decayed: decayedCount, merged }
  })

/**
 * Consolidation over a store's port (or a remote store's); `durationMs` is the run's elapsed time by
 * the Effect Clock's high-resolution time (so a test clock decides it, and a wall-clock step does not).
 */
export const makeConsolidation = (
  port: ConsolidationPort | RemoteConsolidationPort,
  defaults: ConsolidationDefaults = {}
): Context.Tag.Service<typeof Consolidation> =>
  instrumentService(Consolidation, port.backend)({
    consolidate: (options) =>
      Effect.gen(function*() {
        const given = withDefaults(options, defaults)
        const settings = yield* consolidationSettings(given)
        const started = yield* Clock.currentTimeNanos
        const now = yield* Clock.currentTimeMillis
        const counts = "consolidate" in port ? yield* port.consolidate(given) : yield* runLocally(port, settings, now)
        const ended = yield* Clock.currentTimeNanos
        return { decayed: counts.decayed, merged: counts.merged, durationMs: Number(ended - started) / 1e6 }
      })
  })
