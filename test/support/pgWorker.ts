/**
 * A separate Node process that drives PgLive for the multi-process tests in
 * test/backends/postgres.concurrency.test.ts (run with `tsx`; it must not import vitest). It reports
 * on stdout, one line per event, and takes commands on stdin so the parent can start every process's
 * work at the same moment.
 *
 *   tasks <url> <agentId> <leaseMs> <holdAfter>   claim and complete until the queue is drained;
 *                                                 with holdAfter ≥ 0, after that many completions it
 *                                                 claims one more task and hangs holding it
 *   audit <url> <count> <agentId>                 on "go": append `count` entries
 *   migrate                                       on "round <url>": open a pool, migrate, use the store
 *   budget                                        on "round <url> <agentId> <calls> <cost> <budget JSON>":
 *                                                 open the store, then on "go" make that many
 *                                                 concurrent recordWithinBudget calls
 */
import { Clock, Context, Duration, Effect, Either, Option, Redacted } from "effect"
import { createInterface } from "node:readline"
import * as Client from "../../src/backends/postgres/client.js"
import { layerMain } from "../../src/backends/postgres/index.js"
import { runMigrations } from "../../src/backends/postgres/migrations.js"
import { makeMain } from "../../src/backends/postgres/store.js"
import type { Budget } from "../../src/domain/usage.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { TaskQueue } from "../../src/services/TaskQueue.js"
import { UsageStore } from "../../src/services/UsageStore.js"

const SPACE = { model: "conformance", dimensions: 8 }
const out = (line: string) => process.stdout.write(`${line}\n`)
const lines = createInterface({ input: process.stdin })
const nextLine = () => new Promise<string>((resolve) => lines.once("line", resolve))

const describeError = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e
    ? `${String(e._tag)}: ${"message" in e ? String(e.message) : ""}`
    : String(e)

const tasks = (url: string, agentId: string, leaseMs: number, holdAfter: number) =>
  Effect.gen(function*() {
    const q = yield* TaskQueue
    out("ready")
    let done = 0
    for (;;) {
      const claimed = yield* q.claim(agentId, { leaseMs })
      if (Option.isNone(claimed)) {
        const pending = yield* q.list({ status: "pending", limit: 1 })
        const running = yield* q.list({ status: "in_progress", limit: 1 })
        if (pending.items.length === 0 && running.items.length === 0) break
        // Leases of dead workers have to run out before their tasks can be re-claimed.
        yield* Effect.sleep(Duration.millis(50))
        continue
      }
      const task = claimed.value
      out(`claimed ${task.id} ${task.attempt}`)
      if (holdAfter >= 0 && done >= holdAfter) {
        out(`holding ${task.id} ${task.attempt}`)
        return yield* Effect.never
      }
      const result = yield* Effect.either(q.complete(task.id, { agentId, attempt: task.attempt, result: agentId }))
      if (Either.isRight(result)) {
        done++
        out(`completed ${task.id} ${task.attempt}`)
      } else {
        out(`refused ${task.id} ${task.attempt} ${result.left._tag}`)
      }
    }
    out(`finished ${done}`)
  }).pipe(Effect.provide(layerMain({ url: Redacted.make(url), embedding: SPACE, poolSize: 2 })))

const audit = (url: string, count: number, agentId: string) =>
  Effect.gen(function*() {
    const log = yield* AuditLog
    out("ready")
    yield* Effect.promise(nextLine)
    for (let i = 0; i < count; i++) yield* log.append({ agentId, action: `append-${i}` })
    out("done")
  }).pipe(Effect.provide(layerMain({ url: Redacted.make(url), embedding: SPACE, poolSize: 2 })))

/** One start of a process on a (possibly fresh) schema: migrate, then use the store right away. */
const migrateOnce = (url: string) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* Client.make({ url: Redacted.make(url), poolSize: 2 })
    const applied = yield* runMigrations(client, yield* Clock.currentTimeMillis)
    // The schema must be complete for this process as soon as its migration call returned: the
    // audit chain is loaded and both stores are written right away.
    const services = yield* makeMain(client)
    yield* Context.get(services, StructuredStore).set("probe", `pid-${process.pid}`, process.pid)
    yield* Context.get(services, AuditLog).append({ agentId: "probe", action: "started" })
    return applied
  }))

const migrateLoop = Effect.gen(function*() {
  out("ready")
  for (;;) {
    const line = yield* Effect.promise(nextLine)
    if (line === "exit") return
    const url = line.slice("round ".length)
    const result = yield* Effect.either(migrateOnce(url))
    out(
      `result ${
        JSON.stringify(Either.isRight(result) ? { applied: result.right } : { error: describeError(result.left) })
      }`
    )
  }
})

const budgetLoop = Effect.gen(function*() {
  out("ready")
  for (;;) {
    const line = yield* Effect.promise(nextLine)
    if (line === "exit") return
    const [, url, agentId, calls, cost, ...budgetJson] = line.split(" ")
    const budget = JSON.parse(budgetJson.join(" ")) as Budget
    const outcome = yield* Effect.gen(function*() {
      const usage = yield* UsageStore
      // Every process fires at the same moment: the parent sends "go" once all are armed.
      out("armed")
      yield* Effect.promise(nextLine)
      return yield* Effect.all(
        Array.from(
          { length: Number(calls) },
          () =>
            Effect.either(usage.recordWithinBudget({ agentId: agentId!, model: "m", costUsd: Number(cost) }, budget))
        ),
        { concurrency: "unbounded" }
      )
    }).pipe(Effect.provide(layerMain({ url: Redacted.make(url!), embedding: SPACE, poolSize: 8 })), Effect.either)
    if (Either.isLeft(outcome)) {
      out(`result ${JSON.stringify({ error: describeError(outcome.left) })}`)
      continue
    }
    const admitted = outcome.right.filter(Either.isRight).length
    const refusals = outcome.right.flatMap((r) => (Either.isLeft(r) ? [r.left._tag] : []))
    out(
      `result ${
        JSON.stringify({
          admitted,
          refused: refusals.filter((t) => t === "QuotaExceeded").length,
          other: refusals.filter((t) => t !== "QuotaExceeded")
        })
      }`
    )
  }
})

const [mode, ...args] = process.argv.slice(2)
const program: Effect.Effect<void, unknown> = mode === "tasks"
  ? tasks(args[0]!, args[1]!, Number(args[2]), Number(args[3]))
  : mode === "audit"
  ? audit(args[0]!, Number(args[1]), args[2]!)
  : mode === "migrate"
  ? migrateLoop
  : mode === "budget"
  ? budgetLoop
  : Effect.die(`unknown mode ${mode}`)

Effect.runPromise(program).then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e)
    process.exit(1)
  }
)
