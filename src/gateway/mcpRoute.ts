/**
 * `POST /mcp`: engram's MCP server over streamable HTTP, behind the gateway's bearer tokens. The
 * request reaches the McpServer confined to its token's agents (see src/mcp/server.ts). Only POST is
 * served: engram sends no server-initiated messages, so there is no event stream to GET (405, as the
 * MCP transport allows).
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Option } from "effect"
import type { McpHttp } from "../mcp/server.js"
import type { Authenticate } from "./auth.js"
import { errorResponse, pathOf } from "./requests.js"

/** The path the MCP endpoint is served on. */
export const MCP_PATH = "/mcp"

/** Serve `/mcp` with the MCP apps of `mcp` (when the gateway has them) in front of `app`. */
export const mcpRoute =
  (authenticate: Authenticate, mcp: Option.Option<McpHttp["Type"]>) => (app: HttpApp.Default): HttpApp.Default =>
    Option.match(mcp, {
      onNone: () => app,
      onSome: (servers) =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          if (pathOf(request) !== MCP_PATH) return yield* app
          if (request.method !== "POST") return HttpServerResponse.empty({ status: 405, headers: { allow: "POST" } })
          const caller = yield* Effect.either(authenticate(request.headers.authorization))
          if (caller._tag === "Left") return errorResponse(401, { _tag: "Unauthorized", message: caller.left.message })
          const serverApp = yield* servers.appFor(caller.right.agents)
          return yield* Effect.scoped(serverApp)
        })
    })
