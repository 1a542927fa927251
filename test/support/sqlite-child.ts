/**
 * A child process for the SQLite multi-process tests (bundled by `bundleChild` in ./sqlite.ts).
 * Usage: node sqlite-child.mjs <mode> <db path> [args]. Every line it prints on stdout is a fact the
 * parent checks; a line is printed only after the write it reports has committed, so a printed line
 * is an acknowledged write. Failures go to stderr with a non-zero exit.
 *
 * Modes:
 *   audit <path> <n> <agent>   append n audit entries; prints "seq <n>" per append
 *   start <path>               print "ready", wait for "go" on stdin, then build the store (migrations,
 *                              embedding space, audit verification) and use every kind of service
 *                              once; prints "served"
 *   claim <path> <n> <agent>   claim and complete n tasks; prints "claimed <taskId> <attempt>" per claim
 *   crash <path> <agent>       write forever: "A <seq>" per audit append, "K <i>" per kv write,
 *                              "M <id>" per memory, until killed
 *   contend <path> <ms> <agent> for <ms> of wall time, write every kind in turn (post + claim + complete
 *                              a task, kv set, audit append, remember); prints "done <rounds>" at the end
 */
import { Cause, Context, Effect, Layer, Option } from "effect"
import { createInterface } from "node:readline"
import { layer } from "../../src/backends/sqlite/index.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { TaskQueue } from "../../src/services/TaskQueue.js"

const [mode, path, ...rest] = process.argv.slice(2)
if (mode === undefined || path === undefined) {
  process.stderr.write("usage: sqlite-child <mode> <path> [args]\n")
  process.exit(2)
}

// Synchronous on a pipe (Linux): once the call returns, the parent can read the line even if this
// process is killed the next instant.
const say = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

// The same space as TEST_SPACE in ./sqlite.ts (not imported: that module is for the test runner).
const store = layer({ path, embedding: { model: "conformance", dimensions: 8 } })

const withStore = <A, E>(body: (ctx: Context.Context<Layer.Layer.Success<typeof store>>) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(Layer.build(store), body))

const waitForGo = Effect.async<void>((resume) => {
  const rl = createInterface({ input: process.stdin })
  rl.on("line", (line) => {
    if (line.trim() === "go") {
      rl.close()
      resume(Effect.void)
    }
  })
})

const programs: Record<string, () => Effect.Effect<unknown, unknown>> = {
  audit: () =>
    withStore((ctx) =>
      Effect.gen(function*() {
        const log = Context.get(ctx, AuditLog)
        const n = Number(rest[0])
        for (let i = 0; i < n; i++) {
          const e = yield* log.append({ agentId: rest[1] ?? "agent", action: "append", detail: `${i}` })
          yield* say(`seq ${e.seq}`)
        }
      })
    ),
  start: () =>
    Effect.gen(function*() {
      yield* say("ready")
      yield* waitForGo
      yield* withStore((ctx) =>
        Effect.gen(function*() {
          const kv = Context.get(ctx, StructuredStore)
          const semantic = Context.get(ctx, SemanticStore)
          const log = Context.get(ctx, AuditLog)
          const queue = Context.get(ctx, TaskQueue)
          const me = `proc-${process.pid}`
          yield* kv.set(me, "hello", { pid: process.pid })
          if (Option.isNone(yield* kv.get(me, "hello"))) return yield* Effect.fail(new Error("kv read back nothing"))
          const id = yield* semantic.remember({
            agentId: me,
            content: "started",
            source: "system",
            embedding: [1, 0, 0, 0, 0, 0, 0, 0]
          })
          const hits = yield* semantic.recall({ agentId: me, embedding: [1, 0, 0, 0, 0, 0, 0, 0] })
          if (hits[0]?.memory.id !== id) return yield* Effect.fail(new Error("recall did not find the memory"))
          yield* queue.post({ title: me })
          yield* log.append({ agentId: me, action: "started" })
          yield* say("served")
        })
      )
    }),
  claim: () =>
    withStore((ctx) =>
      Effect.gen(function*() {
        const queue = Context.get(ctx, TaskQueue)
        const agent = rest[1] ?? "worker"
        const n = Number(rest[0])
        for (let i = 0; i < n; i++) {
          const task = yield* queue.claim(agent, { leaseMs: 3_600_000 })
          if (Option.isNone(task)) return yield* Effect.fail(new Error(`no task to claim after ${i} claims`))
          yield* say(`claimed ${task.value.id} ${task.value.attempt}`)
          yield* queue.complete(task.value.id, { agentId: agent, attempt: task.value.attempt, result: agent })
        }
      })
    ),
  contend: () =>
    withStore((ctx) =>
      Effect.gen(function*() {
        const kv = Context.get(ctx, StructuredStore)
        const semantic = Context.get(ctx, SemanticStore)
        const log = Context.get(ctx, AuditLog)
        const queue = Context.get(ctx, TaskQueue)
        const until = Date.now() + Number(rest[0])
        const agent = rest[1] ?? "contender"
        let rounds = 0
        while (Date.now() < until) {
          yield* queue.post({ title: `${agent} ${rounds}`, assignedTo: agent })
          const task = yield* queue.claim(agent, { leaseMs: 3_600_000 })
          if (Option.isNone(task)) return yield* Effect.fail(new Error(`${agent} found no task of its own to claim`))
          yield* queue.complete(task.value.id, { agentId: agent, attempt: task.value.attempt, result: agent })
          yield* kv.set(agent, `k${rounds}`, rounds)
          yield* log.append({ agentId: agent, action: "contend", detail: `${rounds}` })
          yield* semantic.remember({
            agentId: agent,
            content: `round ${rounds}`,
            source: "system",
            embedding: [1, rounds, 0, 0, 0, 0, 0, 0]
          })
          rounds++
        }
        yield* say(`done ${rounds}`)
      })
    ),
  crash: () =>
    withStore((ctx) =>
      Effect.gen(function*() {
        const kv = Context.get(ctx, StructuredStore)
        const semantic = Context.get(ctx, SemanticStore)
        const log = Context.get(ctx, AuditLog)
        const agent = rest[0] ?? "crasher"
        for (let i = 0;; i++) {
          const e = yield* log.append({ agentId: agent, action: "write", detail: `${i}` })
          yield* say(`A ${e.seq}`)
          yield* kv.set(agent, `k${i}`, i)
          yield* say(`K ${i}`)
          const id = yield* semantic.remember({
            agentId: agent,
            content: `memory ${i}`,
            source: "system",
            embedding: [1, i, 0, 0, 0, 0, 0, 0]
          })
          yield* say(`M ${id}`)
        }
      })
    )
}

const program = programs[mode]
if (program === undefined) {
  process.stderr.write(`unknown mode ${mode}\n`)
  process.exit(2)
}

Effect.runPromiseExit(program()).then((exit) => {
  if (exit._tag === "Failure") {
    process.stderr.write(`failed: ${Cause.pretty(exit.cause)}\n`)
    process.exit(1)
  }
  process.exit(0)
})
