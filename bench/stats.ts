/** Timing and summary helpers shared by the parent and the children. */

/** Nanoseconds on the monotonic clock (comparable across processes of one Linux machine). */
export const now = (): bigint => process.hrtime.bigint()

/** Nanoseconds elapsed since `start`, as a number. */
export const since = (start: bigint): number => Number(process.hrtime.bigint() - start)

/** The p-th percentile (0–100) of `values` by the nearest-rank method; NaN when empty. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** The median of `values` (mean of the middle two for an even count); NaN when empty. */
export const median = (values: ReadonlyArray<number>): number => {
  const finite = values.filter((v) => Number.isFinite(v))
  if (finite.length === 0) return Number.NaN
  const sorted = [...finite].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Latency percentiles of per-operation nanoseconds, in milliseconds. */
export const latencyFigures = (prefix: string, ns: ReadonlyArray<number>): Record<string, number> => ({
  [`${prefix}.p50Ms`]: percentile(ns, 50) / 1e6,
  [`${prefix}.p95Ms`]: percentile(ns, 95) / 1e6,
  [`${prefix}.p99Ms`]: percentile(ns, 99) / 1e6,
  [`${prefix}.meanMs`]: ns.reduce((a, b) => a + b, 0) / Math.max(1, ns.length) / 1e6
})

/** Operations per second for `ops` operations in `ns` nanoseconds. */
export const perSecond = (ops: number, ns: number): number => (ns > 0 ? ops / (ns / 1e9) : Number.NaN)
