/**
 * The gateway under load: `engram serve` (SqliteLive, the hash embedder, synchronous = FULL) in its
 * own process on loopback, driven by autocannon from this process with two request streams at once —
 * `storing` connections posting `/memory/store` and `searching` connections posting `/memory/search`
 * (each naming one agent, as an agent searching its own memories does) — for a fixed time. Afterwards
 * the server is stopped and every store it acknowledged is looked up in the SQLite file.
 *
 *   npx tsx bench/load.ts                          # 25 + 25 connections for 30 s (the load)
 *   npx tsx bench/load.ts --duration 5 --preload 2000
 *
 * Options: --duration <s> (30), --store <connections> (25), --search <connections> (25),
 * --preload <memories> (5000, over 10 agents, loaded through /v1/memories/batch before the clock
 * starts), --out <file.json> (also writes the markdown beside it). `npm run bench` runs it too.
 * ENGRAM_LOAD_DIST=1 serves with the compiled `engram` (bin/engram.js: build first) instead of the
 * sources; ENGRAM_LOAD_PROFILE=<dir> writes the server's CPU profiles (one per thread) there.
 */
import autocannon from "autocannon"
import Database from "better-sqlite3"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import os from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as SqliteVec from "sqlite-vec"
import { agentName, AGENTS, CLUSTERS, topicWord } from "./workload.js"

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, "..")

/** What one load run measures. */
export interface LoadResult {
  readonly durationS: number
  readonly storeConnections: number
  readonly searchConnections: number
  readonly preload: number
  readonly stores: StreamFigures
  readonly searches: StreamFigures
  readonly requestsPerSec: number
  /** Acknowledged stores not found in the SQLite file afterwards. */
  readonly lostAcknowledged: number
  readonly acknowledged: number
  readonly loadAverage: { readonly start: ReadonlyArray<number>; readonly end: ReadonlyArray<number> }
  /**
   * CPU time of the server process per answered request (ms), from its threads' counters in /proc
   * over the timed run: the main thread (HTTP, JSON, validation) and the other threads together (the
   * store's worker, libuv's pool, GC helpers). Unlike requests/s it does not depend on how much of
   * the machine the load generator or anything else takes. Absent where /proc is not available.
   */
  readonly serverCpuMsPerRequest?: { readonly main: number; readonly others: number }
}

/** One request stream's figures. */
export interface StreamFigures {
  readonly requests: number
  readonly perSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** Non-2xx answers, socket errors and timeouts. */
  readonly errors: number
}

export interface LoadOptions {
  readonly durationS: number
  readonly storeConnections: number
  readonly searchConnections: number
  readonly preload: number
}

const TOKEN = "load-bench-token-0123456789abcdef"
const COMMON = ["alpha", "river", "stone", "cloud", "paper", "garden"]

