/**
 * Recall's access counters on SQLite (backends/sqlite/accessCounts.ts): a recall records what it
 * returned; this process sees the accesses at once, the file gets them in one batched transaction
 * within `FLUSH_MS`, at the next write of the semantic store, or when the layer closes — and a
 * write transaction that fails leaves them pending, not lost.
 */
import { Effect, Exit, Layer, Scope, TestClock, TestContext } from "effect"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AccessCounts, FLUSH_MS } from "../../src/backends/sqlite/accessCounts.js"
import { open } from "../../src/backends/sqlite/client.js"
import { layerSemantic } from "../../src/backends/sqlite/index.js"
import { Consolidation } from "../../src/services/Consolidation.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { makeTempDir, openRaw, removeDir, TEST_SPACE } from "../support/sqlite.js"

let dir: string
beforeAll(() => {
  dir = makeTempDir()
})
afterAll(() => removeDir(dir))

const D = TEST_SPACE.dimensions
const axis = (i: number) => Array.from({ length: D }, (_, d) => (d === i ? 1 : 0.001))
/** Nearest to memory 0, then memory 1, then memory 2. */
const query = Array.from({ length: D }, (_, d) => (d === 0 ? 1 : d === 1 ? 0.5 : 0.001))

/** The stored counters of `id`, read by a connection of its own (as another process would). */
const stored = (path: string, id: string) => {
  const db = openRaw(path, { readonly: true })
  try {
    return db.prepare(`SELECT access_count AS count, accessed_at AS at FROM memories WHERE id = ?`).get(id) as {
      count: number
      at: number
    }
  } finally {
    db.close()
  }
}

/** Wait (real time) until `check` passes, at most `ms`. */
const eventually = async (ms: number, check: () => void) => {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return check()
    } catch (e) {
      if (Date.now() > deadline) throw e
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

const seed = Effect.gen(function*() {
  const store = yield* SemanticStore
  const ids = yield* store.rememberMany([0, 1, 2].map((i) => ({
    agentId: "a",
    content: `memory ${i}`,
    source: "document" as const,
    embedding: axis(i)
  })))
  return { store, ids }
})

describe("SqliteLive access counters", () => {
  it("are seen at once by this process and reach the file within the batch interval", async () => {
    const path = join(dir, "later.sqlite")
    const scope = await Effect.runPromise(Scope.make())
    const ctx = await Effect.runPromise(Layer.buildWithScope(layerSemantic({ path, embedding: TEST_SPACE }), scope))
    const program = Effect.gen(function*() {
      const { ids, store } = yield* seed
      yield* TestClock.setTime(7_000)
      const hits = yield* store.recall({ agentId: "a", embedding: query, limit: 2 })
      expect(hits.map((h) => [h.memory.id, h.memory.accessCount, h.memory.accessedAt])).toEqual([
        [ids[0], 1, 7_000],
        [ids[1], 1, 7_000]
      ])
      // Nothing has run since the recall returned: the accesses are still pending in this process.
      expect(stored(path, ids[0]!)).toEqual({ count: 0, at: 0 })
      const read = yield* store.get("a", ids[0]!)
      expect(read._tag === "Some" && [read.value.accessCount, read.value.accessedAt]).toEqual([1, 7_000])
      yield* TestClock.setTime(8_000)
      yield* store.recall({ agentId: "a", embedding: query, limit: 1 })
      return ids
    })
    const ids = await Effect.runPromise(Effect.provide(program, ctx).pipe(Effect.provide(TestContext.TestContext)))
    await eventually(20 * FLUSH_MS, () => {
      expect(stored(path, ids[0]!)).toEqual({ count: 2, at: 8_000 })
      expect(stored(path, ids[1]!)).toEqual({ count: 1, at: 7_000 })
    })
    expect(stored(path, ids[2]!)).toEqual({ count: 0, at: 0 })
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("still pending when the layer closes are written before the connection closes", async () => {
    const path = join(dir, "close.sqlite")
    const program = Effect.gen(function*() {
      const { ids, store } = yield* seed
      yield* TestClock.setTime(5_000)
      yield* store.recall({ agentId: "a", embedding: axis(2), limit: 1 })
      expect(stored(path, ids[2]!)).toEqual({ count: 0, at: 0 })
      return ids
    })
    const ids = await Effect.runPromise(
      Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE }))).pipe(
        Effect.provide(TestContext.TestContext)
      )
    )
    expect(stored(path, ids[2]!)).toEqual({ count: 1, at: 5_000 })
  })

  it("are written first by a write transaction, and stay pending when it fails", async () => {
    const path = join(dir, "fold.sqlite")
    const program = Effect.gen(function*() {
      const { ids } = yield* seed
      const conn = yield* open({ path })
      const counts = yield* AccessCounts.make(conn)
      const before = stored(path, ids[0]!)
      expect(before.count).toBe(0)
      // One access known by rowid, the others by id alone.
      const rid = openRaw(path, { readonly: true })
      const rid0 = rid.prepare(`SELECT rid FROM memories WHERE id = ?`).pluck().get(ids[0]!) as number
      rid.close()
      yield* counts.record([[ids[0]!, rid0], [ids[0]!, undefined], [ids[1]!, undefined]], 3_000)
      expect(() =>
        counts.immediate(() => {
          conn.run(`UPDATE memories SET confidence = 0.5 WHERE id = ?`, [ids[2]!])
          throw new Error("the work fails")
        })
      ).toThrow("the work fails")
      // Rolled back with the work; still pending, still seen.
      expect(stored(path, ids[0]!)).toEqual(before)
      const m = { id: ids[0]!, accessCount: 4, accessedAt: 1 }
      expect(counts.seen(m as never)).toMatchObject({ accessCount: 6, accessedAt: 3_000 })
      counts.immediate(() => undefined)
      expect(stored(path, ids[0]!)).toEqual({ count: 2, at: 3_000 })
      expect(stored(path, ids[1]!)).toEqual({ count: 1, at: 3_000 })
      // Written once: what is pending now is nothing.
      expect(counts.seen(m as never)).toBe(m)
      counts.immediate(() => undefined)
      expect(stored(path, ids[0]!)).toEqual({ count: 2, at: 3_000 })
    })
    await Effect.runPromise(Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE }))))
  })

  it("count for consolidation at once: a memory just recalled is not decayed as stale", async () => {
    const path = join(dir, "decay.sqlite")
    const program = Effect.gen(function*() {
      const { ids, store } = yield* seed
      yield* TestClock.setTime(100_000)
      yield* store.recall({ agentId: "a", embedding: axis(1), limit: 1 })
      const report = yield* (yield* Consolidation).consolidate({ staleAfterMs: 50_000, mergeThreshold: 1 })
      expect(report.decayed).toBe(2)
      const confidence = (id: string) =>
        Effect.map(store.get("a", id), (m) => (m._tag === "Some" ? m.value.confidence : undefined))
      expect(yield* confidence(ids[1]!)).toBe(1)
      expect(yield* confidence(ids[0]!)).toBeLessThan(1)
    })
    await Effect.runPromise(
      Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE }))).pipe(
        Effect.provide(TestContext.TestContext)
      )
    )
  })
})
