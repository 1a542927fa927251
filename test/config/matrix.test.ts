/**
 * The 2 × 4 matrix: every pair of main store and semantic store builds from a
 * MemoryConfig and carries a round trip through all nine services — with real PostgreSQL, Qdrant
 * through the Qdrant-compatible test server and HTTP through an in-process gateway — and the data
 * lands in the store that was chosen, checked by looking into that store directly.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Stream } from "effect"
import { join } from "node:path"
import { layer as memoryLayer } from "../../src/backends/memory/index.js"
import { layerFromConfig } from "../../src/composition/layer.js"
import { memoryConfig, type MemoryConfigInput } from "../../src/config.js"
import { serve } from "../../src/gateway/server.js"
import { MainStoreAdmin, SemanticStoreAdmin } from "../../src/services/Admin.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import { Consolidation } from "../../src/services/Consolidation.js"
import { DeviceStore } from "../../src/services/DeviceStore.js"
import { KnowledgeStore } from "../../src/services/KnowledgeStore.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { TaskQueue } from "../../src/services/TaskQueue.js"
import { UsageStore } from "../../src/services/UsageStore.js"
import { describePg, freshSchemaScoped, sql, urlForSchema } from "../support/postgres.js"
import { startQdrantServer } from "../support/qdrantServer.js"
import { openRaw, tempDir } from "../support/sqlite.js"

const SPACE = { model: "matrix", dimensions: 8 }
const TOKEN = "matrix-test-token"
const v = (i: number) => Array.from({ length: 8 }, (_, j) => (j === i ? 1 : 0.1))

/** One pass through every service; returns the id of the memory it stored. */
const roundTrip = Effect.gen(function*() {
  const kv = yield* StructuredStore
  assert.strictEqual(yield* kv.set("agent-m", "k", { n: 1 }), 1)
  assert.deepStrictEqual(yield* kv.get("agent-m", "k"), Option.some({ n: 1 }))
  yield* kv.saveAgent({ id: "agent-m", name: "Matrix", tags: ["x"] })
  assert.deepStrictEqual(Option.getOrThrow(yield* kv.loadAgent("agent-m")).tags, ["x"])

  const memory = yield* SemanticStore
  const id = yield* memory.remember({
    agentId: "agent-m",
    content: "the matrix has you",
    source: "observation",
    embedding: v(0)
  })
  yield* memory.remember({
    agentId: "agent-m",
    content: "follow the white rabbit",
    source: "observation",
    embedding: v(1)
  })
  const byVector = yield* memory.recall({ agentId: "agent-m", embedding: v(0), limit: 1 })
  assert.strictEqual(byVector[0]?.memory.id, id)
  const byText = yield* memory.recall({ agentId: "agent-m", text: "MATRIX" })
  assert.deepStrictEqual(byText.map((h) => h.memory.id), [id])
  const report = yield* (yield* Consolidation).consolidate({ mergeThreshold: 0.999 })
  assert.strictEqual(report.merged, 0)

  const graph = yield* KnowledgeStore
  const neo = yield* graph.upsertEntity({ agentId: "agent-m", type: "person", name: "Neo" })
  const zion = yield* graph.upsertEntity({ agentId: "agent-m", type: "location", name: "Zion" })
  yield* graph.addRelation({ agentId: "agent-m", source: neo, relation: "located_in", target: zion })
  assert.deepStrictEqual((yield* graph.query({ agentId: "agent-m", source: "neo" })).map((m) => m.target.name), [
    "Zion"
  ])

  const sessions = yield* SessionStore
  const s = yield* sessions.create("agent-m", "main")
  assert.isTrue(Option.isSome(yield* sessions.findByLabel("agent-m", "main")))
  yield* sessions.appendCanonical("agent-m", [{ role: "user", content: "hello" }])
  assert.strictEqual((yield* sessions.canonicalContext("agent-m")).messages.length, 1)
  assert.isTrue(yield* sessions.delete(s.id))

  const usage = yield* UsageStore
  yield* usage.recordWithinBudget({ agentId: "agent-m", model: "m", costUsd: 0.25 }, { agent: { hour: 1 } })
  assert.strictEqual(yield* usage.spend({ agentId: "agent-m", window: "hour" }), 0.25)

  const devices = yield* DeviceStore
  yield* devices.save({ deviceId: "d1", displayName: "Phone", platform: "ios", pairedAt: 1, lastSeen: 1 })
  assert.strictEqual((yield* devices.list()).length, 1)

  const tasks = yield* TaskQueue
  const taskId = yield* tasks.post({ title: "do it" })
  const claimed = Option.getOrThrow(yield* tasks.claim("agent-m"))
  assert.strictEqual(claimed.id, taskId)
  assert.strictEqual(
    (yield* tasks.complete(taskId, { agentId: "agent-m", attempt: 1, result: "ok" })).status,
    "completed"
  )

  const audit = yield* AuditLog
  yield* audit.append({ agentId: "agent-m", action: "matrix.test" })
  assert.strictEqual((yield* audit.verify()).entries, 1)

  const mainRecords = yield* Stream.runCollect((yield* MainStoreAdmin).export())
  assert.isTrue(mainRecords.length > 0)
  assert.deepStrictEqual(yield* (yield* SemanticStoreAdmin).agents(), ["agent-m"] as ReadonlyArray<string>)
  return id
})

