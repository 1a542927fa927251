/**
 * Progress output for long work (copy, import, export): a bar when the total is known, a running count
 * otherwise. Written to stderr, redrawn at most every 100 ms, so stdout stays clean for NDJSON.
 */
import { Effect } from "effect"

export interface Progress {
  /** Add `n` records of `kind`. */
  readonly add: (kind: string, n: number) => Effect.Effect<void>
  /** Print the final line. */
  readonly done: Effect.Effect<void>
}

const WIDTH = 30

/** A progress reporter labelled `label`; `total` (records) draws a bar. */
export const makeProgress = (
  label: string,
  total?: number,
  write: (s: string) => void = (s) => void process.stderr.write(s)
): Progress => {
  const counts = new Map<string, number>()
  const started = Date.now()
  let last = 0
  const interactive = process.stderr.isTTY === true
  const line = () => {
    const n = [...counts.values()].reduce((a, b) => a + b, 0)
    const secs = Math.max((Date.now() - started) / 1000, 0.001)
    const rate = Math.round(n / secs)
    const kinds = [...counts].map(([k, v]) => `${k} ${v}`).join(", ")
    if (total !== undefined && total > 0) {
      const f = Math.min(n / total, 1)
      const filled = Math.round(f * WIDTH)
      return `${label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${n}/${total} (${
        Math.round(f * 100)
      }%) ${rate}/s  ${kinds}`
    }
    return `${label}: ${n} records ${rate}/s  ${kinds}`
  }
  return {
    add: (kind, n) =>
      Effect.sync(() => {
        counts.set(kind, (counts.get(kind) ?? 0) + n)
        const now = Date.now()
        // Redraw in place on a terminal; in logs (CI), print a line every 2 s instead.
        if (interactive && now - last >= 100) {
          last = now
          write(`\r${line()}\x1b[K`)
        } else if (!interactive && now - last >= 2000) {
          last = now
          write(`${line()}\n`)
        }
      }),
    done: Effect.sync(() => write(`${interactive ? "\r" : ""}${line()}${interactive ? "\x1b[K" : ""}\n`))
  }
}
