/**
 * `POST /v1/recall` answered in front of HttpApi, because it is the gateway's hottest route and
 * HttpApi's per-request work (router, security middleware, the success schema's encoding of every
 * returned memory) cost more than the recall itself. It is the same endpoint, not another one:
 *
 * - the body is decoded with the endpoint's own schema (`RecallBody`), the token's agents are
 *   checked the same way (agentAccess.ts), the store is called the same way and its failures take
 *   their public forms (publicErrors.ts), encoded with their schemas and HTTP statuses as HttpApi
 *   encodes them;
 * - whatever this path does not settle by itself — a chunked body, a body that is not JSON or does
 *   not match the schema, a refused agent — goes on to HttpApi untouched (nothing has been called
 *   yet), so those answers stay exactly HttpApi's;
 * - the answer is written by hand in the wire form of `WireRecallHit` (vectors in Float32Base64);
 *   the memories come from the store, already decoded, so there is nothing to validate on the way out.
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either, Schema } from "effect"
import { tooDeep } from "../core/decode.js"
import { InvalidEmbedding, InvalidInput } from "../domain/errors.js"
import type { RecallHit } from "../domain/memory.js"
import type { SemanticStore } from "../services/SemanticStore.js"
import { allowAgent } from "./agentAccess.js"
import { Caller, PublicBackendUnavailable, PublicStorageError, RecallBody } from "./Api.js"
import type { Authenticate } from "./auth.js"
import type { GatewayEmbedding } from "./embedding.js"
import { publicErrors } from "./publicErrors.js"
import { pathOf } from "./requests.js"

const decodeQuery = Schema.decodeUnknownEither(RecallBody)

/** The errors the endpoint declares, with the statuses of Api.ts. */
const RecallFailure = Schema.Union(InvalidInput, InvalidEmbedding, PublicStorageError, PublicBackendUnavailable)
const encodeFailure = Schema.encodeSync(RecallFailure)
const STATUS: Record<Schema.Schema.Type<typeof RecallFailure>["_tag"], number> = {
  InvalidInput: 400,
  InvalidEmbedding: 400,
  StorageError: 500,
  BackendUnavailable: 503
}

const base64Of = (vector: ReadonlyArray<number>): string => {
  const bytes = Buffer.allocUnsafe(vector.length * 4)
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4)
  return bytes.toString("base64")
}

/** `{ hits }` in the wire form of the endpoint's success schema. */
const answer = (hits: ReadonlyArray<RecallHit>): string =>
  JSON.stringify({
    hits: hits.map(({ memory, score }) => ({
      memory: { ...memory, embedding: memory.embedding === null ? null : base64Of(memory.embedding) },
      score
    }))
  })

const json = (body: string, status = 200) => HttpServerResponse.text(body, { status, contentType: "application/json" })

/** Serve `POST /v1/recall` over `store`, handing everything it does not settle to `app`. */
export const fastRecall =
  (authenticate: Authenticate, store: SemanticStore["Type"], embedding: GatewayEmbedding) =>
  (app: HttpApp.Default): HttpApp.Default =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (
        request.method !== "POST" || pathOf(request) !== "/v1/recall" ||
        request.headers["content-length"] === undefined
      ) return yield* app
      const caller = yield* Effect.either(authenticate(request.headers.authorization))
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
      const query = decodeQuery(parsed)
      // A query the gateway's embedder must embed first takes HttpApi's path, which does that.
      if (Either.isLeft(query) || embedding.embedsQuery(query.right)) return yield* app
      const allowed = yield* Effect.either(Effect.provideService(allowAgent(query.right.agentId), Caller, caller.right))
      if (Either.isLeft(allowed)) return yield* app
      const result = yield* Effect.either(publicErrors("recall")(store.recall(query.right)))
      return Either.isRight(result)
        ? json(answer(result.right))
        : json(JSON.stringify(encodeFailure(result.left)), STATUS[result.left._tag])
    })
