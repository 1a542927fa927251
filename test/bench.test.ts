/**
 * Smoke test of `npm run bench`: the whole harness (parent, bundled children, task workers,
 * ground truth, report) in quick mode on SQLite with a tiny N, so the benchmark cannot rot. It
 * checks the shape of what is written and that every figure is a positive number — never a timing.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

interface Row {
  readonly label: string
  readonly unit: string
  readonly engram: number
  readonly raw: number | null
  readonly ratio: number | null
  readonly met: boolean | null
}

interface Report {
  readonly meta: {
    readonly command: string
    readonly machine: { readonly cpu: string; readonly cores: number; readonly memoryGiB: number }
    readonly versions: Record<string, string>
    readonly repeat: number
    readonly quick: boolean
  }
  readonly results: ReadonlyArray<{
    readonly n: number
    readonly backends: Record<
      string,
      {
        readonly engram: Record<string, number>
        readonly raw: Record<string, number>
        readonly rows: ReadonlyArray<Row>
      }
    >
  }>
  readonly runs: ReadonlyArray<
    { readonly backend: string; readonly side: string; readonly figures: Record<string, number> }
  >
}

const runBench = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(root, "bench", "run.ts"), ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** The one row whose figures may legitimately be zero: memory growth while verifying. */
const mayBeZero = (label: string) => label.includes("RSS growth")

describe("npm run bench (quick, SQLite)", () => {
  it("writes a markdown table and a JSON report of positive figures for engram and raw", async () => {
    const out = mkdtempSync(join(tmpdir(), "engram-bench-test-"))
    try {
      const run = await runBench(["--quick", "--backend", "sqlite", "--n", "500", "--out-dir", out, "--name", "smoke"])
      assert.strictEqual(run.code, 0, `bench exited with ${run.code}: ${run.stderr.slice(-3000)}`)
      // Progress is reported on stderr while it runs.
      assert.match(run.stderr, /\[\s*\d+%\] N=500 run 1\/1 sqlite engram: insert/)

      const report = JSON.parse(readFileSync(join(out, "smoke.json"), "utf8")) as Report
      assert.isTrue(report.meta.quick)
      assert.strictEqual(report.meta.repeat, 1)
      assert.include(report.meta.command, "--backend sqlite")
      assert.isAbove(report.meta.machine.cores, 0)
      assert.isAbove(report.meta.machine.memoryGiB, 0)
      for (const v of ["node", "SQLite", "sqlite-vec", "better-sqlite3", "effect"]) {
        assert.match(report.meta.versions[v] ?? "", /\d/, `version of ${v}`)
      }

      assert.deepStrictEqual(report.results.map((r) => r.n), [500])
      const sqlite = report.results[0]!.backends.sqlite
      assert.isDefined(sqlite)
      assert.deepStrictEqual(Object.keys(report.results[0]!.backends), ["sqlite"])

      // Every phase produced its figure on both sides.
      const expected = [
        "insert.rowsPerSec",
        "vector.agent.p50Ms",
        "vector.agent.p95Ms",
        "vector.agent.p99Ms",
        "vector.agent.recallAt10",
        "vector.all.p50Ms",
        "vector.all.recallAt10",
        "text.p50Ms",
        "kv.set.opsPerSec",
        "kv.get.opsPerSec",
        "canonical.opsPerSec",
        "usage.opsPerSec",
        "tasks.w1.opsPerSec",
        "tasks.w4.opsPerSec",
        "audit.append.opsPerSec",
        "audit.verify.ms",
        "rss.peakMb"
      ]
      for (const side of ["engram", "raw"] as const) {
        for (const key of expected) {
          const v = sqlite![side][key]
          assert.isTrue(typeof v === "number" && Number.isFinite(v) && v > 0, `${side} ${key} = ${v}`)
        }
      }
      // Only the raw side has a ranking-only variant; only engram needs the single-agent store.
      assert.isAbove(sqlite!.raw["vector.agent.knn.p50Ms"]!, 0)
      assert.isUndefined(sqlite!.engram["vector.agent.knn.p50Ms"])
      assert.isAbove(sqlite!.engram["insertSolo.rowsPerSec"]!, 0)
      // Exact search on both sides: the same top-10 as the ground truth.
      assert.isAbove(sqlite!.engram["vector.agent.recallAt10"]!, 0.9)
      assert.isAbove(sqlite!.raw["vector.all.recallAt10"]!, 0.9)
      assert.strictEqual(sqlite!.engram["audit.verify.entries"], 2000)

      // The table rows: each engram figure beside the raw figure and their ratio.
      assert.isAtLeast(sqlite!.rows.length, expected.length)
      for (const row of sqlite!.rows) {
        const positive = (v: number | null) =>
          v !== null && Number.isFinite(v) && (mayBeZero(row.label) ? v >= 0 : v > 0)
        assert.isTrue(row.raw !== null && positive(row.raw), `${row.label}: raw ${row.raw}`)
        assert.isTrue(positive(row.engram), `${row.label}: engram ${row.engram}`)
        if (row.raw !== 0) assert.closeTo(row.ratio!, row.engram / row.raw!, 1e-9, row.label)
      }
      const targets = sqlite!.rows.filter((r) => r.met !== null).map((r) => r.label)
      // At N = 500 only the N-independent targets are judged (kv get/set, audit verify).
      assert.deepStrictEqual(targets, ["kv set", "kv get", "audit verify (whole chain)"])

      assert.deepStrictEqual(
        [...new Set(report.runs.map((r) => `${r.backend}/${r.side}`))].sort(),
        ["sqlite/engram", "sqlite/raw", "sqlite/usearch"]
      )
      // The in-memory peer ran in the same run: its agent-filtered recall is exact enough to compare.
      const peer = report.runs.find((r) => r.side === "usearch")!.figures
      assert.isAbove(peer["vector.agent.p50Ms"]!, 0)
      assert.isAbove(peer["vector.all.recallAt10"]!, 0.9)

      const markdown = readFileSync(join(out, "smoke.md"), "utf8")
      assert.include(
        markdown,
        "| operation | unit | engram | raw better-sqlite3 + sqlite-vec | engram ÷ raw | target |"
      )
      assert.include(markdown, "## N = 500")
      assert.include(markdown, "### SqliteLive beside an in-memory index (usearch, same run)")
      assert.include(markdown, report.meta.machine.cpu)
      // The table is also printed on stdout.
      assert.include(run.stdout, "### SqliteLive")
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 180_000)

  it("refuses unknown options with the usage", async () => {
    const run = await runBench(["--backend", "oracle"])
    assert.notStrictEqual(run.code, 0)
    assert.include(run.stderr, "unknown backend oracle")
    assert.include(run.stderr, "usage: npm run bench")
  }, 60_000)
})
