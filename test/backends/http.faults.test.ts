/**
 * HttpSemanticLive against a fault-injecting proxy in front of a real gateway (reliability anchors
 * §7, goal G12): 500, 503, connection reset and a gateway that never answers. Every call must end
 * by its deadline (≤ timeout + 10 %) with a typed error, idempotent calls are retried (3 attempts),
 * consolidation is not, stores whose first answer was lost after the gateway stored them create
 * no duplicates, and an export or import whose answers are lost neither skips nor repeats a memory. The tests run under TestClock and never advance it: the deadlines must fire anyway.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Either, Layer, Redacted, Stream } from "effect"
import { createServer, type IncomingMessage, request as httpRequest, type ServerResponse } from "node:http"
import type { Socket } from "node:net"
import { inspect } from "node:util"
import { layer as httpLayer } from "../../src/backends/http/index.js"
import { layer as memoryLayer } from "../../src/backends/memory/index.js"
import type { EmbeddingSpace } from "../../src/domain/embedding.js"
import { BackendUnavailable, ConfigError, EmbeddingSpaceMismatch, StorageError } from "../../src/domain/errors.js"
import type { MemoryId } from "../../src/domain/ids.js"
import type { MemoryRecord } from "../../src/domain/transfer.js"
import { serve } from "../../src/gateway/server.js"
import { SemanticStoreAdmin } from "../../src/services/Admin.js"
import { Consolidation } from "../../src/services/Consolidation.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"

const embedding: EmbeddingSpace = { model: "faults", dimensions: 4 }
const TOKEN = "faults-token-0123456789"
const token = Redacted.make(TOKEN)
const TIMEOUT = 1_000

type Fault = "pass" | "500" | "503" | "reset" | "hang" | "lose"

interface Seen {
  readonly method: string
  readonly path: string
  readonly body: string
}

/**
 * An HTTP proxy to `upstream` that applies `rule` to each request: answer 500 or 503 itself, reset
 * the connection, never answer, forward, or forward and then drop the connection instead of
 * relaying the answer ("lose": the gateway did the work, the client never hears of it).
 */
const faultProxy = (upstream: string) =>
  Effect.acquireRelease(
    Effect.async<{
      readonly url: string
      readonly seen: Array<Seen>
      readonly setRule: (rule: (r: Seen) => Fault) => void
      readonly close: () => Promise<void>
    }>((resume) => {
      const seen: Array<Seen> = []
      let rule: (r: Seen) => Fault = () => "pass"
      const sockets = new Set<Socket>()
      const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, lose: boolean) => {
        const out = httpRequest(`${upstream}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
          const chunks: Array<Buffer> = []
          up.on("data", (c: Buffer) => chunks.push(c))
          up.on("end", () => {
            if (lose) return req.socket.resetAndDestroy()
            res.writeHead(up.statusCode ?? 502, up.headers).end(Buffer.concat(chunks))
          })
        })
        out.on("error", () => req.socket.destroy())
        out.end(body)
      }
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const body = Buffer.concat(chunks)
          const r = { method: req.method ?? "", path: (req.url ?? "").split("?")[0]!, body: body.toString() }
          seen.push(r)
          const json = (status: number, payload: unknown) =>
            res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload))
          switch (rule(r)) {
            case "500":
              return json(500, {
                _tag: "StorageError",
                backend: "sqlite",
                operation: "injected",
                message: "injected failure"
              })
            case "503":
              return json(503, { _tag: "BackendUnavailable", backend: "sqlite", message: "injected outage" })
            case "reset":
              return req.socket.resetAndDestroy()
            case "hang":
              return
            case "lose":
              return forward(req, res, body, true)
            case "pass":
              return forward(req, res, body, false)
          }
        })
      })
      server.on("connection", (s) => {
        sockets.add(s)
        s.on("close", () => sockets.delete(s))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          url: `http://127.0.0.1:${port}`,
          seen,
          setRule: (r) => void (rule = r),
          close: () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy()
              server.close(() => done())
            })
        }))
      })
    }),
    (proxy) => Effect.promise(proxy.close)
  )

