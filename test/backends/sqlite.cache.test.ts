/**
 * The resident vector cache of SqliteLive (src/backends/sqlite/vectorCache.ts) against the file:
 * every vector recall answers exactly what an exact scan of the committed rows answers — after
 * remember, forget and updateEmbedding in another process, after a writer is killed mid-write, after
 * an application's transaction rolls back, and under every filter (with more distinct scopes than
 * the cache has codes for). Real files, real child processes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Exit, Option } from "effect"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AccessCounts } from "../../src/backends/sqlite/accessCounts.js"
import { open } from "../../src/backends/sqlite/client.js"
import { layerSemantic } from "../../src/backends/sqlite/index.js"
import { layerWithSqlClient } from "../../src/backends/sqlite/interop.js"
import { fromBlob, toBlob } from "../../src/backends/sqlite/memories.js"
import { driver, migrations } from "../../src/backends/sqlite/migrations.js"
import * as Semantic from "../../src/backends/sqlite/semantic.js"
import { LOG_BOUNDS, LOG_KEEP, VectorCache } from "../../src/backends/sqlite/vectorCache.js"
import { filterOf, filterPredicate } from "../../src/core/memoryFilter.js"
import { checkStoreOptions } from "../../src/core/memoryInputs.js"
import { migrate } from "../../src/core/migrator.js"
import { makeSemanticStore } from "../../src/core/semantic.js"
import { cosine } from "../../src/core/vector.js"
import type { Memory } from "../../src/domain/memory.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { bundleChild, type Child, makeTempDir, openRaw, removeDir, startChild, TEST_SPACE } from "../support/sqlite.js"

const D = TEST_SPACE.dimensions

let dir: string
let child: string
let round = 0
const freshPath = () => join(dir, `cache-${++round}.sqlite`)

beforeAll(async () => {
  dir = makeTempDir()
  child = await bundleChild("sqlite-cache-child.ts", dir)
}, 60_000)

afterAll(() => removeDir(dir))

/** A seeded generator (mulberry32), so failures reproduce. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const rand = random(13)
const vector = () => Array.from({ length: D }, () => Math.fround(rand() - 0.5))

/** A fresh UUIDv7-shaped id (the store accepts caller ids in that form). */
let counter = 0
const newId = () => {
  const hex = (++counter).toString(16).padStart(12, "0")
  return `01900000-0000-7000-8000-${hex}`
}