/** `engram serve` on a fresh SQLite file in `dir`, run from the sources; resolves with its URL. */
const startServer = (dir: string): Promise<{ child: ChildProcess; url: string }> =>
  new Promise((ok, fail) => {
    const tsx = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href
    const child = spawn(process.execPath, [
      ...(process.env.ENGRAM_LOAD_PROFILE === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${process.env.ENGRAM_LOAD_PROFILE}`]),
      "--import",
      tsx,
      ...(process.env.ENGRAM_LOAD_DIST === undefined
        ? [join(here, "loadServer.ts")]
        : [process.env.ENGRAM_LOAD_BIN ?? join(root, "bin", "engram.js")]),
      "serve",
      "--port",
      "0"
    ], {
      cwd: dir,
      env: {
        ...process.env,
        NO_COLOR: "1",
        ENGRAM_SQLITE_PATH: join(dir, "engram.db"),
        ENGRAM_GATEWAY_TOKEN: TOKEN
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/[^\s;]+)/.exec(out)
      if (m) ok({ child, url: m[1]! })
    })
    child.stderr!.on("data", (d: Buffer) => {
      out += d.toString()
    })
    child.once("exit", (code) => fail(new Error(`engram serve exited with ${code}: ${out}`)))
  })

const stopServer = (child: ChildProcess): Promise<void> =>
  new Promise((ok) => {
    if (child.exitCode !== null) return ok()
    child.once("exit", () => ok())
    child.kill("SIGTERM")
  })

/** CPU ms used so far by each thread of process `pid` (Linux /proc; undefined elsewhere). */
const threadCpuMs = (pid: number): Map<number, number> | undefined => {
  try {
    const tick = 1000 / 100 // USER_HZ is 100 on Linux
    const threads = new Map<number, number>()
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      threads.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * tick)
    }
    return threads
  } catch {
    return undefined
  }
}

const post = async (url: string, body: unknown): Promise<unknown> => {
  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body)
  })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 300)}`)
  return JSON.parse(text)
}

const contentOf = (i: number, cluster: number) =>
  `note ${i} ${topicWord(cluster)} ${COMMON[i % COMMON.length]} ${COMMON[(i * 7) % COMMON.length]} w${
    (i * 2654435761 >>> 0).toString(36)
  }`

/** Preload through the batch route (the store embeds nothing here: these memories take part as text). */
const preload = async (url: string, n: number) => {
  for (let start = 0; start < n; start += 500) {
    const inputs = Array.from({ length: Math.min(500, n - start) }, (_, k) => {
      const i = start + k
      return { agentId: agentName(i % AGENTS), content: contentOf(i, i % CLUSTERS), source: "document" }
    })
    await post(`${url}/v1/memories/batch`, { inputs })
  }
}

const cpuPerRequest = (
  pid: number,
  before: Map<number, number> | undefined,
  after: Map<number, number> | undefined,
  requests: number
): Pick<LoadResult, "serverCpuMsPerRequest"> => {
  if (before === undefined || after === undefined || requests === 0) return {}
  let main = 0
  let others = 0
  for (const [tid, ms] of after) {
    const used = ms - (before.get(tid) ?? 0)
    if (tid === pid) main += used
    else others += used
  }
  return { serverCpuMsPerRequest: { main: main / requests, others: others / requests } }
}

const figures = (r: autocannon.Result, durationS: number): StreamFigures => ({
  requests: r.requests.total,
  perSec: r["2xx"] / durationS,
  p50Ms: r.latency.p50,
  p99Ms: r.latency.p99,
  maxMs: r.latency.max,
  errors: r.non2xx + r.errors + r.timeouts
})

/** Run the load once. */
export const runLoad = async (options: LoadOptions): Promise<LoadResult> => {
  const dir = mkdtempSync(join(os.tmpdir(), "engram-load-"))
  const loadStart = os.loadavg()
  const { child, url } = await startServer(dir)
  const acked: Array<string> = []
  let stored = 0
  let searched = 0
  try {
    await preload(url, options.preload)
    const cpuBefore = threadCpuMs(child.pid!)
    const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }
    const common = { url, duration: options.durationS, timeout: 10, headers }
    const storing = autocannon({
      ...common,
      connections: options.storeConnections,
      requests: [{
        method: "POST",
        path: "/memory/store",
        setupRequest: (request) => {
          const i = options.preload + stored++
          return {
            ...request,
            body: JSON.stringify({
              agentId: agentName(i % AGENTS),
              content: contentOf(i, (i * 31) % CLUSTERS),
              category: "episodic",
              source: "observation"
            })
          }
        },
        onResponse: (status, body) => {
          if (status === 200) acked.push((JSON.parse(body) as { id: string }).id)
        }
      }]
    })
    const searching = autocannon({
      ...common,
      connections: options.searchConnections,
      requests: [{
        method: "POST",
        path: "/memory/search",
        setupRequest: (request) => {
          const i = searched++
          return {
            ...request,
            body: JSON.stringify({
              query: `${topicWord(i % CLUSTERS)} ${COMMON[i % COMMON.length]}`,
              limit: 10,
              agentId: agentName(i % AGENTS)
            })
          }
        }
      }]
    })
    const [s, q] = await Promise.all([storing, searching])
    const cpuAfter = threadCpuMs(child.pid!)
    const stores = figures(s, options.durationS)
    const searches = figures(q, options.durationS)
    await stopServer(child)
    const db = new Database(join(dir, "engram.db"), { readonly: true })
    SqliteVec.load(db)
    const present = db.prepare("SELECT 1 FROM memories WHERE id = ?")
    const lostAcknowledged = acked.filter((id) => present.get(id) === undefined).length
    db.close()
    return {
      durationS: options.durationS,
      storeConnections: options.storeConnections,
      searchConnections: options.searchConnections,
      preload: options.preload,
      stores,
      searches,
      requestsPerSec: stores.perSec + searches.perSec,
      lostAcknowledged,
      acknowledged: acked.length,
      loadAverage: { start: loadStart, end: os.loadavg() },
      ...cpuPerRequest(child.pid!, cpuBefore, cpuAfter, s.requests.total + q.requests.total)
    }
  } finally {
    await stopServer(child)
    rmSync(dir, { recursive: true, force: true })
  }
}

const ms = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 1 })
const rate = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 0 })
const mark = (ok: boolean) => (ok ? "✅" : "❌")

