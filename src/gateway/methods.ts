/**
 * A known path asked with a method it does not serve is answered 405 with an `Allow` header listing
 * the methods it does serve (HttpApi's router answers every unmatched request 404). The routes are
 * read from the API definition, so a new route is covered without a list to keep in step.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { EngramApi } from "./Api.js"
import { errorResponse, pathOf } from "./requests.js"

interface Route {
  readonly pattern: RegExp
  readonly methods: Set<string>
}

/** A route path (`/v1/memories/:id`) as a pattern matching one concrete path. */
const patternOf = (path: string): RegExp =>
  new RegExp(
    `^${
      path.split("/").map((part) => part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(
        "/"
      )
    }$`
  )

/** Every path of the API with the methods it serves; `extra` adds routes served outside HttpApi. */
export const routeTable = (
  extra: ReadonlyArray<readonly [method: string, path: string]> = []
): ReadonlyArray<Route> => {
  const byPath = new Map<string, Set<string>>()
  const add = (method: string, path: string) => {
    const methods = byPath.get(path) ?? new Set<string>()
    methods.add(method.toUpperCase())
    byPath.set(path, methods)
  }
  HttpApi.reflect(EngramApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => add(endpoint.method, endpoint.path)
  })
  for (const [method, path] of extra) add(method, path)
  return [...byPath].map(([path, methods]) => ({ pattern: patternOf(path), methods }))
}

/** The methods served on `path`, or undefined for a path the API does not have. */
export const allowedMethods = (routes: ReadonlyArray<Route>, path: string): ReadonlySet<string> | undefined => {
  let found: Set<string> | undefined
  for (const route of routes) {
    if (!route.pattern.test(path)) continue
    found ??= new Set()
    for (const m of route.methods) found.add(m)
  }
  return found
}

/**
 * Answer 405 (with `Allow`) for a known path asked with another method. HEAD is left to the router,
 * and OPTIONS to CORS in front of this.
 */
export const methodNotAllowed = (routes: ReadonlyArray<Route>) => (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const method = request.method.toUpperCase()
    if (method === "HEAD" || method === "OPTIONS") return yield* app
    const allowed = allowedMethods(routes, pathOf(request))
    if (allowed === undefined || allowed.has(method)) return yield* app
    const allow = [...allowed].sort().join(", ")
    return errorResponse(405, {
      _tag: "MethodNotAllowed",
      message: `${method} is not served on this path; it serves ${allow}`
    }).pipe(HttpServerResponse.setHeader("allow", allow))
  })
