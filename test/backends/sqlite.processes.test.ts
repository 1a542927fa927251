/**
 * SqliteLive with several processes on one file: concurrent audit
 * appenders keep one chain, concurrent starters migrate once and all serve, concurrent claimers never
 * share a task, and a writer killed with SIGKILL loses nothing it acknowledged.
 */
import { Context, Effect, Layer } from "effect"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { layer } from "../../src/backends/sqlite/index.js"
import { verifyChain } from "../../src/core/audit.js"
import type { AuditEntry } from "../../src/domain/audit.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import { TaskQueue } from "../../src/services/TaskQueue.js"
import { bundleChild, makeTempDir, openRaw, removeDir, runChild, startChild, TEST_SPACE } from "../support/sqlite.js"

let dir: string
let child: string
let round = 0
/** A new database path in this file's temp directory. */
const freshPath = () => join(dir, `db-${++round}.sqlite`)

beforeAll(async () => {
  dir = makeTempDir()
  child = await bundleChild("sqlite-child.ts", dir)
}, 60_000)

afterAll(() => removeDir(dir))

/** Every audit row of the file, by seq. */
const auditRows = (path: string): Array<AuditEntry> => {
  const db = openRaw(path, { readonly: true })
  try {
    return (db.prepare(
      `SELECT seq, timestamp, agent_id, action, detail, outcome, prev_hash, hash FROM audit_log ORDER BY seq`
    )
      .all() as Array<
        {
          seq: number
          timestamp: number
          agent_id: string
          action: string
          detail: string
          outcome: string
          prev_hash: string
          hash: string
        }
      >)
      .map((r) => ({
        seq: r.seq,
        timestamp: r.timestamp,
        agentId: r.agent_id,
        action: r.action,
        detail: r.detail,
        outcome: r.outcome,
        prevHash: r.prev_hash,
        hash: r.hash
      }))
  } finally {
    db.close()
  }
}

/** The core's verification over a list of rows. */
const verifyRows = (rows: ReadonlyArray<AuditEntry>) =>
  Effect.runPromise(verifyChain((after, limit) => Effect.succeed(rows.filter((r) => r.seq > after).slice(0, limit))))

/** Build the store on `path` in this process and verify its audit log through the service. */
const openAndVerify = (path: string) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(Layer.build(layer({ path, embedding: TEST_SPACE })), (ctx) => Context.get(ctx, AuditLog).verify())
    )
  )

