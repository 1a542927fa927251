/**
 * Every public method of every service, on every layer, is a span `<Service>.<method>`, a child of
 * the caller's span, carrying `engram.backend`; and every call feeds the `engram_calls_total`
 * counter. A recording tracer wraps Effect's own: each method is called once (with arguments that
 * may well be refused — a typed failure is a call like any other) inside a parent span, and the
 * recorded spans are checked.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Metric, MetricLabel, Option, Redacted, Stream, type Tracer } from "effect"
import * as Http from "../src/backends/http/index.js"
import * as Memory from "../src/backends/memory/index.js"
import * as Postgres from "../src/backends/postgres/index.js"
import * as Qdrant from "../src/backends/qdrant/index.js"
import * as Sqlite from "../src/backends/sqlite/index.js"
import { callsTotal, instrument } from "../src/core/instrument.js"
import { StorageError } from "../src/domain/errors.js"
import { serve } from "../src/gateway/server.js"
import { MainStoreAdmin, SemanticStoreAdmin } from "../src/services/Admin.js"
import { AuditLog } from "../src/services/AuditLog.js"
import { Consolidation } from "../src/services/Consolidation.js"
import { DeviceStore } from "../src/services/DeviceStore.js"
import { KnowledgeStore } from "../src/services/KnowledgeStore.js"
import { SemanticStore } from "../src/services/SemanticStore.js"
import { SessionStore } from "../src/services/SessionStore.js"
import { StructuredStore } from "../src/services/StructuredStore.js"
import { TaskQueue } from "../src/services/TaskQueue.js"
import { UsageStore } from "../src/services/UsageStore.js"
import { freshSchemaScoped, unavailable, urlForSchema } from "./support/postgres.js"
import { startQdrantServer } from "./support/qdrantServer.js"
import { tempDir } from "./support/sqlite.js"

const embedding = { model: "tracing", dimensions: 8 }
const vector = [1, 0, 0, 0, 0, 0, 0, 0]
const agent = "agent-t"
const uuid = "0190f000-0000-7000-8000-000000000000"

/** One call of every method, by service. Arguments need not succeed: a refusal is traced too. */
const calls = {
  StructuredStore: {
    tag: StructuredStore,
    methods: {
      get: [agent, "k"],
      set: [agent, "k", 1],
      delete: [agent, "k"],
      list: [agent],
      saveAgent: [{ id: agent, name: "A" }],
      loadAgent: [agent],
      listAgents: [],
      removeAgent: [agent]
    }
  },
  KnowledgeStore: {
    tag: KnowledgeStore,
    methods: {
      upsertEntity: [{ agentId: agent, type: "person", name: "Ada", properties: {} }],
      getEntity: [agent, "e"],
      deleteEntity: [agent, "e"],
      addRelation: [{
        agentId: agent,
        source: "a",
        relation: "knows_about",
        target: "b",
        properties: {},
        confidence: 1
      }],
      query: [{ agentId: agent }]
    }
  },
  SessionStore: {
    tag: SessionStore,
    methods: {
      get: [uuid],
      save: [{ id: uuid, agentId: agent, messages: [] }],
      delete: [uuid],
      deleteForAgent: [agent],
      list: [],
      setLabel: [uuid, "label"],
      findByLabel: [agent, "label"],
      loadCanonical: [agent],
      saveCanonical: [{ agentId: agent, messages: [] }],
      deleteCanonical: [agent],
      modifyCanonical: [agent, (c: unknown) => c],
      create: [agent],
      appendCanonical: [agent, [{ role: "user", content: "hi" }]],
      canonicalContext: [agent],
      storeSummary: [agent, "summary", []]
    }
  },
  UsageStore: {
    tag: UsageStore,
    methods: {
      record: [{ agentId: agent, model: "m", inputTokens: 1, outputTokens: 1, costUsd: 0.1, toolCalls: 0 }],
      spend: [{ agentId: agent, window: "hour" }],
      summary: [agent],
      byModel: [],
      dailyBreakdown: [7],
      firstEventAt: [],
      deleteOlderThan: [30],
      checkBudget: [agent, { hourly: 0, daily: 0, monthly: 0 }],
      recordWithinBudget: [
        { agentId: agent, model: "m", inputTokens: 1, outputTokens: 1, costUsd: 0.1, toolCalls: 0 },
        { hourly: 0, daily: 0, monthly: 0 }
      ]
    }
  },
  DeviceStore: {
    tag: DeviceStore,
    methods: {
      list: [],
      get: ["d"],
      save: [{ deviceId: "d", displayName: "D", platform: "ios" }],
      remove: ["d"],
      touch: ["d"]
    }
  },
  TaskQueue: {
    tag: TaskQueue,
    methods: {
      post: [{ title: "t", description: "d" }],
      claim: [agent],
      heartbeat: [uuid, { agentId: agent, attempt: 1, leaseMs: 1000 }],
      complete: [uuid, { agentId: agent, attempt: 1, result: "r" }],
      fail: [uuid, { agentId: agent, attempt: 1, error: "e", retry: false }],
      get: [uuid],
      list: []
    }
  },
  AuditLog: {
    tag: AuditLog,
    methods: {
      append: [{ agentId: agent, action: "a", detail: "d", outcome: "ok" }],
      entries: [],
      head: [],
      verify: []
    }
  },
  MainStoreAdmin: {
    tag: MainStoreAdmin,
    methods: { export: [], import: [[]], purgeAgent: [agent] }
  },
  SemanticStore: {
    tag: SemanticStore,
    methods: {
      remember: [{ agentId: agent, content: "c", source: "system", embedding: vector }],
      rememberMany: [[{ agentId: agent, content: "c", source: "system" }]],
      recall: [{ agentId: agent, embedding: vector }],
      recallAgents: [[agent], { embedding: vector }],
      get: [agent, uuid],
      forget: [agent, uuid],
      updateEmbedding: [agent, uuid, vector],
      count: [agent]
    }
  },
  Consolidation: {
    tag: Consolidation,
    methods: { consolidate: [] }
  },
  SemanticStoreAdmin: {
    tag: SemanticStoreAdmin,
    methods: { export: [], import: [[]], purgeAgent: [agent], agents: [] }
  }
} as const

