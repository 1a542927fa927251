/**
 * Conformance of the admin services (src/services/Admin.ts): export → import into another store of the
 * same kind gives the same store, the audit chain survives the copy, imports are idempotent and
 * all-or-nothing, and purgeAgent removes exactly one agent's data.
 */
import { assert } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Stream, TestClock } from "effect"
import type { MainRecord, MemoryRecord } from "../domain/transfer.js"
import { MainStoreAdmin, SemanticStoreAdmin } from "../services/Admin.js"
import { AuditLog } from "../services/AuditLog.js"
import { DeviceStore } from "../services/DeviceStore.js"
import type { MainServices, SemanticServices } from "../services/index.js"
import { KnowledgeStore } from "../services/KnowledgeStore.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { SessionStore } from "../services/SessionStore.js"
import { StructuredStore } from "../services/StructuredStore.js"
import { TaskQueue } from "../services/TaskQueue.js"
import { UsageStore } from "../services/UsageStore.js"
import { axis, conformance, type FreshLayer, vec } from "./harness.js"

/** A record as comparable plain data (Redacted push tokens revealed), keyed for order-free comparison. */
const plain = (r: MainRecord | MemoryRecord): string =>
  JSON.stringify(
    r,
    (_k, v: unknown) => (Redacted.isRedacted(v) ? { redacted: Redacted.value(v as Redacted.Redacted<unknown>) } : v)
  )

const bag = (records: ReadonlyArray<MainRecord | MemoryRecord>): Array<string> => records.map(plain).sort()

/** Run an effect against a second, independent build of `layer`, made inside the test (an import's target). */
const inAnother = <S>(layer: FreshLayer<S>) => <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Layer.build(layer), (target) => Effect.provide(body, target))

/** Put data into every main domain, for two agents with confusable ids. */
const populateMain = Effect.gen(function*() {
  yield* TestClock.setTime(1_700_000_000_000)
  const kv = yield* StructuredStore
  const knowledge = yield* KnowledgeStore
  const sessions = yield* SessionStore
  const usage = yield* UsageStore
  const devices = yield* DeviceStore
  const tasks = yield* TaskQueue
  const audit = yield* AuditLog
  for (const agent of ["acme", "acme-corp"]) {
    yield* kv.saveAgent({ id: agent, name: `Agent ${agent}`, state: "running", tags: ["t"], metadata: { a: 1 } })
    yield* kv.set(agent, "color", { hue: agent })
    yield* kv.set(agent, "color", { hue: `${agent}!` })
    yield* kv.set(agent, "ünïcode", [1, 2, 3])
    const alice = yield* knowledge.upsertEntity({ agentId: agent, id: "alice", type: "person", name: "Alice" })
    const org = yield* knowledge.upsertEntity({
      agentId: agent,
      type: "organization",
      name: "Acme Corp",
      properties: { size: 10 }
    })
    yield* knowledge.addRelation({ agentId: agent, source: alice, relation: "works_at", target: org, confidence: 0.9 })
    yield* sessions.create(agent, `label-${agent}`)
    const s = yield* sessions.create(agent)
    yield* sessions.save({
      id: s.id,
      agentId: agent,
      messages: [{ role: "user", content: "hello" }, { role: "assistant", content: [{ type: "text", text: "hi" }] }]
    })
    yield* sessions.appendCanonical(agent, [{ role: "user", content: `canonical ${agent}` }])
    yield* usage.record({ agentId: agent, model: "m1", inputTokens: 10, outputTokens: 5, costUsd: 0.5, toolCalls: 1 })
    yield* TestClock.adjust("1 minute")
    yield* audit.append({ agentId: agent, action: "tool.call", detail: `by ${agent}`, outcome: "ok" })
  }
  yield* devices.save({
    deviceId: "phone-1",
    displayName: "Phone",
    platform: "ios",
    pairedAt: 1,
    lastSeen: 2,
    pushToken: "secret-token"
  })
  yield* tasks.post({ title: "pending task", assignedTo: "acme" })
  const claimedId = yield* tasks.post({ title: "claimed task", priority: 5 })
  const claimed = Option.getOrThrow(yield* tasks.claim("acme-corp"))
  assert.strictEqual(claimed.id, claimedId)
  return { claimedId }
})

const exportMain = Effect.flatMap(MainStoreAdmin, (a) => Effect.map(Stream.runCollect(a.export()), (c) => [...c]))
const exportSemantic = Effect.flatMap(
  SemanticStoreAdmin,
  (a) => Effect.map(Stream.runCollect(a.export()), (c) => [...c])
)

