/**
 * The gateway over real loopback HTTP: authorization on every route (an inventory of the
 * HttpApi, so a route added without it fails here), agent confinement per token, the administrative
 * routes (agents, purge, paged export, batched import) and who may use them, the body limit,
 * error bodies without SQL text or stacks, the OpenAPI document, CORS, option checks, and the
 * memory-api protocol replayed with that client's exact request and response shapes.
 */
import { HttpApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  Schema,
  Scope,
  Stream,
  TestClock
} from "effect"
import { request as httpRequest } from "node:http"
import { connect as netConnect, type Socket } from "node:net"
import { layer as httpLayer } from "../src/backends/http/index.js"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import type { EmbeddingSpace } from "../src/domain/embedding.js"
import { BackendUnavailable, ConfigError, InvalidInput, StorageError } from "../src/domain/errors.js"
import type { MemoryId } from "../src/domain/ids.js"
import type { MemoryRecord } from "../src/domain/transfer.js"
import { Authorization, EngramApi, MAX_EXPORT_PAGE, WireRecallHit } from "../src/gateway/Api.js"
import { EXPORT_PAGE_BYTES } from "../src/gateway/exportCursor.js"
import { type GatewayOptions, serve, SHUTDOWN_GRACE_MS } from "../src/gateway/server.js"
import { SemanticStoreAdmin } from "../src/services/Admin.js"
import { Consolidation } from "../src/services/Consolidation.js"
import { SemanticStore } from "../src/services/SemanticStore.js"

const embedding: EmbeddingSpace = { model: "gateway-test", dimensions: 4 }
const ADMIN = "admin-token-0123456789"
const ALICE = "alice-token-0123456789"
const TEAM = "team-token-0123456789"
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const tokens: GatewayOptions["tokens"] = [
  { token: Redacted.make(ADMIN) },
  { token: Redacted.make(ALICE), agents: ["alice"] },
  { token: Redacted.make(TEAM), agents: ["alice", "carol"] }
]

type Services = SemanticStore | Consolidation | SemanticStoreAdmin

/** A gateway over a fresh in-memory store (or `store`), for the life of the test's scope. */
const startGateway = (
  options: GatewayOptions = {},
  store: Layer.Layer<Services, unknown> = memoryLayer({ embedding })
) =>
  Effect.gen(function*() {
    const services = yield* Layer.build(store)
    const gateway = yield* serve({ port: 0, tokens, ...options }).pipe(Effect.provide(services))
    return {
      url: gateway.url,
      store: Context.get(services, SemanticStore),
      admin: Context.get(services, SemanticStoreAdmin)
    }
  })

interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: unknown
}

/** One request with fetch; `token` becomes a bearer header, `body` JSON. */
const call = (
  url: string,
  options: {
    readonly method?: string
    readonly token?: string
    readonly authorization?: string
    readonly headers?: Record<string, string>
    readonly body?: unknown
    readonly raw?: string
  } = {}
) =>
  Effect.promise(async (): Promise<Reply> => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    if (options.authorization !== undefined) headers.authorization = options.authorization
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
    if (body !== undefined) headers["content-type"] ??= "application/json"
    const response = await fetch(url, {
      method: options.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      ...(body === undefined ? {} : { body })
    })
    const text = await response.text()
    let json: unknown
    try {
      json = text === "" ? undefined : JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, headers: response.headers, text, json }
  })

const field = (reply: Reply, key: string): unknown =>
  typeof reply.json === "object" && reply.json !== null ? (reply.json as Record<string, unknown>)[key] : undefined

const remember = (url: string, token: string, agentId: string, content: string, extra: Record<string, unknown> = {}) =>
  Effect.map(call(`${url}/v1/memories`, { token, body: { agentId, content, source: "system", ...extra } }), (r) => {
    assert.strictEqual(r.status, 200, r.text)
    return field(r, "id") as string
  })

/** Every route of the API, from the API definition itself, with whether it is behind Authorization. */
const inventory = () => {
  const routes: Array<{ method: string; path: string; name: string; authorized: boolean }> = []
  HttpApi.reflect(EngramApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group, middleware }) => {
      routes.push({
        method: endpoint.method,
        path: endpoint.path,
        name: `${group.identifier}.${endpoint.name}`,
        authorized: [...middleware].some((m) => m.key === Authorization.key)
      })
    }
  })
  return routes
}

const SAMPLE_ID = "01900000-0000-7000-8000-000000000001"
const concrete = (path: string) => path.replace(":id", SAMPLE_ID)

describe("gateway: authorization", () => {
  it.scoped("the inventory: every route but GET /health is behind Authorization", () =>
    Effect.sync(() => {
      const routes = inventory()
      assert.isAtLeast(routes.length, 12)
      assert.deepStrictEqual(routes.filter((r) => !r.authorized).map((r) => `${r.method} ${r.path}`), ["GET /health"])
      const names = routes.map((r) => r.name)
      for (const name of [
        "memoryApi.store",
        "memoryApi.search",
        "semantic.remember",
        "semantic.info",
        "consolidation.consolidate",
        "admin.agents",
        "admin.exportMemories",
        "admin.importMemories",
        "admin.purge"
      ]) {
        assert.include(names, name)
      }
    }))

  it.scoped("every route answers 401 to a missing or wrong token, and not 401 to the right one", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const routes = [...inventory().filter((r) => r.authorized), {
        method: "GET",
        path: "/openapi.json",
        name: "openapi",
        authorized: true
      }]
      const wrong: ReadonlyArray<readonly [string, Record<string, string>]> = [
        ["no header", {}],
        ["wrong token, same length", { authorization: `Bearer ${ADMIN.replace(/.$/, "X")}` }],
        ["prefix of the token", { authorization: `Bearer ${ADMIN.slice(0, -1)}` }],
        ["token plus one character", { authorization: `Bearer ${ADMIN}x` }],
        ["empty bearer", { authorization: "Bearer " }],
        ["right token, Basic scheme", { authorization: `Basic ${ADMIN}` }],
        ["right token, no scheme", { authorization: ADMIN }],
        ["very long token", { authorization: `Bearer ${"a".repeat(8000)}` }]
      ]
      for (const route of routes) {
        const body = route.method === "POST" || route.method === "PUT" ? {} : undefined
        for (const [what, headers] of wrong) {
          const reply = yield* call(`${url}${concrete(route.path)}`, { method: route.method, headers, body })
          assert.strictEqual(reply.status, 401, `${route.method} ${route.path} with ${what}: ${reply.text}`)
          assert.strictEqual(field(reply, "_tag"), "Unauthorized", `${route.method} ${route.path} with ${what}`)
        }
        // The same request with the right token gets past authorization (it may still be a 400).
        const ok = yield* call(`${url}${concrete(route.path)}`, { method: route.method, token: ADMIN, body })
        assert.notStrictEqual(ok.status, 401, `${route.method} ${route.path} with the right token`)
        assert.isBelow(ok.status, 500, `${route.method} ${route.path}: ${ok.text}`)
      }
      const health = yield* call(`${url}/health`)
      assert.strictEqual(health.status, 200)
    }))

  it.scoped("an anonymous request is refused before its body is read, on unknown paths too", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const port = Number(new URL(url).port)
      const head = `POST /v1/memories HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${
        50 * 1024 * 1024
      }\r\n\r\n`
      const { response, closedByServer } = yield* rawExchange(port, head, Buffer.alloc(1024, 0x20))
      assert.match(response, /^HTTP\/1\.1 401 /)
      assert.isTrue(closedByServer)
      assert.strictEqual((yield* call(`${url}/no/such/route`)).status, 401)
      assert.strictEqual((yield* call(`${url}/no/such/route`, { token: ADMIN })).status, 404)
    }))

  it.scoped("the scheme name is case-insensitive; several tokens are accepted", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      for (const authorization of [`bearer ${ADMIN}`, `BEARER ${ADMIN}`, `Bearer ${ALICE}`, `Bearer ${TEAM}`]) {
        assert.strictEqual((yield* call(`${url}/v1/info`, { authorization })).status, 200, authorization)
      }
    }))

  it.scoped("with authorization disabled on loopback, routes answer without a token", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway({ tokens: [], authDisabled: true })
      const reply = yield* call(`${url}/v1/count`, { body: { agentId: "a" } })
      assert.strictEqual(reply.status, 200)
      assert.deepStrictEqual(reply.json, { count: 0 })
    }))
})

