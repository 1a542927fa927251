/**
 * Property-based hardening: for every operation family (kv, agents, semantic memory, knowledge,
 * sessions, usage, devices, tasks, audit, consolidation, admin) generated inputs — plausible ones
 * with some fields replaced by hostile values (deep nesting, huge strings, NaN/±Infinity, lone
 * surrogates, `__proto__` keys, wrong types, typed arrays, bigints, symbols, functions, cycles) —
 * must end as a success or a typed engram failure: never a defect, an interruption, a thrown
 * exception or a hang (each call has a timeout). On MemoryTest and SqliteLive, then fewer on PgLive;
 * then hostile bodies on every gateway route must never get a 5xx or an empty answer.
 *
 * Counts: ENGRAM_PROPERTY_RUNS (per family and backend; default 10,000 with CI=true, else 2,000), ENGRAM_PROPERTY_PG_RUNS
 * (default 500), ENGRAM_PROPERTY_HTTP_RUNS (default 100 per route); ENGRAM_PROPERTY_SEED replays a run.
 */
import { HttpApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted } from "effect"
import * as fc from "fast-check"
import { appendFileSync } from "node:fs"
import { join } from "node:path"
import { layer as memoryLayer } from "../../src/backends/memory/index.js"
import { layer as pgLayer } from "../../src/backends/postgres/index.js"
import { layer as sqliteLayer } from "../../src/backends/sqlite/index.js"
import type { EmbeddingSpace } from "../../src/domain/embedding.js"
import * as Errors from "../../src/domain/errors.js"
import { EngramApi } from "../../src/gateway/Api.js"
import { serve } from "../../src/gateway/server.js"
import { MainStoreAdmin, SemanticStoreAdmin } from "../../src/services/Admin.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import { Consolidation } from "../../src/services/Consolidation.js"
import { DeviceStore } from "../../src/services/DeviceStore.js"
import type { EngramServices } from "../../src/services/index.js"
import { KnowledgeStore } from "../../src/services/KnowledgeStore.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { TaskQueue } from "../../src/services/TaskQueue.js"
import { UsageStore } from "../../src/services/UsageStore.js"
import { cyclic, doubling, nested, nestedObject } from "../support/hostile.js"
import { describePg, freshSchema } from "../support/postgres.js"
import { tempDir } from "../support/sqlite.js"

/** The full count in CI; a fifth of it locally, so the file stays quick on a shared machine. */
const RUNS = Number(process.env.ENGRAM_PROPERTY_RUNS ?? (process.env.CI === "true" ? 10_000 : 2_000))
const PG_RUNS = Number(process.env.ENGRAM_PROPERTY_PG_RUNS ?? 500)
const HTTP_RUNS = Number(process.env.ENGRAM_PROPERTY_HTTP_RUNS ?? 100)
/** A file to which each gateway request is written before it is sent (to find one that never returns). */
const TRACE = process.env.ENGRAM_PROPERTY_TRACE
const SEED = Number(process.env.ENGRAM_PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31))
/** Longest one call may take before it counts as a hang. */
const CALL_TIMEOUT = "20 seconds"

const SPACE: EmbeddingSpace = { model: "properties", dimensions: 4 }

type Services = EngramServices | MainStoreAdmin | SemanticStoreAdmin

// ------------------------------------------------------------------------------ hostile values

/** Built once and shared: generating them per input would dominate the run. */
const SHARED: ReadonlyArray<unknown> = [
  NaN,
  Infinity,
  -Infinity,
  -0,
  1e308,
  -1e308,
  2 ** 53 + 1,
  -1,
  0,
  1.5,
  5e-324,
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udc00y",
  "\u202e",
  "\ufeff",
  "ﬁnance",
  "STRASSE",
  "straße",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "%s%n",
  "'; DROP TABLE kv; --",
  "\" OR 1=1",
  "a".repeat(257),
  nested(70),
  doubling(12),
  null,
  undefined,
  true,
  false,
  [],
  {},
  [[]],
  [null],
  [NaN, Infinity],
  new Float32Array([NaN, 1, 2, 3]),
  new Float32Array(4),
  new Float64Array([1, 0, 0, 0]),
  new Uint8Array(4),
  Symbol("s"),
  () => 1,
  10n,
  new Date(NaN),
  new Date(0),
  new Map([["a", 1]]),
  new Set([1]),
  JSON.parse("{\"__proto__\":{\"polluted\":1}}"),
  JSON.parse("{\"constructor\":{\"prototype\":{\"x\":1}}}"),
  Object.create(null),
  Object.assign(Object.create(null), { a: 1 }),
  new String("boxed"),
  new Number(4)
]

