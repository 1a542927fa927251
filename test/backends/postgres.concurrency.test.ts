/**
 * PgLive when several processes share one database (task claims and leases, audit appends, migrations,
 * budgets) and when the database misbehaves (killed connections, an exhausted pool), plus HNSW recall
 * quality. Workers are separate Node processes (test/support/pgWorker.ts) on one fresh schema per test.
 */
import { assert, it } from "@effect/vitest"
import { Cause, Context, Duration, Effect, Either, Exit, Fiber, Layer, Option, Redacted } from "effect"
import * as Client from "../../src/backends/postgres/client.js"
import { layerMain, layerSemantic } from "../../src/backends/postgres/index.js"
import { MIGRATIONS, runMigrations } from "../../src/backends/postgres/migrations.js"
import { makeMain } from "../../src/backends/postgres/store.js"
import { hitOrder } from "../../src/core/recall.js"
import { cosine } from "../../src/core/vector.js"
import type { InvalidInput, StoreFailure } from "../../src/domain/errors.js"
import type { Memory } from "../../src/domain/memory.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import type { MainServices } from "../../src/services/index.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { TaskQueue } from "../../src/services/TaskQueue.js"
import {
  admin,
  createSchema,
  describePg,
  dropSchema,
  sql,
  startWorker,
  TEST_SPACE,
  urlForSchema,
  type Worker
} from "../support/postgres.js"

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

/** Run `body` on a fresh schema, dropped afterwards. */
const onFreshSchema = async <A>(body: (schema: string) => Promise<A>): Promise<A> => {
  const schema = await createSchema()
  try {
    return await body(schema)
  } finally {
    await dropSchema(schema)
  }
}

/** Migrate a schema (and record the test space) from the parent, before workers open it. */
const prepare = (url: string) =>
  run(Effect.scoped(Layer.build(layerMain({ url: Redacted.make(url), embedding: TEST_SPACE }))))

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Wait for every worker to exit and insist that each exited cleanly. */
const allExitCleanly = async (workers: ReadonlyArray<Worker>) => {
  const exits = await Promise.all(workers.map((w) => w.exited))
  exits.forEach((e, i) => assert.deepStrictEqual(e, { code: 0, signal: null }, `worker ${i}: ${workers[i]!.stderr()}`))
}

const send = (w: Worker, line: string) => w.child.stdin!.write(`${line}\n`)

/** SIGKILL whatever is still running (only after a failed assertion), so no worker outlives its test. */
const killAll = (workers: ReadonlyArray<Worker>) => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL")
}

