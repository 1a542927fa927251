/**
 * `npm run bench`: engram's per-operation figures on every backend, each beside the raw driver
 * doing the same work, as ratios (SPEC R-Q-3, issue 8).
 *
 *   npm run bench                                   # all backends, N = 10,000 and 100,000, 3 runs each
 *   npm run bench -- --backend sqlite --n 10000     # a subset
 *   npm run bench -- --quick                        # a smoke run (small N and counts, 1 run)
 *
 * Options: --backend sqlite|postgres|http (repeatable or comma-separated; default all),
 * --n <N>[,<N>…], --repeat <runs>, --quick, --seed <seed>, --out-dir <dir> (default bench/results),
 * --name <file name without extension> (default "latest", or "quick" with --quick),
 * --pg-url <url> (or ENGRAM_BENCH_PG_URL; default postgres://postgres@127.0.0.1:5432/test).
 * ENGRAM_BENCH_N=<N>[,<N>…] sets the default of --n, e.g.
 *
 *   npm run bench -- --backend postgres --n 20000 --repeat 1  # PgLive vs raw pgvector in a few minutes
 *   ENGRAM_BENCH_N=100000 npm run bench -- --backend postgres  # the same at 100,000
 *
 * On PostgreSQL each run also times bulk loads into empty stores (one rememberMany of 10,000, and all
 * N through the import path of `engram import` / `engram copy`) against raw pgvector's textbook bulk
 * load (rows without the HNSW index, then the index built once), and checks the index is valid after.
 *
 * Every store lives in its own child process (bundled once with esbuild), so one side's heap, caches
 * and peak RSS never touch the other's. Progress goes to stderr; the markdown table to stdout and,
 * with the JSON, to <out-dir>/<name>.md and .json. See the report header (`methodology`) for what
 * exactly is compared with what.
 */
import Database from "better-sqlite3"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import * as SqliteVec from "sqlite-vec"
import { type LoadResult, loadTable, runLoad } from "./load.js"
import type { Backend, ChildConfig, Counts, MainConfig, MainResult, PgTarget, Side, TaskResult } from "./protocol.js"
import { compare, type Row, table, usearchTable } from "./report.js"
import { median } from "./stats.js"
import { AGENTS, CLUSTERS, DIMENSIONS, type GroundTruth, groundTruth, queries, recallAtK, TOP_K } from "./workload.js"

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, "..")
const require = createRequire(import.meta.url)

// ---------------------------------------------------------------------------------------------
// Options

const FULL: Counts = {
  batch: 500,
  queries: 200,
  warmupQueries: 300,
  textQueries: 200,
  warmupOps: 200,
  kvKeys: 1000,
  kvSets: 5000,
  kvGets: 20_000,
  canonicalAppends: 2000,
  usageOps: 2000,
  taskCycles: 1000,
  auditAppends: 2000,
  auditVerifyEntries: 100_000
}

const QUICK: Counts = {
  batch: 500,
  queries: 30,
  warmupQueries: 5,
  textQueries: 30,
  warmupOps: 20,
  kvKeys: 100,
  kvSets: 200,
  kvGets: 1000,
  canonicalAppends: 150,
  usageOps: 100,
  taskCycles: 50,
  auditAppends: 100,
  auditVerifyEntries: 2000
}

const BACKENDS: ReadonlyArray<Backend> = ["sqlite", "postgres", "http"]

export interface Options {
  readonly backends: ReadonlyArray<Backend>
  readonly ns: ReadonlyArray<number>
  readonly repeat: number
  readonly quick: boolean
  readonly seed: number
  readonly outDir: string
  readonly name: string
  readonly pgUrl: string
  readonly args: ReadonlyArray<string>
}

const usage = `usage: npm run bench -- [--backend sqlite|postgres|http]… [--n N[,N…]] [--repeat R] [--quick] [--seed S]
                       [--out-dir DIR] [--name NAME] [--pg-url URL]`

