/** `/openapi.json`: the OpenAPI document of the API, for authorized callers (like every route but `/health`). */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as OpenApi from "@effect/platform/OpenApi"
import { Effect } from "effect"
import type { Authenticate } from "./auth.js"
import { errorResponse, pathOf } from "./requests.js"

/** Serve the OpenAPI document at `/openapi.json` to authorized callers. */
export const openApiRoute =
  (authenticate: Authenticate, document: OpenApi.OpenAPISpec) => (app: HttpApp.Default): HttpApp.Default =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (request.method !== "GET" || pathOf(request) !== "/openapi.json") return yield* app
      const caller = yield* Effect.either(authenticate(request.headers.authorization))
      if (caller._tag === "Left") return errorResponse(401, { _tag: "Unauthorized", message: caller.left.message })
      return HttpServerResponse.unsafeJson(document)
    })
