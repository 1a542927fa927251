/** Reciprocal rank fusion (Cormack et al. 2009): fuse rankings without comparing their scores. */

/** The constant k of RRF; 60 is the value from the original paper. */
const RRF_K = 60

/**
 * Fuse ranked id lists: score(id) = Σ 1 / (k + rank), rank starting at 1. Ties keep the order in
 * which ids first appear across the lists.
 */
export const reciprocalRankFusion = <Id>(
  rankings: ReadonlyArray<ReadonlyArray<Id>>,
  k = RRF_K
): ReadonlyArray<{ readonly id: Id; readonly score: number }> => {
  const scores = new Map<Id, number>()
  for (const ranking of rankings) {
    ranking.forEach((id, i) => scores.set(id, (scores.get(id) ?? 0) + 1 / (k + i + 1)))
  }
  return [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score)
}