/**
 * Values that cost real work to refuse (megabyte strings, 100,000 levels of nesting, 2^40 leaves
 * from shared references, cycles): rarer, so the run stays within its time budget.
 */
const COSTLY: ReadonlyArray<unknown> = [
  "x".repeat(1024 * 1024 + 1),
  "語".repeat(400_000),
  "😀".repeat(70_000),
  nested(3_001),
  nested(100_000),
  nestedObject(5_000),
  doubling(40),
  cyclic()
]

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 40, arbitrary: fc.constantFrom(...SHARED) },
  { weight: 1, arbitrary: fc.constantFrom(...COSTLY) },
  { weight: 20, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 10, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 20, arbitrary: fc.double() },
  { weight: 10, arbitrary: fc.integer() },
  { weight: 10, arbitrary: fc.bigInt() }
)

/** Any value a caller could pass where a field is expected. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: leaf },
  {
    weight: 1,
    arbitrary: fc.anything({
      maxDepth: 3,
      withTypedArray: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withBoxedValues: true,
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withUnicodeString: true
    })
  }
)

/** Mostly a plausible value, sometimes a hostile one. */
const field = <A>(valid: fc.Arbitrary<A>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: hostile })

/** A record with plausible (or hostile) fields, some absent, sometimes with an extra key — or a hostile value instead. */
const input = (fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(
        fc.record(Object.fromEntries(Object.entries(fields).map(([k, a]) => [k, field(a)])), { requiredKeys: [] }),
        fc.option(fc.tuple(fc.constantFrom("__proto__", "constructor", "extra", "toString"), hostile), { freq: 8 })
      ).map(([record, extra]) => {
        if (extra === null) return record
        // defineProperty, so "__proto__" becomes an own key (as JSON.parse makes it) rather than the prototype.
        return Object.defineProperty({ ...record }, extra[0], {
          value: extra[1],
          enumerable: true,
          writable: true,
          configurable: true
        })
      })
    },
    { weight: 1, arbitrary: hostile }
  )

const agent = fc.constantFrom("agent-1", "agent-2", "ﬁ", "Agent-1", "a".repeat(256))
const text = fc.string({ maxLength: 24 })
const words = fc.constantFrom("hello world", "STRASSE", "straße", "finance", "ﬁnance", "", "   ", "日本語 テキスト")
const smallInt = fc.integer({ min: -2, max: 1_200 })
const UUIDS = [
  "01900000-0000-7000-8000-000000000001",
  "01900000-0000-7000-8000-000000000002",
  "00000000-0000-0000-0000-000000000000",
  "not-a-uuid"
]
const uuid = fc.constantFrom(...UUIDS)
const vector = fc.oneof(
  fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }),
  fc.array(fc.double(), { minLength: 0, maxLength: 6 })
)
const json = fc.jsonValue({ maxDepth: 3 })
const messages = fc.array(
  input({
    role: fc.constantFrom("system", "user", "assistant", "tool"),
    content: fc.oneof(text, fc.array(input({ type: fc.constant("text"), text }), { maxLength: 2 }))
  }),
  { maxLength: 4 }
)

// ------------------------------------------------------------------------------ operations

interface Op {
  readonly label: string
  readonly run: Effect.Effect<unknown, unknown, Services>
}

/** A generated call: `label` names it in a report, `call` runs it with its generated arguments. */
const op = <Args extends ReadonlyArray<unknown>>(
  label: string,
  args: { [K in keyof Args]: fc.Arbitrary<Args[K]> },
  call: (...args: Args) => Effect.Effect<unknown, unknown, Services>
): fc.Arbitrary<Op> =>
  fc.tuple(...(args as unknown as Array<fc.Arbitrary<unknown>>)).map((values) => ({
    label,
    // A thrown exception while building the effect becomes a defect here, and is reported as one.
    run: Effect.suspend(() => call(...(values as unknown as Args)))
  }))

/** The typed APIs take typed arguments; hostile callers (JavaScript, casts, JSON) pass anything. */
const loose = <T>(value: unknown): T => value as T