/** The markdown section of a load run, with the targets it is held to. */
export const loadTable = (r: LoadResult): string => {
  const both = [r.stores, r.searches]
  const errors = r.stores.errors + r.searches.errors
  return [
    `### Gateway under load (${r.storeConnections} storing + ${r.searchConnections} searching connections, ${r.durationS} s)`,
    "",
    `\`engram serve\` (SqliteLive, hash embedder, synchronous = FULL) in its own process, autocannon on loopback from ` +
    `the bench process; ${r.preload.toLocaleString("en-US")} memories over ${AGENTS} agents preloaded; each search ` +
    `names one agent (hybrid recall: the query is embedded). Load average at start ${
      r.loadAverage.start.map((x) => x.toFixed(2)).join(" / ")
    }, ` +
    `at end ${r.loadAverage.end.map((x) => x.toFixed(2)).join(" / ")}.`,
    "",
    "| stream | requests/s | p50 ms | p99 ms | max ms | errors |",
    "|---|---:|---:|---:|---:|---:|",
    ...([["store", r.stores], ["search", r.searches]] as const).map(([name, f]) =>
      `| ${name} | ${rate(f.perSec)} | ${ms(f.p50Ms)} | ${ms(f.p99Ms)} | ${ms(f.maxMs)} | ${f.errors} |`
    ),
    "",
    `| figure | value | target |`,
    `|---|---:|---|`,
    `| requests/s combined | ${rate(r.requestsPerSec)} | ≥ 1,500 ${mark(r.requestsPerSec >= 1500)} |`,
    `| p99 store / search | ${ms(r.stores.p99Ms)} / ${ms(r.searches.p99Ms)} ms | ≤ 100 ms both ${
      mark(both.every((f) => f.p99Ms <= 100))
    } |`,
    `| errors | ${errors} | 0 ${mark(errors === 0)} |`,
    ...(r.serverCpuMsPerRequest === undefined ? [] : [
      `| server CPU per request: main thread / other threads | ${r.serverCpuMsPerRequest.main.toFixed(3)} / ${
        r.serverCpuMsPerRequest.others.toFixed(3)
      } ms | — |`
    ]),
    `| acknowledged stores missing afterwards | ${r.lostAcknowledged} of ${
      r.acknowledged.toLocaleString("en-US")
    } | 0 ${mark(r.lostAcknowledged === 0)} |`,
    ""
  ].join("\n")
}

const main = async () => {
  const args = process.argv.slice(2)
  const value = (flag: string, fallback: number) => {
    const i = args.indexOf(flag)
    if (i < 0) return fallback
    const n = Number(args[i + 1])
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`)
    return n
  }
  const outIndex = args.indexOf("--out")
  const result = await runLoad({
    durationS: value("--duration", 30),
    storeConnections: value("--store", 25),
    searchConnections: value("--search", 25),
    preload: value("--preload", 5000)
  })
  const table = loadTable(result)
  process.stdout.write(`${table}\n`)
  if (outIndex >= 0) {
    const out = resolve(args[outIndex + 1]!)
    writeFileSync(out, JSON.stringify(result, null, 2))
    writeFileSync(out.replace(/\.json$/, "") + ".md", table)
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`load benchmark failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
    process.exit(1)
  })
}
