/**
 * PgLive vector recall: one round trip when the nearest rows settle the boundary (the access
 * counters updated in the same statement, visible to the next read), the counters of exactly the
 * returned memories when they do not, and the HNSW index behind every agent-filtered recall of a
 * large store — checked with EXPLAIN on the very statement engram sends, custom and generic plans.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import pg from "pg"
import { layerFromPool, PgPool } from "../../src/backends/postgres/index.js"
import { decodeVector } from "../../src/backends/postgres/vectorCodec.js"
import { distanceTolerance, recallManyStatement, recallStatement } from "../../src/backends/postgres/vectorRecall.js"
import { filterOf } from "../../src/core/memoryFilter.js"
import type { AgentId } from "../../src/domain/ids.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { createSchema, describePg, dropSchema, sql, urlForSchema } from "../support/postgres.js"

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** A seeded generator (mulberry32) so every run sees the same vectors. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const gaussian = (rand: () => number) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())

/**
 * Run `body` with SemanticStore on a pool of one connection in a fresh schema; `statements()` is how
 * many statements that connection has been sent so far.
 */
const withCountedStore = async <A>(
  dimensions: number,
  body: (schema: string, statements: () => number) => Effect.Effect<A, unknown, SemanticStore>
): Promise<A> => {
  const schema = await createSchema()
  const pool = new pg.Pool({ connectionString: urlForSchema(schema), max: 1 })
  pool.on("error", () => {})
  let sent = 0
  const counted = new WeakSet<pg.PoolClient>()
  pool.on("acquire", (client) => {
    if (counted.has(client)) return
    counted.add(client)
    const query = client.query.bind(client) as (...args: Array<unknown>) => unknown
    ;(client as unknown as { query: (...args: Array<unknown>) => unknown }).query = (...args) => {
      sent++
      return query(...args)
    }
  })
  try {
    const layer = layerFromPool({ embedding: { model: "recall", dimensions } }).pipe(
      Layer.provide(Layer.succeed(PgPool, pool))
    )
    return await Effect.runPromise(body(schema, () => sent).pipe(Effect.provide(layer)) as Effect.Effect<A, unknown>)
  } finally {
    await pool.end().catch(() => {})
    await dropSchema(schema)
  }
}

/** `count` memories of 8 random dimensions, memory i held by `agentOf(i)`; their ids in order. */
const rememberRandom = (rand: () => number, count: number, agentOf: (i: number) => string) =>
  Effect.flatMap(SemanticStore, (store) =>
    store.rememberMany(
      range(count).map((i) => ({
        agentId: agentOf(i),
        content: `memory ${i}`,
        source: "document" as const,
        embedding: range(8).map(() => gaussian(rand))
      }))
    ))

