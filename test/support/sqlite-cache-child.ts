/**
 * A child process for the vector-cache coherence tests (bundled by `bundleChild` in ./sqlite.ts).
 * Usage: node sqlite-cache-child.mjs <mode> <db path> [args]. Failures go to stderr with a non-zero
 * exit.
 *
 * Modes:
 *   serve <path>          one SemanticStore for the whole life of the process (so its vector cache
 *                         lives across commands); reads one JSON command per stdin line and answers
 *                         one JSON line on stdout: {op:"remember",agentId,id,content,embedding,scope?},
 *                         {op:"forget",agentId,id}, {op:"update",agentId,id,embedding},
 *                         {op:"recall",agentId,embedding,limit,filter?} → {ids, scores}
 *   write <path> <agent>  remember batches of 20 memories with seeded vectors forever; prints
 *                         "M <id>" per memory once its batch has committed, until killed
 */
import { Context, Effect, Layer } from "effect"
import { createInterface } from "node:readline"
import { layerSemantic } from "../../src/backends/sqlite/index.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"

const [mode, path, ...rest] = process.argv.slice(2)
if (mode === undefined || path === undefined) {
  process.stderr.write("usage: sqlite-cache-child <mode> <path> [args]\n")
  process.exit(2)
}

/** The same space as TEST_SPACE in ./sqlite.ts (not imported: that module is for the test runner). */
const DIMENSIONS = 8

// Synchronous on a pipe (Linux): once the call returns, the parent can read the line.
const say = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

const store = layerSemantic({ path, embedding: { model: "conformance", dimensions: DIMENSIONS } })

/** A command of `serve`, as the parent sends it. */
interface Command {
  readonly op: "remember" | "forget" | "update" | "recall"
  readonly agentId: string
  readonly id?: string
  readonly content?: string
  readonly scope?: string
  readonly embedding?: ReadonlyArray<number>
  readonly limit?: number
  readonly filter?: Record<string, unknown>
}

const serve = (memories: Context.Tag.Service<typeof SemanticStore>) =>
  Effect.async<void, never>((resume) => {
    const rl = createInterface({ input: process.stdin })
    let queue: Promise<void> = Promise.resolve()
    rl.on("line", (line) => {
      const c = JSON.parse(line) as Command
      const answer: Effect.Effect<unknown, unknown> = c.op === "remember"
        ? memories.remember({
          agentId: c.agentId,
          id: c.id!,
          content: c.content ?? "memory",
          source: "document",
          ...(c.scope === undefined ? {} : { scope: c.scope }),
          embedding: c.embedding!
        })
        : c.op === "forget"
        ? memories.forget(c.agentId, c.id!)
        : c.op === "update"
        ? memories.updateEmbedding(c.agentId, c.id!, c.embedding!)
        : Effect.map(
          memories.recall({ agentId: c.agentId, embedding: c.embedding!, limit: c.limit ?? 10, ...(c.filter ?? {}) }),
          (hits) => ({ ids: hits.map((h) => h.memory.id), scores: hits.map((h) => h.score) })
        )
      // One command at a time, in order.
      queue = queue.then(async () => {
        await Effect.runPromise(
          Effect.flatMap(
            Effect.either(answer),
            (r) => say(JSON.stringify(r._tag === "Right" ? { ok: r.right ?? null } : { error: String(r.left) }))
          )
        )
      })
    })
    rl.on("close", () => {
      void queue.then(() => resume(Effect.void))
    })
  })

/** A seeded generator (mulberry32), so a run's vectors are reproducible. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const write = (memories: Context.Tag.Service<typeof SemanticStore>, agent: string) =>
  Effect.gen(function*() {
    const rand = random(7)
    for (let round = 0;; round++) {
      const ids = yield* memories.rememberMany(
        Array.from({ length: 20 }, (_, i) => ({
          agentId: agent,
          content: `crash ${round} ${i}`,
          source: "document" as const,
          embedding: Array.from({ length: DIMENSIONS }, () => rand() - 0.5)
        }))
      )
      for (const id of ids) yield* say(`M ${id}`)
    }
  })

const program = Effect.scoped(Effect.flatMap(Layer.build(store), (ctx) => {
  const memories = Context.get(ctx, SemanticStore)
  return mode === "serve" ? serve(memories) : write(memories, rest[0] ?? "agent")
}))

Effect.runPromise(program).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${String(e)}\n`)
    process.exit(1)
  }
)