type ServiceName = keyof typeof calls

interface Recorded {
  readonly name: string
  readonly id: string
  readonly parent: Option.Option<string>
  readonly attributes: Map<string, unknown>
}

/** Effect's own tracer, with every span it starts also recorded. */
const recording = (spans: Array<Recorded>) =>
  Effect.map(Effect.tracer, (native): Tracer.Tracer => ({
    ...native,
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = native.span(name, parent, context, links, startTime, kind, options)
      const attributes = span.attributes as Map<string, unknown>
      spans.push({ name, id: span.spanId, parent: Option.map(parent, (p) => p.spanId), attributes })
      return span
    }
  }))

const runMethod = (service: object, method: string, args: ReadonlyArray<unknown>) =>
  Effect.suspend(() => {
    const fn = (service as Record<string, (...a: ReadonlyArray<unknown>) => unknown>)[method]!
    const result = fn(...args)
    return Stream.StreamTypeId in (result as object)
      ? Stream.runDrain(result as Stream.Stream<unknown, unknown>)
      : (result as Effect.Effect<unknown, unknown>)
  }).pipe(Effect.exit)

/** Calls counted for one method, over every outcome. */
const callCount = (service: string, method: string, backend: string) =>
  Effect.map(
    Effect.forEach(
      ["success", "failure", "defect", "interrupted"],
      (outcome) =>
        Metric.value(Metric.taggedWithLabels(callsTotal, [
          MetricLabel.make("service", service),
          MetricLabel.make("method", method),
          MetricLabel.make("backend", backend),
          MetricLabel.make("outcome", outcome)
        ]))
    ),
    (states) => states.reduce((sum, s) => sum + s.count, 0)
  )

/** Call every method of `services` inside a parent span and check what the tracer saw. */
const checkLayer = <R>(
  backend: string,
  layer: Layer.Layer<R, unknown>,
  services: ReadonlyArray<ServiceName>
) =>
  Effect.gen(function*() {
    const spans: Array<Recorded> = []
    const tracer = yield* recording(spans)
    const context = yield* Layer.build(layer)
    for (const name of services) {
      const { methods, tag } = calls[name]
      const service = Context.unsafeGet(context, tag as Context.Tag<unknown, object>)
      for (const [method, args] of Object.entries(methods)) {
        spans.length = 0
        const before = yield* callCount(name, method, backend)
        const parent = yield* Effect.currentSpan.pipe(
          Effect.zipLeft(runMethod(service, method, args)),
          Effect.withSpan("caller"),
          Effect.withTracer(tracer),
          Effect.orDie
        )
        const own = spans.find((s) => s.name === `${name}.${method}`)
        assert.isDefined(own, `${backend}: no span ${name}.${method}; saw ${spans.map((s) => s.name).join(", ")}`)
        assert.deepStrictEqual(
          own!.parent,
          Option.some(parent.spanId),
          `${backend}: ${name}.${method} is not a child of the caller`
        )
        assert.strictEqual(own!.attributes.get("engram.backend"), backend)
        const after = yield* callCount(name, method, backend)
        assert.isAbove(after, before, `${backend}: ${name}.${method} did not count its call`)
      }
    }
  }).pipe(Effect.scoped)

