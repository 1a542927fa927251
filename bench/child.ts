/**
 * One benchmark child process (started by bench/run.ts, bundled with esbuild so it starts fast).
 * It opens one backend on one side (engram or raw), runs the phases of its role, and prints its
 * figures (see bench/protocol.ts for the conversation with the parent).
 */
import Database from "better-sqlite3"
import { Context, Effect, Exit, Layer, Redacted, Scope, Stream } from "effect"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { layer as httpLayer } from "../src/backends/http/index.js"
import {
  layer as pgLayer,
  layerMain as pgLayerMain,
  layerSemantic as pgLayerSemantic
} from "../src/backends/postgres/index.js"
import {
  layer as sqliteLayer,
  layerMain as sqliteLayerMain,
  layerSemantic as sqliteLayerSemantic
} from "../src/backends/sqlite/index.js"
import type { Progress } from "../src/cli/progress.js"
import { importRecords } from "../src/cli/transfer.js"
import type { AuditEntry } from "../src/domain/audit.js"
import type { EmbeddingSpace } from "../src/domain/embedding.js"
import type { AgentId, MemoryId } from "../src/domain/ids.js"
import type { MemoryRecord } from "../src/domain/transfer.js"
import { serve } from "../src/gateway/server.js"
import { AuditLog } from "../src/services/AuditLog.js"
import { SemanticStore } from "../src/services/SemanticStore.js"
import { SessionStore } from "../src/services/SessionStore.js"
import { StructuredStore } from "../src/services/StructuredStore.js"
import { TaskQueue } from "../src/services/TaskQueue.js"
import { UsageStore } from "../src/services/UsageStore.js"
import { engramDriver, type EngramMain, engramSoloDriver, engramTaskDriver } from "./drivers/engram.js"
import { pgRawDriver, pgRawTaskDriver, rawPool } from "./drivers/pgRaw.js"
import { sqliteRawDriver, sqliteRawTaskDriver } from "./drivers/sqliteRaw.js"
import { usearchDriver } from "./drivers/usearch.js"
import type {
  BulkKind,
  ChildConfig,
  Driver,
  KvOp,
  MainConfig,
  MainResult,
  MemoryInput,
  PgTarget,
  TaskConfig,
  TaskDriver,
  TaskResult
} from "./protocol.js"
import { latencyFigures, now, perSecond, since } from "./stats.js"
import {
  agentName,
  AGENTS,
  DIMENSIONS,
  type Item,
  memoryBatches,
  queries,
  textQueries,
  textWarmupQueries,
  warmupQueries
} from "./workload.js"

const SPACE: EmbeddingSpace = { model: "bench-gaussian-384", dimensions: DIMENSIONS }

const progress = (phase: string, fraction: number): void => {
  process.stderr.write(`@progress ${phase} ${fraction.toFixed(3)}\n`)
}

let commands: (() => Promise<string>) | undefined
/** The next line the parent sends on stdin. */
const nextCommand = (): Promise<string> => {
  if (commands === undefined) {
    const queue: Array<string> = []
    const waiting: Array<(line: string) => void> = []
    createInterface({ input: process.stdin }).on("line", (line) => {
      const w = waiting.shift()
      if (w !== undefined) w(line.trim())
      else queue.push(line.trim())
    })
    commands =
      () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve)))
  }
  return commands()
}

/** Wait for the parent's `go` before `step` (lockstep runs only). */
const gate = async (cfg: MainConfig, step: string): Promise<void> => {
  if (cfg.lockstep !== true) return
  process.stdout.write(`@await ${step}\n`)
  const command = await nextCommand()
  if (command !== "go") throw new Error(`expected "go" before ${step}, got "${command}"`)
}

/** A connection URL whose connections use `schema` (then public, where pgvector lives). */
const schemaUrl = (base: string, schema: string): string => {
  const u = new URL(base)
  u.searchParams.set("options", `-c search_path=${schema},public`)
  return u.href
}