describe("gateway: options", () => {
  const configErrorOf = (options: GatewayOptions) =>
    Effect.gen(function*() {
      const result = yield* Effect.either(startGateway(options))
      assert.isTrue(
        Either.isLeft(result),
        `${JSON.stringify(options, (_, v) => (Redacted.isRedacted(v) ? "<redacted>" : v))} must be refused`
      )
      const error = Either.isLeft(result) ? result.left : undefined
      assert.instanceOf(error, ConfigError)
      return error as ConfigError
    })

  it.scoped("disabling authorization is refused off loopback; tokens are required otherwise", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        (yield* configErrorOf({ host: "0.0.0.0", tokens: [], authDisabled: true })).path,
        "gateway.authDisabled"
      )
      assert.strictEqual(
        (yield* configErrorOf({ host: "192.168.1.10", tokens: [], authDisabled: true })).path,
        "gateway.authDisabled"
      )
      assert.strictEqual((yield* configErrorOf({ tokens: [] })).path, "gateway.tokens")
      assert.strictEqual(
        (yield* configErrorOf({ tokens: [{ token: Redacted.make("has space") }] })).path,
        "gateway.tokens[0].token"
      )
      assert.strictEqual(
        (yield* configErrorOf({ tokens: [{ token: Redacted.make("") }] })).path,
        "gateway.tokens[0].token"
      )
      assert.strictEqual(
        (yield* configErrorOf({
          tokens: [{ token: Redacted.make("same-token") }, { token: Redacted.make("same-token") }]
        })).path,
        "gateway.tokens[1].token"
      )
      assert.strictEqual(
        (yield* configErrorOf({ tokens: [{ token: Redacted.make("t-1234"), agents: [] }] })).path,
        "gateway.tokens[0].agents"
      )
      assert.strictEqual(
        (yield* configErrorOf({ tokens: [{ token: Redacted.make("t-1234"), agents: [""] }] })).path,
        "gateway.tokens[0].agents[0]"
      )
      assert.strictEqual((yield* configErrorOf({ port: 70000 })).path, "gateway.port")
      assert.strictEqual((yield* configErrorOf({ maxBodyBytes: 0 })).path, "gateway.maxBodyBytes")
      assert.strictEqual((yield* configErrorOf({ corsOrigins: ["*"] })).path, "gateway.corsOrigins[0]")
      assert.strictEqual(
        (yield* configErrorOf({ corsOrigins: ["https://app.example/path"] })).path,
        "gateway.corsOrigins[0]"
      )
    }))

  it.scoped("a port already in use is a ConfigError, not a defect", () =>
    Effect.gen(function*() {
      const first = yield* startGateway()
      const port = Number(new URL(first.url).port)
      assert.strictEqual((yield* configErrorOf({ port })).path, "gateway")
    }))
})

describe("gateway: agent confinement", () => {
  it.scoped("a token limited to agents gets 403 for any other agent, on every route that names one", () =>
    Effect.gen(function*() {
      const { url, store } = yield* startGateway()
      const bobs = yield* remember(url, ADMIN, "bob", "bob's secret plan", { embedding: [1, 0, 0, 0] })
      const alices = yield* remember(url, ALICE, "alice", "alice's plan", { embedding: [1, 0, 0, 0] })
      const forbidden: ReadonlyArray<readonly [string, Effect.Effect<Reply>]> = [
        [
          "remember",
          call(`${url}/v1/memories`, { token: ALICE, body: { agentId: "bob", content: "x", source: "system" } })
        ],
        [
          "rememberMany",
          call(`${url}/v1/memories/batch`, {
            token: ALICE,
            body: {
              inputs: [
                { agentId: "alice", content: "mine", source: "system" },
                { agentId: "bob", content: "x", source: "system" }
              ]
            }
          })
        ],
        ["recall", call(`${url}/v1/recall`, { token: ALICE, body: { agentId: "bob", text: "plan" } })],
        ["get", call(`${url}/v1/memories/${bobs}?agentId=bob`, { token: ALICE })],
        ["forget", call(`${url}/v1/memories/${bobs}?agentId=bob`, { token: ALICE, method: "DELETE" })],
        [
          "updateEmbedding",
          call(`${url}/v1/memories/${bobs}/embedding`, {
            token: ALICE,
            method: "PUT",
            body: { agentId: "bob", embedding: [0, 1, 0, 0] }
          })
        ],
        ["count", call(`${url}/v1/count`, { token: ALICE, body: { agentId: "bob" } })],
        ["consolidate", call(`${url}/v1/consolidate`, { token: ALICE, body: {} })],
        [
          "memory/store",
          call(`${url}/memory/store`, {
            token: ALICE,
            body: { content: "x", category: "episodic", agentId: "bob", source: "system", importance: 5 }
          })
        ],
        [
          "memory/search narrowed to bob",
          call(`${url}/memory/search`, { token: ALICE, body: { query: "plan", limit: 5, agentId: "bob" } })
        ]
      ]
      for (const [what, effect] of forbidden) {
        const reply = yield* effect
        assert.strictEqual(reply.status, 403, `${what}: ${reply.text}`)
        assert.strictEqual(field(reply, "_tag"), "Forbidden", what)
      }
      // Nothing changed for bob, and the half-allowed batch stored nothing for alice either.
      const bob = yield* store.get("bob", bobs)
      assert.isTrue(Option.isSome(bob))
      assert.deepStrictEqual(
        Option.map(bob, (m) => [m.content, m.embedding, m.accessCount]),
        Option.some(["bob's secret plan", [1, 0, 0, 0], 0])
      )
      assert.strictEqual(yield* store.count("bob"), 1)
      assert.strictEqual(yield* store.count("alice"), 1)
      // Its own agent works.
      const own = yield* call(`${url}/v1/recall`, { token: ALICE, body: { agentId: "alice", text: "plan" } })
      assert.strictEqual(own.status, 200)
      assert.deepStrictEqual((field(own, "hits") as Array<{ memory: { id: string } }>).map((h) => h.memory.id), [
        alices
      ])
    }))

  it.scoped("memory-api search without an agent searches exactly the token's agents; results carry their real owner", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      yield* TestClock.setTime(1_000)
      yield* remember(url, ADMIN, "alice", "shared word alpha")
      yield* TestClock.setTime(2_000)
      yield* remember(url, ADMIN, "bob", "shared word bravo")
      yield* TestClock.setTime(3_000)
      yield* remember(url, ADMIN, "carol", "shared word charlie")
      const search = (token: string) =>
        Effect.map(call(`${url}/memory/search`, { token, body: { query: "shared word", limit: 10 } }), (r) => {
          assert.strictEqual(r.status, 200, r.text)
          return (field(r, "results") as Array<{ agentId: string; content: string }>).map((x) => [x.agentId, x.content])
        })
      assert.deepStrictEqual(yield* search(ALICE), [["alice", "shared word alpha"]])
      assert.sameDeepMembers(yield* search(TEAM), [["alice", "shared word alpha"], ["carol", "shared word charlie"]])
      assert.sameDeepMembers(yield* search(ADMIN), [
        ["alice", "shared word alpha"],
        ["bob", "shared word bravo"],
        ["carol", "shared word charlie"]
      ])
      const narrowed = yield* call(`${url}/memory/search`, {
        token: TEAM,
        body: { query: "shared", limit: 10, agentId: "carol" }
      })
      assert.deepStrictEqual((field(narrowed, "results") as Array<{ agentId: string }>).map((x) => x.agentId), [
        "carol"
      ])
    }))

  it.scoped("memory-api search over many agents is one store call and answers the merge of the per-agent searches", () =>
    Effect.gen(function*() {
      const calls = { recall: 0, recallAgents: 0 }
      const counted = Layer.scopedContext(Effect.gen(function*() {
        const services = yield* Layer.build(memoryLayer({ embedding }))
        const store = Context.get(services, SemanticStore)
        return Context.add(services, SemanticStore, {
          ...store,
          recall: (query) => Effect.suspend(() => (calls.recall++, store.recall(query))),
          recallAgents: (agentIds, query) =>
            Effect.suspend(() => (calls.recallAgents++, store.recallAgents(agentIds, query)))
        })
      }))
      const { url } = yield* startGateway({}, counted)
      const agents = Array.from({ length: 12 }, (_, a) => `agent-${a}`)
      for (const [a, agentId] of agents.entries()) {
        for (let k = 0; k < 3; k++) {
          yield* TestClock.setTime(1_000 * a + k)
          const words = ["shared word", "shared word shared", "word only"][(a + k) % 3]!
          yield* remember(url, ADMIN, agentId, `${words} ${agentId} ${k}`)
        }
      }
      type Result = { id: string; agentId: string; score: number; createdAt: number }
      const search = (body: Record<string, unknown>) =>
        Effect.map(call(`${url}/memory/search`, { token: ADMIN, body }), (r) => {
          assert.strictEqual(r.status, 200, r.text)
          return field(r, "results") as Array<Result>
        })
      for (const query of ["shared word", "word"]) {
        calls.recall = 0
        calls.recallAgents = 0
        const all = yield* search({ query, limit: 7 })
        assert.deepStrictEqual(calls, { recall: 0, recallAgents: 1 }, "one store call for all 12 agents")
        const perAgent: Array<Result> = []
        for (const agentId of agents) perAgent.push(...yield* search({ query, limit: 7, agentId }))
        const merged = perAgent
          .sort((x, y) => y.score - x.score || y.createdAt - x.createdAt || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0))
          .slice(0, 7)
        assert.strictEqual(all.length, 7)
        assert.deepStrictEqual(all, merged, query)
      }
    }))

  it.scoped("POST /v1/recall keeps the endpoint's contract: its answer decodes with the schema, refusals keep their status and form", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const id = yield* remember(url, ADMIN, "alice", "plan the trip", { embedding: [1, 0.5, 0.25, 0] })
      const ok = yield* call(`${url}/v1/recall`, { token: ADMIN, body: { agentId: "alice", embedding: [1, 0, 0, 0] } })
      assert.strictEqual(ok.status, 200, ok.text)
      assert.strictEqual(ok.headers.get("content-type"), "application/json")
      const decoded = Schema.decodeUnknownSync(Schema.Struct({ hits: Schema.Array(WireRecallHit) }))(ok.json)
      assert.deepStrictEqual(decoded.hits.map((h) => h.memory.id), [id])
      assert.deepStrictEqual(decoded.hits[0]!.memory.embedding, [1, 0.5, 0.25, 0])
      const refusals: ReadonlyArray<readonly [unknown, number, string, string | undefined]> = [
        [{ agentId: "alice", text: "!!!" }, 400, "InvalidInput", "query.text"],
        [{ agentId: "alice", embedding: [1, 0] }, 400, "InvalidEmbedding", undefined],
        [{ agentId: "alice", limit: "ten" }, 400, "HttpApiDecodeError", undefined],
        [{ agentId: "alice", extra: 1 }, 400, "HttpApiDecodeError", undefined],
        [{ agentId: "bob", text: "plan" }, 403, "Forbidden", undefined]
      ]
      for (const [body, status, tag, fieldName] of refusals) {
        const reply = yield* call(`${url}/v1/recall`, { token: ALICE, body })
        assert.strictEqual(reply.status, status, `${JSON.stringify(body)}: ${reply.text}`)
        assert.strictEqual(field(reply, "_tag"), tag, reply.text)
        if (fieldName !== undefined) assert.strictEqual(field(reply, "field"), fieldName, reply.text)
      }
      const notJson = yield* call(`${url}/v1/recall`, { token: ADMIN, raw: "{nope" })
      assert.strictEqual(notJson.status, 400, notJson.text)
    }))

  it.scoped("HttpSemanticLive with a limited token gets a typed error for another agent, never its data", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const bobs = yield* remember(url, ADMIN, "bob", "bob only")
      const services = yield* Layer.build(httpLayer({ url, token: Redacted.make(ALICE), embedding }))
      const store = Context.get(services, SemanticStore)
      const recall = yield* Effect.either(store.recall({ agentId: "bob", text: "bob" }))
      assert.isTrue(Either.isLeft(recall) && recall.left instanceof StorageError, "recall of bob is refused")
      const get = yield* Effect.either(store.get("bob", bobs))
      assert.isTrue(Either.isLeft(get) && get.left instanceof StorageError, "get of bob is refused")
      assert.strictEqual(yield* store.count("alice"), 0)
      const consolidate = yield* Effect.either(Context.get(services, Consolidation).consolidate())
      assert.isTrue(
        Either.isLeft(consolidate) && consolidate.left instanceof StorageError,
        "consolidation needs an unrestricted token"
      )
    }))
})