/** The exact answer from the committed rows of the file: the core's order over an exact scan. */
const exact = (
  path: string,
  agentId: string,
  query: ReadonlyArray<number>,
  limit: number,
  filter: Record<string, unknown> = {}
): Array<string> => {
  const db = openRaw(path, { readonly: true })
  try {
    const rows = db.prepare(
      `SELECT id, agent_id, scope, source, confidence, created_at, metadata, embedding FROM memories
       WHERE agent_id = ? AND embedding IS NOT NULL`
    ).all(agentId) as Array<
      {
        id: string
        scope: string
        source: Memory["source"]
        confidence: number
        created_at: number
        metadata: string
        embedding: Buffer
      }
    >
    const passes = filterPredicate(filterOf(filter))
    return rows
      .map((r) => ({
        id: r.id,
        createdAt: r.created_at,
        memory: {
          scope: r.scope,
          source: r.source,
          confidence: r.confidence,
          createdAt: r.created_at,
          metadata: JSON.parse(r.metadata)
        } as Memory,
        score: cosine(query, fromBlob(r.embedding))
      }))
      .filter((r) => passes(r.memory))
      .sort((a, b) => b.score - a.score || b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(0, limit)
      .map((r) => r.id)
  } finally {
    db.close()
  }
}

/** Send one command to a `serve` child and wait for its answer. */
const ask = async (c: Child, command: Record<string, unknown>): Promise<unknown> => {
  const before = c.lines.length
  c.process.stdin!.write(`${JSON.stringify(command)}\n`)
  await c.waitFor(() => c.lines.length > before)
  const answer = JSON.parse(c.lines[before]!) as { ok?: unknown; error?: string }
  if (answer.error !== undefined) throw new Error(answer.error)
  return answer.ok
}

const recallIds = async (c: Child, agentId: string, embedding: ReadonlyArray<number>, limit = 5, filter = {}) =>
  ((await ask(c, { op: "recall", agentId, embedding, limit, filter })) as { ids: Array<string> }).ids

const stop = async (c: Child) => {
  c.process.stdin!.end()
  const { code } = await c.exited
  expect(code, c.stderr.join("")).toBe(0)
}

describe("SqliteLive vector cache across processes", () => {
  it("a recall in process B sees remember, updateEmbedding and forget committed by process A", async () => {
    const path = freshPath()
    const a = startChild(child, ["serve", path])
    const ids: Array<string> = []
    for (let i = 0; i < 40; i++) {
      const id = newId()
      ids.push(id)
      await ask(a, { op: "remember", agentId: "shared", id, embedding: vector() })
    }
    const b = startChild(child, ["serve", path])
    const queries = Array.from({ length: 5 }, vector)
    // B loads the agent into its cache.
    for (const q of queries) expect(await recallIds(b, "shared", q)).toEqual(exact(path, "shared", q, 5))

    // remember in A: B's next recall returns it (a vector equal to the query ranks first).
    const fresh = newId()
    const target = vector()
    await ask(a, { op: "remember", agentId: "shared", id: fresh, embedding: target })
    expect((await recallIds(b, "shared", target))[0]).toBe(fresh)

    // updateEmbedding in A: the memory moves to where its new vector is.
    const moved = ids[3]!
    const elsewhere = vector()
    await ask(a, { op: "update", agentId: "shared", id: moved, embedding: elsewhere })
    expect((await recallIds(b, "shared", elsewhere))[0]).toBe(moved)
    for (const q of queries) expect(await recallIds(b, "shared", q)).toEqual(exact(path, "shared", q, 5))

    // forget in A: never returned by B again.
    await ask(a, { op: "forget", agentId: "shared", id: fresh })
    const after = await recallIds(b, "shared", target, 41)
    expect(after).not.toContain(fresh)
    expect(after).toEqual(exact(path, "shared", target, 41))

    await stop(a)
    await stop(b)
  }, 60_000)

  it(
    "after a writer is killed mid-write, a warm cache and a new process both answer from the committed rows",
    async () => {
      const path = freshPath()
      const b = startChild(child, ["serve", path])
      const seed = newId()
      await ask(b, { op: "remember", agentId: "crash", id: seed, embedding: vector() })
      const q = vector()
      // B's cache holds the agent before the writer starts.
      expect(await recallIds(b, "crash", q, 10)).toEqual([seed])

      const writer = startChild(child, ["write", path, "crash"])
      // Let it commit a few hundred memories, recalling in B while it writes.
      for (let i = 0; i < 5; i++) {
        await writer.waitFor(() => writer.lines.length >= 60 * (i + 1))
        const seen = await recallIds(b, "crash", q, 10)
        expect(seen.length).toBe(10)
      }
      writer.process.kill("SIGKILL")
      await writer.exited
      const acknowledged = writer.lines.filter((l) => l.startsWith("M ")).map((l) => l.slice(2))

      const queries = Array.from({ length: 5 }, vector)
      for (const query of queries) {
        const expected = exact(path, "crash", query, 20)
        expect(await recallIds(b, "crash", query, 20), "the warm cache").toEqual(expected)
      }
      const c = startChild(child, ["serve", path])
      for (const query of queries) {
        expect(await recallIds(c, "crash", query, 20), "a cache built after the crash").toEqual(
          exact(path, "crash", query, 20)
        )
      }
      // Everything acknowledged is in the file, and the widest recall ranks exactly what the file holds.
      const stored = new Set(exact(path, "crash", q, Number.MAX_SAFE_INTEGER))
      expect(acknowledged.filter((id) => !stored.has(id)), "acknowledged memories missing").toEqual([])
      expect(await recallIds(c, "crash", q, 1000)).toEqual(exact(path, "crash", q, 1000))
      await stop(b)
      await stop(c)
    },
    90_000
  )
})

describe("SqliteLive vector cache and the pruned change log", () => {
  it("a cache whose position was pruned away reloads, and so sees a change it never read from the log", async () => {
    const path = freshPath()
    const b = startChild(child, ["serve", path])
    await ask(b, { op: "remember", agentId: "pruned", id: newId(), embedding: vector() })
    // Enough memories that a search re-scores only a few of them: a stale cached vector would show.
    const ids = Array.from({ length: 3000 }, newId)
    const fill = openRaw(path)
    try {
      const insert = fill.prepare(
        `INSERT INTO memories (id, agent_id, content, source, scope, metadata, confidence, created_at, accessed_at,
           access_count, has_embedding, embedding) VALUES (?, 'pruned', 'm', 'document', 'episodic', '{}', 1, ?, ?, 0, 1, ?)`
      )
      fill.transaction(() => ids.forEach((id, i) => insert.run(id, 1000 + i, 1000 + i, toBlob(vector()))))()
    } finally {
      fill.close()
    }
    const target = vector()
    // B holds the agent.
    expect(await recallIds(b, "pruned", target)).toEqual(exact(path, "pruned", target, 5))
    const moved = ids[1717]!
    const db = openRaw(path)
    try {
      // Another writer gives `moved` the query's vector (logged), then floods the log past pruning.
      db.prepare(`UPDATE memories SET embedding = ? WHERE id = ?`).run(toBlob(target), moved)
      db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${2 * LOG_KEEP + 10})
        INSERT INTO memory_changes (rid, agent_id) SELECT -1, 'nobody' FROM n`)
    } finally {
      db.close()
    }
    // A remember (in another process) prunes the log in its transaction.
    const a = startChild(child, ["serve", path])
    await ask(a, { op: "remember", agentId: "elsewhere", id: newId(), embedding: vector() })
    await stop(a)
    const check = openRaw(path, { readonly: true })
    try {
      const through = Number(
        check.prepare(`SELECT value FROM engram_meta WHERE key = 'memory_changes.pruned_through'`).pluck().get()
      )
      const low = check.prepare(`SELECT min(seq) FROM memory_changes`).pluck().get() as number
      expect(low).toBe(through + 1)
      expect(check.prepare(`SELECT count(*) FROM memory_changes`).pluck().get()).toBe(LOG_KEEP)
    } finally {
      check.close()
    }
    // The update's log row is gone; B still finds `moved` where its new vector is.
    const seen = await recallIds(b, "pruned", target)
    expect(seen[0]).toBe(moved)
    expect(seen).toEqual(exact(path, "pruned", target, 5))
    await stop(b)
  }, 60_000)
})

describe("The change log's bounds", () => {
  it("are read from the ends of its key, not by a scan of the log (every write reads them)", async () => {
    const path = freshPath()
    await Effect.runPromise(Effect.scoped(Effect.provide(
      Effect.flatMap(
        SemanticStore,
        (m) => m.remember({ agentId: "a", content: "x", source: "document", embedding: vector() })
      ),
      layerSemantic({ path, embedding: TEST_SPACE })
    )))
    const db = openRaw(path, { readonly: true })
    try {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${LOG_BOUNDS}`).all() as Array<{ detail: string }>).map((r) =>
        r.detail
      )
      expect(plan.some((d) => d.startsWith("SCAN memory_changes"))).toBe(false)
      expect(db.prepare(LOG_BOUNDS).get()).toEqual({ low: 1, high: 1 })
    } finally {
      db.close()
    }
  }, 30_000)
})

