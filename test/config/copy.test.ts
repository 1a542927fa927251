/**
 * `engram copy` from SQLite to PostgreSQL (issue 7): 10,000 memories plus data in every other domain
 * → equal counts, equal content on a sample, recall works on the target, and the audit chain — copied
 * verbatim — verifies on the target and continues there. The memories arrive as one bulk load: the
 * target's HNSW index is built once over them (a new index, valid at the end).
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Stream } from "effect"
import { join } from "node:path"
import { makeProgress } from "../../src/cli/progress.js"
import { copy } from "../../src/cli/transfer.js"
import { layerFromConfig } from "../../src/composition/layer.js"
import { memoryConfig } from "../../src/config.js"
import type { TransferRecord } from "../../src/domain/transfer.js"
import { MainStoreAdmin, SemanticStoreAdmin } from "../../src/services/Admin.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import { DeviceStore } from "../../src/services/DeviceStore.js"
import { KnowledgeStore } from "../../src/services/KnowledgeStore.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { TaskQueue } from "../../src/services/TaskQueue.js"
import { UsageStore } from "../../src/services/UsageStore.js"
import { describePg, freshSchemaScoped, sql, urlForSchema } from "../support/postgres.js"
import { tempDir } from "../support/sqlite.js"

const SPACE = { model: "copy-test", dimensions: 16 }
const MEMORIES = 10_000
const AGENTS = 10

/** A deterministic vector per memory (a seeded walk; no two are equal). */
const vectorOf = (i: number) =>
  Array.from({ length: 16 }, (_, j) => Math.sin((i + 1) * (j + 1) * 0.618) + (j === i % 16 ? 2 : 0))

const populate = Effect.gen(function*() {
  const memory = yield* SemanticStore
  for (let b = 0; b < MEMORIES / 1000; b++) {
    yield* memory.rememberMany(Array.from({ length: 1000 }, (_, k) => {
      const i = b * 1000 + k
      return {
        agentId: `agent-${i % AGENTS}`,
        content: `memory number ${i} about topic ${i % 97}`,
        source: "document" as const,
        scope: i % 3 === 0 ? "facts" : "episodic",
        metadata: { i, tags: [`t${i % 5}`] },
        ...(i % 50 === 0 ? {} : { embedding: vectorOf(i) })
      }
    }))
  }
  const kv = yield* StructuredStore
  const graph = yield* KnowledgeStore
  const sessions = yield* SessionStore
  const usage = yield* UsageStore
  const tasks = yield* TaskQueue
  const audit = yield* AuditLog
  for (let a = 0; a < AGENTS; a++) {
    const agent = `agent-${a}`
    yield* kv.saveAgent({ id: agent, name: `Agent ${a}`, state: "running" })
    for (let k = 0; k < 20; k++) yield* kv.set(agent, `key-${k}`, { a, k })
    const e1 = yield* graph.upsertEntity({ agentId: agent, type: "person", name: `Person ${a}` })
    const e2 = yield* graph.upsertEntity({ agentId: agent, type: "project", name: `Project ${a}` })
    yield* graph.addRelation({ agentId: agent, source: e1, relation: "works_at", target: e2 })
    yield* sessions.create(agent, "main")
    yield* sessions.appendCanonical(
      agent,
      Array.from({ length: 5 }, (_, i) => ({ role: "user" as const, content: `turn ${i}` }))
    )
    yield* usage.record({
      agentId: agent,
      model: a % 2 === 0 ? "small" : "large",
      inputTokens: 100,
      costUsd: 0.01 * (a + 1)
    })
    yield* tasks.post({ title: `task ${a}`, assignedTo: agent })
    for (let n = 0; n < 30; n++) yield* audit.append({ agentId: agent, action: "tool.call", detail: `call ${n}` })
  }
  yield* (yield* DeviceStore).save({
    deviceId: "tablet",
    displayName: "Tablet",
    platform: "android",
    pairedAt: 5,
    lastSeen: 6,
    pushToken: "tok"
  })
})

const exportAll = Effect.gen(function*() {
  const main = yield* Stream.runCollect((yield* MainStoreAdmin).export())
  const memories = yield* Stream.runCollect((yield* SemanticStoreAdmin).export())
  return [...main, ...memories] as Array<TransferRecord>
})

/** The target's HNSW index: its oid (a rebuild gives a new one) and whether it is valid. */
const embeddingIndex = (schema: string) =>
  Effect.promise(() =>
    sql<{ oid: number; valid: boolean }>(
      schema,
      `SELECT c.oid::int AS oid, i.indisvalid AS valid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
       WHERE c.oid = to_regclass('memories_embedding')`
    )
  )

