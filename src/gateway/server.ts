/**
 * The gateway server (SPEC §5): the API of `Api.ts` on a Node HTTP server, over whatever provides
 * SemanticStore, Consolidation and SemanticStoreAdmin (every semantic backend does).
 *
 * - Bearer tokens are compared as SHA-256 digests with `timingSafeEqual`: every comparison has the
 *   same length, so neither a token's length nor its prefix leaks through timing, and no input can
 *   make the comparison throw. A token may be limited to a list of agents; every request is confined
 *   to its token's agents. Authorization is required unless explicitly disabled, which is only
 *   allowed on a loopback address.
 * - Request bodies are limited: a declared Content-Length over the limit is answered 413 before a
 *   byte is read; a chunked body is read until it passes the limit (limit + one chunk at most), then
 *   answered 413. Both close the connection, so the rest of the body is never read.
 * - A request without a valid token is refused before its body is read (every path but `/health`).
 * - CORS is off unless origins are listed; only a listed origin is ever echoed (never `*`).
 * - `/openapi.json` serves the OpenAPI document (it needs a token, like every route but `/health`).
 * - The server logs its address and where its token came from, never a token.
 * - Shutdown (Ctrl-C, or the end of the scope) does not wait on clients: connections without a
 *   request being answered are closed at once, requests in progress get `SHUTDOWN_GRACE_MS` to finish.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Context, Effect, Layer, Option, Redacted, Schema, type Scope } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingMessage, type Server } from "node:http"
import { isIP, type Socket } from "node:net"
import { describe } from "../core/storage.js"
import { ConfigError } from "../domain/errors.js"
import { AgentId } from "../domain/ids.js"
import type { SemanticStoreAdmin } from "../services/Admin.js"
import type { Consolidation } from "../services/Consolidation.js"
import type { SemanticStore } from "../services/SemanticStore.js"
import { EngramApi, Unauthorized } from "./Api.js"
import { ApiLive, type Authenticate } from "./Http.js"

/** A gateway token, optionally limited to a list of agents. */
export interface GatewayToken {
  readonly token: Redacted.Redacted<string>
  /** The agents this token may use; every agent when absent. */
  readonly agents?: ReadonlyArray<string> | undefined
}

/** How the gateway listens and whom it lets in. */
export interface GatewayOptions {
  /** Address to bind (default 127.0.0.1, loopback only). */
  readonly host?: string | undefined
  /** Port (default 5500; 0 picks a free port, see `GatewayAddress`). */
  readonly port?: number | undefined
  /** Accepted bearer tokens; at least one unless `authDisabled`. */
  readonly tokens?: ReadonlyArray<GatewayToken> | undefined
  /** Serve without authorization. Refused unless `host` is a loopback address. */
  readonly authDisabled?: boolean | undefined
  /** Largest request body in bytes (default 16 MiB: a 1 MiB memory can take up to 6 MiB as JSON). */
  readonly maxBodyBytes?: number | undefined
  /** Origins allowed to call from a browser (e.g. "https://app.example.com"); none by default. */
  readonly corsOrigins?: ReadonlyArray<string> | undefined
  /** Where the tokens came from, for the start-up log line (e.g. "ENGRAM_GATEWAY_TOKEN"). */
  readonly tokenSource?: string | undefined
}

/** Where a running gateway listens. */
export interface GatewayAddress {
  readonly host: string
  readonly port: number
  /** Base URL for clients, e.g. `http://127.0.0.1:5500`. */
  readonly url: string
}

/** The address of the gateway started by `GatewayLive`. */
export class Gateway extends Context.Tag("engram/gateway/Gateway")<Gateway, GatewayAddress>() {}

