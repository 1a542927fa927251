/**
 * The gateway server: the API of `Api.ts` on a Node HTTP server, over whatever provides
 * SemanticStore, Consolidation and SemanticStoreAdmin (every semantic backend does). In front of the
 * API, in order: CORS (cors.ts), early authorization (auth.ts), 405 for a known path asked with
 * another method (methods.ts), the body limit (bodyLimit.ts), the hot routes (fastRoutes.ts) and
 * `/openapi.json` (openApi.ts); the handlers are in handlers.ts; shutdown closes connections itself
 * (connections.ts). The server logs its address and where its token came from, never a token.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as OpenApi from "@effect/platform/OpenApi"
import { Context, Effect, Layer, type Scope } from "effect"
import { createServer } from "node:http"
import { isIP } from "node:net"
import { builtInTracer } from "../core/instrument.js"
import { describe } from "../core/storage.js"
import { ConfigError } from "../domain/errors.js"
import { McpHttp } from "../mcp/server.js"
import { SemanticStoreAdmin } from "../services/Admin.js"
import type { Consolidation } from "../services/Consolidation.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { EngramApi } from "./Api.js"
import { authorizeEarly } from "./auth.js"
import { decodeBody, limitBody } from "./bodyLimit.js"
import { SHUTDOWN_GRACE_MS, trackConnections } from "./connections.js"
import { withCors } from "./cors.js"
import { gatewayEmbedding } from "./embedding.js"
import { fastRoutes } from "./fastRoutes.js"
import { makeGroupCommit } from "./groupCommit.js"
import { ApiLive } from "./handlers.js"
import { mcpRoute } from "./mcpRoute.js"
import { methodNotAllowed, routeTable } from "./methods.js"
import { openApiRoute } from "./openApi.js"
import { type GatewayOptions, settingsOf } from "./settings.js"

export { type GatewayToken, isLoopback } from "./auth.js"
export { SHUTDOWN_GRACE_MS } from "./connections.js"
export { DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, type GatewayOptions } from "./settings.js"

/** Where a running gateway listens. */
export interface GatewayAddress {
  readonly host: string
  readonly port: number
  /** Base URL for clients, e.g. `http://127.0.0.1:5500`. */
  readonly url: string
}

/** The address of the gateway started by `GatewayLive`. */
export class Gateway extends Context.Tag("engram/gateway/Gateway")<Gateway, GatewayAddress>() {}

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
    // With McpHttp in the context (engram serve provides it), `POST /mcp` serves the MCP server.
    const mcp = yield* Effect.serviceOption(McpHttp)
    const store = yield* SemanticStore
    const deps = {
      store,
      admin: yield* SemanticStoreAdmin,
      embedding: yield* gatewayEmbedding,
      grouped: makeGroupCommit(store)
    }
    const routes = routeTable([["GET", "/openapi.json"]])
    const middleware = (app: HttpApp.Default): HttpApp.Default =>
      withCors(settings.corsOrigins)(
        authorizeEarly(settings.authenticate)(
          methodNotAllowed(routes)(
            limitBody(settings.maxBodyBytes)(
              fastRoutes(settings.authenticate, deps)(
                mcpRoute(settings.authenticate, mcp)(openApiRoute(settings.authenticate, document)(app))
              )
            )
          )
        )
      )
    let connections: ReturnType<typeof trackConnections> | undefined
    const tracing = yield* Effect.map(Effect.tracer, (tracer) => tracer !== builtInTracer)
    const server = HttpApiBuilder.serve(middleware).pipe(
      HttpMiddleware.withTracerDisabledWhen(() => !tracing),
      Layer.provide(HttpApiBuilder.middleware(EngramApi, decodeBody)),
      Layer.provide(ApiLive(settings, deps.grouped)),
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
      Effect.mapError((e) =>
        new ConfigError({
          path: "gateway",
          message: `cannot listen on ${settings.host}:${settings.port}: ${describe(e.cause)}`
        })
      )
    )
    // Added after the server's own finalizer, so it runs first: when the server's close runs, every
    // connection is already gone and it has nothing to wait for.
    const tracked = connections
    if (tracked !== undefined) yield* Effect.addFinalizer(() => tracked.shutdown(SHUTDOWN_GRACE_MS))
    const address = Context.get(context, HttpServer.HttpServer).address
    const port = address._tag === "TcpAddress" ? address.port : settings.port
    const result: GatewayAddress = { host: settings.host, port, url: urlOf(settings.host, port) }
    yield* Effect.logInfo(
      `engram gateway listening on ${result.url}; ${settings.authSummary}` +
        `; CORS ${settings.corsOrigins.length === 0 ? "off" : `for ${settings.corsOrigins.join(", ")}`}`
    )
    return result
  })

/** The gateway as a layer: it serves while the layer lives and provides its address. */
export const GatewayLive = (
  options: GatewayOptions
): Layer.Layer<Gateway, ConfigError, SemanticStore | Consolidation | SemanticStoreAdmin> =>
  Layer.scoped(Gateway, serve(options))
