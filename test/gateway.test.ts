/**
 * The gateway over real loopback HTTP (SPEC §5): authorization on every route (an inventory of the
 * HttpApi, so a route added without it fails here), agent confinement per token, the body limit,
 * error bodies without SQL text or stacks, the OpenAPI document, CORS, option checks, and the
 * memory-api protocol replayed with that client's exact request and response shapes.
 */
import { HttpApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Either, Layer, Option, Redacted, TestClock } from "effect"
import { request as httpRequest } from "node:http"
import { connect as netConnect } from "node:net"
import { layer as httpLayer } from "../src/backends/http/index.js"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import type { EmbeddingSpace } from "../src/domain/embedding.js"
import { BackendUnavailable, ConfigError, StorageError } from "../src/domain/errors.js"
import { Authorization, EngramApi } from "../src/gateway/Api.js"
import { type GatewayOptions, serve } from "../src/gateway/server.js"
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

type Services = SemanticStore | Consolidation

/** A gateway over a fresh in-memory store (or `store`), for the life of the test's scope. */
const startGateway = (options: GatewayOptions = {}, store: Layer.Layer<Services, unknown> = memoryLayer({ embedding })) =>
  Effect.gen(function*() {
    const services = yield* Layer.build(store)
    const gateway = yield* serve({ port: 0, tokens, ...options }).pipe(Effect.provide(services))
    return { url: gateway.url, store: Context.get(services, SemanticStore) }
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
    const response = await fetch(url, { method: options.method ?? (body === undefined ? "GET" : "POST"), headers, ...(body === undefined ? {} : { body }) })
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
      for (const name of ["memoryApi.store", "memoryApi.search", "semantic.remember", "semantic.info", "consolidation.consolidate"]) {
        assert.include(names, name)
      }
    }))

  it.scoped("every route answers 401 to a missing or wrong token, and not 401 to the right one", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      const routes = [...inventory().filter((r) => r.authorized), { method: "GET", path: "/openapi.json", name: "openapi", authorized: true }]
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
      const head = `POST /v1/memories HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n`
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
      assert.isTrue(Either.isLeft(result), `${JSON.stringify(options, (_, v) => (Redacted.isRedacted(v) ? "<redacted>" : v))} must be refused`)
      const error = Either.isLeft(result) ? result.left : undefined
      assert.instanceOf(error, ConfigError)
      return error as ConfigError
    })

  it.scoped("disabling authorization is refused off loopback; tokens are required otherwise", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* configErrorOf({ host: "0.0.0.0", tokens: [], authDisabled: true })).path, "gateway.authDisabled")
      assert.strictEqual((yield* configErrorOf({ host: "192.168.1.10", tokens: [], authDisabled: true })).path, "gateway.authDisabled")
      assert.strictEqual((yield* configErrorOf({ tokens: [] })).path, "gateway.tokens")
      assert.strictEqual((yield* configErrorOf({ tokens: [{ token: Redacted.make("has space") }] })).path, "gateway.tokens[0].token")
      assert.strictEqual((yield* configErrorOf({ tokens: [{ token: Redacted.make("") }] })).path, "gateway.tokens[0].token")
      assert.strictEqual(
        (yield* configErrorOf({ tokens: [{ token: Redacted.make("same-token") }, { token: Redacted.make("same-token") }] })).path,
        "gateway.tokens[1].token"
      )
      assert.strictEqual((yield* configErrorOf({ tokens: [{ token: Redacted.make("t-1234"), agents: [] }] })).path, "gateway.tokens[0].agents")
      assert.strictEqual((yield* configErrorOf({ tokens: [{ token: Redacted.make("t-1234"), agents: [""] }] })).path, "gateway.tokens[0].agents[0]")
      assert.strictEqual((yield* configErrorOf({ port: 70000 })).path, "gateway.port")
      assert.strictEqual((yield* configErrorOf({ maxBodyBytes: 0 })).path, "gateway.maxBodyBytes")
      assert.strictEqual((yield* configErrorOf({ corsOrigins: ["*"] })).path, "gateway.corsOrigins[0]")
      assert.strictEqual((yield* configErrorOf({ corsOrigins: ["https://app.example/path"] })).path, "gateway.corsOrigins[0]")
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
        ["remember", call(`${url}/v1/memories`, { token: ALICE, body: { agentId: "bob", content: "x", source: "system" } })],
        [
          "rememberMany",
          call(`${url}/v1/memories/batch`, {
            token: ALICE,
            body: { inputs: [{ agentId: "alice", content: "mine", source: "system" }, { agentId: "bob", content: "x", source: "system" }] }
          })
        ],
        ["recall", call(`${url}/v1/recall`, { token: ALICE, body: { agentId: "bob", text: "plan" } })],
        ["get", call(`${url}/v1/memories/${bobs}?agentId=bob`, { token: ALICE })],
        ["forget", call(`${url}/v1/memories/${bobs}?agentId=bob`, { token: ALICE, method: "DELETE" })],
        ["updateEmbedding", call(`${url}/v1/memories/${bobs}/embedding`, { token: ALICE, method: "PUT", body: { agentId: "bob", embedding: [0, 1, 0, 0] } })],
        ["count", call(`${url}/v1/count`, { token: ALICE, body: { agentId: "bob" } })],
        ["consolidate", call(`${url}/v1/consolidate`, { token: ALICE, body: {} })],
        ["memory/store", call(`${url}/memory/store`, { token: ALICE, body: { content: "x", category: "episodic", agentId: "bob", source: "system", importance: 5 } })],
        ["memory/search narrowed to bob", call(`${url}/memory/search`, { token: ALICE, body: { query: "plan", limit: 5, agentId: "bob" } })]
      ]
      for (const [what, effect] of forbidden) {
        const reply = yield* effect
        assert.strictEqual(reply.status, 403, `${what}: ${reply.text}`)
        assert.strictEqual(field(reply, "_tag"), "Forbidden", what)
      }
      // Nothing changed for bob, and the half-allowed batch stored nothing for alice either.
      const bob = yield* store.get("bob", bobs)
      assert.isTrue(Option.isSome(bob))
      assert.deepStrictEqual(Option.map(bob, (m) => [m.content, m.embedding, m.accessCount]), Option.some(["bob's secret plan", [1, 0, 0, 0], 0]))
      assert.strictEqual(yield* store.count("bob"), 1)
      assert.strictEqual(yield* store.count("alice"), 1)
      // Its own agent works.
      const own = yield* call(`${url}/v1/recall`, { token: ALICE, body: { agentId: "alice", text: "plan" } })
      assert.strictEqual(own.status, 200)
      assert.deepStrictEqual((field(own, "hits") as Array<{ memory: { id: string } }>).map((h) => h.memory.id), [alices])
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
      const narrowed = yield* call(`${url}/memory/search`, { token: TEAM, body: { query: "shared", limit: 10, agentId: "carol" } })
      assert.deepStrictEqual((field(narrowed, "results") as Array<{ agentId: string }>).map((x) => x.agentId), ["carol"])
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
      assert.isTrue(Either.isLeft(consolidate) && consolidate.left instanceof StorageError, "consolidation needs an unrestricted token")
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