/** A memory record written verbatim by import (ids are lower-case UUIDs in code point order of `i`). */
const memoryRecord = (
  i: number,
  agentId: string,
  content: string,
  embedding: ReadonlyArray<number> | null = null
): MemoryRecord => ({
  kind: "memory",
  id: `01900000-0000-7000-8000-${String(i).padStart(12, "0")}` as MemoryId,
  agentId: agentId as MemoryRecord["agentId"],
  content,
  source: "document",
  scope: "episodic",
  metadata: { i },
  confidence: 0.5,
  createdAt: 1_000 + i,
  accessedAt: 2_000 + i,
  accessCount: i,
  embedding
})

const byId = (records: ReadonlyArray<MemoryRecord>) =>
  [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

interface Page {
  readonly memories: ReadonlyArray<MemoryRecord>
  readonly next: string | null
}

/** `GET /v1/admin/memories` with the given query, as ADMIN; fails the test unless it is 200. */
const exportPage = (url: string, query: string) =>
  Effect.map(call(`${url}/v1/admin/memories${query}`, { token: ADMIN }), (r) => {
    assert.strictEqual(r.status, 200, `${query}: ${r.text}`)
    return r.json as Page
  })

describe("gateway: administration", () => {
  it.scoped("agents and purge are confined to the token's agents; export and import need an unrestricted token", () =>
    Effect.gen(function*() {
      const { url, store, admin } = yield* startGateway()
      yield* remember(url, ADMIN, "alice", "alice one")
      yield* remember(url, ADMIN, "bob", "bob one")
      yield* remember(url, ADMIN, "bob", "bob two")
      yield* remember(url, ADMIN, "dave", "dave one")
      const agentsFor = (token: string) =>
        Effect.map(call(`${url}/v1/agents`, { token }), (r) => {
          assert.strictEqual(r.status, 200, r.text)
          return field(r, "agents")
        })
      assert.deepStrictEqual(yield* agentsFor(ADMIN), ["alice", "bob", "dave"])
      assert.deepStrictEqual(yield* agentsFor(ALICE), ["alice"])
      // carol may be used by TEAM but holds nothing: only agents holding memories are listed.
      assert.deepStrictEqual(yield* agentsFor(TEAM), ["alice"])

      const before = [...yield* Stream.runCollect(admin.export())]
      assert.strictEqual(before.length, 4)
      const alices = before.filter((r) => r.agentId === "alice")
      const rewritten = alices.map((r) => ({ ...r, content: "rewritten by a limited token" }))
      for (const token of [ALICE, TEAM]) {
        const refused: ReadonlyArray<readonly [string, Effect.Effect<Reply>]> = [
          ["export", call(`${url}/v1/admin/memories`, { token })],
          ["export after an id", call(`${url}/v1/admin/memories?after=${before[0]!.id}&limit=1`, { token })],
          [
            "import of its own agent's memories",
            call(`${url}/v1/admin/memories`, { token, body: { records: rewritten } })
          ]
        ]
        for (const [what, effect] of refused) {
          const reply = yield* effect
          assert.strictEqual(reply.status, 403, `${what}: ${reply.text}`)
          assert.strictEqual(field(reply, "_tag"), "Forbidden", what)
          assert.notInclude(reply.text, "alice one", what)
        }
        const purge = yield* call(`${url}/v1/admin/purge`, { token, body: { agentId: "bob" } })
        assert.strictEqual(purge.status, 403, purge.text)
        assert.strictEqual(field(purge, "_tag"), "Forbidden")
      }
      assert.deepStrictEqual([...yield* Stream.runCollect(admin.export())], before, "nothing was written or purged")

      const own = yield* call(`${url}/v1/admin/purge`, { token: ALICE, body: { agentId: "alice" } })
      assert.strictEqual(own.status, 200, own.text)
      assert.deepStrictEqual(own.json, { purged: 1 })
      assert.strictEqual(yield* store.count("alice"), 0)
      assert.strictEqual(yield* store.count("bob"), 2)
      assert.deepStrictEqual(yield* agentsFor(ALICE), [])
      const bobs = yield* call(`${url}/v1/admin/purge`, { token: ADMIN, body: { agentId: "bob" } })
      assert.deepStrictEqual(bobs.json, { purged: 2 })
      assert.deepStrictEqual(yield* agentsFor(ADMIN), ["dave"])
      const invalid = yield* call(`${url}/v1/admin/purge`, { token: ADMIN, body: { agentId: "" } })
      assert.strictEqual(invalid.status, 400)
      assert.deepStrictEqual([field(invalid, "_tag"), field(invalid, "field")], ["InvalidInput", "agentId"])

      // The unrestricted token imports: the records come back verbatim.
      const imported = yield* call(`${url}/v1/admin/memories`, { token: ADMIN, body: { records: alices } })
      assert.strictEqual(imported.status, 200, imported.text)
      assert.deepStrictEqual(imported.json, { imported: 1 })
      assert.deepStrictEqual(
        Option.map(yield* store.get("alice", alices[0]!.id), (m) => m.content),
        Option.some("alice one")
      )
    }))

  it.scoped("HttpSemanticLive with a limited token: export and import are refused, agents and purge are confined", () =>
    Effect.gen(function*() {
      const { url, store, admin } = yield* startGateway()
      yield* remember(url, ADMIN, "alice", "alice one")
      yield* remember(url, ADMIN, "bob", "bob one")
      const before = [...yield* Stream.runCollect(admin.export())]
      const remote = Context.get(
        yield* Layer.build(httpLayer({ url, token: Redacted.make(TEAM), embedding })),
        SemanticStoreAdmin
      )
      const exported = yield* Effect.either(Stream.runCollect(remote.export()))
      assert.isTrue(Either.isLeft(exported) && exported.left instanceof StorageError, "export is refused")
      assert.include(Either.isLeft(exported) ? exported.left.message : "", "not limited to agents")
      const imported = yield* Effect.either(remote.import(before.map((r) => ({ ...r, content: "overwritten" }))))
      assert.isTrue(Either.isLeft(imported) && imported.left instanceof StorageError, "import is refused")
      assert.deepStrictEqual([...yield* Stream.runCollect(admin.export())], before)
      assert.deepStrictEqual(yield* remote.agents(), ["alice"] as ReadonlyArray<string>)
      const purgeBob = yield* Effect.either(remote.purgeAgent("bob"))
      assert.isTrue(Either.isLeft(purgeBob) && purgeBob.left instanceof StorageError, "purge of bob is refused")
      assert.strictEqual(yield* store.count("bob"), 1)
      const purgeEmpty = yield* Effect.either(remote.purgeAgent(""))
      assert.isTrue(
        Either.isLeft(purgeEmpty) && purgeEmpty.left instanceof InvalidInput,
        "an invalid agent id is InvalidInput"
      )
      assert.strictEqual(yield* remote.purgeAgent("carol"), 0)
      assert.strictEqual(yield* remote.purgeAgent("alice"), 1)
      assert.strictEqual(yield* store.count("alice"), 0)
      assert.deepStrictEqual(yield* remote.agents(), [])
    }))

  it.scoped("export pages: limit and next chain the pages; a page asked for again, or after any id, is the same page", () =>
    Effect.gen(function*() {
      const { url, admin } = yield* startGateway()
      const records = Array.from(
        { length: 6 },
        (_, i) =>
          memoryRecord(10 * (i + 1), i % 2 === 0 ? "alice" : "bob", `memory ${i}`, i === 0 ? null : [i, 1, 0, 0])
      )
      yield* admin.import(records)
      const ids = records.map((r) => r.id)
      const first = yield* exportPage(url, "?limit=4")
      assert.deepStrictEqual(first.memories, records.slice(0, 4))
      assert.strictEqual(first.next, ids[3])
      const last = yield* exportPage(url, `?after=${first.next}&limit=4`)
      assert.deepStrictEqual(last.memories, records.slice(4))
      assert.isNull(last.next)
      // A full page that ends the export says so: no empty page is needed to find the end.
      const half = yield* exportPage(url, "?limit=3")
      assert.strictEqual(half.next, ids[2])
      const rest = yield* exportPage(url, `?after=${half.next}&limit=3`)
      assert.deepStrictEqual(rest.memories.map((m) => m.id), ids.slice(3))
      assert.isNull(rest.next)
      // The same page again (its parked stream was used by the first request) gives the same answer.
      assert.deepStrictEqual(yield* exportPage(url, `?after=${half.next}&limit=3`), rest)
      // After an id that is no memory's: the memories that follow it in id order.
      const between = memoryRecord(25, "nobody", "").id
      assert.deepStrictEqual(
        (yield* exportPage(url, `?after=${between}&limit=2`)).memories.map((m) => m.id),
        ids.slice(2, 4)
      )
      assert.deepStrictEqual(yield* exportPage(url, ""), { memories: records, next: null })
      for (const bad of ["?limit=0", `?limit=${MAX_EXPORT_PAGE + 1}`, "?limit=2.5", "?limit=x", "?after=not-an-id"]) {
        const reply = yield* call(`${url}/v1/admin/memories${bad}`, { token: ADMIN })
        assert.strictEqual(reply.status, 400, bad)
      }
      const empty = yield* startGateway()
      assert.deepStrictEqual(yield* exportPage(empty.url, ""), { memories: [], next: null })
    }))

  it.scoped("an export page ends once it holds EXPORT_PAGE_BYTES of JSON; the next page continues", () =>
    Effect.gen(function*() {
      const { url, admin } = yield* startGateway()
      const size = Math.ceil(EXPORT_PAGE_BYTES / 3)
      const records = Array.from({ length: 5 }, (_, i) => memoryRecord(i, "big", `${i}`.repeat(size)))
      yield* admin.import(records)
      const first = yield* exportPage(url, "")
      assert.strictEqual(first.memories.length, 3, "the third memory passes the budget and ends the page")
      assert.strictEqual(first.next, records[2]!.id)
      const second = yield* exportPage(url, `?after=${first.next}`)
      assert.deepStrictEqual(second, { memories: records.slice(3), next: null })
      const remote = Context.get(
        yield* Layer.build(httpLayer({ url, token: Redacted.make(ADMIN), embedding })),
        SemanticStoreAdmin
      )
      assert.deepStrictEqual([...yield* Stream.runCollect(remote.export())], records)
    }))

  it.scoped("HttpSemanticLive exports page by page; concurrent exports each get every memory once, in id order", () =>
    Effect.gen(function*() {
      const { url, admin } = yield* startGateway()
      const records = Array.from(
        { length: 2 * MAX_EXPORT_PAGE + 345 },
        (_, i) => memoryRecord(i, `agent-${i % 3}`, `bulk ${i}`, [1, i, 0, 0])
      )
      yield* admin.import(records)
      const remote = Context.get(
        yield* Layer.build(httpLayer({ url, token: Redacted.make(ADMIN), embedding })),
        SemanticStoreAdmin
      )
      const exports = yield* Effect.all([1, 2, 3].map(() => Stream.runCollect(remote.export())), { concurrency: 3 })
      for (const exported of exports) assert.deepStrictEqual([...exported], records)
    }))

  it.scoped("the gateway continues one store export across the pages of an export instead of reading it again per page", () =>
    Effect.gen(function*() {
      let opened = 0
      let pulled = 0
      const counted = Layer.unwrapScoped(Effect.gen(function*() {
        const services = yield* Layer.build(memoryLayer({ embedding }))
        const admin = Context.get(services, SemanticStoreAdmin)
        return Layer.succeedContext(Context.add(services, SemanticStoreAdmin, {
          ...admin,
          export: () => {
            opened++
            return Stream.tap(admin.export(), () => Effect.sync(() => void pulled++))
          }
        }))
      }))
      const { url, admin } = yield* startGateway({}, counted)
      const records = Array.from({ length: 3 * MAX_EXPORT_PAGE + 1 }, (_, i) => memoryRecord(i, "a", `m ${i}`))
      yield* admin.import(records)
      const remote = Context.get(
        yield* Layer.build(httpLayer({ url, token: Redacted.make(ADMIN), embedding })),
        SemanticStoreAdmin
      )
      assert.strictEqual((yield* Stream.runCollect(remote.export())).length, records.length)
      assert.strictEqual(opened, 1, "one store export for the four pages")
      assert.strictEqual(pulled, records.length, "each memory was read from the store once")
    }))

  it.scoped("HttpSemanticLive imports in batches that fit the body limit; a refused import sends nothing", () =>
    Effect.gen(function*() {
      const LIMIT = 64 * 1024
      const { url, store, admin } = yield* startGateway({ maxBodyBytes: LIMIT })
      const remote = Context.get(
        yield* Layer.build(httpLayer({ url, token: Redacted.make(ADMIN), embedding })),
        SemanticStoreAdmin
      )
      const records = Array.from(
        { length: 40 },
        (_, i) => memoryRecord(i, "many", `${"é".repeat(2048)} ${i}`, [0, 0, 1, i])
      )
      // All of them in one request would be refused.
      const whole = yield* call(`${url}/v1/admin/memories`, { token: ADMIN, body: { records } })
      assert.strictEqual(whole.status, 413)
      assert.strictEqual(yield* store.count("many"), 0)
      yield* remote.import(records)
      assert.deepStrictEqual(byId([...yield* Stream.runCollect(admin.export())]), records)
      // Again: replaced by id, nothing duplicated.
      yield* remote.import(records)
      assert.strictEqual(yield* store.count("many"), 40)

      // Several batches' worth, so a check made per batch would have written the first ones.
      const later = Array.from(
        { length: 30 },
        (_, i) => memoryRecord(100 + i, "later", `${"é".repeat(2048)} later ${i}`, [1, 0, 0, 0])
      )
      const tooLarge = [...later, memoryRecord(200, "later", "x".repeat(LIMIT))]
      const large = yield* Effect.flip(remote.import(tooLarge))
      assert.instanceOf(large, InvalidInput)
      assert.strictEqual((large as InvalidInput).field, "records[30]")
      const otherSpace = [...later, memoryRecord(201, "later", "wrong space", [1, 0, 0])]
      const space = yield* Effect.flip(remote.import(otherSpace))
      assert.instanceOf(space, InvalidInput)
      assert.strictEqual((space as InvalidInput).field, "records[30].embedding")
      const nul = yield* Effect.flip(remote.import([...later, memoryRecord(202, "later", "nul \u0000 inside")]))
      assert.instanceOf(nul, InvalidInput)
      assert.strictEqual((nul as InvalidInput).field, "records[30].content")
      assert.strictEqual(yield* store.count("later"), 0, "no batch of a refused import was sent")
    }))
})

/** Send `head` then `firstChunk` on a raw socket and wait for the server's answer (or close). */
const rawExchange = (port: number, head: string, firstChunk: Buffer) =>
  Effect.async<{ readonly response: string; readonly closedByServer: boolean }>((resume) => {
    const socket = netConnect(port, "127.0.0.1")
    let response = ""
    socket.on("error", () => {})
    socket.on("data", (d) => (response += d.toString("latin1")))
    socket.on("close", () => resume(Effect.succeed({ response, closedByServer: true })))
    socket.on("connect", () => {
      socket.write(head)
      socket.write(firstChunk)
    })
    return Effect.sync(() => socket.destroy())
  })

/** A chunked POST (no Content-Length) through node:http, writing `chunks` one by one. */
const chunkedPost = (url: string, path: string, chunks: ReadonlyArray<string>) =>
  Effect.async<{ readonly status: number; readonly body: string }>((resume) => {
    const req = httpRequest(`${url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", "transfer-encoding": "chunked" }
    }, (res) => {
      let body = ""
      res.on("data", (d) => (body += d))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
      res.on("error", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
    })
    req.on("error", () => {})
    for (const c of chunks) req.write(c)
    req.end()
  })

/** A raw connection that sends `data` (maybe nothing, maybe part of a request) and records when the server closes it. */
const rawConnection = (port: number, data: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly socket: Socket; readonly closed: Promise<void> }>((resume) => {
      const socket = netConnect(port, "127.0.0.1")
      socket.on("error", () => {})
      socket.on("data", () => {})
      const closed = new Promise<void>((done) => socket.once("close", () => done()))
      socket.once("connect", () => {
        if (data !== "") socket.write(data)
        // Give the server time to see the connection and the bytes.
        setTimeout(() => resume(Effect.succeed({ socket, closed })), 50)
      })
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

describe("gateway: shutdown", () => {
  it.scoped("closing the gateway does not wait on connections that sent nothing, part of a request, or are idle", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { url } = yield* Scope.extend(startGateway(), scope)
      const port = Number(new URL(url).port)
      const connections = [
        yield* rawConnection(port, ""),
        yield* rawConnection(port, `POST /v1/recall HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\n`),
        yield* rawConnection(port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
      ]
      const started = performance.now()
      // Real time, and disconnected: a close that waits on these clients fails here instead of hanging.
      const closed = yield* Scope.close(scope, Exit.void).pipe(
        Effect.disconnect,
        Effect.timeout("3 seconds"),
        Effect.withClock(Clock.make()),
        Effect.option
      )
      const elapsed = performance.now() - started
      assert.isTrue(Option.isSome(closed), "the gateway closed while the clients kept their connections")
      assert.isBelow(elapsed, 1_000, `closing took ${elapsed.toFixed(0)} ms`)
      // The server closed every one of them (the test holds them open otherwise).
      yield* Effect.promise(() => Promise.all(connections.map((c) => c.closed)))
    }))

  it.scoped("a request in progress when the gateway closes is still answered", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const DELAY = 300
      // recall waits DELAY ms of real time once it has started (the test runs under TestClock).
      const slow = Layer.unwrapScoped(Effect.gen(function*() {
        const services = yield* Layer.build(memoryLayer({ embedding }))
        const store = Context.get(services, SemanticStore)
        return Layer.succeedContext(Context.add(services, SemanticStore, {
          ...store,
          recall: (query) =>
            Deferred.succeed(entered, undefined).pipe(
              Effect.zipRight(Effect.promise(() => new Promise((done) => setTimeout(done, DELAY)))),
              Effect.zipRight(store.recall(query))
            )
        }))
      }))
      const scope = yield* Scope.make()
      const { url } = yield* Scope.extend(startGateway({}, slow), scope)
      const request = yield* Effect.fork(call(`${url}/v1/recall`, { token: ADMIN, body: { agentId: "a", text: "x" } }))
      yield* Deferred.await(entered)
      const started = performance.now()
      yield* Scope.close(scope, Exit.void)
      const elapsed = performance.now() - started
      const reply = yield* Fiber.join(request)
      assert.strictEqual(reply.status, 200, reply.text)
      assert.deepStrictEqual(reply.json, { hits: [] })
      assert.isAtLeast(elapsed, DELAY * 0.5, "closing waited for the answer")
      // ...and no longer: not for the client to drop its keep-alive connection, nor for the grace period.
      assert.isBelow(elapsed, DELAY + 1_000, `closing took ${elapsed.toFixed(0)} ms`)
      assert.isBelow(DELAY + 1_000, SHUTDOWN_GRACE_MS)
    }))

  it.scoped(
    "a request that never finishes holds the shutdown for SHUTDOWN_GRACE_MS at most",
    () =>
      Effect.gen(function*() {
        const entered = yield* Deferred.make<void>()
        const stuck = Layer.unwrapScoped(Effect.gen(function*() {
          const services = yield* Layer.build(memoryLayer({ embedding }))
          const store = Context.get(services, SemanticStore)
          return Layer.succeedContext(Context.add(services, SemanticStore, {
            ...store,
            recall: () => Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never)
          }))
        }))
        const scope = yield* Scope.make()
        const { url } = yield* Scope.extend(startGateway({}, stuck), scope)
        const request = yield* Effect.fork(Effect.either(Effect.tryPromise(() =>
          fetch(`${url}/v1/recall`, {
            method: "POST",
            headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
            body: JSON.stringify({ agentId: "a" })
          }).then((r) => r.text())
        )))
        yield* Deferred.await(entered)
        const started = performance.now()
        yield* Scope.close(scope, Exit.void)
        const elapsed = performance.now() - started
        assert.isAtLeast(elapsed, SHUTDOWN_GRACE_MS * 0.9, `closing took ${elapsed.toFixed(0)} ms`)
        assert.isBelow(elapsed, SHUTDOWN_GRACE_MS + 1_000, `closing took ${elapsed.toFixed(0)} ms`)
        assert.isTrue(Either.isLeft(yield* Fiber.join(request)), "the request was cut off")
      }),
    20_000
  )
})

describe("gateway: body limit", () => {
  const LIMIT = 4096

  it.scoped("a declared body over the limit is 413 and the connection closes; a body at the limit is accepted", () =>
    Effect.gen(function*() {
      const { url, store } = yield* startGateway({ maxBodyBytes: LIMIT })
      const over = yield* call(`${url}/v1/memories`, {
        token: ADMIN,
        body: { agentId: "a", content: "x".repeat(LIMIT), source: "system" }
      })
      assert.strictEqual(over.status, 413)
      assert.deepStrictEqual(over.json, {
        _tag: "PayloadTooLarge",
        limit: LIMIT,
        message: `the request body is larger than the gateway's limit of ${LIMIT} bytes`
      })
      assert.strictEqual(over.headers.get("connection"), "close")
      const envelope = JSON.stringify({ agentId: "a", content: "", source: "system" }).length
      const exact = { agentId: "a", content: "y".repeat(LIMIT - envelope), source: "system" }
      assert.strictEqual(JSON.stringify(exact).length, LIMIT)
      const atLimit = yield* call(`${url}/v1/memories`, { token: ADMIN, body: exact })
      assert.strictEqual(atLimit.status, 200, atLimit.text)
      assert.strictEqual(yield* store.count("a"), 1)
    }))

  it.scoped("HttpSemanticLive sizes a batch as it is sent (vectors as base64), and refuses one over the limit before sending", () =>
    Effect.gen(function*() {
      const { url, store } = yield* startGateway({ maxBodyBytes: LIMIT })
      const client = Context.get(
        yield* Layer.build(httpLayer({ url, token: Redacted.make(ADMIN), embedding })),
        SemanticStore
      )
      const batch = (n: number) =>
        Array.from({ length: n }, (_, i) => ({
          agentId: "a",
          content: `m${i}`,
          source: "system" as const,
          embedding: [0.123456789, -0.987654321, 0.5 + i / 1000, 0.333333333]
        }))
      const fits = batch(24)
      // Sent with JSON arrays (the ids, scope and metadata the client adds, float32 values) this batch
      // would pass the limit; with base64 vectors it fits.
      const asArrays = fits.map((i) => ({
        id: "01900000-0000-7000-8000-000000000000",
        ...i,
        scope: "episodic",
        metadata: {},
        embedding: i.embedding.map(Math.fround)
      }))
      assert.isAbove(JSON.stringify({ inputs: asArrays }).length, LIMIT)
      const ids = yield* client.rememberMany(fits)
      assert.strictEqual(ids.length, 24)
      assert.strictEqual(yield* store.count("a"), 24)
      const refused = yield* Effect.flip(client.rememberMany(batch(60)))
      assert.instanceOf(refused, InvalidInput)
      assert.strictEqual((refused as InvalidInput).field, "inputs")
      assert.strictEqual(yield* store.count("a"), 24)
    }))

  it.scoped("an over-limit Content-Length is refused before the body is sent", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway({ maxBodyBytes: LIMIT })
      const port = Number(new URL(url).port)
      const declared = 50 * 1024 * 1024
      const head = `POST /v1/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`
      // Only 1 KiB of the 50 MiB is ever sent: the answer must not wait for the rest.
      const { response, closedByServer } = yield* rawExchange(port, head, Buffer.alloc(1024, 0x20))
      assert.match(response, /^HTTP\/1\.1 413 /)
      assert.include(response, "PayloadTooLarge")
      assert.isTrue(closedByServer)
    }))

  it.scoped("a chunked body is read only until it passes the limit, then 413", () =>
    Effect.gen(function*() {
      const { url, store } = yield* startGateway({ maxBodyBytes: LIMIT })
      const port = Number(new URL(url).port)
      const head = `POST /v1/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`
      const chunk = "x".repeat(LIMIT + 1)
      // One chunk past the limit and no terminating chunk: the server must answer without the end.
      const { response, closedByServer } = yield* rawExchange(
        port,
        head,
        Buffer.from(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
      )
      assert.match(response, /^HTTP\/1\.1 413 /)
      assert.isTrue(closedByServer)
      const tooBig = yield* chunkedPost(url, "/v1/memories", [
        "{\"agentId\":\"a\",\"source\":\"system\",\"content\":\"",
        "z".repeat(LIMIT),
        "\"}"
      ])
      assert.strictEqual(tooBig.status, 413)
      // Under the limit, a chunked body reaches the handler intact.
      const ok = yield* chunkedPost(url, "/v1/memories", [
        "{\"agentId\":\"a\",",
        "\"source\":\"system\",",
        "\"content\":\"chunked ✓\"}"
      ])
      assert.strictEqual(ok.status, 200, ok.body)
      const id = (JSON.parse(ok.body) as { id: string }).id
      assert.deepStrictEqual(Option.map(yield* store.get("a", id), (m) => m.content), Option.some("chunked ✓"))
    }))

  it.scoped("a body that is not JSON is 400 InvalidInput, not a server error", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const reply = yield* call(`${url}/v1/memories`, { token: ADMIN, raw: "{\"agentId\": " })
      assert.strictEqual(reply.status, 400)
      assert.deepStrictEqual(reply.json, { _tag: "InvalidInput", field: "body", message: "is not valid JSON" })
      const structure = yield* call(`${url}/v1/memories`, {
        token: ADMIN,
        body: { agentId: "a", content: 5, source: "system" }
      })
      assert.strictEqual(structure.status, 400)
      assert.strictEqual(field(structure, "_tag"), "HttpApiDecodeError")
      const rule = yield* call(`${url}/v1/memories`, {
        token: ADMIN,
        body: { agentId: "a", content: "nul \u0000", source: "system" }
      })
      assert.strictEqual(rule.status, 400)
      assert.deepStrictEqual([field(rule, "_tag"), field(rule, "field")], ["InvalidInput", "input.content"])
    }))
})