/** Loopback: the gateway is reachable from this machine only unless told otherwise. */
export const DEFAULT_HOST = "127.0.0.1"
/** The port of the memory-api examples, so that protocol's clients find engram where they expect it. */
export const DEFAULT_PORT = 5500
/** 16 MiB: room for a 1 MiB memory even when JSON escaping multiplies its size. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

/** Visible ASCII without spaces: what fits an `Authorization: Bearer` header unchanged. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/
const BEARER = /^Bearer +([\x21-\x7e]+) *$/i

/** True for addresses only this machine can reach. */
export const isLoopback = (host: string): boolean => {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  if (h === "localhost" || h === "::1") return true
  return isIP(h) === 4 && h.startsWith("127.")
}

interface Settings {
  readonly host: string
  readonly port: number
  readonly maxBodyBytes: number
  readonly corsOrigins: ReadonlyArray<string>
  readonly authenticate: Authenticate
  readonly authSummary: string
}

const sha256 = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest()

const configError = (path: string, message: string, allowed?: ReadonlyArray<string>) =>
  new ConfigError({ path, message, ...(allowed === undefined ? {} : { allowed }) })

const decodeAgent = Schema.decodeUnknownEither(AgentId)

/** Check the options and prepare the authenticator; every mistake is a ConfigError naming the option. */
const settingsOf = (options: GatewayOptions): Effect.Effect<Settings, ConfigError> =>
  Effect.gen(function*() {
    const host = options.host ?? DEFAULT_HOST
    const port = options.port ?? DEFAULT_PORT
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* configError("gateway.port", "must be an integer from 0 to 65535")
    }
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
      return yield* configError("gateway.maxBodyBytes", "must be a positive integer")
    }
    const corsOrigins = options.corsOrigins ?? []
    for (const [i, origin] of corsOrigins.entries()) {
      const parsed = URL.canParse(origin) ? new URL(origin) : undefined
      if (parsed === undefined || parsed.origin !== origin || parsed.origin === "null") {
        return yield* configError(
          `gateway.corsOrigins[${i}]`,
          "must be an origin such as https://app.example.com (scheme, host and port only; \"*\" is not accepted)"
        )
      }
    }
    const tokens = options.tokens ?? []
    if (options.authDisabled === true) {
      if (!isLoopback(host)) {
        return yield* configError("gateway.authDisabled", `authorization can only be disabled on a loopback address, not ${host}`)
      }
      if (tokens.length > 0) return yield* configError("gateway.tokens", "must be empty when authorization is disabled")
      return {
        host,
        port,
        maxBodyBytes,
        corsOrigins,
        authenticate: () => Effect.succeed({ agents: Option.none() }),
        authSummary: "authorization DISABLED (loopback only)"
      }
    }
    if (tokens.length === 0) {
      return yield* configError("gateway.tokens", "at least one token is required (or disable authorization on a loopback address)")
    }
    const entries: Array<{ readonly digest: Buffer; readonly agents: Option.Option<ReadonlySet<string>> }> = []
    for (const [i, t] of tokens.entries()) {
      const value = Redacted.value(t.token)
      if (!TOKEN_CHARS.test(value)) {
        return yield* configError(`gateway.tokens[${i}].token`, "must be non-empty visible ASCII without spaces")
      }
      const digest = sha256(value)
      if (entries.some((e) => timingSafeEqual(e.digest, digest))) {
        return yield* configError(`gateway.tokens[${i}].token`, "is listed twice")
      }
      let agents: Option.Option<ReadonlySet<string>> = Option.none()
      if (t.agents !== undefined) {
        if (t.agents.length === 0) return yield* configError(`gateway.tokens[${i}].agents`, "must list at least one agent")
        for (const [j, a] of t.agents.entries()) {
          if (decodeAgent(a)._tag === "Left") {
            return yield* configError(`gateway.tokens[${i}].agents[${j}]`, "must be a valid agent id (1–256 characters)")
          }
        }
        agents = Option.some(new Set(t.agents))
      }
      entries.push({ digest, agents })
    }
    const authenticate: Authenticate = (header) => {
      const match = header === undefined ? null : BEARER.exec(header)
      if (match === null) {
        return Effect.fail(new Unauthorized({ message: "a bearer token is required (Authorization: Bearer <token>)" }))
      }
      const presented = sha256(match[1]!)
      // Compare with every token, without stopping early, so timing says nothing about which matched.
      let found: (typeof entries)[number] | undefined
      for (const entry of entries) {
        if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry
      }
      return found === undefined
        ? Effect.fail(new Unauthorized({ message: "the bearer token is not valid" }))
        : Effect.succeed({ agents: found.agents })
    }
    const limited = entries.filter((e) => Option.isSome(e.agents)).length
    return {
      host,
      port,
      maxBodyBytes,
      corsOrigins,
      authenticate,
      authSummary: `bearer token from ${options.tokenSource ?? "the gateway options"} (${tokens.length} token(s)` +
        `${limited > 0 ? `, ${limited} limited to agents` : ""})`
    }
  })

