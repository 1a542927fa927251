/** Raw requests and answers, for the filters that run in front of HttpApi (auth, body limit, OpenAPI). */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"

/** A JSON error answer; `close` ends the connection after it, so an unread body is never read. */
export const errorResponse = (status: number, body: Record<string, unknown>, close = false) =>
  HttpServerResponse.unsafeJson(body, { status, ...(close ? { headers: { connection: "close" } } : {}) })

/** The path as the router sees it (no URL parsing: "//host/health" must not read as "/health"). */
export const pathOf = (request: HttpServerRequest.HttpServerRequest) => request.url.split("?")[0] ?? ""