describe("SqliteLive across processes", () => {
  it("8 processes × 500 audit appends: seq 1..4000 contiguous, one chain that verifies", async () => {
    const path = freshPath()
    const outputs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => runChild(child, ["audit", path, "500", `writer-${i}`]))
    )
    const acknowledged = outputs.flat().map((line) => Number(line.replace(/^seq /, "")))
    expect(acknowledged.length).toBe(4000)
    expect(new Set(acknowledged).size, "no seq was handed to two appenders").toBe(4000)
    const rows = auditRows(path)
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 4000 }, (_, i) => i + 1))
    for (let w = 0; w < 8; w++) expect(rows.filter((r) => r.agentId === `writer-${w}`).length).toBe(500)
    const verified = await verifyRows(rows)
    expect(verified).toEqual({ entries: 4000, headHash: rows[3999]!.hash })
    expect(await openAndVerify(path)).toEqual(verified)
  }, 120_000)

  it(
    "8 processes starting on a fresh file at once, 10 rounds: migrations applied once, every process serves",
    async () => {
      const failures: Array<string> = []
      for (let r = 0; r < 10; r++) {
        const path = freshPath()
        const children = Array.from({ length: 8 }, () => startChild(child, ["start", path]))
        // Everyone loads its code first; then all open the fresh file at the same moment.
        await Promise.all(children.map((c) => c.waitFor((l) => l === "ready")))
        for (const c of children) c.process.stdin!.write("go\n")
        const exits = await Promise.all(children.map((c) => c.exited))
        exits.forEach((e, i) => {
          const c = children[i]!
          if (e.code !== 0 || !c.lines.includes("served")) failures.push(`round ${r}, child ${i}: ${c.stderr.join("")}`)
        })
        expect(failures).toEqual([])
        const db = openRaw(path, { readonly: true })
        try {
          const applied = db.prepare(
            `SELECT version, count(*) AS n FROM engram_migrations GROUP BY version ORDER BY version`
          ).all()
          expect(applied, `round ${r}`).toEqual([{ version: 1, n: 1 }, { version: 5, n: 1 }])
          expect(db.prepare(`SELECT value FROM engram_meta WHERE key = 'embedding.dimensions'`).pluck().get()).toBe("8")
          expect(db.prepare(`SELECT count(*) FROM tasks`).pluck().get(), "every process wrote").toBe(8)
        } finally {
          db.close()
        }
        const rows = auditRows(path)
        expect(rows.map((row) => row.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
        await verifyRows(rows)
      }
      expect(failures.filter((f) => /locked|busy/i.test(f)), "no 'database is locked'").toEqual([])
      expect(failures).toEqual([])
    },
    180_000
  )

  it("4 processes × 2,000 task claims: no task claimed twice, none lost", async () => {
    const path = freshPath()
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      // Setting up is not under test: without an fsync per post it takes a fraction of the time.
      const setup = layer({ path, embedding: TEST_SPACE, synchronous: "NORMAL" })
      const queue = Context.get(yield* Layer.build(setup), TaskQueue)
      for (let i = 0; i < 8000; i++) yield* queue.post({ title: `task ${i}`, priority: i % 7 })
    })))
    const outputs = await Promise.all(
      Array.from({ length: 4 }, (_, i) => runChild(child, ["claim", path, "2000", `worker-${i}`]))
    )
    const ledger = outputs.flatMap((lines, w) =>
      lines.map((line) => {
        const [, id, attempt] = line.split(" ")
        return { id: id!, attempt: Number(attempt), worker: w }
      })
    )
    expect(ledger.length).toBe(8000)
    expect(new Set(ledger.map((c) => c.id)).size, "double claims").toBe(8000)
    expect(ledger.every((c) => c.attempt === 1), "every claim is the first attempt").toBe(true)
    const db = openRaw(path, { readonly: true })
    try {
      expect(db.prepare(`SELECT status, count(*) AS n FROM tasks GROUP BY status`).all()).toEqual([{
        status: "completed",
        n: 8000
      }])
      const byResult = db.prepare(`SELECT id, result FROM tasks`).all() as Array<{ id: string; result: string }>
      const claimer = new Map(ledger.map((c) => [c.id, `worker-${c.worker}`]))
      expect(
        byResult.every((t) => claimer.get(t.id) === t.result),
        "each task was completed by the worker that claimed it"
      ).toBe(true)
    } finally {
      db.close()
    }
  }, 180_000)

  it(
    "SIGKILL of a writer 20 times mid-loop: every acknowledged write is present, the chain verifies, the next open succeeds",
    async () => {
      const path = freshPath()
      const acknowledged = { audit: new Set<number>(), kv: new Set<number>(), memories: new Set<string>() }
      for (let r = 0; r < 20; r++) {
        const c = startChild(child, ["crash", path, "crasher"])
        // Let it write for a while (it must have written something), then kill it without warning.
        await c.waitFor((l) => l.startsWith("M "))
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 200)))
        c.process.kill("SIGKILL")
        const exit = await c.exited
        expect(exit.signal, `round ${r} was killed, not finished: ${c.stderr.join("")}`).toBe("SIGKILL")
        for (const line of c.lines) {
          const [kind, value] = line.split(" ")
          if (kind === "A") acknowledged.audit.add(Number(value))
          else if (kind === "K") acknowledged.kv.add(Number(value))
          else if (kind === "M") acknowledged.memories.add(value!)
        }
      }
      expect(acknowledged.audit.size).toBeGreaterThan(20)
      const rows = auditRows(path)
      const stored = new Set(rows.map((r) => r.seq))
      expect([...acknowledged.audit].filter((s) => !stored.has(s)), "acknowledged audit entries lost").toEqual([])
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1))
      await verifyRows(rows)
      const db = openRaw(path, { readonly: true })
      try {
        expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
        const keys = new Set(db.prepare(`SELECT key FROM kv WHERE agent_id = 'crasher'`).pluck().all() as Array<string>)
        expect([...acknowledged.kv].filter((i) => !keys.has(`k${i}`)), "acknowledged kv writes lost").toEqual([])
        const ids = new Set(db.prepare(`SELECT id FROM memories`).pluck().all() as Array<string>)
        expect([...acknowledged.memories].filter((id) => !ids.has(id)), "acknowledged memories lost").toEqual([])
        const vectors = db.prepare(`SELECT count(*) FROM memories WHERE embedding IS NOT NULL`).pluck().get()
        expect(vectors, "every memory has its vector").toBe(ids.size)
      } finally {
        db.close()
      }
      // The next open: migrations, embedding space and audit verification all pass.
      expect((await openAndVerify(path)).entries).toBe(rows.length)
    },
    180_000
  )
})