/** A gateway over a fresh memory store, a proxy in front of it, and HttpSemanticLive through the proxy. */
const setup = (options: { readonly retries?: number } = {}) =>
  Effect.gen(function*() {
    const services = yield* Layer.build(memoryLayer({ embedding }))
    const gateway = yield* serve({ port: 0, tokens: [{ token }] }).pipe(Effect.provide(services))
    const proxy = yield* faultProxy(gateway.url)
    const client = yield* Layer.build(httpLayer({
      url: proxy.url,
      token,
      embedding,
      timeoutMs: TIMEOUT,
      consolidationTimeoutMs: TIMEOUT,
      ...(options.retries === undefined ? {} : { retries: options.retries })
    }))
    return {
      proxy,
      direct: Context.get(services, SemanticStore),
      directAdmin: Context.get(services, SemanticStoreAdmin),
      store: Context.get(client, SemanticStore),
      consolidation: Context.get(client, Consolidation),
      admin: Context.get(client, SemanticStoreAdmin)
    }
  })

const now = Effect.sync(() => performance.now())

/**
 * Run `effect`, returning its failure (a success fails the test), how long it took in real time, and
 * how late a plain timer of `TIMEOUT` started with it fired: on a loaded machine every timer of the
 * process fires late, the deadline's too, so that lateness is allowed on top of the deadline.
 */
const timedFailure = <E, R>(what: string, effect: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const started = yield* now
    const control = new Promise<number>((resolve) =>
      setTimeout(() => resolve(performance.now() - started - TIMEOUT), TIMEOUT)
    )
    const result = yield* Effect.either(effect)
    const elapsed = (yield* now) - started
    assert.isTrue(Either.isLeft(result), `${what} must fail`)
    const lateness = yield* Effect.promise(() => control)
    return { error: Either.isLeft(result) ? result.left : undefined, elapsed, lateness }
  })

const ID = "01900000-0000-7000-8000-0000000000f1"
const V = [1, 0, 0, 0]

const memoryRecord = (i: number): MemoryRecord => ({
  kind: "memory",
  id: `01900000-0000-7000-8000-${String(i).padStart(12, "0")}` as MemoryId,
  agentId: "a" as MemoryRecord["agentId"],
  content: `imported ${i}`,
  source: "document",
  scope: "episodic",
  metadata: {},
  confidence: 1,
  createdAt: i,
  accessedAt: i,
  accessCount: 0,
  embedding: [1, 0, 0, i]
})

/** One call of every operation, and the request each one sends (to count its attempts). */
const operations = (
  store: SemanticStore["Type"],
  consolidation: Consolidation["Type"],
  admin: SemanticStoreAdmin["Type"]
) =>
  [
    [
      "remember",
      "POST /v1/memories",
      true,
      store.remember({ agentId: "a", content: "x", source: "system", embedding: V })
    ],
    [
      "rememberMany",
      "POST /v1/memories/batch",
      true,
      store.rememberMany([{ agentId: "a", content: "y", source: "system" }])
    ],
    ["recall", "POST /v1/recall", true, store.recall({ agentId: "a", embedding: V })],
    ["get", `GET /v1/memories/${ID}`, true, store.get("a", ID)],
    ["forget", `DELETE /v1/memories/${ID}`, true, store.forget("a", ID)],
    ["updateEmbedding", `PUT /v1/memories/${ID}/embedding`, true, store.updateEmbedding("a", ID, V)],
    ["count", "POST /v1/count", true, store.count("a")],
    ["consolidate", "POST /v1/consolidate", false, consolidation.consolidate()],
    ["export", "GET /v1/admin/memories", true, Stream.runCollect(admin.export())],
    ["import", "POST /v1/admin/memories", true, admin.import([memoryRecord(1)])],
    ["purgeAgent", "POST /v1/admin/purge", true, admin.purgeAgent("a")],
    ["agents", "GET /v1/agents", true, admin.agents()]
  ] as const

/** The typed error each fault must end in. */
const expectedError: Record<Exclude<Fault, "pass" | "lose">, (e: unknown) => boolean> = {
  "500": (e) => e instanceof StorageError,
  "503": (e) => e instanceof BackendUnavailable,
  reset: (e) => e instanceof BackendUnavailable,
  hang: (e) => e instanceof BackendUnavailable
}