describe("gateway: body limit", () => {
  const LIMIT = 4096

  it.scoped("a declared body over the limit is 413 and the connection closes; a body at the limit is accepted", () =>
    Effect.gen(function*() {
      const { url, store } = yield* startGateway({ maxBodyBytes: LIMIT })
      const over = yield* call(`${url}/v1/memories`, { token: ADMIN, body: { agentId: "a", content: "x".repeat(LIMIT), source: "system" } })
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
      const { response, closedByServer } = yield* rawExchange(port, head, Buffer.from(`${chunk.length.toString(16)}\r\n${chunk}\r\n`))
      assert.match(response, /^HTTP\/1\.1 413 /)
      assert.isTrue(closedByServer)
      const tooBig = yield* chunkedPost(url, "/v1/memories", ["{\"agentId\":\"a\",\"source\":\"system\",\"content\":\"", "z".repeat(LIMIT), "\"}"])
      assert.strictEqual(tooBig.status, 413)
      // Under the limit, a chunked body reaches the handler intact.
      const ok = yield* chunkedPost(url, "/v1/memories", ["{\"agentId\":\"a\",", "\"source\":\"system\",", "\"content\":\"chunked ✓\"}"])
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
      const structure = yield* call(`${url}/v1/memories`, { token: ADMIN, body: { agentId: "a", content: 5, source: "system" } })
      assert.strictEqual(structure.status, 400)
      assert.strictEqual(field(structure, "_tag"), "HttpApiDecodeError")
      const rule = yield* call(`${url}/v1/memories`, { token: ADMIN, body: { agentId: "a", content: "nul \u0000", source: "system" } })
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
    Layer.merge(
      Layer.succeed(SemanticStore, SemanticStore.of({
        embeddingSpace: embedding,
        remember: () => failure,
        rememberMany: () => failure,
        recall: () => failure,
        get: () => failure,
        forget: () => failure,
        updateEmbedding: () => failure,
        count: () => failure
      })),
      Layer.succeed(Consolidation, Consolidation.of({ consolidate: () => failure }))
    )
  const LEAKS = /SELECT|secret|hunter2|password|no such column|db\.internal|ECONNREFUSED|stack|cause|\bat .+:\d+/i

  const requests = (url: string): ReadonlyArray<readonly [string, Effect.Effect<Reply>]> => [
    ["remember", call(`${url}/v1/memories`, { token: ADMIN, body: { agentId: "a", content: "x", source: "system" } })],
    ["recall", call(`${url}/v1/recall`, { token: ADMIN, body: { agentId: "a" } })],
    ["get", call(`${url}/v1/memories/${SAMPLE_ID}?agentId=a`, { token: ADMIN })],
    ["consolidate", call(`${url}/v1/consolidate`, { token: ADMIN, body: {} })],
    ["memory/search", call(`${url}/memory/search`, { token: ADMIN, body: { query: "x", agentId: "a" } })]
  ]

  it.scoped("a StorageError becomes 500 with the public form: no SQL text, no cause, no stack", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway({}, failing(Effect.fail(storageError)))
      for (const [what, effect] of requests(url)) {
        const reply = yield* effect
        assert.strictEqual(reply.status, 500, what)
        assert.strictEqual(field(reply, "_tag"), "StorageError", what)
        assert.strictEqual(field(reply, "backend"), "sqlite", what)
        assert.deepStrictEqual(Object.keys(reply.json as object).sort(), ["_tag", "backend", "message", "operation"], what)
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
        headers: { origin: "https://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization" }
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
        headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" }
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
      const body = `{"content":"The user prefers dark mode","category":"episodic","agentId":"${AGENT}","source":"userprovided","importance":7,"tags":["preference","ui"]}`
      const reply = yield* call(`${url}/memory/store`, { token: ADMIN, raw: body })
      assert.strictEqual(reply.status, 200, reply.text)
      assert.deepStrictEqual(Object.keys(reply.json as object).sort(), ["deduplicated", "id"])
      assert.strictEqual(field(reply, "deduplicated"), false)
      const id = field(reply, "id")
      assert.isString(id)
      assert.match(id as string, UUID, "the client parses the id as a UUID string")
      const stored = yield* store.get(AGENT, id as string)
      assert.deepStrictEqual(
        Option.map(stored, (m) => ({ content: m.content, source: m.source, scope: m.scope, metadata: m.metadata, createdAt: m.createdAt })),
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
        raw: `{"content":"no tags here","category":"semantic","agentId":"${AGENT}","source":"conversation","importance":5}`
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
      const names = { conversation: "conversation", document: "document", observation: "observation", inference: "inference", userprovided: "user_provided", system: "system" }
      for (const [sent, expected] of Object.entries(names)) {
        const reply = yield* call(`${url}/memory/store`, { token: ADMIN, body: { content: `from ${sent}`, category: "episodic", agentId: AGENT, source: sent, importance: 5 } })
        assert.strictEqual(reply.status, 200, sent)
        assert.deepStrictEqual(Option.map(yield* store.get(AGENT, field(reply, "id") as string), (m) => m.source), Option.some(expected))
      }
      const bad = yield* call(`${url}/memory/store`, { token: ADMIN, body: { content: "x", category: "episodic", agentId: AGENT, source: "chat", importance: 5 } })
      assert.strictEqual(bad.status, 400)
      assert.deepStrictEqual([field(bad, "_tag"), field(bad, "field")], ["InvalidInput", "source"])
    }))

  it.scoped("POST /memory/search takes {query, limit, category} and answers {results, count} in the client's shape", () =>
    Effect.gen(function*() {
      const { url } = yield* startGateway()
      yield* TestClock.setTime(1_750_000_000_000)
      const stored = yield* call(`${url}/memory/store`, {
        token: ADMIN,
        raw: `{"content":"The user prefers dark mode","category":"episodic","agentId":"${AGENT}","source":"userprovided","importance":5}`
      })
      yield* TestClock.setTime(1_750_000_001_000)
      yield* call(`${url}/memory/store`, {
        token: ADMIN,
        raw: `{"content":"Dark mode is on in the editor","category":"procedural","agentId":"${AGENT}","source":"observation","importance":5}`
      })
      const reply = yield* call(`${url}/memory/search`, { token: ADMIN, raw: `{"query":"dark mode","limit":5,"category":"episodic"}` })
      assert.strictEqual(reply.status, 200, reply.text)
      const json = reply.json as { results: Array<Record<string, unknown>>; count: number }
      assert.deepStrictEqual(Object.keys(json).sort(), ["count", "results"])
      assert.strictEqual(json.count, 1)
      const hit = json.results[0]!
      assert.deepStrictEqual(Object.keys(hit).sort(), ["agentId", "category", "content", "createdAt", "id", "score"])
      assert.deepStrictEqual(
        { id: hit.id, content: hit.content, category: hit.category, createdAt: hit.createdAt, agentId: hit.agentId },
        { id: field(stored, "id"), content: "The user prefers dark mode", category: "episodic", createdAt: 1_750_000_000_000, agentId: AGENT }
      )
      assert.isNumber(hit.score)
      assert.isAbove(hit.score as number, 0)
      // Without the category both match; without any match the answer is empty, not an error.
      const both = yield* call(`${url}/memory/search`, { token: ADMIN, raw: `{"query":"dark mode","limit":5}` })
      assert.strictEqual(field(both, "count"), 2)
      const none = yield* call(`${url}/memory/search`, { token: ADMIN, raw: `{"query":"light theme","limit":5}` })
      assert.deepStrictEqual(none.json, { results: [], count: 0 })
    }))

  it.scoped("a store that cannot list its agents: an unrestricted search must name its agent; limited tokens still work", () =>
    Effect.gen(function*() {
      // Only SemanticStore and Consolidation, without SemanticStore.agents and without the admin service.
      const bare = Layer.unwrapScoped(Effect.gen(function*() {
        const services = yield* Layer.build(memoryLayer({ embedding }))
        const { agents: _unlisted, ...store } = Context.get(services, SemanticStore)
        return Layer.merge(
          Layer.succeed(SemanticStore, SemanticStore.of(store)),
          Layer.succeed(Consolidation, Context.get(services, Consolidation))
        )
      }))
      const { url } = yield* startGateway({}, bare)
      yield* remember(url, ADMIN, "alice", "listed nowhere")
      const anonymous = yield* call(`${url}/memory/search`, { token: ADMIN, body: { query: "listed" } })
      assert.strictEqual(anonymous.status, 400)
      assert.deepStrictEqual([field(anonymous, "_tag"), field(anonymous, "field")], ["InvalidInput", "agentId"])
      const named = yield* call(`${url}/memory/search`, { token: ADMIN, body: { query: "listed", agentId: "alice" } })
      assert.strictEqual(field(named, "count"), 1)
      const limited = yield* call(`${url}/memory/search`, { token: ALICE, body: { query: "listed" } })
      assert.strictEqual(field(limited, "count"), 1)
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