const families: ReadonlyArray<readonly [string, fc.Arbitrary<Op>]> = [
  [
    "consolidation",
    fc.oneof(
      op("consolidate", [
        input({ decayRate: fc.double(), staleAfterMs: fc.integer(), floor: fc.double(), mergeThreshold: fc.double() })
      ], (o) => Effect.flatMap(Consolidation, (c) => c.consolidate(loose(o)))),
      op(
        "consolidate()",
        [fc.constant(undefined)],
        (_: undefined) => Effect.flatMap(Consolidation, (c) => c.consolidate())
      )
    )
  ],
  [
    "kv",
    fc.oneof(
      op(
        "set",
        [field(agent), field(text), field(json)],
        (a, k, v) => Effect.flatMap(StructuredStore, (s) => s.set(loose(a), loose(k), loose(v)))
      ),
      op(
        "get",
        [field(agent), field(text)],
        (a, k) => Effect.flatMap(StructuredStore, (s) => s.get(loose(a), loose(k)))
      ),
      op(
        "delete",
        [field(agent), field(text)],
        (a, k) => Effect.flatMap(StructuredStore, (s) => s.delete(loose(a), loose(k)))
      ),
      op(
        "list",
        [field(agent), input({ prefix: text, limit: smallInt, cursor: text })],
        (a, o) => Effect.flatMap(StructuredStore, (s) => s.list(loose(a), loose(o)))
      )
    )
  ],
  [
    "agents",
    fc.oneof(
      op("saveAgent", [
        input({
          id: agent,
          name: text,
          state: fc.constantFrom("created", "running", "nope"),
          manifest: json,
          tags: fc.array(text),
          parent: fc.option(agent),
          metadata: json
        })
      ], (i) => Effect.flatMap(StructuredStore, (s) => s.saveAgent(loose(i)))),
      op("loadAgent", [field(agent)], (id) => Effect.flatMap(StructuredStore, (s) => s.loadAgent(loose(id)))),
      op("removeAgent", [field(agent)], (id) => Effect.flatMap(StructuredStore, (s) => s.removeAgent(loose(id)))),
      op("listAgents", [fc.constant(0)], (_: number) => Effect.flatMap(StructuredStore, (s) => s.listAgents()))
    )
  ],
  [
    "semantic",
    fc.oneof(
      op("remember", [
        input({
          agentId: agent,
          content: words,
          source: fc.constantFrom("conversation", "system", "bogus"),
          scope: text,
          metadata: json,
          embedding: vector,
          id: uuid
        })
      ], (i) => Effect.flatMap(SemanticStore, (s) => s.remember(loose(i)))),
      op("rememberMany", [
        fc.oneof(
          fc.array(input({ agentId: agent, content: words, source: fc.constant("system"), embedding: vector }), {
            maxLength: 3
          }),
          hostile
        )
      ], (i) => Effect.flatMap(SemanticStore, (s) => s.rememberMany(loose(i)))),
      op("recall", [
        input({
          agentId: agent,
          text: words,
          embedding: vector,
          limit: smallInt,
          mode: fc.constantFrom("vector", "text", "hybrid", "x"),
          scope: text,
          metadata: json
        })
      ], (q) => Effect.flatMap(SemanticStore, (s) => s.recall(loose(q)))),
      op(
        "recallAgents",
        [
          fc.oneof(fc.array(agent, { maxLength: 3 }), hostile),
          input({ text: words, embedding: vector, limit: smallInt, scope: text })
        ],
        (agents, q) => Effect.flatMap(SemanticStore, (s) => s.recallAgents(loose(agents), loose(q)))
      ),
      op(
        "get",
        [field(agent), field(uuid)],
        (a, id) => Effect.flatMap(SemanticStore, (s) => s.get(loose(a), loose(id)))
      ),
      op(
        "forget",
        [field(agent), field(uuid)],
        (a, id) => Effect.flatMap(SemanticStore, (s) => s.forget(loose(a), loose(id)))
      ),
      op(
        "updateEmbedding",
        [field(agent), field(uuid), field(vector)],
        (a, id, v) => Effect.flatMap(SemanticStore, (s) => s.updateEmbedding(loose(a), loose(id), loose(v)))
      ),
      op(
        "count",
        [field(agent), fc.option(input({ scope: text, source: text, metadata: json }))],
        (a, f) => Effect.flatMap(SemanticStore, (s) => s.count(loose(a), loose(f ?? undefined)))
      )
    )
  ],
  [
    "knowledge",
    fc.oneof(
      op(
        "upsertEntity",
        [input({ agentId: agent, id: text, type: text, name: words, properties: json })],
        (i) => Effect.flatMap(KnowledgeStore, (s) => s.upsertEntity(loose(i)))
      ),
      op(
        "getEntity",
        [field(agent), field(text)],
        (a, id) => Effect.flatMap(KnowledgeStore, (s) => s.getEntity(loose(a), loose(id)))
      ),
      op(
        "deleteEntity",
        [field(agent), field(text)],
        (a, id) => Effect.flatMap(KnowledgeStore, (s) => s.deleteEntity(loose(a), loose(id)))
      ),
      op("addRelation", [
        input({ agentId: agent, source: text, relation: text, target: text, properties: json, confidence: fc.double() })
      ], (i) => Effect.flatMap(KnowledgeStore, (s) => s.addRelation(loose(i)))),
      op("query", [
        input({ agentId: agent, source: text, relation: text, target: text, maxDepth: smallInt, limit: smallInt })
      ], (q) => Effect.flatMap(KnowledgeStore, (s) => s.query(loose(q))))
    )
  ],
  [
    "sessions",
    fc.oneof(
      op(
        "create",
        [field(agent), fc.option(field(text))],
        (a, l) => Effect.flatMap(SessionStore, (s) => s.create(loose(a), loose(l ?? undefined)))
      ),
      op(
        "save",
        [input({ id: uuid, agentId: agent, label: fc.option(text), messages })],
        (i) => Effect.flatMap(SessionStore, (s) => s.save(loose(i)))
      ),
      op("get", [field(uuid)], (id) => Effect.flatMap(SessionStore, (s) => s.get(loose(id)))),
      op("delete", [field(uuid)], (id) => Effect.flatMap(SessionStore, (s) => s.delete(loose(id)))),
      op("list", [input({ agentId: agent })], (o) => Effect.flatMap(SessionStore, (s) => s.list(loose(o)))),
      op(
        "setLabel",
        [field(uuid), field(fc.option(text))],
        (id, l) => Effect.flatMap(SessionStore, (s) => s.setLabel(loose(id), loose(l)))
      ),
      op(
        "findByLabel",
        [field(agent), field(text)],
        (a, l) => Effect.flatMap(SessionStore, (s) => s.findByLabel(loose(a), loose(l)))
      ),
      op(
        "saveCanonical",
        [input({ agentId: agent, messages, summary: fc.option(text) })],
        (i) => Effect.flatMap(SessionStore, (s) => s.saveCanonical(loose(i)))
      ),
      op(
        "appendCanonical",
        [field(agent), field(messages), fc.option(field(smallInt))],
        (a, m, t) => Effect.flatMap(SessionStore, (s) => s.appendCanonical(loose(a), loose(m), loose(t ?? undefined)))
      ),
      op(
        "canonicalContext",
        [field(agent), fc.option(field(smallInt))],
        (a, w) => Effect.flatMap(SessionStore, (s) => s.canonicalContext(loose(a), loose(w ?? undefined)))
      ),
      op(
        "storeSummary",
        [field(agent), field(text), field(messages)],
        (a, sm, m) => Effect.flatMap(SessionStore, (s) => s.storeSummary(loose(a), loose(sm), loose(m)))
      ),
      op("deleteForAgent", [field(agent)], (a) => Effect.flatMap(SessionStore, (s) => s.deleteForAgent(loose(a))))
    )
  ],
  [
    "usage",
    fc.oneof(
      op("record", [
        input({
          agentId: agent,
          model: text,
          inputTokens: smallInt,
          outputTokens: smallInt,
          costUsd: fc.double(),
          toolCalls: smallInt
        })
      ], (i) => Effect.flatMap(UsageStore, (s) => s.record(loose(i)))),
      op(
        "spend",
        [input({ agentId: agent, window: fc.constantFrom("hour", "day", "month", "year") })],
        (q) => Effect.flatMap(UsageStore, (s) => s.spend(loose(q)))
      ),
      op(
        "summary",
        [fc.option(field(agent))],
        (a) => Effect.flatMap(UsageStore, (s) => s.summary(loose(a ?? undefined)))
      ),
      op("dailyBreakdown", [field(smallInt)], (d) => Effect.flatMap(UsageStore, (s) => s.dailyBreakdown(loose(d)))),
      op(
        "deleteOlderThan",
        [field(fc.integer({ min: 30, max: 10_000 }))],
        (d) => Effect.flatMap(UsageStore, (s) => s.deleteOlderThan(loose(d)))
      ),
      op(
        "checkBudget",
        [field(agent), input({ hour: fc.double(), day: fc.double(), month: fc.double() })],
        (a, l) => Effect.flatMap(UsageStore, (s) => s.checkBudget(loose(a), loose(l)))
      )
    )
  ],
  [
    "devices",
    fc.oneof(
      op("save", [
        input({
          deviceId: text,
          displayName: text,
          platform: text,
          pairedAt: fc.integer(),
          lastSeen: fc.integer(),
          pushToken: text
        })
      ], (i) => Effect.flatMap(DeviceStore, (s) => s.save(loose(i)))),
      op("get", [field(text)], (id) => Effect.flatMap(DeviceStore, (s) => s.get(loose(id)))),
      op("remove", [field(text)], (id) => Effect.flatMap(DeviceStore, (s) => s.remove(loose(id)))),
      op("touch", [field(text)], (id) => Effect.flatMap(DeviceStore, (s) => s.touch(loose(id)))),
      op("list", [fc.constant(0)], (_: number) => Effect.flatMap(DeviceStore, (s) => s.list()))
    )
  ],
  [
    "tasks",
    fc.oneof(
      op(
        "post",
        [input({ title: text, description: text, assignedTo: agent, createdBy: agent, priority: smallInt })],
        (i) => Effect.flatMap(TaskQueue, (s) => s.post(loose(i)))
      ),
      op(
        "claim",
        [field(agent), fc.option(input({ leaseMs: fc.integer() }))],
        (a, o) => Effect.flatMap(TaskQueue, (s) => s.claim(loose(a), loose(o ?? undefined)))
      ),
      op(
        "heartbeat",
        [field(uuid), input({ agentId: agent, attempt: smallInt, leaseMs: fc.integer() })],
        (id, i) => Effect.flatMap(TaskQueue, (s) => s.heartbeat(loose(id), loose(i)))
      ),
      op(
        "complete",
        [field(uuid), input({ agentId: agent, attempt: smallInt, result: json })],
        (id, i) => Effect.flatMap(TaskQueue, (s) => s.complete(loose(id), loose(i)))
      ),
      op(
        "fail",
        [field(uuid), input({ agentId: agent, attempt: smallInt, error: text, retry: fc.boolean() })],
        (id, i) => Effect.flatMap(TaskQueue, (s) => s.fail(loose(id), loose(i)))
      ),
      op("get", [field(uuid)], (id) => Effect.flatMap(TaskQueue, (s) => s.get(loose(id)))),
      op("list", [
        fc.option(
          input({ status: fc.constantFrom("pending", "done", "x"), assignedTo: agent, limit: smallInt, cursor: text })
        )
      ], (o) => Effect.flatMap(TaskQueue, (s) => s.list(loose(o ?? undefined))))
    )
  ],
  [
    "audit",
    fc.oneof(
      op(
        "append",
        [input({ agentId: agent, action: text, detail: text, outcome: text })],
        (i) => Effect.flatMap(AuditLog, (s) => s.append(loose(i)))
      ),
      op(
        "entries",
        [fc.option(input({ agentId: agent, fromSeq: smallInt, limit: smallInt }))],
        (q) => Effect.flatMap(AuditLog, (s) => s.entries(loose(q ?? undefined)))
      ),
      op("head", [fc.constant(0)], (_: number) => Effect.flatMap(AuditLog, (s) => s.head()))
    )
  ],
  [
    "admin",
    fc.oneof(
      op("main purgeAgent", [field(agent)], (a) => Effect.flatMap(MainStoreAdmin, (s) => s.purgeAgent(loose(a)))),
      op(
        "semantic purgeAgent",
        [field(agent)],
        (a) => Effect.flatMap(SemanticStoreAdmin, (s) => s.purgeAgent(loose(a)))
      ),
      op("agents", [fc.constant(0)], (_: number) => Effect.flatMap(SemanticStoreAdmin, (s) => s.agents()))
    )
  ]
]