describePg("PgLive vector recall", () => {
  it(
    "a settled vector recall is one statement; the counters of exactly the returned memories are visible to the next read",
    () =>
      withCountedStore(8, (_schema, statements) =>
        Effect.gen(function*() {
          const store = yield* SemanticStore
          const rand = seeded(7)
          const ids = yield* rememberRandom(rand, 200, (i) => `agent-${i % 2}`)
          const query = { agentId: "agent-0", embedding: range(8).map(() => gaussian(rand)), limit: 10 }
          // Warm the connection (engram's session settings on an application's pool, statement preparation).
          yield* store.recall({ ...query, agentId: "agent-1" })
          const before = statements()
          const hits = yield* store.recall(query)
          assert.strictEqual(statements() - before, 1, "one statement for the whole recall")
          assert.strictEqual(hits.length, 10)
          const returned = new Set(hits.map((h) => h.memory.id))
          for (const [i, id] of ids.entries()) {
            if (i % 2 !== 0) continue
            const m = yield* store.get("agent-0", id)
            assert.isTrue(m._tag === "Some")
            if (m._tag !== "Some") continue
            assert.strictEqual(m.value.accessCount, returned.has(id) ? 1 : 0, `memory ${i}`)
          }
          for (const h of hits) assert.strictEqual(h.memory.accessCount, 1)
        })),
    120_000
  )

  it(
    "a recall interrupted while its statement waits gives its connection up: the next recall on a pool of one answers",
    () =>
      withCountedStore(8, (schema) =>
        Effect.gen(function*() {
          const store = yield* SemanticStore
          const rand = seeded(11)
          yield* rememberRandom(rand, 50, () => "agent-0")
          const query = { agentId: "agent-0", embedding: range(8).map(() => gaussian(rand)), limit: 5 }
          yield* store.recall(query)
          // Another session holds every row, so the recall's counter update waits for it.
          const blocker = new pg.Client({ connectionString: urlForSchema(schema) })
          yield* Effect.acquireRelease(
            Effect.promise(async () => {
              await blocker.connect()
              await blocker.query("BEGIN")
              await blocker.query("SELECT id FROM memories FOR UPDATE")
            }),
            () => Effect.promise(() => blocker.end().catch(() => {}))
          )
          const waited = yield* Effect.timeout(store.recall(query), "300 millis").pipe(Effect.flip)
          assert.strictEqual(waited._tag, "TimeoutException")
          yield* Effect.promise(() => blocker.query("COMMIT"))
          // The pool's one connection was destroyed, not handed back mid-statement: a new one answers.
          const hits = yield* store.recall(query)
          assert.strictEqual(hits.length, 5)
        }).pipe(Effect.scoped)),
    120_000
  )

  it(
    "recallAgents of a vector query is one statement for every agent; each gets what recall gives and is counted once",
    () =>
      withCountedStore(8, (_schema, statements) =>
        Effect.gen(function*() {
          const store = yield* SemanticStore
          const rand = seeded(5)
          const ids = yield* rememberRandom(rand, 90, (i) => `agent-${i % 3}`)
          const query = { embedding: range(8).map(() => gaussian(rand)), limit: 5 }
          const agents = ["agent-2", "nobody", "agent-0", "agent-1"]
          // Warm the connection (session settings, statement preparation).
          const warm = yield* store.recallAgents(["agent-0", "agent-1"], { ...query, limit: 1 })
          const before = statements()
          const grouped = yield* store.recallAgents(agents, query)
          assert.strictEqual(statements() - before, 1, "one statement for all agents")
          assert.deepStrictEqual(grouped.map((hits) => hits.length), [5, 0, 5, 5])
          // Exactly the returned memories were counted, once per call that returned them.
          const times = new Map<string, number>()
          for (const hits of [...warm, ...grouped]) {
            for (const h of hits) times.set(h.memory.id, (times.get(h.memory.id) ?? 0) + 1)
          }
          for (const [i, id] of ids.entries()) {
            const m = yield* store.get(`agent-${i % 3}`, id)
            assert.isTrue(m._tag === "Some")
            if (m._tag === "Some") assert.strictEqual(m.value.accessCount, times.get(id) ?? 0, `memory ${i}`)
          }
          // A repeated agent: the second answer sees the first's access, as two recalls in a row would.
          const [twiceA, twiceB] = yield* store.recallAgents(["agent-1", "agent-1"], query)
          assert.deepStrictEqual(twiceB!.map((h) => h.memory.id), twiceA!.map((h) => h.memory.id))
          for (const [j, hit] of twiceB!.entries()) {
            assert.strictEqual(hit.memory.accessCount, twiceA![j]!.memory.accessCount + 1, "agent-1 twice")
          }
          for (const [g, agentId] of agents.entries()) {
            const one = yield* store.recall({ ...query, agentId })
            assert.deepStrictEqual(grouped[g]!.map((h) => h.memory.id), one.map((h) => h.memory.id), agentId)
            const extra = agentId === "agent-1" ? 3 : 1
            for (const [j, hit] of one.entries()) {
              assert.strictEqual(hit.memory.accessCount, grouped[g]![j]!.memory.accessCount + extra, agentId)
            }
          }
        })),
    120_000
  )

  it(
    "a stored row that breaks the memory schema is a StorageError on every read, never a memory",
    () =>
      withCountedStore(8, (schema) =>
        Effect.gen(function*() {
          const store = yield* SemanticStore
          const rand = seeded(11)
          const ids = yield* rememberRandom(rand, 12, () => "agent-0")
          const query = { agentId: "agent-0", embedding: range(8).map(() => gaussian(rand)), limit: 20 }
          assert.strictEqual((yield* store.recall(query)).length, 12)
          // Values no memory can hold, written behind engram's back: every read must refuse the row.
          yield* Effect.promise(() => sql(schema, "ALTER TABLE memories ALTER COLUMN scope DROP NOT NULL"))
          const tampered = [["source", "rumour"], ["scope", null], ["id", "not-a-uuid"]] as const
          for (const [i, [column, value]] of tampered.entries()) {
            const id = ids[i]!
            yield* Effect.promise(() => sql(schema, `UPDATE memories SET ${column} = $1 WHERE id = $2`, [value, id]))
            const recalled = yield* Effect.either(store.recall(query))
            assert.isTrue(recalled._tag === "Left" && recalled.left._tag === "StorageError", `recall, bad ${column}`)
            if (column !== "id") {
              const got = yield* Effect.either(store.get("agent-0", id))
              assert.isTrue(got._tag === "Left" && got.left._tag === "StorageError", `get, bad ${column}`)
            }
            yield* Effect.promise(() =>
              sql(schema, "DELETE FROM memories WHERE id = $1", [column === "id" ? value : id])
            )
            assert.strictEqual((yield* store.recall(query)).length, 12 - (i + 1))
          }
        })),
    120_000
  )

  it(
    "a tie across the boundary takes the exact path and still counts exactly the returned memories",
    () =>
      withCountedStore(8, (_schema, statements) =>
        Effect.gen(function*() {
          const store = yield* SemanticStore
          const same = [1, 2, 3, 4, 5, 6, 7, 8]
          const ids = yield* store.rememberMany(
            range(14).map((i) => ({
              agentId: "agent-0",
              content: `twin ${i}`,
              source: "document" as const,
              embedding: same
            }))
          )
          const before = statements()
          const hits = yield* store.recall({ agentId: "agent-0", embedding: same, limit: 10 })
          assert.isAbove(statements() - before, 1, "an unsettled boundary reads again")
          assert.strictEqual(hits.length, 10)
          const returned = new Set(hits.map((h) => h.memory.id))
          let counted = 0
          for (const id of ids) {
            const m = yield* store.get("agent-0", id)
            if (m._tag !== "Some") continue
            assert.strictEqual(m.value.accessCount, returned.has(id) ? 1 : 0)
            counted += m.value.accessCount
          }
          assert.strictEqual(counted, 10)
        })),
    120_000
  )

  it(
    "every agent-filtered recall of a 20,000-memory store is an HNSW index scan (custom and cached generic plans)",
    () =>
      withCountedStore(64, (schema) =>
        Effect.gen(function*() {
          const store = yield* SemanticStore
          const D = 64
          const AGENTS = 10
          const rand = seeded(42)
          const centers = range(40).map(() => range(D).map(() => gaussian(rand)))
          const vector = () => centers[Math.floor(rand() * centers.length)]!.map((x) => x + 0.35 * gaussian(rand))
          for (let start = 0; start < 20_000; start += 5_000) {
            yield* store.rememberMany(
              range(5_000).map((i) => ({
                agentId: `agent-${(start + i) % AGENTS}`,
                content: `memory ${start + i}`,
                source: "document" as const,
                scope: (start + i) % 3 === 0 ? "semantic" as const : "episodic" as const,
                embedding: vector()
              }))
            )
          }
          yield* Effect.promise(() => sql(schema, "ANALYZE memories"))
          const plans: Array<string> = []
          // One connection of its own: prepared statements live on a connection. Its settings are
          // engram's session settings.
          const conn = new pg.Client({ connectionString: urlForSchema(schema) })
          yield* Effect.acquireRelease(
            Effect.promise(async () => {
              await conn.connect()
              await conn.query("SET hnsw.iterative_scan = relaxed_order")
            }),
            () => Effect.promise(() => conn.end().catch(() => {}))
          )
          const explain = async (text: string, values: ReadonlyArray<unknown>) => {
            const rows =
              (await conn.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (FORMAT JSON) ${text}`, [...values])).rows
            return JSON.stringify(rows[0]!["QUERY PLAN"])
          }
          const eps = distanceTolerance(D)
          for (const [i, filter] of [{}, { scope: "semantic" as const }].entries()) {
            for (const a of range(AGENTS)) {
              const statement = recallStatement({
                mode: "vector",
                agentId: `agent-${a}` as AgentId,
                limit: 10,
                filter: filterOf(filter),
                now: 1,
                embedding: vector()
              }, eps)
              plans.push(yield* Effect.promise(() => explain(statement.text, statement.values ?? [])))
              // The prepared form, as the driver runs it: after five executions PostgreSQL may switch
              // to a generic plan; every one of them must still scan the index.
              if (a === 0) {
                yield* Effect.promise(() => conn.query(`PREPARE knn${i} AS ${statement.text}`))
              }
              // The query vector travels in binary form; EXECUTE takes it as pgvector's text form.
              const params = (statement.values ?? []).map((v) =>
                pg.escapeLiteral(Buffer.isBuffer(v) ? JSON.stringify(decodeVector(v)) : String(v))
              )
              for (let repeat = 0; repeat < (a === 0 ? 6 : 1); repeat++) {
                plans.push(yield* Effect.promise(() => explain(`EXECUTE knn${i}(${params.join(", ")})`, [])))
              }
            }
          }
          // recallAgents: one statement for all ten agents, each agent's rows through the index.
          for (const filter of [{}, { scope: "semantic" as const }]) {
            const statement = recallManyStatement(
              range(AGENTS).map((a) => ({
                mode: "vector" as const,
                agentId: `agent-${a}` as AgentId,
                limit: 10,
                filter: filterOf(filter),
                now: 1,
                embedding: vector()
              })),
              eps
            )
            plans.push(yield* Effect.promise(() => explain(statement.text, statement.values ?? [])))
          }
          return plans
        }).pipe(Effect.scoped)).then((plans) => {
          // Two filters × (one agent explained and executed 6 times + 9 agents explained and executed
          // once), and the ten agents' statement once per filter.
          assert.strictEqual(plans.length, 2 * (7 + 9 * 2) + 2)
          plans.forEach((plan, i) => {
            assert.match(
              plan,
              /"Index Name":"memories_embedding"/,
              `plan ${i} scans the HNSW index: ${plan.slice(0, 600)}`
            )
          })
        }),
    600_000
  )
})