const countByKind = (records: ReadonlyArray<TransferRecord>) => {
  const counts: Record<string, number> = {}
  for (const r of records) counts[r.kind] = (counts[r.kind] ?? 0) + 1
  return counts
}

describePg("engram copy: SQLite → PostgreSQL", () => {
  it.scoped(
    "10,000 memories and every other domain arrive intact; recall and the audit chain work on the target",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const schema = yield* freshSchemaScoped
        const source = yield* memoryConfig({ sqlite: { path: join(dir, "source.db") }, embedding: SPACE })
        const target = yield* memoryConfig({
          backend: "postgres",
          postgres: { url: urlForSchema(schema) },
          embedding: SPACE
        })

        yield* Effect.scoped(
          Effect.flatMap(Layer.build(layerFromConfig(source)), (ctx) => Effect.provide(populate, ctx))
        )
        // The target's tables and index, as an empty store has them.
        yield* Effect.scoped(Layer.build(layerFromConfig(target)))
        const [indexBefore] = yield* embeddingIndex(schema)
        assert.isDefined(indexBefore)

        const lines: Array<string> = []
        const { records } = yield* copy(
          layerFromConfig(source),
          layerFromConfig(target),
          (total) => makeProgress("copy", total, (s) => void lines.push(s))
        )

        const [before, after] = yield* Effect.all([
          Effect.scoped(Effect.flatMap(Layer.build(layerFromConfig(source)), (ctx) => Effect.provide(exportAll, ctx))),
          Effect.scoped(Effect.flatMap(Layer.build(layerFromConfig(target)), (ctx) => Effect.provide(exportAll, ctx)))
        ])
        assert.strictEqual(records, before.length)
        assert.strictEqual(countByKind(before)["memory"], MEMORIES)
        assert.deepStrictEqual(countByKind(after), countByKind(before))
        assert.isTrue(lines.some((l) => l.includes(`${records}/${records}`)), "the progress bar reached the total")
        const [indexAfter] = yield* embeddingIndex(schema)
        assert.isTrue(indexAfter?.valid, "the HNSW index is valid after the copy")
        assert.notStrictEqual(
          indexAfter?.oid,
          indexBefore?.oid,
          "the memories were loaded in bulk: the index was built once over them"
        )

        // Equal content on a sample: every 97th memory and every record of the smaller kinds.
        const key = (r: TransferRecord) =>
          JSON.stringify([
            r.kind,
            "id" in r
              ? r.id
              : "seq" in r
              ? r.seq
              : "key" in r
              ? [r.agentId, r.key]
              : "deviceId" in r
              ? r.deviceId
              : r.agentId
          ])
        const target_ = new Map(after.map((r) => [key(r), r]))
        const sample = before.filter((r, i) => r.kind !== "memory" || i % 97 === 0)
        for (const r of sample) {
          const copied = target_.get(key(r))
          assert.isDefined(copied, `${key(r)} was copied`)
          assert.strictEqual(
            JSON.stringify(copied, redactedAsValue),
            JSON.stringify(r, redactedAsValue),
            `${key(r)} is equal`
          )
        }

        yield* Effect.gen(function*() {
          const memory = yield* SemanticStore
          const hits = yield* memory.recall({ agentId: "agent-3", embedding: vectorOf(13), limit: 1 })
          assert.strictEqual(hits[0]?.memory.content, "memory number 13 about topic 13")
          const text = yield* memory.recall({ agentId: "agent-0", text: "memory number 50" })
          assert.strictEqual(text[0]?.memory.content, "memory number 50 about topic 50")
          assert.strictEqual(yield* memory.count("agent-7"), MEMORIES / AGENTS)
          const audit = yield* AuditLog
          const verified = yield* audit.verify()
          assert.strictEqual(verified.entries, AGENTS * 30)
          const next = yield* audit.append({ agentId: "agent-0", action: "after.copy" })
          assert.strictEqual(next.seq, AGENTS * 30 + 1)
          const kv = yield* StructuredStore
          assert.deepStrictEqual(yield* kv.get("agent-4", "key-19"), Option.some({ a: 4, k: 19 }))
        }).pipe(Effect.provide(layerFromConfig(target)))
      }),
    300_000
  )
})

/** JSON replacer revealing Redacted values, so push tokens are compared too. */
function redactedAsValue(_key: string, value: unknown): unknown {
  return Redacted.isRedacted(value) ? { redacted: Redacted.value(value) } : value
}