// ------------------------------------------------------------------------------ running

/** Every typed failure the store may end a call with. */
const ENGRAM_ERRORS: ReadonlyArray<unknown> = Object.values(Errors).filter(
  (v) =>
    typeof v === "function" &&
    /Error|Invalid|NotFound|Unavailable|Duplicate|Stale|NotClaimed|Exceeded|Mismatch/.test(v.name)
)

const isTyped = (e: unknown): boolean => ENGRAM_ERRORS.some((cls) => typeof cls === "function" && e instanceof cls)

interface Tally {
  successes: number
  typed: number
  readonly bad: Array<string>
}

/** Resumes after the event loop has run its pending I/O and timers. */
const nextMacrotask = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

/** Run `count` generated calls of one family; every outcome must be a success or a typed failure. */
const runFamily = (arbitrary: fc.Arbitrary<Op>, count: number, seed: number) =>
  Effect.gen(function*() {
    const tally: Tally = { successes: 0, typed: 0, bad: [] }
    // Sampled in small batches, so memory stays flat however many runs are asked for, and the event
    // loop is let through between calls: hostile inputs are generated and decoded synchronously, and
    // a worker that never yields misses the test runner's progress messages.
    const BATCH = 100
    for (let done = 0; done < count; done += BATCH) {
      const ops = fc.sample(arbitrary, { numRuns: Math.min(BATCH, count - done), seed: seed + done })
      for (const { label, run } of ops) {
        yield* nextMacrotask
        const exit = yield* Effect.exit(
          Effect.timeoutFail(run, { duration: CALL_TIMEOUT, onTimeout: () => "hang" as const })
        )
        if (Exit.isSuccess(exit)) {
          tally.successes++
          continue
        }
        const cause = exit.cause
        const failure = Cause.failureOption(cause)
        if (Cause.isDie(cause)) tally.bad.push(`${label}: defect ${Cause.pretty(cause).slice(0, 400)}`)
        else if (Cause.isInterrupted(cause)) tally.bad.push(`${label}: interrupted`)
        else if (Option.isSome(failure) && failure.value === "hang") {
          tally.bad.push(`${label}: no answer within ${CALL_TIMEOUT}`)
        } else if (Option.isSome(failure) && isTyped(failure.value)) tally.typed++
        else tally.bad.push(`${label}: untyped failure ${Cause.pretty(cause).slice(0, 400)}`)
      }
    }
    return tally
  })

