/**
 * PgLive bulk loads: a rememberMany or import that is large relative to the table rebuilds the HNSW
 * index once (a new, valid index at commit; recall answers from it), a smaller one keeps the index in
 * place, and a load that fails leaves the table and its index as they were.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { BULK_MIN } from "../../src/backends/postgres/bulkLoad.js"
import { layerSemantic } from "../../src/backends/postgres/index.js"
import type { AgentId, MemoryId } from "../../src/domain/ids.js"
import { SemanticStoreAdmin } from "../../src/services/Admin.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { createSchema, describePg, dropSchema, sql, urlForSchema } from "../support/postgres.js"

const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const D = 8

/** A deterministic, non-degenerate vector for memory `i`. */
const vector = (i: number) => range(D).map((j) => Math.sin(i * 0.37 + j * 1.3) + 0.01 * j)

const inputs = (from: number, n: number, agent = (i: number) => `agent-${i % 4}`) =>
  range(n).map((k) => ({
    agentId: agent(from + k),
    content: `memory ${from + k}`,
    source: "document" as const,
    embedding: vector(from + k)
  }))

/** The HNSW index: its oid (a rebuild gives a new one) and whether it is valid. */
const embeddingIndex = (schema: string) =>
  Effect.promise(async () => {
    const rows = await sql<{ oid: number; valid: boolean }>(
      schema,
      `SELECT c.oid::int AS oid, i.indisvalid AS valid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
       WHERE c.oid = to_regclass('memories_embedding')`
    )
    return rows[0]
  })

const count = (schema: string) =>
  Effect.promise(async () => (await sql<{ n: number }>(schema, "SELECT count(*)::int AS n FROM memories"))[0]!.n)

/** Run `body` on SemanticStore (and its admin) in a fresh schema. */
const onStore = async <A>(body: (schema: string) => Effect.Effect<A, unknown, SemanticStore | SemanticStoreAdmin>) => {
  const schema = await createSchema()
  try {
    const layer = layerSemantic({
      url: Redacted.make(urlForSchema(schema)),
      embedding: { model: "bulk", dimensions: D }
    })
    return await Effect.runPromise(body(schema).pipe(Effect.provide(layer)) as Effect.Effect<A, unknown>)
  } finally {
    await dropSchema(schema)
  }
}

describePg("PgLive bulk loads", () => {
  it(
    "rememberMany of BULK_MIN+ into an empty store rebuilds the HNSW index once; it is valid and recall uses it",
    () =>
      onStore((schema) =>
        Effect.gen(function*() {
          const store = yield* SemanticStore
          const before = yield* embeddingIndex(schema)
          assert.isDefined(before)
          const ids = yield* store.rememberMany(inputs(0, BULK_MIN + 1_000))
          assert.strictEqual(ids.length, BULK_MIN + 1_000)
          assert.strictEqual(yield* count(schema), BULK_MIN + 1_000)
          const after = yield* embeddingIndex(schema)
          assert.isDefined(after)
          assert.notStrictEqual(after!.oid, before!.oid, "the index was rebuilt")
          assert.isTrue(after!.valid)
          // The rebuilt index holds every row: an index-only count of the nearest agent-free rows.
          const plan = yield* Effect.promise(() =>
            sql<{ "QUERY PLAN": string }>(
              schema,
              `EXPLAIN SELECT id FROM memories ORDER BY embedding <=> $1::vector LIMIT 5`,
              [
                JSON.stringify(vector(3))
              ]
            )
          )
          assert.match(plan.map((p) => p["QUERY PLAN"]).join("\n"), /memories_embedding/)
          const hits = yield* store.recall({ agentId: "agent-3", embedding: vector(3), limit: 5 })
          assert.strictEqual(hits.length, 5)
          assert.strictEqual(hits[0]!.memory.content, "memory 3")
        })
      ),
    300_000
  )

  it(
    "a load smaller than half the table (or than BULK_MIN) keeps the index in place; a third of the result rebuilds it",
    () =>
      onStore((schema) =>
        Effect.gen(function*() {
          const store = yield* SemanticStore
          yield* store.rememberMany(inputs(0, 2 * BULK_MIN))
          const first = yield* embeddingIndex(schema)
          yield* store.rememberMany(inputs(2 * BULK_MIN, 1_500))
          const big = yield* embeddingIndex(schema)
          assert.strictEqual(big!.oid, first!.oid, "a load below BULK_MIN grows the index in place")
          // 11,500 rows already: more than twice BULK_MIN.
          yield* store.rememberMany(inputs(2 * BULK_MIN + 1_500, BULK_MIN))
          const afterLarge = yield* embeddingIndex(schema)
          assert.strictEqual(afterLarge!.oid, big!.oid, "a load smaller than half the table grows the index in place")
          // 16,500 rows: a load of 8,500 is more than half of them.
          yield* store.rememberMany(inputs(3 * BULK_MIN + 1_500, 8_500))
          const rebuilt = yield* embeddingIndex(schema)
          assert.notStrictEqual(rebuilt!.oid, big!.oid, "a load of a third of the result rebuilds the index")
          assert.isTrue(rebuilt!.valid)
          assert.strictEqual(yield* count(schema), 3 * BULK_MIN + 10_000)
        })
      ),
    300_000
  )

  it(
    "a bulk rememberMany refused for another agent's id writes nothing and keeps the index",
    () =>
      onStore((schema) =>
        Effect.gen(function*() {
          const store = yield* SemanticStore
          const [taken] = yield* store.rememberMany([{
            agentId: "other",
            content: "x",
            source: "document",
            embedding: vector(1)
          }])
          const before = yield* embeddingIndex(schema)
          const batch = inputs(0, BULK_MIN + 10).map((m, i) => (i === BULK_MIN ? { ...m, id: taken! } : m))
          const refused = yield* Effect.either(store.rememberMany(batch))
          assert.isTrue(Either.isLeft(refused))
          if (Either.isLeft(refused)) assert.include(JSON.stringify(refused.left), `inputs[${BULK_MIN}].id`)
          assert.strictEqual(yield* count(schema), 1)
          const after = yield* embeddingIndex(schema)
          assert.deepStrictEqual(after, before, "the index is the one from before")
        })
      ),
    300_000
  )

  it(
    "an import of BULK_MIN+ records into an empty store rebuilds the index; importing it again changes nothing",
    () =>
      onStore((schema) =>
        Effect.gen(function*() {
          const admin = yield* SemanticStoreAdmin
          const before = yield* embeddingIndex(schema)
          const records = inputs(0, BULK_MIN + 500).map((m, i) => ({
            kind: "memory" as const,
            id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}` as MemoryId,
            agentId: m.agentId as AgentId,
            content: m.content,
            source: m.source,
            scope: "episodic" as const,
            metadata: {},
            confidence: 1,
            createdAt: 1_000 + i,
            accessedAt: 1_000 + i,
            accessCount: i % 3,
            embedding: m.embedding
          }))
          yield* admin.import(records)
          const after = yield* embeddingIndex(schema)
          assert.notStrictEqual(after!.oid, before!.oid, "the index was rebuilt")
          assert.isTrue(after!.valid)
          assert.strictEqual(yield* count(schema), BULK_MIN + 500)
          yield* admin.import(records)
          assert.strictEqual(yield* count(schema), BULK_MIN + 500)
          const store = yield* SemanticStore
          const hits = yield* store.recall({ agentId: "agent-2", embedding: vector(2), limit: 3 })
          assert.strictEqual(hits[0]!.memory.id, records[2]!.id)
        })
      ),
    300_000
  )
})