describe("SqliteLive vector cache in one process", () => {
  it("a write rolled back with the application's transaction is never served, inside or after it", async () => {
    const path = freshPath()
    const program = Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const memories = yield* SemanticStore
      const target = vector()
      for (let i = 0; i < 20; i++) {
        yield* memories.remember({ agentId: "app", content: `m ${i}`, source: "document", embedding: vector() })
      }
      // The cache holds the agent.
      const before = (yield* memories.recall({ agentId: "app", embedding: target, limit: 3 })).map((h) => h.memory.id)
      const ghost = newId()
      const exit = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
        yield* memories.remember({ id: ghost, agentId: "app", content: "ghost", source: "document", embedding: target })
        // Inside the transaction its own write is visible (answered by SQL, not the cache).
        const inside = yield* memories.recall({ agentId: "app", embedding: target, limit: 3 })
        expect(inside[0]!.memory.id).toBe(ghost)
        return yield* Effect.fail("roll back")
      })))
      expect(Exit.isFailure(exit)).toBe(true)
      const after = (yield* memories.recall({ agentId: "app", embedding: target, limit: 3 })).map((h) => h.memory.id)
      expect(after).not.toContain(ghost)
      expect(after).toEqual(before)
      // A committed write after it is served.
      const real = yield* memories.remember({ agentId: "app", content: "real", source: "document", embedding: target })
      const last = yield* memories.recall({ agentId: "app", embedding: target, limit: 3 })
      expect(last[0]!.memory.id).toBe(real)
      expect(last.map((h) => h.memory.id)).toEqual(exact(path, "app", target, 3))
    })
    await Effect.runPromise(Effect.scoped(Effect.provide(program, layerWithSqlClient({ path, embedding: TEST_SPACE }))))
  }, 30_000)

  it(
    "every filter is honoured: cached answers equal an exact scan, with more scopes than the cache codes",
    async () => {
      const path = freshPath()
      const program = Effect.gen(function*() {
        const memories = yield* SemanticStore
        const sources = ["conversation", "document", "observation"] as const
        // 300 distinct scopes: past the 254 the cache gives codes to.
        for (let batch = 0; batch < 6; batch++) {
          yield* memories.rememberMany(Array.from({ length: 100 }, (_, i) => ({
            agentId: "filtered",
            content: `m ${batch} ${i}`,
            source: sources[(batch * 100 + i) % 3]!,
            scope: `scope-${(batch * 100 + i) % 300}`,
            metadata: { parity: i % 2 },
            embedding: vector()
          })))
        }
        // Load the agent into the cache, then change confidences behind its back (another connection):
        // the cache learns of it from the change log.
        yield* memories.recall({ agentId: "filtered", embedding: vector(), limit: 1 })
        setConfidences(path)
        const times = exactTimes(path)
        const filters: Array<Record<string, unknown>> = [
          {},
          { scope: "scope-7" },
          { scope: "scope-290" },
          { scope: "no-such-scope" },
          { source: "observation" },
          { minConfidence: 0.5 },
          { minConfidence: 0.3, source: "document" },
          { after: times[100] },
          { before: times[400] },
          { after: times[50], before: times[350], minConfidence: 0.2 },
          { metadata: { parity: 1 } },
          { scope: "scope-280", metadata: { parity: 0 } }
        ]
        for (const filter of filters) {
          for (let i = 0; i < 3; i++) {
            const q = vector()
            const hits = yield* memories.recall({ agentId: "filtered", embedding: q, limit: 10, ...filter })
            expect(hits.map((h) => h.memory.id), JSON.stringify(filter)).toEqual(exact(path, "filtered", q, 10, filter))
          }
        }
      })
      await Effect.runPromise(Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE }))))
    },
    60_000
  )
})