// ---------------------------------------------------------------------------- request filters

const errorResponse = (status: number, body: Record<string, unknown>, close = false) =>
  HttpServerResponse.unsafeJson(body, { status, ...(close ? { headers: { connection: "close" } } : {}) })

const tooLarge = (limit: number) =>
  errorResponse(413, {
    _tag: "PayloadTooLarge",
    limit,
    message: `the request body is larger than the gateway's limit of ${limit} bytes`
  }, true)

const badBody = (message: string) => errorResponse(400, { _tag: "InvalidInput", field: "body", message })

/** Read a chunked body, stopping (and pausing the socket) as soon as it passes `limit` bytes. */
const readAtMost = (incoming: IncomingMessage, limit: number): Effect.Effect<Option.Option<Buffer>, Error> =>
  Effect.async((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      incoming.off("data", onData)
      incoming.off("end", onEnd)
      incoming.off("error", onError)
      incoming.off("close", onClose)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        incoming.pause()
        resume(Effect.succeed(Option.none()))
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Option.some(Buffer.concat(chunks))))
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(error))
    }
    const onClose = () => {
      cleanup()
      resume(Effect.fail(new Error("the client closed the connection during the request body")))
    }
    incoming.on("data", onData)
    incoming.once("end", onEnd)
    incoming.once("error", onError)
    incoming.once("close", onClose)
    return Effect.sync(cleanup)
  })

const isJson = (request: HttpServerRequest.HttpServerRequest) => {
  const type = request.headers["content-type"]
  // HttpApi reads a body without a content type as JSON, so it is checked as JSON too.
  return type === undefined || type.toLowerCase().includes("application/json")
}

/** The bytes of a chunked request body, read (within the limit) before routing. */
class BufferedBody extends Context.Tag("engram/gateway/BufferedBody")<BufferedBody, Buffer>() {}

/**
 * Enforce the body limit on every request, before anything else answers it. A chunked body is read
 * here and handed on as BufferedBody (see `decodeBody`).
 */
const limitBody = (limit: number) => (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const declared = request.headers["content-length"]
    if (declared !== undefined) {
      // Node's parser has validated the header and never delivers more bytes than it declares.
      return Number(declared) > limit ? tooLarge(limit) : yield* app
    }
    if (request.headers["transfer-encoding"] === undefined) return yield* app
    const read = yield* Effect.either(readAtMost(NodeHttpServerRequest.toIncomingMessage(request), limit))
    if (read._tag === "Left") return badBody("the request body could not be read")
    if (Option.isNone(read.right)) return tooLarge(limit)
    return yield* Effect.provideService(app, BufferedBody, read.right.value)
  })

/**
 * Inside the API (so the server still answers through the original Node request): give HttpApi a
 * request holding a chunked body read by `limitBody`, and answer a body that is not JSON with 400
 * here (HttpApi would turn the parse failure into a defect, i.e. a 500).
 */