describe("gateway: error bodies", () => {
  const SQL = "SQLITE_ERROR: no such column: secret_column in SELECT * FROM memories WHERE password = 'hunter2'"
  const cause = new Error(SQL)
  const storageError = new StorageError({ backend: "sqlite", operation: "recall", message: SQL, cause })
  const unavailable = new BackendUnavailable({
    backend: "postgres",
    url: "postgres://engram:hunter2@db.internal:5432/engram",
    message: `connect ECONNREFUSED: ${SQL}`,
    cause
  })
  /** A store whose every method ends in `failure`. */
  const failing = (failure: Effect.Effect<never, StorageError | BackendUnavailable>) =>
    Layer.mergeAll(
      Layer.succeed(
        SemanticStore,
        SemanticStore.of({
          embeddingSpace: embedding,
          remember: () => failure,
          rememberMany: () => failure,
          recall: () => failure,
          recallAgents: () => failure,
          get: () => failure,
          forget: () => failure,
          updateEmbedding: () => failure,
          count: () => failure
        })
      ),
      Layer.succeed(Consolidation, Consolidation.of({ consolidate: () => failure })),
      Layer.succeed(
        SemanticStoreAdmin,
        SemanticStoreAdmin.of({
          export: () => Stream.fromEffect(failure),
          import: () => failure,
          purgeAgent: () => failure,
          agents: () => failure
        })
      )
    )
  const LEAKS = /SELECT|secret|hunter2|password|no such column|db\.internal|ECONNREFUSED|stack|cause|\bat .+:\d+/i

  const requests = (url: string): ReadonlyArray<readonly [string, Effect.Effect<Reply>]> => [
    ["remember", call(`${url}/v1/memories`, { token: ADMIN, body: { agentId: "a", content: "x", source: "system" } })],
    ["recall", call(`${url}/v1/recall`, { token: ADMIN, body: { agentId: "a" } })],
    ["get", call(`${url}/v1/memories/${SAMPLE_ID}?agentId=a`, { token: ADMIN })],
    ["consolidate", call(`${url}/v1/consolidate`, { token: ADMIN, body: {} })],
    ["memory/search", call(`${url}/memory/search`, { token: ADMIN, body: { query: "x", agentId: "a" } })],
    ["memory/search over every agent", call(`${url}/memory/search`, { token: ADMIN, body: { query: "x" } })],
    ["agents", call(`${url}/v1/agents`, { token: ADMIN })],
    ["export", call(`${url}/v1/admin/memories`, { token: ADMIN })],
    ["import", call(`${url}/v1/admin/memories`, { token: ADMIN, body: { records: [] } })],
    ["purge", call(`${url}/v1/admin/purge`, { token: ADMIN, body: { agentId: "a" } })]
  ]

  it.scoped("a StorageError becomes 500 with the public form: no SQL text, no cause, no stack", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway({}, failing(Effect.fail(storageError)))
      for (const [what, effect] of requests(url)) {
        const reply = yield* effect
        assert.strictEqual(reply.status, 500, what)
        assert.strictEqual(field(reply, "_tag"), "StorageError", what)
        assert.strictEqual(field(reply, "backend"), "sqlite", what)
        assert.deepStrictEqual(
          Object.keys(reply.json as object).sort(),
          ["_tag", "backend", "message", "operation"],
          what
        )
        assert.notMatch(reply.text, LEAKS, what)
      }
    }))

  it.scoped("BackendUnavailable becomes 503 without its URL (credentials) or cause", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway({}, failing(Effect.fail(unavailable)))
      for (const [what, effect] of requests(url)) {
        const reply = yield* effect
        assert.strictEqual(reply.status, 503, what)
        assert.deepStrictEqual(Object.keys(reply.json as object).sort(), ["_tag", "backend", "message"], what)
        assert.notMatch(reply.text, LEAKS, what)
      }
    }))

  it.scoped("a defect becomes a bare 500 without its message or stack", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway({}, failing(Effect.die(cause)))
      for (const [what, effect] of requests(url)) {
        const reply = yield* effect
        assert.strictEqual(reply.status, 500, what)
        assert.notMatch(reply.text, LEAKS, what)
      }
    }))
})

