/**
 * The merge rule of consolidation: within one agent and scope, memories whose embeddings are
 * near-duplicates fold into the oldest, which keeps the summed access counts and the highest
 * confidence; the others are forgotten.
 */
import { cosine } from "./vector.js"

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