const decodeBody = (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const buffered = yield* Effect.serviceOption(BufferedBody)
    let effective = request
    if (Option.isSome(buffered)) {
      const headers = new Headers()
      for (const [k, v] of Object.entries(request.headers)) {
        if (k !== "transfer-encoding" && k !== "content-length") headers.set(k, v)
      }
      const replay = HttpServerRequest.fromWeb(
        new Request(`http://gateway${request.url}`, { method: request.method, headers, body: buffered.value })
      )
      effective = Option.match(request.remoteAddress, {
        onNone: () => replay,
        onSome: (remoteAddress) => replay.modify({ remoteAddress })
      })
    }
    const hasBody = Option.isSome(buffered) || Number(request.headers["content-length"] ?? "0") > 0
    if (hasBody && isJson(effective)) {
      // `text` is cached on the request, so HttpApi reads these same bytes again without I/O.
      const text = yield* Effect.either(effective.text)
      if (text._tag === "Left") return badBody("the request body could not be read")
      try {
        JSON.parse(text.right)
      } catch {
        return badBody("is not valid JSON")
      }
    }
    return yield* (effective === request ? app : Effect.provideService(app, HttpServerRequest.HttpServerRequest, effective))
  })

/** The path as the router sees it (no URL parsing: "//host/health" must not read as "/health"). */
const pathOf = (request: HttpServerRequest.HttpServerRequest) => request.url.split("?")[0] ?? ""

/** The one route open to everyone (the memory-api protocol checks health without a token). */
const PUBLIC_PATHS: ReadonlySet<string> = new Set(["/health"])

/**
 * Refuse a request without a valid token before its body is read, on every path but `/health`
 * (unknown paths included: nothing about the API is told to an anonymous caller). The connection of
 * a refused request with a body is closed, so the body is never read. HttpApi's Authorization
 * middleware checks again and tells the handlers which agents the token may use.
 */
const authorizeEarly = (authenticate: Authenticate) => (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (PUBLIC_PATHS.has(pathOf(request))) return yield* app
    const caller = yield* Effect.either(authenticate(request.headers.authorization))
    if (caller._tag === "Right") return yield* app
    const hasBody = request.headers["transfer-encoding"] !== undefined || Number(request.headers["content-length"] ?? "0") > 0
    return errorResponse(401, { _tag: "Unauthorized", message: caller.left.message }, hasBody)
  })

/** Serve the OpenAPI document at `/openapi.json` to authorized callers. */
const openApiRoute = (authenticate: Authenticate, document: OpenApi.OpenAPISpec) => (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.method !== "GET" || pathOf(request) !== "/openapi.json") return yield* app
    const caller = yield* Effect.either(authenticate(request.headers.authorization))
    if (caller._tag === "Left") return errorResponse(401, { _tag: "Unauthorized", message: caller.left.message })
    return HttpServerResponse.unsafeJson(document)
  })

const withCors = (origins: ReadonlyArray<string>) => (app: HttpApp.Default): HttpApp.Default => {
  if (origins.length === 0) return app
  const allowed = new Set(origins)
  // The predicate form echoes the request's origin only when it is listed; with a plain list of one
  // origin, HttpMiddleware.cors would send that origin to everyone.
  return HttpMiddleware.cors({
    allowedOrigins: (origin) => allowed.has(origin),
    allowedMethods: ["GET", "POST", "PUT", "DELETE"],
    allowedHeaders: ["authorization", "content-type"],
    maxAge: 600
  })(app)
}

/** How long shutdown waits for requests in progress before it closes their connections. */
export const SHUTDOWN_GRACE_MS = 5_000

/**
 * Track the server's connections and how many requests each is answering, so shutdown can close
 * them itself. Node's `server.close()` waits for every connection to end but closes only those it
 * counts as idle at that moment, so after Ctrl-C (measured with `engram serve`):
 * - a keep-alive connection whose request was still arriving stayed open after its answer until the
 *   client dropped it (3.2 s with fetch's 4 s keep-alive);
 * - a connection that had sent nothing yet (a browser's preconnect) or part of a request's head
 *   stayed until its client's own timeout (29.6 s for a client holding it 30 s).
 */