const report = (backend: string, family: string, count: number, tally: Tally) => {
  console.log(
    `properties ${backend} ${family}: ${count} inputs (seed ${SEED}): ${tally.successes} succeeded, ${tally.typed} typed failures, ${tally.bad.length} defects`
  )
  assert.deepStrictEqual(
    tally.bad.slice(0, 5),
    [],
    `${tally.bad.length} bad outcomes on ${backend} / ${family} (seed ${SEED})`
  )
  assert.strictEqual(tally.successes + tally.typed, count)
}

const suite = (backend: string, layer: Layer.Layer<Services, unknown>, count: number) =>
  it.live(
    `${backend}: every generated call of every family succeeds or fails typed (${count} per family)`,
    () =>
      Effect.scoped(Effect.gen(function*() {
        const services = yield* Layer.build(layer)
        for (const [family, arbitrary] of families) {
          const tally = yield* Effect.provide(runFamily(arbitrary, count, SEED), services)
          report(backend, family, count, tally)
        }
        // The chain the audit family wrote still verifies.
        yield* Effect.provide(Effect.flatMap(AuditLog, (log) => log.verify()), services)
      })),
    { timeout: 600_000 }
  )

describe("property-based hardening", () => {
  suite("MemoryTest", memoryLayer({ embedding: SPACE }), RUNS)
  suite(
    "SqliteLive",
    // NORMAL and no anchor file: thousands of writes without an fsync each (durability is not what is probed here).
    Layer.unwrapScoped(
      Effect.map(
        tempDir,
        (dir) =>
          sqliteLayer({ path: join(dir, "engram.db"), embedding: SPACE, synchronous: "NORMAL", auditAnchorPath: false })
      )
    ),
    RUNS
  )
})