const main: ReadonlyArray<ServiceName> = [
  "StructuredStore",
  "KnowledgeStore",
  "SessionStore",
  "UsageStore",
  "DeviceStore",
  "TaskQueue",
  "AuditLog",
  "MainStoreAdmin"
]
const semantic: ReadonlyArray<ServiceName> = ["SemanticStore", "Consolidation", "SemanticStoreAdmin"]

describe("every method is a span and a counted call", () => {
  it.live("MemoryTest", () => checkLayer("memory", Memory.layer({ embedding }), [...main, ...semantic]))

  it.live("SqliteLive", () =>
    Effect.flatMap(
      tempDir,
      (dir) => checkLayer("sqlite", Sqlite.layer({ path: `${dir}/t.db`, embedding }), [...main, ...semantic])
    ).pipe(
      Effect.scoped
    ))

  it.live("PgLive", () =>
    unavailable !== undefined
      ? Effect.sync(() => console.log(`[tracing] PostgreSQL is not reachable (${unavailable}): PgLive SKIPPED`))
      : Effect.flatMap(
        freshSchemaScoped,
        (schema) =>
          checkLayer("postgres", Postgres.layer({ url: Redacted.make(urlForSchema(schema)), embedding }), [
            ...main,
            ...semantic
          ])
      ).pipe(
        Effect.scoped
      ))

  it.live("QdrantSemanticLive", () =>
    Effect.flatMap(
      startQdrantServer(),
      (server) => checkLayer("qdrant", Qdrant.layer({ url: server.url, collection: "tracing", embedding }), semantic)
    ).pipe(Effect.scoped))

  it.live("HttpSemanticLive", () =>
    Effect.gen(function*() {
      const token = Redacted.make("tracing-token")
      const store = yield* Layer.build(Memory.layer({ embedding }))
      const gateway = yield* serve({ port: 0, tokens: [{ token }] }).pipe(Effect.provide(store))
      yield* checkLayer("http", Http.layer({ url: gateway.url, token, embedding }), semantic)
    }).pipe(Effect.scoped))
})

describe("instrument", () => {
  it.effect("a StorageError is renamed to <Service>.<method> and keeps its backend, message and cause", () =>
    Effect.gen(function*() {
      const cause = new Error("disk full")
      const service = instrument("Probe", "sqlite", {
        call: () => Effect.fail(new StorageError({ backend: "sqlite", operation: "call", message: "boom", cause }))
      })
      const error = yield* Effect.flip(service.call())
      assert.instanceOf(error, StorageError)
      assert.deepStrictEqual(
        [error.backend, error.operation, error.message, error.cause],
        ["sqlite", "Probe.call", "boom", cause]
      )
    }))
})

describe("the gateway's request spans", () => {
  /**
   * With a tracer that exports, a call through HttpSemanticLive is one trace: the client's request
   * span carries its context to the gateway, whose request span is its child. Under Effect's built-in
   * tracer the client makes no request span and sends no trace context.
   */
  it.live("join the caller's trace when a tracer is installed, and are not made without one", () =>
    Effect.gen(function*() {
      const token = Redacted.make("tracing-token")
      const spans: Array<Recorded> = []
      const tracer = yield* recording(spans)
      const store = yield* Layer.build(Memory.layer({ embedding }))
      const gateway = yield* serve({ port: 0, tokens: [{ token }] }).pipe(
        Effect.provide(store),
        Effect.withTracer(tracer)
      )
      const client = Context.get(
        yield* Layer.build(Http.layer({ url: gateway.url, token, embedding })),
        SemanticStore
      )
      const recall = client.recall({ agentId: agent, embedding: vector, limit: 3 })
      const serverSpans = () => spans.filter((s) => s.name.startsWith("http.server"))

      spans.length = 0
      yield* recall.pipe(Effect.withTracer(tracer), Effect.orDie)
      const clientSpan = spans.find((s) => s.name.startsWith("http.client"))
      assert.isDefined(clientSpan, `no client request span; saw ${spans.map((s) => s.name).join(", ")}`)
      const joined = serverSpans().find((s) => s.attributes.get("url.path") === "/v1/recall")
      assert.isDefined(joined, `no gateway request span; saw ${spans.map((s) => s.name).join(", ")}`)
      assert.deepStrictEqual(
        joined!.parent,
        Option.some(clientSpan!.id),
        "the gateway's span is not the client's child"
      )

      spans.length = 0
      yield* Effect.orDie(recall)
      assert.isUndefined(spans.find((s) => s.name.startsWith("http.client")))
      const alone = serverSpans()
      assert.strictEqual(alone.length, 1, `saw ${spans.map((s) => s.name).join(", ")}`)
      assert.isTrue(Option.isNone(alone[0]!.parent), "trace context was sent without a tracer")
    }).pipe(Effect.scoped))
})