export const mainAdminSuite = conformance<MainServices | MainStoreAdmin>("MainStoreAdmin", (test, layer) => {
  test("an empty store exports nothing", () =>
    Effect.gen(function*() {
      const admin = yield* MainStoreAdmin
      assert.deepStrictEqual([...yield* Stream.runCollect(admin.export())], [])
    }))

  test("export → import into a fresh store gives the same records, audit entries in seq order", () =>
    Effect.gen(function*() {
      yield* populateMain
      const admin = yield* MainStoreAdmin
      const records = [...yield* Stream.runCollect(admin.export())]
      const kinds = new Set(records.map((r) => r.kind))
      for (
        const k of ["agent", "kv", "entity", "relation", "session", "canonical", "usage", "device", "task", "audit"]
      ) {
        assert.isTrue(kinds.has(k as MainRecord["kind"]), `export holds ${k} records`)
      }
      const auditSeqs = records.flatMap((r) => (r.kind === "audit" ? [r.seq] : []))
      assert.deepStrictEqual(auditSeqs, [1, 2])
      const copied = yield* Effect.gen(function*() {
        const t = yield* MainStoreAdmin
        yield* t.import(records)
        return [...yield* Stream.runCollect(t.export())]
      }).pipe(inAnother(layer))
      assert.deepStrictEqual(bag(copied), bag(records))
    }))

  test("imported data is served by every service of the target, and its audit chain continues", () =>
    Effect.gen(function*() {
      const { claimedId } = yield* populateMain
      const records = yield* exportMain
      const sourceHead = yield* (yield* AuditLog).head()
      yield* Effect.gen(function*() {
        yield* (yield* MainStoreAdmin).import(records)
        const kv = yield* StructuredStore
        assert.deepStrictEqual(yield* kv.get("acme", "color"), Option.some({ hue: "acme!" }))
        assert.strictEqual((yield* kv.list("acme")).items.find((e) => e.key === "color")?.version, 2)
        assert.strictEqual(Option.getOrThrow(yield* kv.loadAgent("acme-corp")).name, "Agent acme-corp")
        const matches = yield* (yield* KnowledgeStore).query({ agentId: "acme", source: "ALICE" })
        assert.deepStrictEqual(matches.map((m) => m.target.name), ["Acme Corp"])
        const sessions = yield* SessionStore
        assert.isTrue(Option.isSome(yield* sessions.findByLabel("acme", "label-acme")))
        assert.strictEqual((yield* sessions.list({ agentId: "acme" })).length, 2)
        assert.deepStrictEqual((yield* sessions.canonicalContext("acme")).messages, [{
          role: "user",
          content: "canonical acme"
        }])
        assert.strictEqual((yield* (yield* UsageStore).summary("acme")).costUsd, 0.5)
        const device = Option.getOrThrow(yield* (yield* DeviceStore).get("phone-1"))
        assert.strictEqual(Redacted.value(device.pushToken!), "secret-token")
        const tasks = yield* TaskQueue
        const task = Option.getOrThrow(yield* tasks.get(claimedId))
        assert.strictEqual(task.status, "in_progress")
        const done = yield* tasks.complete(claimedId, { agentId: "acme-corp", attempt: task.attempt, result: "done" })
        assert.strictEqual(done.status, "completed")
        const audit = yield* AuditLog
        assert.deepStrictEqual(yield* audit.head(), sourceHead)
        assert.strictEqual((yield* audit.verify()).entries, 2)
        const next = yield* audit.append({ agentId: "acme", action: "after.copy" })
        assert.strictEqual(next.seq, 3)
        assert.strictEqual(next.prevHash, sourceHead.hash)
      }).pipe(inAnother(layer))
    }))

  test("importing the same records twice changes nothing (idempotent)", () =>
    Effect.gen(function*() {
      yield* populateMain
      const records = yield* exportMain
      const twice = yield* Effect.gen(function*() {
        const t = yield* MainStoreAdmin
        yield* t.import(records)
        yield* t.import(records)
        assert.strictEqual((yield* (yield* UsageStore).summary()).calls, 2, "usage events are not duplicated")
        assert.strictEqual((yield* (yield* AuditLog).verify()).entries, 2)
        return [...yield* Stream.runCollect(t.export())]
      }).pipe(inAnother(layer))
      assert.deepStrictEqual(bag(twice), bag(records))
    }))

  test("audit records that do not continue the target's chain are refused and nothing of the batch is written", () =>
    Effect.gen(function*() {
      yield* populateMain
      const records = yield* exportMain
      const audits = records.filter((r) => r.kind === "audit")
      yield* Effect.gen(function*() {
        const t = yield* MainStoreAdmin
        // Skipping entry 1 leaves a gap: entry 2 cannot follow an empty log.
        const gap = yield* Effect.flip(
          t.import([{ kind: "kv", agentId: "x" as never, key: "k", value: 1, version: 1, updatedAt: 0 }, audits[1]!])
        )
        assert.strictEqual(gap._tag, "AuditIntegrityError")
        assert.isTrue(
          Option.isNone(yield* (yield* StructuredStore).get("x", "k")),
          "the kv record of the refused batch is not written"
        )
        // A tampered entry (detail changed, hash left) is refused.
        const forged = { ...audits[0]!, detail: "forged" }
        assert.strictEqual((yield* Effect.flip(t.import([forged])))._tag, "AuditIntegrityError")
        yield* t.import([audits[0]!])
        // An entry already stored is skipped only when identical.
        assert.strictEqual((yield* Effect.flip(t.import([forged])))._tag, "AuditIntegrityError")
        yield* t.import(audits)
        assert.strictEqual((yield* (yield* AuditLog).verify()).entries, 2)
      }).pipe(inAnother(layer))
    }))

  test("a log that already has other entries cannot take a foreign chain", () =>
    Effect.gen(function*() {
      yield* populateMain
      const records = yield* exportMain
      yield* Effect.gen(function*() {
        yield* (yield* AuditLog).append({ agentId: "local", action: "local.event" })
        const error = yield* Effect.flip((yield* MainStoreAdmin).import(records.filter((r) => r.kind === "audit")))
        assert.strictEqual(error._tag, "AuditIntegrityError")
        assert.strictEqual((yield* (yield* AuditLog).verify()).entries, 1)
      }).pipe(inAnother(layer))
    }))

  test("export streams every record when a kind spans several pages", () =>
    Effect.gen(function*() {
      const kv = yield* StructuredStore
      for (let i = 0; i < 2500; i++) yield* kv.set("bulk", `key-${String(i).padStart(5, "0")}`, i)
      const records = yield* exportMain
      const keys = records.flatMap((r) => (r.kind === "kv" ? [r.key] : []))
      assert.strictEqual(keys.length, 2500)
      assert.strictEqual(new Set(keys).size, 2500)
    }), 120_000)

  test("purgeAgent removes everything the agent owns and nothing of other agents", () =>
    Effect.gen(function*() {
      yield* populateMain
      const admin = yield* MainStoreAdmin
      const counts = yield* admin.purgeAgent("acme")
      assert.deepStrictEqual(
        {
          kv: counts["kv"],
          agents: counts["agents"],
          entities: counts["entities"],
          relations: counts["relations"],
          sessions: counts["sessions"],
          canonical: counts["canonical"],
          usage: counts["usage"]
        },
        { kv: 2, agents: 1, entities: 2, relations: 1, sessions: 2, canonical: 1, usage: 1 }
      )
      const kv = yield* StructuredStore
      assert.isTrue(Option.isNone(yield* kv.get("acme", "color")))
      assert.isTrue(Option.isNone(yield* kv.loadAgent("acme")))
      assert.isTrue(Option.isNone(yield* (yield* KnowledgeStore).getEntity("acme", "alice")))
      assert.strictEqual((yield* (yield* SessionStore).list({ agentId: "acme" })).length, 0)
      assert.deepStrictEqual((yield* (yield* SessionStore).canonicalContext("acme")).messages, [])
      assert.strictEqual((yield* (yield* UsageStore).summary("acme")).calls, 0)
      // The confusable neighbour keeps everything.
      assert.deepStrictEqual(yield* kv.get("acme-corp", "color"), Option.some({ hue: "acme-corp!" }))
      assert.isTrue(Option.isSome(yield* (yield* KnowledgeStore).getEntity("acme-corp", "alice")))
      assert.strictEqual((yield* (yield* SessionStore).list({ agentId: "acme-corp" })).length, 2)
      assert.strictEqual((yield* (yield* UsageStore).summary("acme-corp")).calls, 1)
      // Shared work and the audit record stay.
      assert.strictEqual((yield* (yield* TaskQueue).list()).items.length, 2)
      assert.strictEqual((yield* (yield* AuditLog).verify()).entries, 2)
      const again = yield* admin.purgeAgent("acme")
      assert.isTrue(Object.values(again).every((n) => n === 0), "a second purge finds nothing")
    }))

  test("purgeAgent with an invalid agent id is InvalidInput", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip((yield* MainStoreAdmin).purgeAgent(""))
      assert.strictEqual(error._tag, "InvalidInput")
    }))
})