describePg("property-based hardening on PostgreSQL", () => {
  suite("PgLive", freshSchema((url) => pgLayer({ url, embedding: SPACE })), PG_RUNS)
})

// ------------------------------------------------------------------------------ the gateway

const TOKEN = "property-token-0123456789"

/** Every route of the API with a concrete path. */
const routes = (): ReadonlyArray<{ readonly method: string; readonly path: string }> => {
  const out: Array<{ method: string; path: string }> = []
  HttpApi.reflect(EngramApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => out.push({ method: endpoint.method, path: endpoint.path.replace(":id", UUIDS[0]!) })
  })
  return out
}

/** A body as a hostile client sends it: JSON of a generated value, or raw text that may not be JSON at all. */
const body: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.oneof(
      input({
        agentId: agent,
        content: words,
        source: fc.constant("system"),
        query: words,
        limit: smallInt,
        records: fc.array(json, { maxLength: 2 }),
        inputs: fc.array(json, { maxLength: 2 }),
        embedding: vector
      }),
      hostile
    ).map((v) => {
      // Bounded: a value built from shared references (2^40 leaves) would never finish serialising.
      let budget = 200_000
      try {
        return JSON.stringify(v, (_, x: unknown) => {
          if (--budget < 0) throw new Error("too large")
          return typeof x === "bigint" ? x.toString() : x
        }) ?? "null"
      } catch {
        return "{\"unserialisable\":"
      }
    })
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 64 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `${"[".repeat(5000)}${"]".repeat(5000)}`,
      `{"a":${"{\"a\":".repeat(4000)}1${"}".repeat(4001)}`,
      "",
      "null",
      "[]",
      "\"\\ud800\"",
      "1e999",
      "{\"__proto__\":{\"x\":1}}"
    )
  }
)