// ---------------------------------------------------------------------------------------------
// Building the stores

/** Layers built into one scope, closed together. */
const scoped = () => {
  const scope = Effect.runSync(Scope.make())
  return {
    build: <ROut, E>(layer: Layer.Layer<ROut, E>): Promise<Context.Context<ROut>> =>
      Effect.runPromise(Layer.buildWithScope(layer, scope)),
    run: <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> => Effect.runPromise(Scope.extend(effect, scope)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const mainServices = (
  ctx: Context.Context<StructuredStore | SessionStore | UsageStore | AuditLog>,
  storeAuditEntries: EngramMain["storeAuditEntries"]
): EngramMain => ({
  structured: Context.get(ctx, StructuredStore),
  sessions: Context.get(ctx, SessionStore),
  usage: Context.get(ctx, UsageStore),
  audit: Context.get(ctx, AuditLog),
  storeAuditEntries
})

/** Groups of at most `size` of `items`, in order. */
function* chunksOf<A>(items: Iterable<A>, size: number): Generator<Array<A>> {
  let chunk: Array<A> = []
  for (const item of items) {
    chunk.push(item)
    if (chunk.length === size) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}

/** Chained audit entries inserted straight into engram's PostgreSQL table (the fill before verification). */
const pgAuditInsert = async (pool: ReturnType<typeof rawPool>, entries: ReadonlyArray<AuditEntry>) => {
  await pool.query(
    `INSERT INTO audit_log (seq, timestamp, agent_id, action, detail, outcome, prev_hash, hash)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
    [
      entries.map((e) => e.seq),
      entries.map((e) => e.timestamp),
      entries.map((e) => e.agentId),
      entries.map((e) => e.action),
      entries.map((e) => e.detail),
      entries.map((e) => e.outcome),
      entries.map((e) => e.prevHash),
      entries.map((e) => e.hash)
    ]
  )
}

/** Audit entries written straight into engram's SQLite table (the fill before verification), streamed. */
const sqliteAuditWriter = (path: string) => async (entries: Iterable<AuditEntry>) => {
  const db = new Database(path, { timeout: 10_000 })
  try {
    const insert = db.prepare(
      `INSERT INTO audit_log (seq, timestamp, agent_id, action, detail, outcome, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
    )
    db.transaction(() => {
      for (const e of entries) {
        insert.run(e.seq, e.timestamp, e.agentId, e.action, e.detail, e.outcome, e.prevHash, e.hash)
      }
    }).immediate()
  } finally {
    db.close()
  }
}

/**
 * SqliteLive over the 10-agent workload. The single-agent store lives in a process of its own
 * (`sqliteEngramSolo`), so this process's peak RSS is that of one SqliteLive store of N memories.
 */
const sqliteEngram = async (dir: string): Promise<Driver> => {
  const s = scoped()
  const path = join(dir, "engram.db")
  const ctx = await s.build(sqliteLayer({ path, embedding: SPACE }))
  return engramDriver({
    semantic: Context.get(ctx, SemanticStore),
    main: mainServices(ctx, sqliteAuditWriter(path)),
    close: s.close
  })
}

/** SqliteLive holding the same N memories under one agent: recall without an agent filter. */
const sqliteEngramSolo = async (dir: string): Promise<Driver> => {
  const s = scoped()
  const solo = await s.build(sqliteLayerSemantic({ path: join(dir, "engram-solo.db"), embedding: SPACE }))
  return engramSoloDriver(Context.get(solo, SemanticStore), s.close)
}

/** Whether the HNSW index of `memories` in `schema` exists and is valid (a bulk load must leave it so). */
const embeddingIndexValid = async (pool: ReturnType<typeof rawPool>): Promise<boolean> => {
  const r = await pool.query<{ valid: boolean }>(
    `SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass('memories_embedding')`
  )
  return r.rows[0]?.valid === true
}

/** The memory records `engram import` reads from an export, for `inputs`. */
const memoryRecords = (inputs: ReadonlyArray<MemoryInput>): Array<MemoryRecord> => {
  const at = Date.now()
  return inputs.map((m) => ({
    kind: "memory" as const,
    id: m.id as MemoryId,
    agentId: m.agentId as AgentId,
    content: m.content,
    source: "document" as const,
    scope: "episodic",
    metadata: { n: m.metadata.n, cluster: m.metadata.cluster },
    confidence: 1,
    createdAt: at,
    accessedAt: at,
    accessCount: 0,
    embedding: m.embedding
  }))
}

/**
 * engram's bulk loads into an empty PgLive store (built before the clock starts): one rememberMany,
 * or the import path of `engram import` / `engram copy` (the same function, fed the records).
 */
const pgEngramBulk =
  (target: PgTarget) => async (kind: BulkKind, inputs: ReadonlyArray<MemoryInput>): Promise<number> => {
    const schema = target.bulkSchemas![kind]
    const s = scoped()
    const check = rawPool(target.url, schema, "", 1)
    try {
      const ctx = await s.build(pgLayer({ url: Redacted.make(schemaUrl(target.url, schema)), embedding: SPACE }))
      const quiet: Progress = { add: () => Effect.void, done: Effect.void }
      let ns: number
      if (kind === "rememberMany") {
        const store = Context.get(ctx, SemanticStore)
        const batch = inputs.map((m) => ({
          id: m.id,
          agentId: m.agentId,
          content: m.content,
          source: "document" as const,
          metadata: { n: m.metadata.n, cluster: m.metadata.cluster },
          embedding: m.embedding
        }))
        ns = await Effect.runPromise(Effect.gen(function*() {
          const start = now()
          const ids = yield* store.rememberMany(batch)
          if (ids.length !== batch.length) throw new Error(`rememberMany stored ${ids.length} of ${batch.length}`)
          return since(start)
        }))
      } else {
        const records = memoryRecords(inputs)
        ns = await Effect.runPromise(
          Effect.gen(function*() {
            const start = now()
            yield* importRecords(Stream.fromIterable(records), quiet)
            return since(start)
          }).pipe(Effect.provide(ctx))
        )
      }
      if (!(await embeddingIndexValid(check))) throw new Error(`engram's ${kind} bulk load left no valid HNSW index`)
      return ns
    } finally {
      await check.end()
      await s.close()
    }
  }

const pgEngram = async (target: PgTarget): Promise<Driver> => {
  const s = scoped()
  const ctx = await s.build(pgLayer({ url: Redacted.make(schemaUrl(target.url, target.schema)), embedding: SPACE }))
  const solo = await s.build(
    pgLayerSemantic({ url: Redacted.make(schemaUrl(target.url, target.soloSchema)), embedding: SPACE })
  )
  const side = rawPool(target.url, target.schema, "", 2)
  const soloSide = rawPool(target.url, target.soloSchema, "", 1)
  return engramDriver({
    semantic: Context.get(ctx, SemanticStore),
    solo: Context.get(solo, SemanticStore),
    main: mainServices(ctx, async (all) => {
      for (const entries of chunksOf(all, 5000)) await pgAuditInsert(side, entries)
    }),
    afterLoad: async () => {
      await side.query("ANALYZE memories")
      await soloSide.query("ANALYZE memories")
    },
    ...(target.bulkSchemas === undefined ? {} : { bulk: pgEngramBulk(target) }),
    close: async () => {
      await side.end()
      await soloSide.end()
      await s.close()
    }
  })
}

/**
 * engram over HTTP: SqliteLive behind two loopback gateways (the 10-agent store and the single-agent
 * store), reached through HttpSemanticLive — plus, as the baseline, the same two stores called
 * directly in this process.
 */
const httpEngram = async (dir: string): Promise<{ driver: Driver; baseline: Driver; directLoad: Driver }> => {
  const s = scoped()
  const token = Redacted.make("bench-gateway-token-0123456789")
  const ctx = await s.build(sqliteLayerSemantic({ path: join(dir, "engram.db"), embedding: SPACE }))
  const solo = await s.build(sqliteLayerSemantic({ path: join(dir, "engram-solo.db"), embedding: SPACE }))
  const gateway = await s.run(serve({ port: 0, tokens: [{ token }] }).pipe(Effect.provide(ctx)))
  const soloGateway = await s.run(serve({ port: 0, tokens: [{ token }] }).pipe(Effect.provide(solo)))
  // A third store, loaded directly, so the HTTP load rate has its same-process baseline.
  const direct = await s.build(sqliteLayerSemantic({ path: join(dir, "engram-direct.db"), embedding: SPACE }))
  const client = await s.build(httpLayer({ url: gateway.url, token, embedding: SPACE }))
  const soloClient = await s.build(httpLayer({ url: soloGateway.url, token, embedding: SPACE }))
  return {
    driver: engramDriver({
      semantic: Context.get(client, SemanticStore),
      solo: Context.get(soloClient, SemanticStore),
      close: s.close
    }),
    baseline: engramDriver({
      semantic: Context.get(ctx, SemanticStore),
      solo: Context.get(solo, SemanticStore),
      close: async () => {}
    }),
    directLoad: engramDriver({
      semantic: Context.get(direct, SemanticStore),
      solo: Context.get(direct, SemanticStore),
      close: async () => {}
    })
  }
}

// ---------------------------------------------------------------------------------------------
// The main phases

const toInputs = (batch: ReadonlyArray<Item>): Array<MemoryInput> =>
  batch.map((m) => ({
    id: m.id,
    agentId: agentName(m.agent),
    content: m.content,
    metadata: { n: m.index, cluster: m.cluster },
    embedding: Array.from(m.vector)
  }))

/**
 * Load all N memories through each of `inserts` (one store each), batch by batch in turn; the rows
 * per second of each.
 */
const load = async (
  cfg: MainConfig,
  inserts: ReadonlyArray<(batch: ReadonlyArray<MemoryInput>) => Promise<number>>,
  phase: string
): Promise<Array<number>> => {
  const ns = inserts.map(() => 0)
  let rows = 0
  for (const batch of memoryBatches(cfg.seed, cfg.n, cfg.counts.batch)) {
    const inputs = toInputs(batch)
    for (let i = 0; i < inserts.length; i++) ns[i]! += await inserts[i]!(inputs)
    rows += batch.length
    progress(phase, rows / cfg.n)
  }
  return ns.map((n) => perSecond(rows, n))
}

type Figures = Record<string, number>
type Returned = Record<string, ReadonlyArray<ReadonlyArray<number>>>

/**
 * Recall phases of one or more drivers over the same data. With several (HTTP and its direct
 * baseline), each phase runs for every driver in turn, warm-up first, so both see the same state.
 */
const recallPhases = async (cfg: MainConfig, drivers: ReadonlyArray<Driver>) => {
  const out = drivers.map(() => ({ figures: {} as Figures, returned: {} as Returned }))
  const vq = queries(cfg.seed, cfg.counts.queries).map((q) => ({
    agentId: agentName(q.agent),
    embedding: Array.from(q.vector)
  }))
  const vw = warmupQueries(cfg.seed, cfg.counts.warmupQueries).map((q) => ({
    agentId: agentName(q.agent),
    embedding: Array.from(q.vector)
  }))
  const tq = textQueries(cfg.seed, cfg.counts.textQueries).map((q) => ({ agentId: agentName(q.agent), text: q.text }))
  const tw = textWarmupQueries(cfg.seed, cfg.counts.warmupQueries).map((q) => ({
    agentId: agentName(q.agent),
    text: q.text
  }))
  const steps = drivers.reduce((n, d) => n + d.variants.length * ((d.filters?.length ?? 2) + 1), 0)
  let step = 0
  // The full variant (what engram's recall does) is measured first: a later pass over the same
  // queries finds their index and heap pages already in the server's cache, which would flatter
  // whichever variant came second. Only the raw side has a second (KNN-only) variant.
  const ordered = (d: Driver) => [...d.variants].sort((a, b) => (a === "full" ? 0 : 1) - (b === "full" ? 0 : 1))
  for (const filter of ["agent", "all"] as const) {
    for (const [i, d] of drivers.entries()) {
      if (d.filters !== undefined && !d.filters.includes(filter)) continue
      for (const variant of ordered(d)) {
        const warm = await d.vector(vw, filter, variant)
        const m = await d.vector(vq, filter, variant)
        const key = `vector.${filter}${variant === "knn" ? ".knn" : ""}`
        // The first recall after the load: for SqliteLive, the one that loads the agent's vector cache.
        if (warm.ns.length > 0) out[i]!.figures[`${key}.coldMs`] = warm.ns[0]! / 1e6
        Object.assign(out[i]!.figures, latencyFigures(key, m.ns))
        out[i]!.returned[key] = m.returned
        progress("recall", ++step / steps)
      }
    }
  }
  for (const [i, d] of drivers.entries()) {
    const text = d.text
    if (text === undefined) continue
    for (const variant of ordered(d)) {
      await text(tw, variant)
      const m = await text(tq, variant)
      const key = `text${variant === "knn" ? ".knn" : ""}`
      Object.assign(out[i]!.figures, latencyFigures(key, m.ns))
      out[i]!.returned[key] = m.returned
      progress("recall", ++step / steps)
    }
  }
  return out
}

const filler =
  "the user asked about the quarterly report and the assistant summarised the three main findings in detail"

/** The process's peak RSS so far (the kernel's high-water mark), in MB. */
const peakMb = (): number => process.resourceUsage().maxRSS / 1024

/** The non-semantic phases (kv, canonical sessions, usage, audit). */
const mainPhases = async (cfg: MainConfig, d: Driver): Promise<Figures> => {
  const m = d.main
  if (m === undefined) return {}
  const c = cfg.counts
  const figures: Figures = {}
  const keys = Array.from({ length: c.kvKeys }, (_, i) => ({ agent: agentName(i % AGENTS), key: `prefs/item-${i}` }))
  const value = (i: number) => ({
    theme: "dark",
    counter: i,
    tags: ["alpha", "beta", "gamma"],
    note: filler.slice(0, 60)
  })
  const op = (k: { agent: string; key: string }, i: number): KvOp => ({ agent: k.agent, key: k.key, value: value(i) })
  await gate(cfg, "kv")
  progress("kv", 0)
  // Warm-up: every key is set once, so the timed gets always find a value.
  await m.kvSet(keys.map(op))
  await m.kvGet(keys.slice(0, c.warmupOps).map(op))
  const sets = Array.from({ length: c.kvSets }, (_, i) => op(keys[(i * 7) % keys.length]!, i))
  const setNs = await m.kvSet(sets)
  figures["kv.set.opsPerSec"] = perSecond(sets.length, setNs)
  figures["kv.set.usPerOp"] = setNs / sets.length / 1e3
  const gets = Array.from({ length: c.kvGets }, (_, i) => op(keys[(i * 13) % keys.length]!, i))
  const getNs = await m.kvGet(gets)
  figures["kv.get.opsPerSec"] = perSecond(gets.length, getNs)
  figures["kv.get.usPerOp"] = getNs / gets.length / 1e3
  figures["rss.peakBeforeCanonicalMb"] = peakMb()
  await gate(cfg, "canonical")
  progress("canonical", 0)
  const agentsFor = (count: number) => Array.from({ length: count }, (_, i) => agentName(i % AGENTS))
  const message = (i: number) => `message ${i}: ${filler}`
  await m.canonicalAppend(agentsFor(c.warmupOps), message)
  figures["canonical.opsPerSec"] = perSecond(
    c.canonicalAppends,
    await m.canonicalAppend(agentsFor(c.canonicalAppends), message)
  )
  figures["rss.peakBeforeUsageMb"] = peakMb()
  await gate(cfg, "usage")
  progress("usage", 0)
  await m.usage(agentsFor(c.warmupOps))
  figures["usage.opsPerSec"] = perSecond(c.usageOps, await m.usage(agentsFor(c.usageOps)))
  figures["rss.peakBeforeAuditMb"] = peakMb()
  await gate(cfg, "audit")
  progress("audit", 0)
  await m.auditAppend(c.warmupOps)
  figures["audit.append.opsPerSec"] = perSecond(c.auditAppends, await m.auditAppend(c.auditAppends))
  progress("audit", 0.3)
  figures["rss.peakBeforeAuditFillMb"] = peakMb()
  await m.auditFill(c.auditVerifyEntries)
  progress("audit", 0.8)
  figures["rss.peakBeforeAuditVerifyMb"] = peakMb()
  const rssBefore = process.memoryUsage().rss
  const verified = await m.auditVerify()
  if (verified.entries !== c.auditVerifyEntries) {
    throw new Error(`audit verify saw ${verified.entries} entries, expected ${c.auditVerifyEntries}`)
  }
  figures["audit.verify.ms"] = verified.ns / 1e6
  figures["audit.verify.entries"] = verified.entries
  figures["audit.verify.rssGrowthMb"] = Math.max(0, process.memoryUsage().rss - rssBefore) / (1024 * 1024)
  progress("audit", 1)
  return figures
}

/** The most memories one rememberMany takes. */
const REMEMBER_MANY_MAX = 10_000

/**
 * Bulk loads into empty stores (PostgreSQL): one rememberMany of up to 10,000 memories, then all N
 * through the import path; rows/s of each, the inputs prepared before the clock starts.
 */
const bulkPhase = async (cfg: MainConfig, bulk: NonNullable<Driver["bulk"]>): Promise<Figures> => {
  await gate(cfg, "bulk")
  progress("bulk", 0)
  const all: Array<MemoryInput> = []
  for (const batch of memoryBatches(cfg.seed, cfg.n, cfg.counts.batch)) all.push(...toInputs(batch))
  const few = all.slice(0, REMEMBER_MANY_MAX)
  const figures: Figures = {}
  figures["bulk.rememberMany.rowsPerSec"] = perSecond(few.length, await bulk("rememberMany", few))
  figures["bulk.rememberMany.rows"] = few.length
  progress("bulk", 0.3)
  figures["bulk.import.rowsPerSec"] = perSecond(all.length, await bulk("import", all))
  progress("bulk", 1)
  return figures
}

const runMain = async (cfg: MainConfig): Promise<MainResult> => {
  let driver: Driver
  let baseline: Driver | undefined
  let directLoad: Driver | undefined
  switch (cfg.backend) {
    case "sqlite":
      driver = cfg.side === "engram"
        ? await sqliteEngram(cfg.dir!)
        : cfg.side === "solo"
        ? await sqliteEngramSolo(cfg.dir!)
        : cfg.side === "usearch"
        ? usearchDriver()
        : sqliteRawDriver(join(cfg.dir!, "raw.db"))
      break
    case "postgres":
      driver = cfg.side === "engram"
        ? await pgEngram(cfg.pg!)
        : await pgRawDriver(cfg.pg!.url, cfg.pg!.schema, cfg.pg!.bulkSchemas)
      break
    case "http": {
      const h = await httpEngram(cfg.dir!)
      driver = h.driver
      baseline = h.baseline
      directLoad = h.directLoad
      break
    }
  }
  try {
    const figures: Figures = {}
    // Where the peak RSS is reached: the high-water mark after each group of phases.
    figures["rss.peakAfterOpenMb"] = peakMb()
    // The HTTP load and its direct baseline go batch by batch in turn (the direct one into a third
    // store), so both see the same machine, the same warm code and stores of the same size.
    const directInsert = directLoad?.insert
    let directLoadRate: number | undefined
    if (driver.insert !== undefined) {
      await gate(cfg, "insert")
      const rates = await load(
        cfg,
        directInsert === undefined ? [driver.insert] : [driver.insert, directInsert],
        "insert"
      )
      figures["insert.rowsPerSec"] = rates[0]!
      directLoadRate = rates[1]
    }
    if (driver.insertSolo !== undefined) {
      await gate(cfg, "insert (single agent)")
      figures["insertSolo.rowsPerSec"] = (await load(cfg, [driver.insertSolo], "insert (single agent)"))[0]!
    }
    figures["rss.peakAfterLoadMb"] = peakMb()
    if (driver.afterLoad !== undefined) {
      await gate(cfg, "prepare")
      await driver.afterLoad()
    }
    await gate(cfg, "recall")
    const recalls = await recallPhases(cfg, baseline === undefined ? [driver] : [driver, baseline])
    if (directLoadRate !== undefined && recalls[1] !== undefined) {
      recalls[1].figures["insert.rowsPerSec"] = directLoadRate
    }
    Object.assign(figures, recalls[0]!.figures)
    figures["rss.peakAfterRecallMb"] = peakMb()
    Object.assign(figures, await mainPhases(cfg, driver))
    if (driver.bulk !== undefined) Object.assign(figures, await bulkPhase(cfg, driver.bulk))
    return {
      figures,
      returned: recalls[0]!.returned,
      ...(recalls[1] === undefined ? {} : { baseline: recalls[1] }),
      maxRssKb: process.resourceUsage().maxRSS
    }
  } finally {
    await driver.close()
    await baseline?.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Task workers

const taskDriver = async (cfg: TaskConfig): Promise<TaskDriver> => {
  if (cfg.side === "raw") {
    return cfg.backend === "sqlite" ? sqliteRawTaskDriver(cfg.path!) : pgRawTaskDriver(cfg.pg!.url, cfg.pg!.schema)
  }
  const s = scoped()
  const ctx = await s.build(
    cfg.backend === "sqlite"
      ? sqliteLayerMain({ path: cfg.path!, embedding: SPACE })
      : pgLayerMain({ url: Redacted.make(schemaUrl(cfg.pg!.url, cfg.pg!.schema)), embedding: SPACE, poolSize: 2 })
  )
  return engramTaskDriver(Context.get(ctx, TaskQueue), s.close)
}

const runTasks = async (cfg: TaskConfig): Promise<TaskResult> => {
  const driver = await taskDriver(cfg)
  const worker = `worker-${cfg.worker}`
  try {
    await driver.cycles(worker, cfg.warmup)
    process.stdout.write("@ready\n")
    const command = await nextCommand()
    if (command !== "go") throw new Error(`expected "go", got "${command}"`)
    const start = now()
    await driver.cycles(worker, cfg.cycles)
    const end = now()
    return { cycles: cfg.cycles, startNs: start.toString(), endNs: end.toString() }
  } finally {
    await driver.close()
  }
}

// ---------------------------------------------------------------------------------------------

const main = async () => {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as ChildConfig
  const result = cfg.role === "main" ? await runMain(cfg) : await runTasks(cfg)
  // Exit once the line is out: nothing left open (a pool, a server) may keep the process alive.
  process.stdout.write(`@result ${JSON.stringify(result)}\n`, () => process.exit(0))
}

main().then(
  () => {},
  (e: unknown) => {
    process.stderr.write(`benchmark child failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
    process.exit(1)
  }
)