const trackConnections = (server: Server) => {
  const answering = new Map<Socket, number>()
  let closing = false
  let drained: (() => void) | undefined
  server.on("connection", (socket: Socket) => {
    answering.set(socket, 0)
    socket.once("close", () => {
      answering.delete(socket)
      if (answering.size === 0) drained?.()
    })
  })
  server.on("request", (request: IncomingMessage, response) => {
    const socket = request.socket
    if (!answering.has(socket)) return
    answering.set(socket, answering.get(socket)! + 1)
    response.once("close", () => {
      const left = answering.get(socket)
      if (left === undefined) return
      answering.set(socket, left - 1)
      // During shutdown a connection is closed once its last answer is out (end flushes it first).
      if (closing && left === 1) socket.end()
    })
  })
  /** Stop accepting, close connections without a request in progress, and wait (at most `graceMs`) for the rest. */
  const shutdown = (graceMs: number): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      closing = true
      if (server.listening) server.close()
      if (answering.size === 0) return resume(Effect.void)
      const timer = setTimeout(() => {
        for (const socket of answering.keys()) socket.destroy()
      }, graceMs)
      drained = () => {
        clearTimeout(timer)
        resume(Effect.void)
      }
      for (const [socket, n] of answering) {
        if (n === 0) socket.end()
      }
      // A client that ignores the end of its connection is cut off after the grace period too.
      return Effect.sync(() => clearTimeout(timer))
    })
  return { shutdown }
}

const urlOf = (hostname: string, port: number) => `http://${isIP(hostname) === 6 ? `[${hostname}]` : hostname}:${port}`

/**
 * Run the gateway for the life of the current scope and return where it listens. The handlers run
 * with the caller's services (including its Clock: under TestClock they see the test's time).
 */
export const serve = (
  options: GatewayOptions
): Effect.Effect<GatewayAddress, ConfigError, Scope.Scope | SemanticStore | Consolidation | SemanticStoreAdmin> =>
  Effect.gen(function*() {
    const settings = yield* settingsOf(options)
    const document = OpenApi.fromApi(EngramApi)
    const middleware = (app: HttpApp.Default): HttpApp.Default =>
      withCors(settings.corsOrigins)(
        authorizeEarly(settings.authenticate)(limitBody(settings.maxBodyBytes)(openApiRoute(settings.authenticate, document)(app)))
      )
    let connections: ReturnType<typeof trackConnections> | undefined
    const server = HttpApiBuilder.serve(middleware).pipe(
      Layer.provide(HttpApiBuilder.middleware(decodeBody)),
      Layer.provide(ApiLive(settings)),
      Layer.provideMerge(
        NodeHttpServer.layer(() => {
          const node = createServer({ headersTimeout: 20_000, requestTimeout: 120_000 })
          connections = trackConnections(node)
          return node
        }, {
          host: settings.host,
          port: settings.port
        })
      )
    )
    const context = yield* Layer.build(server).pipe(
      Effect.mapError((e) => configError("gateway", `cannot listen on ${settings.host}:${settings.port}: ${describe(e.cause)}`))
    )
    // Added after the server's own finalizer, so it runs first: when the server's close runs, every
    // connection is already gone and it has nothing to wait for.
    const tracked = connections
    if (tracked !== undefined) yield* Effect.addFinalizer(() => tracked.shutdown(SHUTDOWN_GRACE_MS))
    const address = Context.get(context, HttpServer.HttpServer).address
    const port = address._tag === "TcpAddress" ? address.port : settings.port
    const result: GatewayAddress = { host: settings.host, port, url: urlOf(settings.host, port) }
    yield* Effect.logInfo(`engram gateway listening on ${result.url}; ${settings.authSummary}` +
      `; CORS ${settings.corsOrigins.length === 0 ? "off" : `for ${settings.corsOrigins.join(", ")}`}`)
    return result
  })

/** The gateway as a layer: it serves while the layer lives and provides its address. */
export const GatewayLive = (
  options: GatewayOptions
): Layer.Layer<Gateway, ConfigError, SemanticStore | Consolidation | SemanticStoreAdmin> =>
  Layer.scoped(Gateway, serve(options))