/**
 * A generated text as a query value: its UTF-8 bytes percent-encoded (a lone surrogate becomes U+FFFD),
 * or for some texts bytes that are not UTF-8 or not valid percent-encoding at all.
 */
const query = (raw: string): string => {
  const encoded = Array.from(Buffer.from(raw.slice(0, 300)), (b) => `%${b.toString(16).padStart(2, "0")}`).join("")
  switch (raw.length % 7) {
    case 0:
      return `${encoded}%ED%A0%80`
    case 1:
      return `${encoded}%ZZ%`
    default:
      return encoded
  }
}

describe("property-based hardening: the gateway", () => {
  it.live(
    `hostile bodies on every route never get a 5xx or an empty answer (${HTTP_RUNS} per route)`,
    () =>
      Effect.scoped(Effect.gen(function*() {
        const services = yield* Layer.build(memoryLayer({ embedding: SPACE }))
        const gateway = yield* serve({ port: 0, tokens: [{ token: Redacted.make(TOKEN) }] }).pipe(
          Effect.provide(services)
        )
        const bad: Array<string> = []
        let sent = 0
        for (const [i, route] of routes().entries()) {
          const bodies = fc.sample(body, { numRuns: HTTP_RUNS, seed: SEED + i })
          for (const raw of bodies) {
            const hasBody = route.method !== "GET" && route.method !== "DELETE"
            if (TRACE !== undefined) {
              appendFileSync(TRACE, `${route.method} ${route.path} ${JSON.stringify(raw.slice(0, 300))}\n`)
            }
            const reply = yield* Effect.promise(async () => {
              try {
                const response = await fetch(`${gateway.url}${route.path}${hasBody ? "" : `?agentId=${query(raw)}`}`, {
                  method: route.method,
                  headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
                  signal: AbortSignal.timeout(20_000),
                  ...(hasBody ? { body: raw } : {})
                })
                return { status: response.status, text: await response.text() }
              } catch (e) {
                return { status: 599, text: `no answer: ${String(e)}` }
              }
            })
            sent++
            if (reply.status >= 500 || (reply.status !== 204 && reply.text === "")) {
              bad.push(
                `${route.method} ${route.path} ${JSON.stringify(raw.slice(0, 200))} → ${reply.status} ${
                  reply.text.slice(0, 200)
                }`
              )
            }
          }
        }
        console.log(
          `properties gateway: ${sent} requests on ${routes().length} routes (seed ${SEED}), ${bad.length} bad answers`
        )
        assert.deepStrictEqual(bad.slice(0, 5), [])
      })),
    { timeout: 300_000 }
  )
})