describe("gateway: OpenAPI and CORS", () => {
  it.scoped("the OpenAPI document is served to authorized callers and lists every route", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const reply = yield* call(`${url}/openapi.json`, { token: ADMIN })
      assert.strictEqual(reply.status, 200)
      const doc = reply.json as {
        openapi: string
        paths: Record<string, Record<string, { security?: ReadonlyArray<unknown> }>>
        components: { securitySchemes: Record<string, { scheme: string }> }
      }
      assert.strictEqual(doc.openapi, "3.1.0")
      assert.strictEqual(doc.components.securitySchemes.bearer?.scheme, "bearer")
      for (const route of inventory()) {
        const path = route.path.replace(/:(\w+)/g, "{$1}")
        const operation = doc.paths[path]?.[route.method.toLowerCase()]
        assert.isDefined(operation, `${route.method} ${path} is documented`)
        assert.strictEqual((operation?.security ?? []).length > 0, route.authorized, `${route.method} ${path} security`)
      }
    }))

  it.scoped("CORS is off by default: no allow-origin for any origin, preflight included", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const simple = yield* call(`${url}/v1/info`, { token: ADMIN, headers: { origin: "https://evil.example" } })
      assert.strictEqual(simple.status, 200)
      assert.isNull(simple.headers.get("access-control-allow-origin"))
      const preflight = yield* call(`${url}/v1/recall`, {
        method: "OPTIONS",
        headers: {
          origin: "https://evil.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization"
        }
      })
      assert.isNull(preflight.headers.get("access-control-allow-origin"))
      assert.isNull(preflight.headers.get("access-control-allow-headers"))
    }))

  it.scoped("with origins configured, only a listed origin is echoed", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway({ corsOrigins: ["https://app.example"] })
      const allowed = yield* call(`${url}/v1/info`, { token: ADMIN, headers: { origin: "https://app.example" } })
      assert.strictEqual(allowed.headers.get("access-control-allow-origin"), "https://app.example")
      const other = yield* call(`${url}/v1/info`, { token: ADMIN, headers: { origin: "https://evil.example" } })
      assert.strictEqual(other.status, 200)
      assert.isNull(other.headers.get("access-control-allow-origin"))
      const preflight = yield* call(`${url}/v1/recall`, {
        method: "OPTIONS",
        headers: {
          origin: "https://app.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type"
        }
      })
      assert.strictEqual(preflight.headers.get("access-control-allow-origin"), "https://app.example")
      assert.include(preflight.headers.get("access-control-allow-headers") ?? "", "authorization")
      const evilPreflight = yield* call(`${url}/v1/recall`, {
        method: "OPTIONS",
        headers: { origin: "https://evil.example", "access-control-request-method": "POST" }
      })
      assert.isNull(evilPreflight.headers.get("access-control-allow-origin"))
      const unauthorized = yield* call(`${url}/v1/info`, { headers: { origin: "https://app.example" } })
      assert.strictEqual(unauthorized.status, 401)
    }))
})

