/**
 * The unit of work the interop tests run inside an application's `sql.withTransaction`: the
 * application's own row plus a write of every main service and a memory, and a reading of all of it.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert } from "@effect/vitest"
import { Data, Effect, Option, type Tracer } from "effect"
import { AuditLog } from "../../src/services/AuditLog.js"
import { DeviceStore } from "../../src/services/DeviceStore.js"
import { KnowledgeStore } from "../../src/services/KnowledgeStore.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { TaskQueue } from "../../src/services/TaskQueue.js"
import { UsageStore } from "../../src/services/UsageStore.js"

export const vector = [1, 0, 0, 0, 0, 0, 0, 0]

/** The application's order row, engram's writes of every main service, and a memory; all tagged `tag`. */
export const unitOfWork = (tag: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO orders (id, note) VALUES (${tag}, ${"order " + tag})`
    const memory = yield* (yield* SemanticStore).remember({
      agentId: tag,
      content: `remember ${tag}`,
      source: "system",
      embedding: vector
    })
    yield* (yield* StructuredStore).set(tag, "k", { tag })
    const entry = yield* (yield* AuditLog).append({ agentId: tag, action: "order", detail: tag })
    yield* (yield* SessionStore).appendCanonical(tag, [{ role: "user", content: tag }])
    yield* (yield* TaskQueue).post({ title: tag, assignedTo: tag })
    yield* (yield* UsageStore).recordWithinBudget(
      { agentId: tag, model: "m", inputTokens: 1, outputTokens: 1, costUsd: 1, toolCalls: 0 },
      { agent: { day: 10 } }
    )
    yield* (yield* DeviceStore).save({
      deviceId: `device-${tag}`,
      displayName: tag,
      platform: "ios",
      pairedAt: 1,
      lastSeen: 1
    })
    yield* (yield* KnowledgeStore).upsertEntity({ agentId: tag, id: "e", type: "concept", name: tag, properties: {} })
    return { memory, entry }
  })

/** What of `tag`'s unit is stored, read outside any transaction. */
export const storedOf = (tag: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const orders = yield* sql<{ id: string }>`SELECT id FROM orders WHERE id = ${tag}`
    const memories = yield* (yield* SemanticStore).count(tag)
    const kv = Option.isSome(yield* (yield* StructuredStore).get(tag, "k"))
    const audit = (yield* (yield* AuditLog).entries({ agentId: tag })).length
    const canonical = (yield* (yield* SessionStore).loadCanonical(tag)).messages.length
    const tasks = (yield* (yield* TaskQueue).list({ assignedTo: tag })).items.length
    const spent = yield* (yield* UsageStore).spend({ agentId: tag, window: "day" })
    const device = Option.isSome(yield* (yield* DeviceStore).get(`device-${tag}`))
    const entity = Option.isSome(yield* (yield* KnowledgeStore).getEntity(tag, "e"))
    return { orders: orders.length, memories, kv, audit, canonical, tasks, spent, device, entity }
  })

/** Everything of a unit stored. */
export const all = {
  orders: 1,
  memories: 1,
  kv: true,
  audit: 1,
  canonical: 1,
  tasks: 1,
  spent: 1,
  device: true,
  entity: true
}

/** Nothing of a unit stored. */
export const none = {
  orders: 0,
  memories: 0,
  kv: false,
  audit: 0,
  canonical: 0,
  tasks: 0,
  spent: 0,
  device: false,
  entity: false
}

/** The failure that makes a test's transaction roll back. */
export class Abort extends Data.TaggedError("Abort") {}

/** A budget admitted inside a rolled-back transaction is not spent: another spend of the same size fits. */
export const budgetRolledBack = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const usage = yield* UsageStore
  const spend = { agentId: "c", model: "m", inputTokens: 1, outputTokens: 1, costUsd: 6, toolCalls: 0 }
  yield* Effect.exit(
    sql.withTransaction(
      Effect.zipRight(usage.recordWithinBudget(spend, { agent: { day: 10 } }), Effect.fail(new Abort()))
    )
  )
  // The rolled-back 6 USD does not count: another 6 fits in the 10 USD day.
  yield* usage.recordWithinBudget(spend, { agent: { day: 10 } })
  assert.strictEqual(yield* usage.spend({ agentId: "c", window: "day" }), 6)
})

/** The application's statements are sql spans beside engram's, all in the trace of the caller's span. */
export const spansBeside = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const spans: Array<{ readonly name: string; readonly traceId: string }> = []
  const native = yield* Effect.tracer
  const tracer: Tracer.Tracer = {
    ...native,
    span: (...args) => {
      const span = native.span(...args)
      spans.push({ name: args[0], traceId: span.traceId })
      return span
    }
  }
  yield* sql.withTransaction(unitOfWork("t")).pipe(Effect.withSpan("checkout"), Effect.withTracer(tracer))
  const names = spans.map((s) => s.name)
  for (const name of ["sql.transaction", "sql.execute", "SemanticStore.remember", "AuditLog.append"]) {
    assert.include(names, name)
  }
  assert.strictEqual(new Set(spans.map((s) => s.traceId)).size, 1)
})