export const parseOptions = (args: ReadonlyArray<string>): Options => {
  const backends: Array<Backend> = []
  let ns: Array<number> | undefined
  let repeat: number | undefined
  let quick = false
  let seed = 42
  let outDir = join(here, "results")
  let name: string | undefined
  let pgUrl = process.env.ENGRAM_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
  const positive = (flag: string, v: string | undefined): number => {
    const n = Number(v)
    if (v === undefined || !Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer\n${usage}`)
    return n
  }
  const envN = process.env.ENGRAM_BENCH_N
  const envNs = envN === undefined || envN === ""
    ? undefined
    : envN.split(",").map((v) => positive("ENGRAM_BENCH_N", v.replaceAll("_", "")))
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!
    const value = () => {
      const v = args[++i]
      if (v === undefined) throw new Error(`${flag} needs a value\n${usage}`)
      return v
    }
    switch (flag) {
      case "--backend":
        for (const b of value().split(",")) {
          if (!BACKENDS.includes(b as Backend)) throw new Error(`unknown backend ${b}\n${usage}`)
          if (!backends.includes(b as Backend)) backends.push(b as Backend)
        }
        break
      case "--n":
        ns = value().split(",").map((v) => positive("--n", v.replaceAll("_", "")))
        break
      case "--repeat":
        repeat = positive("--repeat", value())
        break
      case "--quick":
        quick = true
        break
      case "--seed":
        seed = positive("--seed", value())
        break
      case "--out-dir":
        outDir = resolve(value())
        break
      case "--name":
        name = value()
        if (!/^[\w.-]+$/.test(name)) throw new Error(`--name must be a plain file name\n${usage}`)
        break
      case "--pg-url":
        pgUrl = value()
        break
      case "--help":
      case "-h":
        process.stdout.write(`${usage}\n`)
        process.exit(0)
        break
      default:
        throw new Error(`unknown option ${flag}\n${usage}`)
    }
  }
  return {
    backends: backends.length === 0 ? BACKENDS : backends,
    ns: ns ?? (quick ? [2000] : envNs ?? [10_000, 100_000]),
    repeat: repeat ?? (quick ? 1 : 3),
    quick,
    seed,
    outDir,
    name: name ?? (quick ? "quick" : "latest"),
    pgUrl,
    args
  }
}

// ---------------------------------------------------------------------------------------------
// Progress (stderr)

class Progress {
  private done = 0
  /** Jobs under way: their weight and the fraction of it done. */
  private readonly active = new Map<string, { weight: number; fraction: number }>()
  private lastPhase = ""
  private lastAt = 0
  constructor(private readonly total: number) {}

  /**
   * `job` (a unit of work of `weight`) is `fraction` done, shown as `label`. A line is printed when
   * the `phase` changes, every 2 s, and at the end of a job.
   */
  report(job: string, label: string, fraction: number, weight: number, phase = label): void {
    this.active.set(job, { weight, fraction: Math.min(1, fraction) })
    let under = 0
    for (const a of this.active.values()) under += a.weight * a.fraction
    const pct = Math.min(100, ((this.done + under) / this.total) * 100)
    const t = Date.now()
    if (phase !== this.lastPhase || t - this.lastAt >= 2000 || fraction >= 1) {
      process.stderr.write(`[${pct.toFixed(0).padStart(3)}%] ${label}\n`)
      this.lastPhase = phase
      this.lastAt = t
    }
  }

  complete(job: string, weight: number): void {
    this.active.delete(job)
    this.done += weight
  }

  note(message: string): void {
    process.stderr.write(`${message}\n`)
  }
}

// ---------------------------------------------------------------------------------------------
// Children

/** Bundle bench/child.ts into one ES module (native drivers stay external, from node_modules). */
const bundleChild = async (outDir: string): Promise<string> => {
  const esbuild = await import("esbuild")
  const outfile = join(outDir, "child.mjs")
  await esbuild.build({
    entryPoints: [join(here, "child.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "error",
    // Bundled CommonJS packages (pg) call require() for Node's own modules.
    banner: {
      js:
        "import { createRequire as __engramBenchRequire } from 'node:module'; const require = __engramBenchRequire(import.meta.url);"
    },
    plugins: [{
      name: "native-drivers",
      setup(build) {
        build.onResolve({ filter: /^(better-sqlite3|sqlite-vec|usearch)$/ }, (args) => ({
          path: require.resolve(args.path),
          external: true
        }))
        build.onResolve({ filter: /^pg-native$/ }, () => ({ path: "pg-native", external: true }))
      }
    }]
  })
  return outfile
}

interface Child {
  readonly process: ChildProcess
  /** The next protocol line (`@await …`, `@ready`, `@result …`) not yet taken, in order. */
  readonly next: () => Promise<string>
  /** Send a line to the child's stdin. */
  readonly send: (line: string) => void
  readonly done: Promise<void>
}

const startChild = (
  bundle: string,
  config: ChildConfig,
  onProgress: (phase: string, fraction: number) => void
): Child => {
  const child = spawn(process.execPath, [bundle, JSON.stringify(config)], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"]
  })
  const markers: Array<string> = []
  let taken = 0
  const errors: Array<string> = []
  const waiters: Array<{ resolve: (line: string) => void; reject: (e: Error) => void }> = []
  let failure: Error | undefined
  const splitter = (sink: (line: string) => void) => {
    let partial = ""
    return (chunk: string) => {
      partial += chunk
      const parts = partial.split("\n")
      partial = parts.pop()!
      for (const p of parts) sink(p)
    }
  }
  child.stdout!.setEncoding("utf8")
  child.stdout!.on(
    "data",
    splitter((line) => {
      // Other stdout lines (the gateway's log) are not part of the protocol.
      if (!line.startsWith("@")) return
      markers.push(line)
      const w = waiters.shift()
      if (w !== undefined) w.resolve(markers[taken++]!)
    })
  )
  child.stderr!.setEncoding("utf8")
  child.stderr!.on(
    "data",
    splitter((line) => {
      const m = /^@progress (.+) ([\d.]+)$/.exec(line)
      if (m !== null) onProgress(m[1]!, Number(m[2]))
      else errors.push(line)
    })
  )
  const done = new Promise<void>((resolve, reject) => {
    child.on("close", (code, signal) => {
      if (code === 0) {
        resolve()
      } else {
        failure = new Error(
          `benchmark child ${config.backend}/${config.side}/${config.role} exited (code ${code}, signal ${signal}):\n` +
            errors.slice(-40).join("\n")
        )
        reject(failure)
      }
      for (const w of waiters.splice(0)) {
        w.reject(failure ?? new Error(`benchmark child ${config.backend}/${config.side} ended early`))
      }
    })
  })
  // A rejected `done` is always observed through `next` or the caller.
  done.catch(() => {})
  const next = () => {
    if (taken < markers.length) return Promise.resolve(markers[taken++]!)
    if (child.exitCode !== null || failure !== undefined) {
      return Promise.reject(failure ?? new Error(`benchmark child ${config.backend}/${config.side} ended early`))
    }
    return new Promise<string>((resolve, reject) => {
      waiters.push({ resolve, reject })
    })
  }
  const send = (line: string) => {
    child.stdin!.write(`${line}\n`)
  }
  return { process: child, next, send, done }
}

/** The next protocol line, which must start with `prefix`. */
const expect = async (child: Child, prefix: string): Promise<string> => {
  const line = await child.next()
  if (!line.startsWith(prefix)) {
    throw new Error(`benchmark child said "${line.slice(0, 80)}" where "${prefix}" was expected`)
  }
  return line
}

const resultOf = <A>(line: string): A => JSON.parse(line.slice("@result ".length)) as A

// ---------------------------------------------------------------------------------------------
// PostgreSQL: one database per bench run, a schema per store, all dropped at the end

const ident = (s: string) => `"${s.replaceAll("\"", "\"\"")}"`

class PgBench {
  private constructor(readonly admin: pg.Pool, readonly db: pg.Pool, readonly url: string, readonly database: string) {}

  static async open(baseUrl: string): Promise<PgBench> {
    const admin = new pg.Pool({ connectionString: baseUrl, max: 1, connectionTimeoutMillis: 5000 })
    admin.on("error", () => {})
    const database = `engram_bench_${randomBytes(5).toString("hex")}`
    try {
      await admin.query(`CREATE DATABASE ${ident(database)}`)
    } catch (e) {
      await admin.end().catch(() => {})
      throw e
    }
    const u = new URL(baseUrl)
    u.pathname = `/${database}`
    u.search = ""
    const db = new pg.Pool({ connectionString: u.href, max: 2 })
    db.on("error", () => {})
    const bench = new PgBench(admin, db, u.href, database)
    try {
      await db.query("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    } catch (e) {
      await bench.close()
      throw e
    }
    return bench
  }

  async schemas(names: ReadonlyArray<string>): Promise<void> {
    for (const s of names) await this.db.query(`DROP SCHEMA IF EXISTS ${ident(s)} CASCADE; CREATE SCHEMA ${ident(s)}`)
  }

  async drop(names: ReadonlyArray<string>): Promise<void> {
    for (const s of names) await this.db.query(`DROP SCHEMA IF EXISTS ${ident(s)} CASCADE`)
  }

  async versions(): Promise<{ postgresql: string; pgvector: string }> {
    const v = await this.db.query<{ server: string; vector: string }>(
      `SELECT current_setting('server_version') AS server, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector`
    )
    return { postgresql: v.rows[0]!.server, pgvector: v.rows[0]!.vector }
  }

  async close(): Promise<void> {
    await this.db.end().catch(() => {})
    await this.admin.query(`DROP DATABASE IF EXISTS ${ident(this.database)} WITH (FORCE)`).catch(() => {})
    await this.admin.end().catch(() => {})
  }
}

// ---------------------------------------------------------------------------------------------
// Runs

type Figures = Record<string, number>

interface RunRecord {
  readonly n: number
  readonly repeat: number
  readonly backend: Backend
  /** "direct" is the HTTP run's in-process SqliteLive baseline. */
  readonly side: Side | "direct"
  readonly figures: Figures
  readonly seconds: number
}

const withRecall = (figures: Figures, returned: MainResult["returned"], truth: GroundTruth): Figures => {
  const out = { ...figures }
  for (const [key, got] of Object.entries(returned)) {
    if (key.startsWith("vector.agent")) out[`${key}.recallAt10`] = recallAtK(got, truth.filtered)
    else if (key.startsWith("vector.all")) out[`${key}.recallAt10`] = recallAtK(got, truth.unfiltered)
  }
  return out
}

const TASK_WORKERS = [1, 4] as const

interface Context {
  readonly options: Options
  readonly counts: Counts
  readonly bundle: string
  readonly progress: Progress
  readonly pg: PgBench | undefined
  readonly tmp: string
}

/** The phases of a main child in order, with a rough share of its time (keeps the overall percentage monotonic). */
const PHASES: ReadonlyArray<readonly [string, number]> = [
  ["insert", 0.3],
  ["insert (single agent)", 0.2],
  ["recall", 0.2],
  ["kv", 0.06],
  ["canonical", 0.06],
  ["usage", 0.06],
  ["audit", 0.12],
  ["bulk", 0.1]
]

/** The fraction of a main child done when `phase` is `fraction` done. */
const childFraction = (phase: string, fraction: number): number => {
  let before = 0
  for (const [name, share] of PHASES) {
    if (name === phase) return before + share * fraction
    before += share
  }
  return before
}

/** Steps of the main children in their order (see `pairJob`). */
const STEPS = ["insert", "insert (single agent)", "prepare", "recall", "kv", "canonical", "usage", "audit", "bulk"]

/**
 * Run the engram and raw children of one backend side by side in lockstep: both start, and each
 * step (load, recall, kv, …) runs in one child while the other waits, then in the other. Each side
 * keeps its own process, and the two sides of a step run seconds apart instead of minutes, so a
 * change in the machine's load (other work on a shared machine) reaches both alike.
 */
const pairJob = async (
  ctx: Context,
  label: (side: Side) => string,
  configs: Record<Side, MainConfig>,
  order: ReadonlyArray<Side>
): Promise<Record<Side, MainResult>> => {
  const children = new Map(order.map((side) => [
    side,
    startChild(
      ctx.bundle,
      { ...configs[side], lockstep: true },
      (phase, f) =>
        ctx.progress.report(
          label(side),
          `${label(side)}: ${phase} ${Math.round(f * 100)}%`,
          childFraction(phase, f),
          1,
          `${label(side)}: ${phase}`
        )
    )
  ]))
  try {
    const pending = new Map<Side, string>()
    for (const [side, child] of children) pending.set(side, await child.next())
    const results: Partial<Record<Side, MainResult>> = {}
    const stepOf = (line: string) => STEPS.indexOf(line.slice("@await ".length))
    for (;;) {
      const waiting = order.filter((side) => pending.get(side)!.startsWith("@await "))
      for (const side of order) {
        const line = pending.get(side)!
        if (line.startsWith("@result ") && results[side] === undefined) {
          results[side] = resultOf<MainResult>(line)
          ctx.progress.complete(label(side), 1)
        }
      }
      if (waiting.length === 0) break
      // The side whose next step comes first; on a tie, the side first in `order`.
      const side = waiting.reduce((a, b) => (stepOf(pending.get(b)!) < stepOf(pending.get(a)!) ? b : a))
      const child = children.get(side)!
      child.send("go")
      pending.set(side, await child.next())
    }
    await Promise.all([...children.values()].map((c) => c.done))
    return results as Record<Side, MainResult>
  } catch (e) {
    for (const c of children.values()) c.process.kill()
    throw e
  }
}

/** One child on its own (the HTTP run). */
const soloJob = async (ctx: Context, label: string, config: MainConfig): Promise<MainResult> => {
  const child = startChild(
    ctx.bundle,
    config,
    (phase, f) =>
      ctx.progress.report(
        label,
        `${label}: ${phase} ${Math.round(f * 100)}%`,
        childFraction(phase, f),
        1,
        `${label}: ${phase}`
      )
  )
  const line = await expect(child, "@result ")
  await child.done
  ctx.progress.complete(label, 1)
  return resultOf<MainResult>(line)
}

/** Cycles per second of `workers` processes running post → claim → complete together. */
const taskJob = async (
  ctx: Context,
  label: string,
  base: Omit<Extract<ChildConfig, { role: "tasks" }>, "worker">,
  workers: number
): Promise<number> => {
  const job = `${label}: tasks × ${workers}`
  ctx.progress.report(job, `${job} 0%`, 0, 0.25, job)
  const children = Array.from({ length: workers }, (_, worker) => startChild(ctx.bundle, { ...base, worker }, () => {}))
  await Promise.all(children.map((c) => expect(c, "@ready")))
  for (const c of children) c.send("go")
  const results = await Promise.all(children.map(async (c) => resultOf<TaskResult>(await expect(c, "@result "))))
  await Promise.all(children.map((c) => c.done))
  const start = results.reduce((m, r) => (BigInt(r.startNs) < m ? BigInt(r.startNs) : m), BigInt(results[0]!.startNs))
  const end = results.reduce((m, r) => (BigInt(r.endNs) > m ? BigInt(r.endNs) : m), BigInt(results[0]!.endNs))
  const cycles = results.reduce((s, r) => s + r.cycles, 0)
  ctx.progress.report(job, `${job} 100%`, 1, 0.25, job)
  ctx.progress.complete(job, 0.25)
  return cycles / (Number(end - start) / 1e9)
}

const mainConfig = (
  ctx: Context,
  n: number,
  backend: Backend,
  side: Side,
  place: { dir?: string; pg?: PgTarget }
): MainConfig => ({
  role: "main",
  backend,
  side,
  seed: ctx.options.seed,
  n,
  counts: ctx.counts,
  ...(place.dir === undefined ? {} : { dir: place.dir }),
  ...(place.pg === undefined ? {} : { pg: place.pg })
})

/** One run of one backend at one N: the engram and raw children, then the task workers. */
const runBackend = async (
  ctx: Context,
  n: number,
  repeat: number,
  backend: Backend,
  truth: GroundTruth
): Promise<ReadonlyArray<RunRecord>> => {
  const records: Array<RunRecord> = []
  const tag = `N=${n.toLocaleString("en-US")} run ${repeat + 1}/${ctx.options.repeat} ${backend}`
  const dir = mkdtempSync(join(ctx.tmp, `${backend}-`))
  const pgSchemas: Array<string> = []
  const pgTarget = async (schema: string, soloSchema = `${schema}_solo`): Promise<PgTarget> => {
    await ctx.pg!.schemas([schema, soloSchema])
    pgSchemas.push(schema, soloSchema)
    return { url: ctx.pg!.url, schema, soloSchema }
  }
  /** A main store's target, with the empty schemas of its bulk loads. */
  const pgMainTarget = async (schema: string): Promise<PgTarget> => {
    const bulkSchemas = { rememberMany: `${schema}_bulk_many`, import: `${schema}_bulk_import` }
    await ctx.pg!.schemas(Object.values(bulkSchemas))
    pgSchemas.push(...Object.values(bulkSchemas))
    return { ...await pgTarget(schema), bulkSchemas }
  }
  try {
    if (backend === "http") {
      const start = Date.now()
      const r = await soloJob(ctx, `${tag} engram over HTTP`, mainConfig(ctx, n, backend, "engram", { dir }))
      const seconds = (Date.now() - start) / 1000
      const rss = { "rss.peakMb": r.maxRssKb / 1024 }
      records.push({
        n,
        repeat,
        backend,
        side: "engram",
        figures: { ...withRecall(r.figures, r.returned, truth), ...rss },
        seconds
      })
      if (r.baseline !== undefined) {
        records.push({
          n,
          repeat,
          backend,
          side: "direct",
          figures: withRecall(r.baseline.figures, r.baseline.returned, truth),
          seconds
        })
      }
      return records
    }
    // Alternate which side goes first in each step, so neither always runs second.
    // On SQLite the in-memory usearch peer runs in the same lockstep, last in every step.
    // On SQLite engram's single-agent store runs in a child of its own ("solo", right after engram's
    // in every step), so the engram child's peak RSS is that of one SqliteLive store of N memories.
    const pair: ReadonlyArray<Side> = repeat % 2 === 0 ? ["engram", "raw"] : ["raw", "engram"]
    const sides: ReadonlyArray<Side> = backend === "sqlite"
      ? [...pair.flatMap((s): ReadonlyArray<Side> => s === "engram" ? ["engram", "solo"] : [s]), "usearch"]
      : pair
    const figures: Record<Side, Figures> = { engram: {}, raw: {}, usearch: {}, solo: {} }
    const seconds: Record<Side, number> = { engram: 0, raw: 0, usearch: 0, solo: 0 }
    const configs = {} as Record<Side, MainConfig>
    for (const side of sides) {
      const place = backend === "sqlite"
        ? { dir: mkdtempSync(join(dir, `${side}-`)) }
        : { pg: await pgMainTarget(`b${repeat}_${side}`) }
      configs[side] = mainConfig(ctx, n, backend, side, place)
    }
    const pairStart = Date.now()
    const results = await pairJob(ctx, (side) => `${tag} ${side}`, configs, sides)
    for (const side of sides) {
      const r = results[side]
      figures[side] = { ...withRecall(r.figures, r.returned, truth), "rss.peakMb": r.maxRssKb / 1024 }
      seconds[side] += (Date.now() - pairStart) / 1000
    }
    if (backend === "sqlite") {
      // The single-agent store's figures are engram's; of its RSS figures only its peak, under a key of
      // its own (the engram child's peaks are the 10-agent store's).
      const solo = Object.fromEntries(Object.entries(figures.solo).filter(([k]) => !k.startsWith("rss.")))
      figures.engram = { ...figures.engram, ...solo, "rss.soloPeakMb": figures.solo["rss.peakMb"]! }
    }
    if (backend === "postgres") await ctx.pg!.drop(pgSchemas.splice(0))
    for (const side of pair) {
      for (const workers of TASK_WORKERS) {
        const start = Date.now()
        const where = backend === "sqlite"
          ? { path: join(dir, `tasks-${side}-${workers}.db`) }
          : { pg: await pgTarget(`b${repeat}_tasks_${side}_${workers}`) }
        figures[side][`tasks.w${workers}.opsPerSec`] = await taskJob(ctx, `${tag} ${side}`, {
          role: "tasks",
          backend,
          side,
          cycles: ctx.counts.taskCycles,
          warmup: Math.max(5, Math.round(ctx.counts.taskCycles / 50)),
          ...where
        }, workers)
        seconds[side] += (Date.now() - start) / 1000
        if (backend === "postgres") await ctx.pg!.drop(pgSchemas.splice(0))
      }
    }
    // The single-agent child's figures are part of engram's record (merged above).
    for (const side of sides) {
      if (side !== "solo") records.push({ n, repeat, backend, side, figures: figures[side], seconds: seconds[side] })
    }
    return records
  } finally {
    if (pgSchemas.length > 0) await ctx.pg!.drop(pgSchemas).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Aggregation and output

const medians = (runs: ReadonlyArray<RunRecord>): Figures => {
  const keys = new Set(runs.flatMap((r) => Object.keys(r.figures)))
  const out: Figures = {}
  for (const k of keys) out[k] = median(runs.map((r) => r.figures[k] ?? Number.NaN))
  return out
}

interface BackendResult {
  readonly engram: Figures
  readonly raw: Figures
  /** SQLite: the in-memory usearch peer's figures. */
  readonly peer?: Figures
  readonly rows: ReadonlyArray<Row>
}

const aggregate = (
  n: number,
  runs: ReadonlyArray<RunRecord>,
  backends: ReadonlyArray<Backend>
): Record<string, BackendResult> => {
  const out: Record<string, BackendResult> = {}
  for (const backend of backends) {
    const of = (side: RunRecord["side"]) =>
      medians(runs.filter((r) => r.n === n && r.backend === backend && r.side === side))
    const engram = of("engram")
    if (Object.keys(engram).length === 0) continue
    let raw = of(backend === "http" ? "direct" : "raw")
    if (backend === "http") {
      // The HTTP run's load rate has its direct baseline from the same child; its RSS baseline is SqliteLive's own run.
      const sqliteRuns = runs.filter((r) => r.n === n && r.backend === "sqlite" && r.side === "engram")
      if (sqliteRuns.length > 0) raw = { ...raw, "rss.peakMb": medians(sqliteRuns)["rss.peakMb"]! }
    }
    const peer = backend === "sqlite" ? of("usearch") : {}
    out[backend] = {
      engram,
      raw,
      rows: compare(backend, n, engram, raw),
      ...(Object.keys(peer).length === 0 ? {} : { peer })
    }
  }
  return out
}

const packageVersion = (name: string): string => {
  try {
    const pkg = JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as {
      version: string
    }
    return pkg.version
  } catch {
    return "unknown"
  }
}

const sqliteVersions = (): { sqlite: string; sqliteVec: string } => {
  const db = new Database(":memory:")
  try {
    SqliteVec.load(db)
    const r = db.prepare("SELECT sqlite_version() AS sqlite, vec_version() AS vec").get() as {
      sqlite: string
      vec: string
    }
    return { sqlite: r.sqlite, sqliteVec: r.vec }
  } finally {
    db.close()
  }
}

const METHODOLOGY = [
  `Workload (seeded, no Math.random): ${DIMENSIONS}-dimensional vectors drawn from ${CLUSTERS} Gaussian clusters and normalised; ` +
  `${AGENTS} agents, so an agent filter keeps about 10 % of the rows; queries near cluster centres; top-${TOP_K}; ` +
  `recall@10 against exact search computed in JavaScript over the float32 vectors with the same filter.`,
  "Each store runs in its own child process (engram and raw never share a heap); the engram and raw children of a backend run side " +
  "by side in lockstep — each step (load, recall, kv, …) runs in one while the other waits, then in the other, the first side " +
  "alternating between runs — so both sides of a step see the same machine load; each figure is the median of the per-run figures; " +
  "every timed phase is warmed up first (300 queries from a separate stream in a full run: a long-lived process's steady state; " +
  "through HttpSemanticLive the p50 kept falling over the first ~1,500 calls, 3.7 → 1.6 ms, as V8 optimised the call path); " +
  "latencies are per call with process.hrtime.bigint.",
  "Both sides get the same inputs, prepared before the clock starts (vectors as arrays of numbers, as an embedding API returns them), " +
  "and return the same data: a recall returns each memory's row, its parsed metadata and its vector.",
  "Recall: engram's recall ranks, returns the memories and updates their access counters (one call). The raw figure of a recall row " +
  "does the same work — the KNN query plus the counter update of the returned rows, with the durability engram gives that update " +
  "(SQLite: synchronous = NORMAL while recalling; PostgreSQL: synchronous_commit = off for that statement). The rows marked " +
  "\"vs raw KNN alone\" compare engram with the ranking query alone, without the counter update; that pass runs after the " +
  "full one over the same queries, so it finds their pages cached (it flatters raw; the full rows are both sides' first pass).",
  "\"No agent filter\": engram always recalls within one agent, so its figure comes from a second store holding the same N memories " +
  "under a single agent (on SQLite in a child process of its own, in the same lockstep right after engram's); the raw drivers query " +
  "their one table without the WHERE clause.",
  "Raw SQLite: better-sqlite3 + sqlite-vec, WAL, synchronous = FULL (engram's default), a vec0 table with the agent as partition key " +
  "(cosine), an FTS5 table over the content, a rowid table for the rows. Raw PostgreSQL: pg + pgvector, an HNSW cosine index, " +
  "fillfactor 80 on the memories table like engram's (so counter updates are HOT instead of re-inserting vectors into the HNSW graph), " +
  "hnsw.iterative_scan = relaxed_order on every connection, a b-tree on the agent, a GIN-indexed generated tsvector, named " +
  "(prepared) statements, vectors read in binary form. Both: ANALYZE after the load (PostgreSQL), same table shapes for kv, sessions, " +
  "usage, tasks and audit; kv set = one upsert returning the version; canonical append = read, append, compact past 100 messages, " +
  "write in one transaction; usage = insert + SUM over the agent's last hour; task cycle = post + claim (one UPDATE … RETURNING, " +
  "SKIP LOCKED on PostgreSQL) + fenced complete; audit append = read the head and insert the SHA-256-chained entry in one locked " +
  "transaction; audit verify = stream the chain in seq order and recompute every hash.",
  "In-memory peer (SQLite only): usearch in a third child of the same lockstep, last in every step — one HNSW index per agent " +
  "(f32, cosine, connectivity 16, expansion 128/128, one thread) for the agent-filtered rows, and usearch's native exact scan of " +
  "all N float32 vectors (one thread) for the single-agent rows: the native exact-scan bound. It keeps vectors only, in memory, " +
  "and persists nothing.",
  "Peak RSS (SQLite): the kernel's high-water mark (getrusage maxrss) of each child at its end. The engram child is one SqliteLive " +
  "process over one store of N memories in 10 agents: it loads them, recalls in every agent (so every agent's vector cache is " +
  "resident), and runs the kv, session, usage and audit phases; the raw child does the same work over its one table, and also " +
  "runs the unfiltered queries. The single-agent store (N memories under one agent, its cache holding all N) is a separate " +
  "child; its peak is the row \"peak RSS of the single-agent store's process\", beside the same raw figure.",
  "Tasks with 4 workers: 4 worker processes, each with its own connection (SQLite file / PostgreSQL pool), started together; " +
  "cycles/s = all cycles ÷ (last end − first start).",
  "HTTP: SqliteLive behind two loopback gateways (bearer token) and HttpSemanticLive in the same child process; its comparison " +
  "column is the same SqliteLive stores called directly in that process (rememberMany: the same batches into a third SqliteLive store in that process, batch by batch in turn with the HTTP load; peak RSS: the SQLite engram run's figure).",
  "ratio = engram ÷ raw (or direct). For rates (rows/s, ops/s) higher is better; for times lower is better."
]

const renderMarkdown = (
  meta: Record<string, unknown>,
  results: ReadonlyArray<{ n: number; backends: Record<string, BackendResult> }>,
  skipped: Record<string, string>
): string => {
  const m = meta as {
    command: string
    date: string
    machine: { cpu: string; cores: number; memoryGiB: number; os: string }
    versions: Record<string, string>
    repeat: number
    seed: number
    loadAverage: { start: ReadonlyArray<number>; end: ReadonlyArray<number> }
    durationSeconds: number
    quick: boolean
  }
  const out: Array<string> = []
  out.push(`# engram benchmark${m.quick ? " (quick smoke run — not representative)" : ""}`, "")
  out.push(`- Command: \`${m.command}\``)
  out.push(`- Date: ${m.date}; total time ${(m.durationSeconds / 60).toFixed(1)} min`)
  out.push(
    `- Machine: ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memoryGiB.toFixed(1)} GiB RAM, ${m.machine.os}`
  )
  out.push(
    `- Load average (1/5/15 min) at start ${m.loadAverage.start.map((v) => v.toFixed(2)).join(" / ")}, ` +
      `at end ${m.loadAverage.end.map((v) => v.toFixed(2)).join(" / ")}`
  )
  out.push(`- Versions: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(", ")}`)
  out.push(`- Runs: ${m.repeat} per N (medians of per-run figures); seed ${m.seed}`)
  for (const [b, why] of Object.entries(skipped)) out.push(`- **${b} skipped**: ${why}`)
  out.push("", "## Method", "")
  for (const line of METHODOLOGY) out.push(`- ${line}`)
  for (const r of results) {
    out.push("", `## N = ${r.n.toLocaleString("en-US")}`)
    for (const [backend, b] of Object.entries(r.backends)) {
      const title = backend === "sqlite"
        ? "SqliteLive"
        : backend === "postgres"
        ? "PgLive"
        : "HttpSemanticLive (loopback gateway over SqliteLive)"
      out.push("", `### ${title}`, "", table(backend as Backend, b.rows))
      if (b.peer !== undefined) {
        out.push(
          "",
          "### SqliteLive beside an in-memory index (usearch, same run)",
          "",
          usearchTable(r.n, b.engram, b.peer)
        )
      }
    }
  }
  return `${out.join("\n")}\n`
}

// ---------------------------------------------------------------------------------------------

const main = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseOptions(args)
  const counts = options.quick ? QUICK : FULL
  const started = Date.now()
  const loadStart = os.loadavg()
  const tmp = mkdtempSync(join(os.tmpdir(), "engram-bench-"))
  let pgBench: PgBench | undefined
  const cleanup = async () => {
    await pgBench?.close()
    pgBench = undefined
    rmSync(tmp, { recursive: true, force: true })
  }
  const onSignal = () => {
    process.stderr.write("\ninterrupted: dropping the benchmark database and temporary files\n")
    void cleanup().finally(() => process.exit(130))
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  const skipped: Record<string, string> = {}
  try {
    let backends = options.backends
    if (backends.includes("postgres")) {
      try {
        pgBench = await PgBench.open(options.pgUrl)
      } catch (e) {
        const why = `PostgreSQL at ${new URL(options.pgUrl).host} is unavailable: ${
          e instanceof Error ? e.message : String(e)
        }`
        // Asked for by name, it must run; as part of "everything", it is skipped loudly.
        if (args.includes("--backend")) throw new Error(why)
        process.stderr.write(`\n${"!".repeat(80)}\n!! SKIPPING postgres: ${why}\n${"!".repeat(80)}\n\n`)
        skipped.postgres = why
        backends = backends.filter((b) => b !== "postgres")
      }
    }
    const unitsPerRun = backends.reduce((s, b) => s + (b === "http" ? 1 : 2 + 4 * 0.25), 0)
    const progress = new Progress(options.ns.length * (1 + options.repeat * unitsPerRun))
    progress.note(
      `engram benchmark: backends ${backends.join(", ")}; N ${options.ns.join(", ")}; ${options.repeat} run(s) each`
    )
    const bundle = await bundleChild(tmp)
    const ctx: Context = { options, counts, bundle, progress, pg: pgBench, tmp }
    const runs: Array<RunRecord> = []
    const results: Array<{ n: number; backends: Record<string, BackendResult> }> = []
    for (const n of options.ns) {
      const gtLabel = `N=${n.toLocaleString("en-US")} exact search (ground truth)`
      const truth = groundTruth(
        options.seed,
        n,
        queries(options.seed, counts.queries),
        (f) => progress.report(gtLabel, `${gtLabel} ${Math.round(f * 100)}%`, f, 1, gtLabel)
      )
      progress.complete(gtLabel, 1)
      for (let repeat = 0; repeat < options.repeat; repeat++) {
        for (const backend of backends) runs.push(...await runBackend(ctx, n, repeat, backend, truth))
      }
      results.push({ n, backends: aggregate(n, runs, backends) })
    }
    // The gateway under load (bench/load.ts), bounded in time: 30 s, or 5 s in a quick run.
    let load: LoadResult | undefined
    if (backends.includes("http")) {
      progress.note(`gateway load: 25 storing + 25 searching connections for ${options.quick ? 5 : 30} s`)
      load = await runLoad({
        durationS: options.quick ? 5 : 30,
        storeConnections: 25,
        searchConnections: 25,
        preload: options.quick ? 2000 : 5000
      })
    }
    const versions = {
      node: process.version,
      engram: (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version,
      effect: packageVersion("effect"),
      ...Object.fromEntries(
        Object.entries(sqliteVersions()).map(([k, v]) => [k === "sqlite" ? "SQLite" : "sqlite-vec", v])
      ),
      "better-sqlite3": packageVersion("better-sqlite3"),
      pg: packageVersion("pg"),
      ...(pgBench === undefined
        ? {}
        : Object.fromEntries(
          Object.entries(await pgBench.versions()).map(([k, v]) => [k === "postgresql" ? "PostgreSQL" : "pgvector", v])
        ))
    }
    const meta = {
      command: `npm run bench${args.length === 0 ? "" : ` -- ${args.join(" ")}`}`,
      date: new Date().toISOString(),
      machine: {
        cpu: os.cpus()[0]?.model ?? "unknown",
        cores: os.cpus().length,
        memoryGiB: os.totalmem() / 2 ** 30,
        os: `${os.type()} ${os.release()} ${os.arch()}`
      },
      versions,
      repeat: options.repeat,
      seed: options.seed,
      quick: options.quick,
      counts,
      loadAverage: { start: loadStart, end: os.loadavg() },
      durationSeconds: (Date.now() - started) / 1000,
      methodology: METHODOLOGY
    }
    const markdown = renderMarkdown(meta, results, skipped) + (load === undefined ? "" : `\n${loadTable(load)}`)
    mkdirSync(options.outDir, { recursive: true })
    const json = { meta, skipped, results, runs, ...(load === undefined ? {} : { load }) }
    writeFileSync(join(options.outDir, `${options.name}.json`), `${JSON.stringify(json, null, 2)}\n`)
    writeFileSync(join(options.outDir, `${options.name}.md`), markdown)
    process.stdout.write(markdown)
    progress.note(
      `wrote ${relative(process.cwd(), join(options.outDir, `${options.name}.md`))} and .json in ${
        ((Date.now() - started) / 60000).toFixed(1)
      } min`
    )
  } finally {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    await cleanup()
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(1)
})