/** A seeded generator (mulberry32) so every run sees the same vectors. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const gaussian = (rand: () => number) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())

describePg("PgLive across processes and under faults", () => {
  it(
    "8 worker processes × 5,000 tasks, 2 SIGKILLed mid-run: no double completion, none lost, dead leases re-claimed, late completions fenced",
    () =>
      onFreshSchema(async (schema) => {
        const url = urlForSchema(schema)
        const TASKS = 5_000
        const LEASE_MS = 2_000
        await run(
          Effect.gen(function*() {
            const q = yield* TaskQueue
            yield* Effect.forEach(range(TASKS), (i) => q.post({ title: `task ${i}`, priority: i % 7 }), {
              concurrency: 16,
              discard: true
            })
          }).pipe(Effect.provide(layerMain({ url: Redacted.make(url), embedding: TEST_SPACE, poolSize: 16 })))
        )

        // Workers 0 and 1 complete a few hundred tasks, then claim one more and hang holding it
        // until they are SIGKILLed: a crash with a task in progress.
        const workers = range(8).map((i) =>
          startWorker("pgWorker.ts", [
            "tasks",
            url,
            `worker-${i}`,
            String(LEASE_MS),
            i < 2 ? String(250 + 150 * i) : "-1"
          ])
        )
        let held: Array<{ agentId: string; taskId: string; attempt: number }>
        try {
          held = await Promise.all([0, 1].map(async (i) => {
            const line = await workers[i]!.waitFor((l) => l.startsWith("holding "))
            workers[i]!.child.kill("SIGKILL")
            const [, taskId, attempt] = line.split(" ")
            return { agentId: `worker-${i}`, taskId: taskId!, attempt: Number(attempt) }
          }))
          const killed = await Promise.all([0, 1].map((i) => workers[i]!.exited))
          assert.deepStrictEqual(killed.map((k) => k.signal), ["SIGKILL", "SIGKILL"])
          await allExitCleanly(workers.slice(2))
        } finally {
          killAll(workers)
        }

        // Every completion a worker was told about, across all eight processes.
        const completions = new Map<string, Array<string>>()
        workers.forEach((w, i) => {
          for (const line of w.lines) {
            const [kind, taskId] = line.split(" ")
            if (kind === "completed") completions.set(taskId!, [...(completions.get(taskId!) ?? []), `worker-${i}`])
          }
        })
        const doubles = [...completions].filter(([, by]) => by.length > 1)
        assert.deepStrictEqual(doubles, [], "no task was completed twice")
        const byStatus = await sql<{ status: string; n: number }>(
          schema,
          "SELECT status, count(*)::int AS n FROM tasks GROUP BY status"
        )
        assert.deepStrictEqual(byStatus, [{ status: "completed", n: TASKS }], "no task lost or stuck")
        assert.strictEqual(completions.size, TASKS, "every stored completion was acknowledged to exactly one worker")
        const results = await sql<{ id: string; result: string }>(schema, "SELECT id, result FROM tasks")
        for (const r of results) assert.deepStrictEqual(completions.get(r.id), [r.result], `task ${r.id}`)

        // The tasks the dead workers held were re-claimed after their leases ran out…
        const rows = await sql<{ id: string; attempt: number; claimed_by: string; status: string }>(
          schema,
          "SELECT id, attempt, claimed_by, status FROM tasks WHERE id = ANY($1::text[])",
          [held.map((h) => h.taskId)]
        )
        for (const h of held) {
          const row = rows.find((r) => r.id === h.taskId)!
          assert.strictEqual(row.status, "completed")
          assert.isAbove(row.attempt, h.attempt, `task ${h.taskId} was claimed again`)
          assert.notStrictEqual(row.claimed_by, h.agentId)
        }
        // …and the dead workers' late calls with their stale attempt are refused (fencing).
        await run(
          Effect.gen(function*() {
            const q = yield* TaskQueue
            for (const h of held) {
              const input = { agentId: h.agentId, attempt: h.attempt }
              for (const call of [
                q.complete(h.taskId, input),
                q.heartbeat(h.taskId, input),
                q.fail(h.taskId, { ...input, error: "late" })
              ]) {
                const error = yield* Effect.flip(call)
                assert.strictEqual(error._tag, "StaleAttempt")
              }
              const task = Option.getOrThrow(yield* q.get(h.taskId))
              assert.strictEqual(task.status, "completed", "the late calls changed nothing")
            }
          }).pipe(Effect.provide(layerMain({ url: Redacted.make(url), embedding: TEST_SPACE })))
        )
      }),
    120_000
  )

  it(
    "8 processes × 1,000 audit appends: seq 1..8000 contiguous, one chain, verifies",
    () =>
      onFreshSchema(async (schema) => {
        const url = urlForSchema(schema)
        await prepare(url)
        const workers = range(8).map((i) => startWorker("pgWorker.ts", ["audit", url, "1000", `agent-${i}`]))
        try {
          await Promise.all(workers.map((w) => w.waitFor((l) => l === "ready")))
          for (const w of workers) send(w, "go")
          await allExitCleanly(workers)
        } finally {
          killAll(workers)
        }
        const [stats] = await sql<{ n: number; lo: number; hi: number; prevs: number; hashes: number }>(
          schema,
          `SELECT count(*)::int AS n, min(seq)::int AS lo, max(seq)::int AS hi,
                count(DISTINCT prev_hash)::int AS prevs, count(DISTINCT hash)::int AS hashes FROM audit_log`
        )
        assert.deepStrictEqual(stats, { n: 8_000, lo: 1, hi: 8_000, prevs: 8_000, hashes: 8_000 }, "no gap, no fork")
        const perAgent = await sql<{ agent_id: string; n: number }>(
          schema,
          "SELECT agent_id, count(*)::int AS n FROM audit_log GROUP BY agent_id ORDER BY agent_id"
        )
        assert.deepStrictEqual(perAgent, range(8).map((i) => ({ agent_id: `agent-${i}`, n: 1_000 })))
        const verified = await run(
          Effect.gen(function*() {
            return yield* (yield* AuditLog).verify()
          }).pipe(Effect.provide(layerMain({ url: Redacted.make(url), embedding: TEST_SPACE })))
        )
        assert.strictEqual(verified.entries, 8_000)
      }),
    120_000
  )

  it(
    "8 processes migrating a fresh schema at once, 10 rounds: each migration applied once, no failed start",
    async () => {
      const workers = range(8).map(() => startWorker("pgWorker.ts", ["migrate"]))
      try {
        await Promise.all(workers.map((w) => w.waitFor((l) => l === "ready")))
        for (let round = 0; round < 10; round++) {
          await onFreshSchema(async (schema) => {
            const url = urlForSchema(schema)
            const before = workers.map((w) => w.lines.length)
            for (const w of workers) send(w, `round ${url}`)
            const results = await Promise.all(workers.map(async (w, i) => {
              const line = await w.waitFor((l) => l.startsWith("result "), before[i]!)
              return JSON.parse(line.slice("result ".length)) as { applied?: Array<number>; error?: string }
            }))
            assert.deepStrictEqual(
              results.filter((r) => r.error !== undefined),
              [],
              `round ${round}: every start succeeded`
            )
            const versions = MIGRATIONS.map((m) => m.version)
            assert.deepStrictEqual(
              results.map((r) => r.applied!.join(",")).sort(),
              ["", "", "", "", "", "", "", versions.join(",")],
              `round ${round}: exactly one process applied the migrations`
            )
            const applied = await sql<{ version: number }>(
              schema,
              "SELECT version FROM engram_migrations ORDER BY version"
            )
            assert.deepStrictEqual(applied, versions.map((version) => ({ version })))
            const probes = await sql<{ n: number }>(
              schema,
              "SELECT count(*)::int AS n FROM kv WHERE agent_id = 'probe'"
            )
            assert.deepStrictEqual(probes, [{ n: 8 }], "every process used the migrated schema at once")
          })
        }
      } finally {
        for (const w of workers) send(w, "exit")
        const exits = Promise.all(workers.map((w) => w.exited))
        const timer = setTimeout(() => killAll(workers), 10_000)
        await exits
        clearTimeout(timer)
      }
      await allExitCleanly(workers)
    },
    180_000
  )

  it("50 concurrent recordWithinBudget calls across 4 processes never admit spend above the budget", async () => {
    const workers = range(4).map(() => startWorker("pgWorker.ts", ["budget"]))
    try {
      await Promise.all(workers.map((w) => w.waitFor((l) => l === "ready")))
      const calls = [13, 13, 12, 12]
      const rounds: ReadonlyArray<{
        readonly agent: (i: number) => string
        readonly cost: number
        readonly budget: object
        readonly admitted: number
        readonly what: string
      }> = [
        {
          what: "one agent, agent hour budget $20, $1 calls",
          agent: () => "shared",
          cost: 1,
          budget: { agent: { hour: 20 } },
          admitted: 20
        },
        {
          what: "four agents, global day budget $15, $1 calls",
          agent: (i) => `agent-${i}`,
          cost: 1,
          budget: { global: { day: 15 } },
          admitted: 15
        },
        {
          what: "one agent, agent month $10 and global hour $7.5, $0.5 calls",
          agent: () => "shared",
          cost: 0.5,
          budget: { agent: { month: 10 }, global: { hour: 7.5 } },
          admitted: 15
        }
      ]
      for (const r of rounds) {
        await onFreshSchema(async (schema) => {
          const url = urlForSchema(schema)
          await prepare(url)
          const before = workers.map((w) => w.lines.length)
          const after = (w: Worker, i: number, prefix: string) => w.waitFor((l) => l.startsWith(prefix), before[i]!)
          workers.forEach((w, i) =>
            send(w, `round ${url} ${r.agent(i)} ${calls[i]} ${r.cost} ${JSON.stringify(r.budget)}`)
          )
          await Promise.all(workers.map((w, i) => after(w, i, "armed")))
          for (const w of workers) send(w, "go")
          const results = await Promise.all(
            workers.map(async (w, i) =>
              JSON.parse((await after(w, i, "result ")).slice("result ".length)) as {
                admitted: number
                refused: number
                other: Array<string>
              }
            )
          )
          assert.deepStrictEqual(results.flatMap((x) => x.other), [], `${r.what}: only QuotaExceeded refusals`)
          const admitted = results.reduce((n, x) => n + x.admitted, 0)
          assert.strictEqual(admitted + results.reduce((n, x) => n + x.refused, 0), 50)
          const [stored] = await sql<{ n: number; spent: number }>(
            schema,
            "SELECT count(*)::int AS n, coalesce(sum(cost_usd), 0)::float8 AS spent FROM usage_events"
          )
          assert.strictEqual(stored!.n, admitted, `${r.what}: every admitted call is recorded, no refused one`)
          assert.isAtMost(stored!.spent, admitted * r.cost + 1e-9)
          // Never above the budget, and — as the calls outnumber it — filled exactly to it.
          assert.strictEqual(admitted, r.admitted, `${r.what}: admitted ${admitted}`)
        })
      }
    } finally {
      for (const w of workers) send(w, "exit")
      const exits = Promise.all(workers.map((w) => w.exited))
      const timer = setTimeout(() => killAll(workers), 10_000)
      await exits
      clearTimeout(timer)
    }
    await allExitCleanly(workers)
  }, 120_000)

  it(
    "pg_terminate_backend on the pool's connections mid-workload: typed errors, no crash, the pool recovers",
    () =>
      onFreshSchema(async (schema) => {
        const appName = `engram-fault-${schema}`
        const url = Redacted.make(urlForSchema(schema))
        const outcome = await run(Effect.scoped(Effect.gen(function*() {
          const client = yield* Client.make({ url, poolSize: 4, applicationName: appName })
          yield* runMigrations(client, 0)
          const services: Context.Context<MainServices> = yield* makeMain(client)
          const kv = Context.get(services, StructuredStore)
          const log = Context.get(services, AuditLog)
          const terminate = Effect.promise(() =>
            admin().query<{ n: number }>(
              "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1",
              [appName]
            )
          ).pipe(Effect.map((r) => r.rows[0]!.n))
          // Six fibers of mixed work (single statements and transactions) while backends are killed.
          const workload = Effect.forEach(
            range(6),
            (f) =>
              Effect.forEach(range(150), (i) =>
                Effect.exit<unknown, InvalidInput | StoreFailure, never>(
                  i % 3 === 0
                    ? log.append({ agentId: `fiber-${f}`, action: `op-${i}` })
                    : i % 3 === 1
                    ? kv.set(`fiber-${f}`, `k${i % 10}`, i)
                    : kv.get(`fiber-${f}`, `k${i % 10}`)
                )),
            { concurrency: "unbounded" }
          )
          const running = yield* Effect.fork(workload)
          let killed = 0
          for (let round = 0; round < 6; round++) {
            yield* Effect.sleep(Duration.millis(60))
            killed += yield* terminate
          }
          const exits = (yield* Fiber.join(running)).flat()
          // Idle connections killed too: the pool drops them through its 'error' listener.
          yield* Effect.sleep(Duration.millis(100))
          killed += yield* terminate
          yield* Effect.sleep(Duration.millis(200))
          const after = yield* Effect.forEach(range(20), (i) => Effect.exit(kv.set("after", `k${i}`, i)))
          const verified = yield* Effect.exit(log.verify())
          return { exits, killed, after, verified }
        })))
        assert.isAbove(outcome.killed, 0, "backends were terminated")
        const failures = outcome.exits.filter(Exit.isFailure)
        assert.isAbove(failures.length, 0, "the faults hit the workload")
        for (const f of failures) {
          assert.isTrue(Cause.isFailType(f.cause) || Cause.isFailure(f.cause), "a typed failure, not a defect")
          const error = Cause.failureOption(f.cause)
          assert.isTrue(Option.isSome(error), `typed error expected, got ${Cause.pretty(f.cause)}`)
          assert.include(["BackendUnavailable", "StorageError"], Option.getOrThrow(error)._tag)
          assert.isFalse(Cause.isDie(f.cause))
        }
        assert.isTrue(outcome.after.every(Exit.isSuccess), "every call after the faults succeeds")
        assert.isTrue(Exit.isSuccess(outcome.verified), "the audit chain written under faults still verifies")
      }),
    60_000
  )

  it(
    "an exhausted pool ends a call with a typed BackendUnavailable within the acquire deadline, then recovers",
    () =>
      onFreshSchema(async (schema) => {
        const url = Redacted.make(urlForSchema(schema))
        const outcome = await run(Effect.scoped(Effect.gen(function*() {
          const client = yield* Client.make({ url, poolSize: 2, acquireTimeoutMs: 300 })
          yield* runMigrations(client, 0)
          const kv = Context.get(yield* makeMain(client), StructuredStore)
          const holders = yield* Effect.fork(Effect.all(
            range(2).map(() => client.transaction("hold", (q) => q.execute("SELECT pg_sleep(1.5)"))),
            { concurrency: "unbounded" }
          ))
          yield* Effect.sleep(Duration.millis(200))
          const started = Date.now()
          const blocked = yield* Effect.either(kv.get("agent-1", "k"))
          const elapsed = Date.now() - started
          yield* Fiber.join(holders)
          const later = yield* Effect.either(kv.set("agent-1", "k", 1))
          return { blocked, elapsed, later }
        })))
        assert.isTrue(Either.isLeft(outcome.blocked), "the call failed")
        if (Either.isLeft(outcome.blocked)) {
          assert.strictEqual(outcome.blocked.left._tag, "BackendUnavailable")
          assert.include(outcome.blocked.left.message, "within 300 ms")
        }
        assert.isAtLeast(outcome.elapsed, 250)
        assert.isBelow(outcome.elapsed, 1_000, "it did not wait for a connection to come free (1.3 s later)")
        assert.isTrue(Either.isRight(outcome.later), "the pool serves calls again once connections are free")
      }),
    30_000
  )

  it(
    "HNSW recall@10 ≥ 0.95 against exact search on 20,000 clustered vectors; a 10%-selective agent filter still returns 10",
    () =>
      onFreshSchema(async (schema) => {
        const D = 64
        const N = 20_000
        const AGENTS = 10
        const rand = seeded(42)
        const centers = range(40).map(() => range(D).map(() => gaussian(rand)))
        const vectors = range(N).map(() => {
          const c = centers[Math.floor(rand() * centers.length)]!
          return c.map((x) => x + 0.35 * gaussian(rand))
        })
        const url = Redacted.make(urlForSchema(schema))
        const space = { model: "recall-test", dimensions: D }
        const outcome = await run(
          Effect.gen(function*() {
            const store = yield* SemanticStore
            const ids: Array<string> = []
            for (let start = 0; start < N; start += 2_000) {
              ids.push(
                ...(yield* store.rememberMany(
                  range(2_000).map((i) => ({
                    agentId: `agent-${(start + i) % AGENTS}`,
                    content: `memory ${start + i}`,
                    source: "document" as const,
                    embedding: vectors[start + i]!
                  }))
                ))
              )
            }
            yield* Effect.promise(() => sql(schema, "ANALYZE memories"))
            const queries = range(40).map((j) => ({
              agentId: `agent-${j % AGENTS}`,
              embedding: centers[j % centers.length]!.map((x) => x + 0.35 * gaussian(rand))
            }))
            const plan = yield* Effect.promise(() =>
              sql<{ "QUERY PLAN": string }>(
                schema,
                `EXPLAIN SELECT id FROM memories WHERE agent_id = $1 AND embedding IS NOT NULL
             ORDER BY embedding <=> $2::vector LIMIT 11`,
                [queries[0]!.agentId, JSON.stringify(queries[0]!.embedding)]
              )
            )
            const hits = yield* Effect.forEach(queries, (q) => store.recall({ ...q, limit: 10 }))
            return { ids, queries, hits, plan: plan.map((p) => p["QUERY PLAN"]).join("\n") }
          }).pipe(Effect.provide(layerSemantic({ url, embedding: space })))
        )
        assert.match(outcome.plan, /memories_embedding/, "the agent-filtered query is answered by the HNSW index")
        // Exact top 10 per query, by the core's order, over the agent's stored (float32) vectors.
        const stored: ReadonlyArray<Memory> = outcome.ids.map((id, i) => ({
          id: id as Memory["id"],
          agentId: `agent-${i % AGENTS}` as Memory["agentId"],
          content: "",
          source: "document",
          scope: "episodic",
          metadata: {},
          confidence: 1,
          createdAt: 0,
          accessedAt: 0,
          accessCount: 0,
          embedding: vectors[i]!.map(Math.fround)
        }))
        let found = 0
        outcome.queries.forEach((q, j) => {
          const query = q.embedding.map(Math.fround)
          const exact = stored
            .filter((m) => m.agentId === q.agentId)
            .map((memory) => ({ memory, score: cosine(query, memory.embedding!) }))
            .sort(hitOrder)
            .slice(0, 10)
            .map((h) => h.memory.id)
          const got = outcome.hits[j]!
          assert.strictEqual(got.length, 10, `query ${j} returned 10 hits`)
          assert.isTrue(got.every((h) => h.memory.agentId === q.agentId), "only the agent's memories")
          found += got.filter((h) => exact.includes(h.memory.id)).length
        })
        const recall = found / (10 * outcome.queries.length)
        assert.isAtLeast(recall, 0.95, `recall@10 = ${recall}`)
      }),
    120_000
  )
})