describe("HttpSemanticLive under faults", () => {
  for (const fault of ["500", "503", "reset", "hang"] as const) {
    it.scoped(
      `${fault}: every call ends by its deadline with a typed error; only idempotent calls are retried`,
      () =>
        Effect.gen(function*() {
          const { proxy, store, consolidation, admin } = yield* setup()
          proxy.setRule(() => fault)
          const ops = operations(store, consolidation, admin)
          const outcomes = yield* Effect.forEach(ops, ([name, , , effect]) => timedFailure(name, effect), {
            concurrency: "unbounded"
          })
          for (const [i, [name, route, idempotent]] of ops.entries()) {
            const { elapsed, error, lateness } = outcomes[i]!
            assert.isTrue(expectedError[fault](error), `${name}: ${String(error)}`)
            assert.notInclude(
              inspect(error, { depth: Infinity }),
              TOKEN,
              `${name}: the token must not appear in errors`
            )
            assert.isAtMost(
              elapsed,
              TIMEOUT * 1.1 + lateness,
              `${name} took ${elapsed.toFixed(0)} ms (timers ${lateness.toFixed(0)} ms late)`
            )
            if (fault === "hang") assert.isAtLeast(elapsed, TIMEOUT * 0.9, `${name} ended by its deadline, not earlier`)
            const attempts = proxy.seen.filter((r) => `${r.method} ${r.path}` === route).length
            // A hung attempt uses up the whole deadline, so it is never followed by another.
            const expected = fault === "hang" || !idempotent ? 1 : 3
            assert.strictEqual(attempts, expected, `${name} attempts`)
          }
        }),
      20_000
    )
  }

  it.scoped("a transient failure is retried and the call succeeds", () =>
    Effect.gen(function*() {
      const { proxy, store, direct } = yield* setup()
      let failures = 0
      proxy.setRule((r) => (r.path === "/v1/memories" && failures++ < 2 ? (failures === 1 ? "503" : "reset") : "pass"))
      const id = yield* store.remember({ agentId: "a", content: "third time lucky", source: "system" })
      assert.strictEqual(proxy.seen.filter((r) => r.path === "/v1/memories").length, 3)
      assert.strictEqual(yield* direct.count("a"), 1)
      assert.strictEqual((yield* store.get("a", id))._tag, "Some")
    }))

  it.scoped("stores whose first answer was lost after the gateway stored them create no duplicates", () =>
    Effect.gen(function*() {
      const { proxy, store, direct } = yield* setup()
      const answered = new Set<string>()
      // The first attempt of every store request reaches the gateway, which stores it; its answer
      // is dropped. The retry carries the same ids, so the gateway must treat it as a replay.
      proxy.setRule((r) => {
        if (r.method !== "POST" || (r.path !== "/v1/memories" && r.path !== "/v1/memories/batch")) return "pass"
        if (answered.has(r.body)) return "pass"
        answered.add(r.body)
        return "lose"
      })
      const single: Array<string> = []
      for (let i = 0; i < 30; i++) {
        const caller = i % 3 === 0 ? { id: `01900000-0000-7000-8000-${String(i).padStart(12, "0")}` } : {}
        single.push(yield* store.remember({ agentId: "a", content: `memory ${i}`, source: "system", ...caller }))
      }
      const batches: Array<ReadonlyArray<string>> = []
      for (let b = 0; b < 5; b++) {
        batches.push(
          yield* store.rememberMany(
            Array.from({ length: 10 }, (_, i) => ({
              agentId: "b",
              content: `batch ${b}.${i}`,
              source: "system" as const
            }))
          )
        )
      }
      const stores = proxy.seen.filter((r) => r.path === "/v1/memories" || r.path === "/v1/memories/batch")
      assert.strictEqual(stores.length, 2 * (30 + 5), "every store was sent twice")
      assert.strictEqual(yield* direct.count("a"), 30, "each single store exists once")
      assert.strictEqual(yield* direct.count("b"), 50, "each batch item exists once")
      assert.strictEqual(new Set([...single, ...batches.flat()]).size, 80)
      for (const [i, id] of single.entries()) {
        const m = yield* direct.get("a", id)
        assert.strictEqual(m._tag === "Some" ? m.value.content : undefined, `memory ${i}`)
      }
    }))

  it.scoped(
    "lost answers of import batches and export pages are retried: every memory exactly once",
    () =>
      Effect.gen(function*() {
        const { proxy, admin, directAdmin } = yield* setup()
        const records = Array.from({ length: 2500 }, (_, i) => memoryRecord(i))
        const answered = new Set<string>()
        // The first attempt of every batch is written by the gateway and its answer dropped.
        proxy.setRule((r) => {
          if (r.method !== "POST" || r.path !== "/v1/admin/memories" || answered.has(r.body)) return "pass"
          answered.add(r.body)
          return "lose"
        })
        yield* admin.import(records)
        assert.strictEqual(
          proxy.seen.filter((r) => r.method === "POST" && r.path === "/v1/admin/memories").length,
          2 * 3,
          "3 batches, each sent twice"
        )
        assert.deepStrictEqual([...yield* Stream.runCollect(directAdmin.export())], records)
        // Every other page request is served by the gateway and its answer dropped.
        let pages = 0
        proxy.setRule((
          r
        ) => (r.method === "GET" && r.path === "/v1/admin/memories" && pages++ % 2 === 0 ? "lose" : "pass"))
        assert.deepStrictEqual([...yield* Stream.runCollect(admin.export())], records)
        assert.strictEqual(pages, 2 * 3, "3 pages, each asked for twice")
      }),
    20_000
  )

  it.scoped("without retries a lost answer is a typed error, and the memory exists once", () =>
    Effect.gen(function*() {
      const { proxy, store, direct } = yield* setup({ retries: 0 })
      proxy.setRule((r) => (r.path === "/v1/memories" ? "lose" : "pass"))
      const { error } = yield* timedFailure(
        "remember",
        store.remember({ agentId: "a", content: "once", source: "system" })
      )
      assert.instanceOf(error, BackendUnavailable)
      assert.strictEqual(yield* direct.count("a"), 1)
    }))
})

