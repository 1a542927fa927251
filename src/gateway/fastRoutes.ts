/**
 * The gateway's hottest routes answered in front of HttpApi: `POST /v1/recall`, `POST /v1/memories`,
 * `POST /v1/memories/batch`, `POST /memory/store` and `POST /memory/search`. HttpApi's per-request work (router, security
 * middleware, the success schema's encoding of every returned memory, several fibers) cost more than
 * the store call itself, and a gateway under load spends its event loop on it. They are the same
 * endpoints, not other ones:
 *
 * - the body is decoded with the endpoint's own payload schema (Api.ts) — a remember body that is
 *   plainly valid without it (plainWire.ts) — and the flow is the one
 *   HttpApi's handler runs (`semanticFlows` in handlers.ts, `memoryApiFlows` in memoryApi.ts): the
 *   token's agents, the embedder, the group commit, the public error forms;
 * - whatever this path does not settle by itself — a chunked body, a refused token, a body that is
 *   not JSON, is nested too deeply or does not match the schema — goes on to HttpApi untouched
 *   (nothing has been called yet), so those answers stay exactly HttpApi's;
 * - a failure of the flow is encoded with its schema and the HTTP status Api.ts declares for it, as
 *   HttpApi encodes it;
 * - the answer is written as the endpoint's success schema encodes it: the memory-api answers and
 *   `{ id }` are plain JSON already; recall hits are written by hand in the wire form of
 *   `WireRecallHit` (vectors in Float32Base64) — the memories come from the store, already decoded.
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either, Option, Schema } from "effect"
import { tooDeep } from "../core/decode.js"
import { InvalidEmbedding, InvalidInput } from "../domain/errors.js"
import type { RecallHit } from "../domain/memory.js"
import {
  base64OfFloat32,
  Caller,
  Forbidden,
  MemoryApiSearchRequest,
  MemoryApiStoreRequest,
  PublicBackendUnavailable,
  PublicEmbedderError,
  PublicStorageError,
  RecallBody,
  RememberBody,
  RememberManyBody
} from "./Api.js"
import type { Authenticate } from "./auth.js"
import type { GatewayDeps } from "./deps.js"
import { semanticFlows } from "./handlers.js"
import { memoryApiFlows } from "./memoryApi.js"
import { plainRememberBody, plainRememberManyBody } from "./plainWire.js"
import { pathOf } from "./requests.js"

/** Every failure these routes' flows may end with, and its status as Api.ts declares it. */
const Failure = Schema.Union(
  InvalidInput,
  InvalidEmbedding,
  Forbidden,
  PublicStorageError,
  PublicBackendUnavailable,
  PublicEmbedderError
)
type Failure = typeof Failure.Type
const encodeFailure = Schema.encodeSync(Failure)
const STATUS: Record<Failure["_tag"], number> = {
  InvalidInput: 400,
  InvalidEmbedding: 400,
  Forbidden: 403,
  StorageError: 500,
  BackendUnavailable: 503,
  EmbedderError: 502
}

const json = (body: string, status = 200) => HttpServerResponse.text(body, { status, contentType: "application/json" })

/** A route: its path, and how it answers a parsed body (undefined: the body does not match, HttpApi answers). */
interface Route {
  readonly path: string
  readonly answer: (body: unknown) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, Caller> | undefined
}

/**
 * A route whose body is decoded with `payload` (or by `plain`, when it is plainly valid: see
 * plainWire.ts) and answered by `flow`, its success written by `write`.
 */
const route = <P, I, A>(
  path: string,
  payload: Schema.Schema<P, I>,
  flow: (payload: P) => Effect.Effect<A, Failure, Caller>,
  write: (a: A) => string = JSON.stringify,
  plain: (body: unknown) => P | undefined = () => undefined
): Route => {
  const decode = Schema.decodeUnknownEither(payload)
  return {
    path,
    answer: (body) => {
      const given = plain(body)
      const decoded = given === undefined ? decode(body) : Either.right(given)
      if (Either.isLeft(decoded)) return undefined
      return Effect.match(flow(decoded.right), {
        onSuccess: (a) => json(write(a)),
        onFailure: (e) => json(JSON.stringify(encodeFailure(e)), STATUS[e._tag])
      })
    }
  }
}

/** `{ hits }` in the wire form of the recall endpoint's success schema. */
const recallAnswer = (hits: ReadonlyArray<RecallHit>): string =>
  JSON.stringify({
    hits: hits.map(({ memory, score }) => ({
      memory: { ...memory, embedding: memory.embedding === null ? null : base64OfFloat32(memory.embedding) },
      score
    }))
  })

/** The routes over the gateway's dependencies. */
const routes = (deps: GatewayDeps): ReadonlyMap<string, Route> => {
  const semantic = semanticFlows(deps)
  const memoryApi = memoryApiFlows(deps)
  return new Map([
    route("/v1/recall", RecallBody, semantic.recall, recallAnswer),
    route(
      "/v1/memories",
      RememberBody,
      (p) => Effect.map(semantic.remember(p), (id) => ({ id })),
      JSON.stringify,
      plainRememberBody
    ),
    route(
      "/v1/memories/batch",
      RememberManyBody,
      (p) => Effect.map(semantic.rememberMany(p), (ids) => ({ ids })),
      JSON.stringify,
      plainRememberManyBody
    ),
    route("/memory/store", MemoryApiStoreRequest, memoryApi.store),
    route("/memory/search", MemoryApiSearchRequest, memoryApi.search)
  ].map((r) => [r.path, r]))
}

/** Serve the hot routes over `deps`, handing everything they do not settle to `app`. */
export const fastRoutes = (authenticate: Authenticate, deps: GatewayDeps) => {
  const table = routes(deps)
  return (app: HttpApp.Default): HttpApp.Default =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const hot = request.method === "POST" ? table.get(pathOf(request)) : undefined
      if (hot === undefined || request.headers["content-length"] === undefined) return yield* app
      // authorizeEarly (auth.ts) has authenticated the request in front of these routes.
      const early = yield* Effect.serviceOption(Caller)
      const caller = Option.isSome(early)
        ? Either.right(early.value)
        : yield* Effect.either(authenticate(request.headers.authorization))
      if (Either.isLeft(caller)) return yield* app
      // `text` is cached on the request: when HttpApi takes over, it reads the same bytes again.
      const text = yield* Effect.either(request.text)
      if (Either.isLeft(text)) return yield* app
      let parsed: unknown
      try {
        parsed = JSON.parse(text.right)
      } catch {
        return yield* app
      }
      // A body nested too deeply is refused by HttpApi's side (bodyLimit.ts) before any schema sees it.
      if (tooDeep(parsed) !== undefined) return yield* app
      const answer = hot.answer(parsed)
      return answer === undefined ? yield* app : yield* Effect.provideService(answer, Caller, caller.right)
    })
}