describe("SqliteLive access counters", () => {
  it("every memory a recall returns is counted once, whether it returns a few or more than 100", async () => {
    const path = freshPath()
    const program = Effect.gen(function*() {
      const memories = yield* SemanticStore
      const ids = yield* memories.rememberMany(Array.from({ length: 150 }, (_, i) => ({
        agentId: "counted",
        content: `m ${i}`,
        source: "document" as const,
        embedding: vector()
      })))
      // Another agent's memories are never counted.
      const [other] = yield* memories.rememberMany([
        { agentId: "other", content: "o", source: "document", embedding: vector() }
      ])
      const counts = () =>
        Effect.forEach(ids, (id) => Effect.map(memories.get("counted", id), (m) => Option.getOrThrow(m).accessCount))
      const q = vector()
      // 130 hits, then 7, twice: recorded with their rowids, written in batches (accessCounts.ts).
      const all = yield* memories.recall({ agentId: "counted", embedding: q, limit: 130 })
      expect(all).toHaveLength(130)
      const few = yield* memories.recall({ agentId: "counted", embedding: q, limit: 7 })
      const again = yield* memories.recall({ agentId: "counted", embedding: q, limit: 7 })
      expect(again.map((h) => h.memory.id)).toEqual(few.map((h) => h.memory.id))
      // What a recall returns is the memory after its own access.
      expect(again.map((h) => h.memory.accessCount)).toEqual(few.map((h) => h.memory.accessCount + 1))
      const returned = new Map<string, number>()
      for (const h of [...all, ...few, ...again]) returned.set(h.memory.id, (returned.get(h.memory.id) ?? 0) + 1)
      expect(yield* counts()).toEqual(ids.map((id) => returned.get(id) ?? 0))
      expect(Option.getOrThrow(yield* memories.get("other", other!)).accessCount).toBe(0)
      // A text recall counts by the same rule.
      const text = yield* memories.recall({ agentId: "counted", text: "m", limit: 3 })
      for (const h of text) returned.set(h.memory.id, (returned.get(h.memory.id) ?? 0) + 1)
      expect(yield* counts()).toEqual(ids.map((id) => returned.get(id) ?? 0))
      return ids.map((id) => returned.get(id) ?? 0)
    })
    const expected = await Effect.runPromise(
      Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE })))
    )
    // The file holds the same counts once the layer has closed.
    const db = openRaw(path, { readonly: true })
    try {
      const stored = db.prepare(`SELECT access_count FROM memories WHERE agent_id = 'counted' ORDER BY id`).pluck()
        .all()
      expect(stored).toEqual(expected)
    } finally {
      db.close()
    }
  }, 30_000)
})