describe("HttpSemanticLive while building", () => {
  it.scoped("an unreachable gateway is BackendUnavailable", () =>
    Effect.gen(function*() {
      // A port that was just free: nothing listens there.
      const port = yield* Effect.async<number>((resume) => {
        const s = createServer().listen(0, "127.0.0.1", () => {
          const address = s.address()
          s.close(() => resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0)))
        })
      })
      const { error, elapsed } = yield* timedFailure(
        "build",
        Layer.build(httpLayer({ url: `http://127.0.0.1:${port}`, token, embedding, timeoutMs: TIMEOUT }))
      )
      assert.instanceOf(error, BackendUnavailable)
      assert.strictEqual(error instanceof BackendUnavailable ? error.url : undefined, `http://127.0.0.1:${port}`)
      assert.match(String(error instanceof BackendUnavailable ? error.message : ""), /ECONNREFUSED/)
      // The error keeps no request (whose headers hold the token) anywhere in it.
      assert.notInclude(inspect(error, { depth: Infinity }), TOKEN)
      assert.notInclude(JSON.stringify(error), TOKEN)
      assert.isAtMost(elapsed, TIMEOUT * 1.1)
    }))

  it.scoped("a gateway that never answers is BackendUnavailable by the deadline, under TestClock", () =>
    Effect.gen(function*() {
      const services = yield* Layer.build(memoryLayer({ embedding }))
      const gateway = yield* serve({ port: 0, tokens: [{ token }] }).pipe(Effect.provide(services))
      const proxy = yield* faultProxy(gateway.url)
      proxy.setRule(() => "hang")
      const { error, elapsed } = yield* timedFailure(
        "build",
        Layer.build(httpLayer({ url: proxy.url, token, embedding, timeoutMs: TIMEOUT }))
      )
      assert.instanceOf(error, BackendUnavailable)
      assert.isAtLeast(elapsed, TIMEOUT * 0.9)
      assert.isAtMost(elapsed, TIMEOUT * 1.1)
    }))

  it.scoped("another embedding space is EmbeddingSpaceMismatch; a refused token is a ConfigError", () =>
    Effect.gen(function*() {
      const services = yield* Layer.build(memoryLayer({ embedding }))
      const gateway = yield* serve({ port: 0, tokens: [{ token }] }).pipe(Effect.provide(services))
      const mismatch = yield* timedFailure(
        "space",
        Layer.build(httpLayer({ url: gateway.url, token, embedding: { model: "faults", dimensions: 8 } }))
      )
      assert.instanceOf(mismatch.error, EmbeddingSpaceMismatch)
      assert.deepStrictEqual(
        mismatch.error instanceof EmbeddingSpaceMismatch
          ? [mismatch.error.expected.dimensions, mismatch.error.actual.dimensions]
          : [],
        [8, 4]
      )
      const refused = yield* timedFailure(
        "token",
        Layer.build(httpLayer({ url: gateway.url, token: Redacted.make("wrong-token"), embedding }))
      )
      assert.instanceOf(refused.error, ConfigError)
      assert.strictEqual(refused.error instanceof ConfigError ? refused.error.path : undefined, "http.token")
      assert.notInclude(String(refused.error instanceof ConfigError ? refused.error.message : ""), "wrong-token")
      const badUrl = yield* timedFailure("url", Layer.build(httpLayer({ url: "ftp://example", token, embedding })))
      assert.strictEqual(badUrl.error instanceof ConfigError ? badUrl.error.path : undefined, "http.url")
    }))
})