export const semanticAdminSuite = conformance<SemanticServices | SemanticStoreAdmin>(
  "SemanticStoreAdmin",
  (test, layer) => {
    const populate = Effect.gen(function*() {
      const store = yield* SemanticStore
      const d = store.embeddingSpace.dimensions
      yield* TestClock.setTime(1_700_000_000_000)
      const ids: Array<string> = []
      for (const [i, agent] of ["acme", "acme-corp", "a%", "acme"].entries()) {
        yield* TestClock.adjust("1 second")
        ids.push(
          yield* store.remember({
            agentId: agent,
            content: `memory ${i} of ${agent}`,
            source: "observation",
            scope: i % 2 === 0 ? "episodic" : "facts",
            metadata: { i, nested: { tags: ["x"] } },
            ...(i === 3 ? {} : { embedding: axis(i, d) })
          })
        )
      }
      yield* store.recall({ agentId: "acme", text: "memory" })
      return { ids, d }
    })

    test("an empty store exports nothing", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual([...yield* Stream.runCollect((yield* SemanticStoreAdmin).export())], [])
      }))

    test("export → import gives the same memories (embeddings, counters, timestamps) and recall works on the target", () =>
      Effect.gen(function*() {
        const { ids, d } = yield* populate
        const records = yield* exportSemantic
        assert.strictEqual(records.length, 4)
        yield* Effect.gen(function*() {
          const t = yield* SemanticStoreAdmin
          yield* t.import(records)
          assert.deepStrictEqual(bag(yield* exportSemantic), bag(records))
          const store = yield* SemanticStore
          const hits = yield* store.recall({ agentId: "acme", embedding: axis(0, d), limit: 1 })
          assert.strictEqual(hits[0]?.memory.id, ids[0])
          const text = yield* store.recall({ agentId: "acme", text: "memory 3" })
          assert.deepStrictEqual(text.map((h) => h.memory.id), [ids[3]])
          assert.strictEqual(yield* store.count("a%"), 1)
        }).pipe(inAnother(layer))
      }))

    test("importing twice keeps one copy of each memory", () =>
      Effect.gen(function*() {
        yield* populate
        const records = yield* exportSemantic
        yield* Effect.gen(function*() {
          const t = yield* SemanticStoreAdmin
          yield* t.import(records)
          yield* t.import(records)
          assert.strictEqual(yield* (yield* SemanticStore).count("acme"), 2)
        }).pipe(inAnother(layer))
      }))

    test("memories whose embedding does not fit the target's space are refused, and none of the batch is written", () =>
      Effect.gen(function*() {
        const { d } = yield* populate
        const records = yield* exportSemantic
        yield* Effect.gen(function*() {
          const bad = records.map((r, i): MemoryRecord => (i === 1 ? { ...r, embedding: vec(d + 1, 1) } : r))
          const error = yield* Effect.flip((yield* SemanticStoreAdmin).import(bad))
          assert.strictEqual(error._tag, "InvalidInput")
          assert.strictEqual(yield* (yield* SemanticStore).count("acme"), 0)
        }).pipe(inAnother(layer))
      }))

    test("purgeAgent forgets exactly one agent's memories", () =>
      Effect.gen(function*() {
        yield* populate
        const admin = yield* SemanticStoreAdmin
        assert.strictEqual(yield* admin.purgeAgent("acme"), 2)
        const store = yield* SemanticStore
        assert.strictEqual(yield* store.count("acme"), 0)
        assert.strictEqual(yield* store.count("acme-corp"), 1)
        assert.strictEqual(yield* store.count("a%"), 1)
        assert.strictEqual((yield* store.recall({ agentId: "acme", text: "memory" })).length, 0)
        assert.strictEqual(yield* admin.purgeAgent("acme"), 0)
      }))

    test("agents lists each agent holding memories once, in code point order", () =>
      Effect.gen(function*() {
        yield* populate
        assert.deepStrictEqual(
          yield* (yield* SemanticStoreAdmin).agents(),
          ["a%", "acme", "acme-corp"] as ReadonlyArray<string>
        )
      }))

    test("export streams every memory across several pages", () =>
      Effect.gen(function*() {
        const store = yield* SemanticStore
        const d = store.embeddingSpace.dimensions
        for (let batch = 0; batch < 3; batch++) {
          yield* store.rememberMany(Array.from({ length: 800 }, (_, i) => ({
            agentId: "bulk",
            content: `bulk ${batch} ${i}`,
            source: "document" as const,
            embedding: axis(i, d)
          })))
        }
        const records = yield* exportSemantic
        assert.strictEqual(records.length, 2400)
        assert.strictEqual(new Set(records.map((r) => r.id)).size, 2400)
      }), 120_000)
  }
)