/** Where the memories and the main data went, read straight from each store. */
interface Stores {
  readonly sqlitePath: string
  readonly pgSchema: string
  readonly qdrant: { readonly url: string; readonly count: () => number }
  readonly gateway: { readonly url: string; readonly count: () => Effect.Effect<number> }
}

const sqliteCount = (path: string, table: string): number => {
  const db = openRaw(path)
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
  } finally {
    db.close()
  }
}

const pgCount = (schema: string, table: string) =>
  Effect.promise(() => sql<{ n: string }>(schema, `SELECT count(*) AS n FROM ${table}`)).pipe(
    Effect.map((r) => Number(r[0]!.n))
  )

const MAIN = ["sqlite", "postgres"] as const
const SEMANTIC = ["sqlite", "postgres", "qdrant", "http"] as const

describePg("every backend pair builds from configuration and uses the stores it names", () => {
  for (const main of MAIN) {
    for (const semantic of SEMANTIC) {
      it.scoped(`${main} + ${semantic}`, () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const schema = yield* freshSchemaScoped
          const qdrant = yield* startQdrantServer()
          // The gateway's own store is an in-memory one, so its memories are counted through its admin.
          const gatewayStore = yield* Layer.build(memoryLayer({ embedding: SPACE }))
          const gateway = yield* serve({ port: 0, tokens: [{ token: Redacted.make(TOKEN) }] }).pipe(
            Effect.provide(gatewayStore)
          )
          const stores: Stores = {
            sqlitePath: join(dir, "main.db"),
            pgSchema: schema,
            // The collection also holds one reserved point recording the embedding model.
            qdrant: {
              url: qdrant.url,
              count: () => (qdrant.points("matrix") ?? []).filter((p) => p.payload["agent_id"] !== undefined).length
            },
            gateway: {
              url: gateway.url,
              count: () =>
                Effect.orDie(
                  Effect.flatMap(SemanticStore, (s) => s.count("agent-m")).pipe(Effect.provide(gatewayStore))
                )
            }
          }
          const input: MemoryConfigInput = {
            backend: main,
            semanticBackend: semantic,
            sqlite: { path: stores.sqlitePath },
            postgres: { url: urlForSchema(schema) },
            qdrant: { url: stores.qdrant.url, collection: "matrix" },
            http: { url: stores.gateway.url, token: TOKEN },
            embedding: SPACE
          }
          const config = yield* memoryConfig(input)
          assert.strictEqual(config.backend, main)
          assert.strictEqual(config.semanticBackend, semantic)
          const ctx = yield* Layer.build(layerFromConfig(config))
          yield* Effect.provide(roundTrip, ctx)

          // The main store's data is where `backend` says, and only there.
          const kvInSqlite = sqliteCountIfExists(stores.sqlitePath, "kv")
          const kvInPg = yield* pgCountIfExists(schema, "kv")
          assert.deepStrictEqual(
            { kvInSqlite, kvInPg },
            main === "sqlite" ? { kvInSqlite: 1, kvInPg: 0 } : { kvInSqlite: 0, kvInPg: 1 }
          )
          // The memories are where `semanticBackend` says, and only there.
          const memories = {
            sqlite: sqliteCountIfExists(stores.sqlitePath, "memories"),
            postgres: yield* pgCountIfExists(schema, "memories"),
            qdrant: stores.qdrant.count(),
            http: yield* stores.gateway.count()
          }
          for (const where of SEMANTIC) {
            assert.strictEqual(memories[where], where === semantic ? 2 : 0, `memories in ${where}`)
          }
        }), 60_000)
    }
  }
})

/** Rows in a SQLite table, 0 when the file or the table does not exist (the store was never chosen). */
function sqliteCountIfExists(path: string, table: string): number {
  try {
    return sqliteCount(path, table)
  } catch {
    return 0
  }
}

/** Rows in a table of the schema, 0 when the table does not exist. */
function pgCountIfExists(schema: string, table: string) {
  return Effect.flatMap(
    Effect.promise(() => sql<{ t: string | null }>(schema, `SELECT to_regclass($1) AS t`, [`${schema}.${table}`])),
    (r) => (r[0]?.t === null ? Effect.succeed(0) : pgCount(schema, table))
  )
}
