/**
 * The decay rule of consolidation: a memory not accessed for `staleAfterMs` loses a share
 * `decayRate` of its confidence, never going below `floor`.
 */

/** The settings decay reads. */
export interface DecaySettings {
  readonly decayRate: number
  readonly staleAfterMs: number
  readonly floor: number
}

/** A memory is decayed when it was not accessed for staleAfterMs and is still above the floor. */
export const isStale = (accessedAt: number, confidence: number, now: number, s: DecaySettings): boolean =>
  accessedAt < now - s.staleAfterMs && confidence > s.floor

/** New confidence of a stale memory. */
export const decayed = (confidence: number, s: DecaySettings): number =>
  Math.max(s.floor, confidence * (1 - s.decayRate))

/**
 * The bound a store can test in its own query to find the memories that may be stale (the form of
 * `isStale` without the arithmetic): accessedAt < accessedBefore and confidence > confidenceAbove.
 */
export interface StaleBound {
  readonly accessedBefore: number
  readonly confidenceAbove: number
}

export const staleBound = (now: number, s: DecaySettings): StaleBound => ({
  accessedBefore: now - s.staleAfterMs,
  confidenceAbove: s.floor
})
