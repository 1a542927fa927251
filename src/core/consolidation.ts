/**
 * Consolidation rules (SPEC §2.8), shared by every backend: option decoding, the run and its
 * report, the decay formula and the merge plan. Backends only read candidates and write the results.
 */
import { Clock, Effect } from "effect"
import type { InvalidInput } from "../domain/errors.js"
import { ConsolidationOptions, type ConsolidationReport } from "../domain/memory.js"
import { decode, invalid } from "./decode.js"
import { cosine } from "./vector.js"

export type ConsolidationSettings = typeof ConsolidationOptions.Type

const decodeOptions = decode(ConsolidationOptions, "options")

/** Decode options; `decayRate` must lie strictly between 0 and 1. */
export const consolidationSettings = (
  options: typeof ConsolidationOptions.Encoded | undefined
): Effect.Effect<ConsolidationSettings, InvalidInput> =>
  Effect.flatMap(decodeOptions(options ?? {}), (o) =>
    o.decayRate > 0 && o.decayRate < 1
      ? Effect.succeed(o)
      : Effect.fail(invalid("options.decayRate", "must be strictly between 0 and 1")))

/**
 * One consolidation run: decode the options, read now, let the backend decay and merge (`run`
 * returns how many memories each step touched), and report the counts with the run's wall-clock
 * duration.
 */
export const consolidationRun = <E, R>(
  options: typeof ConsolidationOptions.Encoded | undefined,
  run: (settings: ConsolidationSettings, now: number) => Effect.Effect<{ readonly decayed: number; readonly merged: number }, E, R>
): Effect.Effect<ConsolidationReport, E | InvalidInput, R> =>
  Effect.gen(function*() {
    const settings = yield* consolidationSettings(options)
    const started = Date.now()
    const now = yield* Clock.currentTimeMillis
    const { decayed, merged } = yield* run(settings, now)
    return { decayed, merged, durationMs: Date.now() - started }
  })

/** New confidence of a stale memory. */
export const decayed = (confidence: number, s: ConsolidationSettings): number =>
  Math.max(s.floor, confidence * (1 - s.decayRate))

/** A memory is decayed when it was not accessed for staleAfterMs and is still above the floor. */
export const isStale = (accessedAt: number, confidence: number, now: number, s: ConsolidationSettings): boolean =>
  accessedAt < now - s.staleAfterMs && confidence > s.floor

/** What merge needs to know about a memory. */
export interface MergeCandidate {
  readonly id: string
  readonly createdAt: number
  readonly embedding: ReadonlyArray<number>
  readonly accessCount: number
  readonly confidence: number
}

/** One merge: `others` fold into `keep` (the oldest), which gets the summed counts and max confidence. */
export interface MergeGroup {
  readonly keep: string
  readonly others: ReadonlyArray<string>
  readonly accessCount: number
  readonly confidence: number
}

/**
 * Plan merges within one agent and scope: walking memories oldest first, each memory not yet merged
 * absorbs every later memory whose cosine with it is ≥ threshold. Deterministic (oldest, then id).
 */
export const planMerges = (candidates: ReadonlyArray<MergeCandidate>, threshold: number): ReadonlyArray<MergeGroup> => {
  const sorted = [...candidates].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const absorbed = new Set<string>()
  const groups: Array<MergeGroup> = []
  for (let i = 0; i < sorted.length; i++) {
    const keep = sorted[i]!
    if (absorbed.has(keep.id)) continue
    const others: Array<MergeCandidate> = []
    for (let j = i + 1; j < sorted.length; j++) {
      const other = sorted[j]!
      if (absorbed.has(other.id)) continue
      if (cosine(keep.embedding, other.embedding) >= threshold) {
        others.push(other)
        absorbed.add(other.id)
      }
    }
    if (others.length > 0) {
      groups.push({
        keep: keep.id,
        others: others.map((o) => o.id),
        accessCount: others.reduce((n, o) => n + o.accessCount, keep.accessCount),
        confidence: others.reduce((c, o) => Math.max(c, o.confidence), keep.confidence)
      })
    }
  }
  return groups
}