describe("gateway: memory-api protocol", () => {
  const AGENT = "6f1c2b4e-8d3a-4c5b-9e7f-0a1b2c3d4e5f"

  it.scoped("GET /health needs no token and answers {\"status\":\"ok\"}", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const reply = yield* call(`${url}/health`)
      assert.strictEqual(reply.status, 200)
      assert.deepStrictEqual(reply.json, { status: "ok" })
    }))

  it.scoped("POST /memory/store takes the client's exact body and answers {id, deduplicated}", () =>
    Effect.gen(function*() {
      const { url, store } = yield* startGateway()
      yield* TestClock.setTime(1_750_000_000_000)
      // The body exactly as that client builds it: source is the lower-cased variant name
      // ("userprovided"), importance defaults to 5, tags only when metadata.tags is a string array.
      const body =
        `{"content":"The user prefers dark mode","category":"episodic","agentId":"${AGENT}","source":"userprovided","importance":7,"tags":["preference","ui"]}`
      const reply = yield* call(`${url}/memory/store`, { token: ADMIN, raw: body })
      assert.strictEqual(reply.status, 200, reply.text)
      assert.deepStrictEqual(Object.keys(reply.json as object).sort(), ["deduplicated", "id"])
      assert.strictEqual(field(reply, "deduplicated"), false)
      const id = field(reply, "id")
      assert.isString(id)
      assert.match(id as string, UUID, "the client parses the id as a UUID string")
      const stored = yield* store.get(AGENT, id as string)
      assert.deepStrictEqual(
        Option.map(stored, (m) => ({
          content: m.content,
          source: m.source,
          scope: m.scope,
          metadata: m.metadata,
          createdAt: m.createdAt
        })),
        Option.some({
          content: "The user prefers dark mode",
          source: "user_provided" as const,
          scope: "episodic",
          metadata: { importance: 7, tags: ["preference", "ui"] },
          createdAt: 1_750_000_000_000
        })
      )
      const noTags = yield* call(`${url}/memory/store`, {
        token: ADMIN,
        raw:
          `{"content":"no tags here","category":"semantic","agentId":"${AGENT}","source":"conversation","importance":5}`
      })
      assert.strictEqual(noTags.status, 200)
      assert.deepStrictEqual(
        Option.map(yield* store.get(AGENT, field(noTags, "id") as string), (m) => [m.source, m.scope, m.metadata]),
        Option.some(["conversation", "semantic", { importance: 5 }])
      )
    }))

  it.scoped("every source name that client sends maps to engram's; an unknown one is 400", () =>
    Effect.gen(function*() {
      const { url, store } = yield* startGateway()
      const names = {
        conversation: "conversation",
        document: "document",
        observation: "observation",
        inference: "inference",
        userprovided: "user_provided",
        system: "system"
      }
      for (const [sent, expected] of Object.entries(names)) {
        const reply = yield* call(`${url}/memory/store`, {
          token: ADMIN,
          body: { content: `from ${sent}`, category: "episodic", agentId: AGENT, source: sent, importance: 5 }
        })
        assert.strictEqual(reply.status, 200, sent)
        assert.deepStrictEqual(
          Option.map(yield* store.get(AGENT, field(reply, "id") as string), (m) => m.source),
          Option.some(expected)
        )
      }
      const bad = yield* call(`${url}/memory/store`, {
        token: ADMIN,
        body: { content: "x", category: "episodic", agentId: AGENT, source: "chat", importance: 5 }
      })
      assert.strictEqual(bad.status, 400)
      assert.deepStrictEqual([field(bad, "_tag"), field(bad, "field")], ["InvalidInput", "source"])
    }))

  it.scoped("POST /memory/search takes {query, limit, category} and answers {results, count} in the client's shape", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      yield* TestClock.setTime(1_750_000_000_000)
      const stored = yield* call(`${url}/memory/store`, {
        token: ADMIN,
        raw:
          `{"content":"The user prefers dark mode","category":"episodic","agentId":"${AGENT}","source":"userprovided","importance":5}`
      })
      yield* TestClock.setTime(1_750_000_001_000)
      yield* call(`${url}/memory/store`, {
        token: ADMIN,
        raw:
          `{"content":"Dark mode is on in the editor","category":"procedural","agentId":"${AGENT}","source":"observation","importance":5}`
      })
      const reply = yield* call(`${url}/memory/search`, {
        token: ADMIN,
        raw: `{"query":"dark mode","limit":5,"category":"episodic"}`
      })
      assert.strictEqual(reply.status, 200, reply.text)
      const json = reply.json as { results: Array<Record<string, unknown>>; count: number }
      assert.deepStrictEqual(Object.keys(json).sort(), ["count", "results"])
      assert.strictEqual(json.count, 1)
      const hit = json.results[0]!
      assert.deepStrictEqual(Object.keys(hit).sort(), ["agentId", "category", "content", "createdAt", "id", "score"])
      assert.deepStrictEqual(
        { id: hit.id, content: hit.content, category: hit.category, createdAt: hit.createdAt, agentId: hit.agentId },
        {
          id: field(stored, "id"),
          content: "The user prefers dark mode",
          category: "episodic",
          createdAt: 1_750_000_000_000,
          agentId: AGENT
        }
      )
      assert.isNumber(hit.score)
      assert.isAbove(hit.score as number, 0)
      // Without the category both match; without any match the answer is empty, not an error.
      const both = yield* call(`${url}/memory/search`, { token: ADMIN, raw: `{"query":"dark mode","limit":5}` })
      assert.strictEqual(field(both, "count"), 2)
      const none = yield* call(`${url}/memory/search`, { token: ADMIN, raw: `{"query":"light theme","limit":5}` })
      assert.deepStrictEqual(none.json, { results: [], count: 0 })
    }))

  it.scoped("search results across agents are ranked together and cut to the limit", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      // One occurrence each: shorter documents score higher, so the ranking is alice, carol, bob.
      yield* remember(url, ADMIN, "alice", "plan")
      yield* remember(url, ADMIN, "bob", "one plan among very many other words that dilute it")
      yield* remember(url, ADMIN, "carol", "the plan is here")
      const reply = yield* call(`${url}/memory/search`, { token: ADMIN, body: { query: "plan", limit: 2 } })
      const results = field(reply, "results") as Array<{ agentId: string; score: number }>
      assert.deepStrictEqual(results.map((r) => r.agentId), ["alice", "carol"])
      assert.isAbove(results[0]!.score, results[1]!.score)
      assert.strictEqual(field(reply, "count"), 2)
    }))
})

