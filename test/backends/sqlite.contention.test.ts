/**
 * Contended SQLite writers never fail spuriously. More writer processes than cores, each writing
 * every kind of record in turn for a bounded time, run beside a CPU burner and an fsync-heavy
 * process of their own; SQLite's lock is not fair, so a writer can lose the race for it many
 * times in a row. Every writer must finish without a single failed write, and the file must hold
 * exactly what they acknowledged.
 */
import { spawn } from "node:child_process"
import { cpus } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bundleChild, makeTempDir, openRaw, removeDir, runChild } from "../support/sqlite.js"

let dir: string
let child: string

beforeAll(async () => {
  dir = makeTempDir()
  child = await bundleChild("sqlite-child.ts", dir)
}, 60_000)

afterAll(() => removeDir(dir))

/** Two processes that keep a core busy each, and one that writes and fsyncs a file in a loop, for `ms`. */
const startLoad = (ms: number) => {
  const burn = `const end = Date.now() + ${ms}; while (Date.now() < end) {}`
  const fsync = `
    const fs = require("node:fs")
    const fd = fs.openSync(${JSON.stringify(join(dir, "fsync-load.bin"))}, "w")
    const block = Buffer.alloc(64 * 1024, 7)
    const end = Date.now() + ${ms}
    while (Date.now() < end) { fs.writeSync(fd, block); fs.fsyncSync(fd) }
    fs.closeSync(fd)`
  return [burn, burn, fsync].map((code) =>
    new Promise<void>((resolve) =>
      spawn(process.execPath, ["-e", code], { stdio: "ignore" }).on("exit", () => resolve())
    )
  )
}

describe("SqliteLive under write contention", () => {
  it(
    "more writers than cores plus CPU and fsync load: no write fails, every acknowledged write is stored",
    async () => {
      const path = join(dir, "contended.sqlite")
      const writers = Math.max(16, cpus().length * 8)
      const durationMs = 8_000
      const load = startLoad(durationMs)
      const outputs = await Promise.all(
        Array.from({ length: writers }, (_, i) => runChild(child, ["contend", path, String(durationMs), `writer-${i}`]))
      )
      await Promise.all(load)
      // runChild rejects when a child exits non-zero (a failed write): reaching here means none did.
      const rounds = outputs.map((lines) => Number(lines.at(-1)?.replace("done ", "")))
      expect(rounds.every((n) => Number.isInteger(n) && n > 0), `every writer made progress: ${rounds.join(", ")}`)
        .toBe(true)
      const total = rounds.reduce((a, b) => a + b, 0)
      const db = openRaw(path, { readonly: true })
      try {
        const count = (sql: string) => db.prepare(sql).pluck().get() as number
        expect(count(`SELECT count(*) FROM tasks WHERE status = 'completed'`)).toBe(total)
        expect(count(`SELECT count(*) FROM tasks`)).toBe(total)
        expect(count(`SELECT count(*) FROM kv`)).toBe(total)
        expect(count(`SELECT count(*) FROM memories`)).toBe(total)
        expect(count(`SELECT count(*) FROM audit_log`)).toBe(total)
        expect(count(`SELECT max(seq) FROM audit_log`)).toBe(total)
      } finally {
        db.close()
      }
    },
    180_000
  )
})