describe("SQLite migration 5", () => {
  it(
    "moves the vectors of a store made before it out of sqlite-vec's table into memories, and serves them",
    async () => {
      const path = freshPath()
      // A store as version 1 left it: the schema of migration 1, the space, and vectors in vec0.
      await Effect.runPromise(
        Effect.scoped(Effect.flatMap(open({ path }), (conn) => migrate(driver(conn), migrations.slice(0, 1), 1)))
      )
      const vectors = Array.from({ length: 30 }, vector)
      const db = openRaw(path)
      try {
        db.exec(`CREATE VIRTUAL TABLE memories_vec USING vec0(
        agent_id text partition key, embedding float[${D}] distance_metric=cosine, scope text, source text,
        confidence float, created_at integer, chunk_size=256)`)
        db.prepare(`INSERT INTO engram_meta (key, value) VALUES ('embedding.model', ?), ('embedding.dimensions', ?)`)
          .run(TEST_SPACE.model, String(D))
        const insert = db.prepare(
          `INSERT INTO memories (rid, id, agent_id, content, source, scope, metadata, confidence, created_at,
           accessed_at, access_count, has_embedding) VALUES (?, ?, 'old', ?, 'document', 'episodic', '{}', 1, ?, ?, 0, ?)`
        )
        const vec = db.prepare(
          `INSERT INTO memories_vec (rowid, agent_id, embedding, scope, source, confidence, created_at)
         VALUES (?, 'old', ?, 'episodic', 'document', 1.0, ?)`
        )
        vectors.forEach((v, i) => {
          // The last memory has no vector.
          const embedded = i < vectors.length - 1
          insert.run(i + 1, newId(), `old ${i}`, 1000 + i, 1000 + i, embedded ? 1 : 0)
          if (embedded) vec.run(BigInt(i + 1), toBlob(v), BigInt(1000 + i))
        })
      } finally {
        db.close()
      }
      const program = Effect.gen(function*() {
        const memories = yield* SemanticStore
        for (const q of vectors.slice(0, 5)) {
          const hits = yield* memories.recall({ agentId: "old", embedding: q, limit: 10 })
          expect(hits.map((h) => h.memory.id)).toEqual(exact(path, "old", q, 10))
          expect(hits[0]!.memory.embedding).toEqual(q)
        }
        expect(yield* memories.count("old")).toBe(30)
      })
      await Effect.runPromise(Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE }))))
      const after = openRaw(path, { readonly: true })
      try {
        expect(after.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'memories_vec'`).pluck().get()).toBe(0)
        expect(after.prepare(`SELECT count(*) FROM memories WHERE embedding IS NOT NULL`).pluck().get()).toBe(29)
      } finally {
        after.close()
      }
    },
    30_000
  )
})

describe("SqliteLive vector cache loading a large agent over several recalls", () => {
  it(
    "answers every recall exactly while the agent is partly held, through changes on both sides of the loaded part",
    async () => {
      const path = freshPath()
      const SLICE = 64
      // The writer: an ordinary store. The reader: a store whose cache loads at most SLICE rows per recall.
      const program = Effect.gen(function*() {
        const writer = yield* SemanticStore
        const scopes = ["a", "b", "c"]
        const ids: Array<string> = []
        for (let batch = 0; batch < 4; batch++) {
          ids.push(
            ...(yield* writer.rememberMany(Array.from({ length: 75 }, (_, i) => ({
              agentId: "big",
              content: `m ${batch} ${i}`,
              source: "document" as const,
              scope: scopes[i % 3]!,
              embedding: vector()
            }))))
          )
        }
        yield* writer.rememberMany(Array.from({ length: 20 }, (_, i) => ({
          agentId: "other",
          content: `o ${i}`,
          source: "document" as const,
          embedding: vector()
        })))
        const conn = yield* open({ path })
        const limits = yield* checkStoreOptions({ embedding: TEST_SPACE })
        const reader = makeSemanticStore(Semantic.port(conn, yield* AccessCounts.make(conn), D, SLICE), limits)
        const check = (label: string) =>
          Effect.gen(function*() {
            for (const filter of [{}, { scope: "b" }]) {
              const q = vector()
              const hits = yield* reader.recall({ agentId: "big", embedding: q, limit: 10, ...filter })
              expect(hits.map((h) => h.memory.id), `${label} ${JSON.stringify(filter)}`).toEqual(
                exact(path, "big", q, 10, filter)
              )
            }
          })
        const rid = (id: string) => {
          const db = openRaw(path, { readonly: true })
          try {
            return db.prepare(`SELECT rid FROM memories WHERE id = ?`).pluck().get(id) as number
          } finally {
            db.close()
          }
        }
        // The first recall holds rows up to the 64th rowid (two recalls: the first of them loads a slice).
        yield* check("first")
        // Changes to rows the cache holds and to rows it does not yet hold.
        const target = vector()
        yield* writer.forget("big", ids[3]!)
        yield* writer.forget("big", ids[250]!)
        yield* writer.updateEmbedding("big", ids[5]!, target)
        yield* writer.updateEmbedding("big", ids[280]!, target.map((x) => x * 2))
        const fresh = yield* writer.remember({ agentId: "big", content: "new", source: "document", embedding: target })
        // A row under the loaded part, written by raw SQL with a rowid below every other.
        const db = openRaw(path)
        try {
          db.prepare(
            `INSERT INTO memories (rid, id, agent_id, content, source, scope, metadata, confidence, created_at,
               accessed_at, access_count, has_embedding, embedding)
             VALUES (-7, ?, 'big', 'raw', 'document', 'b', '{}', 1, 1, 1, 0, 1, ?)`
          ).run(newId(), toBlob(target.map((x) => -x)))
        } finally {
          db.close()
        }
        expect(rid(ids[5]!)).toBeLessThan(SLICE)
        const top = yield* reader.recall({ agentId: "big", embedding: target, limit: 3 })
        expect(top.map((h) => h.memory.id)).toEqual(exact(path, "big", target, 3))
        expect(top.map((h) => h.memory.id)).toContain(fresh)
        const bottom = yield* reader.recall({ agentId: "big", embedding: target.map((x) => -x), limit: 1 })
        expect(bottom.map((h) => h.memory.id)).toEqual(exact(path, "big", target.map((x) => -x), 1))
        for (let round = 0; round < 8; round++) yield* check(`round ${round}`)
        // Once whole, later writes are still seen.
        yield* writer.forget("big", fresh)
        yield* check("after the agent is whole")
      })
      await Effect.runPromise(Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE }))))
    },
    30_000
  )

  it("loads a slice per hold, in rowid order, until the agent is whole", async () => {
    const path = freshPath()
    const program = Effect.gen(function*() {
      const writer = yield* SemanticStore
      yield* writer.rememberMany(Array.from({ length: 150 }, (_, i) => ({
        agentId: "big",
        content: `m ${i}`,
        source: "document" as const,
        embedding: vector()
      })))
      const conn = yield* open({ path })
      const cache = new VectorCache(conn, D, 64)
      const holds: Array<number | undefined> = []
      for (let i = 0; i < 4; i++) {
        holds.push(conn.immediate(() => {
          cache.sync()
          return cache.hold("big")
        }))
      }
      const rids = openRaw(path, { readonly: true }).prepare(`SELECT rid FROM memories ORDER BY rid`).pluck()
        .all() as Array<number>
      expect(holds).toEqual([rids[63], rids[127], Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY])
    })
    await Effect.runPromise(Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE }))))
  }, 30_000)
})

describe("SqliteLive Float32Array embeddings", () => {
  it(
    "are accepted wherever an embedding is, stored as the same floats, and refused with the array's errors",
    async () => {
      const path = freshPath()
      const program = Effect.gen(function*() {
        const memories = yield* SemanticStore
        const v = Float32Array.from(vector())
        const one = yield* memories.remember({ agentId: "f32", content: "one", source: "document", embedding: v })
        const [two] = yield* memories.rememberMany([
          { agentId: "f32", content: "two", source: "document", embedding: Float32Array.from(vector()) }
        ])
        expect((yield* memories.get("f32", one)).pipe(Option.getOrThrow).embedding).toEqual(Array.from(v))
        const hits = yield* memories.recall({ agentId: "f32", embedding: v, limit: 1 })
        expect(hits[0]!.memory.id).toBe(one)
        const w = Float32Array.from(vector())
        yield* memories.updateEmbedding("f32", two!, w)
        expect((yield* memories.recall({ agentId: "f32", embedding: w, limit: 1 }))[0]!.memory.id).toBe(two)

        // Each invalid vector fails the same way as the equal array.
        const bad = [
          new Float32Array(D + 1).fill(0.5),
          Float32Array.from(vector()).fill(Number.NaN, 2, 3),
          new Float32Array(D)
        ]
        for (const b of bad) {
          const asArray = Array.from(b)
          const calls = [
            (e: ReadonlyArray<number> | Float32Array) =>
              memories.remember({ agentId: "f32", content: "x", source: "document", embedding: e }),
            (e: ReadonlyArray<number> | Float32Array) =>
              memories.rememberMany([{ agentId: "f32", content: "x", source: "document", embedding: e }]),
            (e: ReadonlyArray<number> | Float32Array) => memories.recall({ agentId: "f32", embedding: e }),
            (e: ReadonlyArray<number> | Float32Array) => memories.updateEmbedding("f32", one, e)
          ]
          for (const call of calls) {
            const typed = yield* Effect.flip(call(b))
            const array = yield* Effect.flip(call(asArray))
            expect(typed._tag).toBe("InvalidEmbedding")
            expect(typed).toEqual(array)
          }
        }
        // Not a vector at all: InvalidInput, as before.
        const notVector = yield* Effect.flip(memories.updateEmbedding("f32", one, new Int32Array(D) as never))
        expect(notVector._tag).toBe("InvalidInput")
        expect(yield* memories.count("f32")).toBe(2)
      })
      await Effect.runPromise(Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE }))))
    },
    30_000
  )
})

/** Give every memory of the file a seeded confidence in [0, 1], through a connection of its own. */
const setConfidences = (path: string): void => {
  const db = openRaw(path)
  try {
    const rids = db.prepare(`SELECT rid FROM memories`).pluck().all() as Array<number>
    const set = db.prepare(`UPDATE memories SET confidence = ? WHERE rid = ?`)
    db.transaction(() => {
      for (const rid of rids) set.run(Math.round(rand() * 100) / 100, rid)
    })()
  } finally {
    db.close()
  }
}

/** Every created_at of the file, ascending. */
const exactTimes = (path: string): Array<number> => {
  const db = openRaw(path, { readonly: true })
  try {
    return db.prepare(`SELECT created_at FROM memories ORDER BY created_at`).pluck().all() as Array<number>
  } finally {
    db.close()
  }
}