describe("gateway: methods, limits and error messages", () => {
  it.scoped("a known path asked with another method is 405 with Allow; an unknown path stays 404", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const health = yield* call(`${url}/health`, { method: "POST", body: {} })
      assert.strictEqual(health.status, 405, health.text)
      assert.strictEqual(health.headers.get("allow"), "GET")
      assert.strictEqual(field(health, "_tag"), "MethodNotAllowed")
      assert.isString(field(health, "message"))
      const store = yield* call(`${url}/memory/store`, { token: ADMIN })
      assert.strictEqual(store.status, 405, store.text)
      assert.strictEqual(store.headers.get("allow"), "POST")
      const byId = yield* call(`${url}/v1/memories/${SAMPLE_ID}`, { method: "PATCH", token: ADMIN })
      assert.strictEqual(byId.status, 405)
      assert.strictEqual(byId.headers.get("allow"), "DELETE, GET")
      const admin = yield* call(`${url}/v1/admin/memories`, { method: "DELETE", token: ADMIN })
      assert.strictEqual(admin.headers.get("allow"), "GET, POST")
      assert.strictEqual((yield* call(`${url}/openapi.json`, { method: "POST", token: ADMIN, body: {} })).status, 405)
      // Without a token nothing about the API is told: still 401 before the method is looked at.
      assert.strictEqual((yield* call(`${url}/memory/store`)).status, 401)
      assert.strictEqual((yield* call(`${url}/no/such/route`, { method: "POST", token: ADMIN, body: {} })).status, 404)
      assert.strictEqual((yield* call(`${url}/health`)).status, 200)
    }))

  it.scoped("/memory/search refuses limit 0, over the maximum or not an integer with 400, even with no memories", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      for (const limit of [0, -1, 1001, 5000, 2.5]) {
        const reply = yield* call(`${url}/memory/search`, { token: ADMIN, body: { query: "x", limit } })
        assert.strictEqual(reply.status, 400, `limit ${limit}: ${reply.text}`)
        assert.deepStrictEqual([field(reply, "_tag"), field(reply, "field")], ["InvalidInput", "limit"])
      }
      for (const limit of [1, 1000]) {
        assert.strictEqual(
          (yield* call(`${url}/memory/search`, { token: ADMIN, body: { query: "x", limit } })).status,
          200
        )
      }
    }))

  it.scoped("a 404 for a missing memory carries a message", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const reply = yield* call(`${url}/v1/memories/${SAMPLE_ID}/embedding`, {
        method: "PUT",
        token: ADMIN,
        body: { agentId: "alice", embedding: [1, 0, 0, 0] }
      })
      assert.strictEqual(reply.status, 404, reply.text)
      assert.strictEqual(field(reply, "_tag"), "MemoryNotFound")
      assert.strictEqual(field(reply, "message"), `memory ${SAMPLE_ID} not found for agent alice`)
    }))

  it.scoped("HttpSemanticLive still gets a typed MemoryNotFound from the 404", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const services = yield* Layer.build(httpLayer({ url, token: Redacted.make(ADMIN), embedding }))
      const store = Context.get(services, SemanticStore)
      const exit = yield* Effect.exit(store.updateEmbedding("alice", SAMPLE_ID as MemoryId, [1, 0, 0, 0]))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const failure = Cause.failureOption(exit.cause)
        assert.strictEqual(Option.isSome(failure) ? failure.value._tag : "none", "MemoryNotFound")
      }
    }))

  it.scoped("a decode error carries a short message naming the field, not the schema", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const reply = yield* call(`${url}/v1/memories`, {
        token: ADMIN,
        body: { agentId: "a", content: 5, source: "system" }
      })
      assert.strictEqual(reply.status, 400)
      assert.strictEqual(field(reply, "_tag"), "HttpApiDecodeError")
      const message = String(field(reply, "message"))
      assert.match(message, /^content: /)
      assert.notInclude(message, "\n")
      assert.isBelow(message.length, 260)
      const huge = yield* call(`${url}/v1/memories`, {
        token: ADMIN,
        body: { agentId: "a", content: { x: "y".repeat(100_000) }, source: "system" }
      })
      assert.strictEqual(huge.status, 400)
      assert.isBelow(huge.text.length, 2000)
    }))

  it.scoped("a body nested thousands of levels deep is 400 with a message, not an empty 500", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const raw = `{"agentId":"a","source":"system","content":${"[".repeat(5000)}${"]".repeat(5000)}}`
      for (const path of ["/v1/memories", "/v1/recall", "/memory/store", "/v1/admin/memories"]) {
        const reply = yield* call(`${url}${path}`, { token: ADMIN, raw })
        assert.strictEqual(reply.status, 400, `${path}: ${reply.text}`)
        assert.strictEqual(field(reply, "_tag"), "InvalidInput")
        assert.match(String(field(reply, "field")), /^body\.content/)
      }
    }))
})
