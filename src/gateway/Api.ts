/**
 * The engram gateway's HTTP contract: the semantic API that `HttpSemanticLive`
 * calls, consolidation, the administrative routes (listing agents, purging one, and paged export /
 * batch import of memories for `engram copy`), the store's info, health, and the memory-api
 * compatibility routes (memoryApi.ts). Imported by the gateway (which implements it) and by the HTTP backend (which
 * derives its client from it), and nothing server-only lives here.
 *
 * Validation: request bodies are checked here for their JSON structure only (the encoded side of the
 * domain schemas); every rule beyond structure (lengths, NUL, UUIDs, vectors, ranges) is left to the
 * store, which decodes its input at the boundary like every backend, so one input gets the same
 * classification wherever it is stored. A body whose structure is wrong gets 400 `HttpApiDecodeError`.
 * The one exception is the import of memories: `SemanticStoreAdmin.import` takes decoded records, so
 * that body is decoded here with the full `MemoryRecord` schema (a record breaking any rule is 400
 * `HttpApiDecodeError` naming its path, e.g. `records.3.content`).
 *
 * Errors in bodies are the public forms below: none has a `cause`, so no SQL text, driver message or
 * stack trace leaves the gateway (the full error is logged on the server).
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import { Context, type Option, ParseResult, Schema } from "effect"
import { Embedding, EmbeddingInput, EmbeddingSpace } from "../domain/embedding.js"
import { BackendName, InvalidEmbedding, InvalidInput, MemoryNotFound } from "../domain/errors.js"
import { AgentId, MemoryId } from "../domain/ids.js"
import {
  ConsolidationOptions,
  ConsolidationReport,
  Memory,
  MemoryFilter,
  RecallQuery,
  RememberInput
} from "../domain/memory.js"
import { MemoryRecord } from "../domain/transfer.js"

// ---------------------------------------------------------------------------- public errors

/** No bearer token, a malformed Authorization header, or a token the gateway does not know. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 401 })) {}

/** The token is valid but may not act on this agent (or, for consolidation, export and import, on every agent). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 403 })) {}

/** The request body is larger than the gateway accepts (`limit` bytes). */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  limit: Schema.Number,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 413 })) {}

/**
 * The gateway's store failed. The public form of `StorageError`: same tag, no cause, and a message
 * the gateway writes itself (never the driver's text).
 */
export class PublicStorageError extends Schema.TaggedError<PublicStorageError>()("StorageError", {
  backend: BackendName,
  operation: Schema.String,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 500 })) {}

/** The gateway's store is unreachable. The public form of `BackendUnavailable` (no URL, no cause). */
export class PublicBackendUnavailable extends Schema.TaggedError<PublicBackendUnavailable>()("BackendUnavailable", {
  backend: BackendName,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 503 })) {}

/**
 * `MemoryNotFound` on the wire: the error's fields plus its `message`, so a 404 says what was not
 * found (the domain error computes its message, which its own schema does not encode).
 */
export const WireMemoryNotFound = Schema.transform(
  Schema.Struct({
    _tag: Schema.Literal("MemoryNotFound"),
    agentId: Schema.String,
    memoryId: Schema.String,
    message: Schema.optional(Schema.String)
  }),
  Schema.instanceOf(MemoryNotFound),
  {
    strict: true,
    decode: (wire) => new MemoryNotFound({ agentId: wire.agentId, memoryId: wire.memoryId }),
    encode: (e) => ({ _tag: "MemoryNotFound" as const, agentId: e.agentId, memoryId: e.memoryId, message: e.message })
  }
).annotations({ identifier: "MemoryNotFound" })

/**
 * The gateway's embedding model failed (unreachable, rate-limited past its retries, or answering
 * vectors of another space). The public form of `EmbedderError`: no cause, the model's name only.
 */
export class PublicEmbedderError extends Schema.TaggedError<PublicEmbedderError>()("EmbedderError", {
  model: Schema.String,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 502 })) {}

// ---------------------------------------------------------------------------- authorization

/** What the request's token may do: `agents` is None for a token that may use every agent. */
export class Caller extends Context.Tag("engram/gateway/Caller")<Caller, {
  readonly agents: Option.Option<ReadonlySet<string>>
}>() {}

/** Bearer-token authorization of every route except `/health`. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("engram/gateway/Authorization", {
  failure: Unauthorized,
  provides: Caller,
  security: {
    bearer: HttpApiSecurity.bearer.pipe(
      HttpApiSecurity.annotate(OpenApi.Description, "A gateway token (`Authorization: Bearer <token>`).")
    )
  }
}) {}

// ---------------------------------------------------------------------------- bodies

/** A vector's float32 values, little-endian, in base64: the wire form of `Float32Base64`. */
export const base64OfFloat32 = (vector: ReadonlyArray<number> | Float32Array): string => {
  const floats = vector instanceof Float32Array ? vector : new Float32Array(vector)
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString("base64")
}

/**
 * The float32 values of `Float32Base64` text, or undefined when its bytes are not whole float32
 * values. Copied into an aligned array: a decoded Buffer may start at any byte of its pool. Typed
 * arrays use the platform's byte order; engram assumes little-endian throughout, as its SQLite blobs do.
 */
export const float32OfBase64 = (text: string): Float32Array | undefined => {
  const bytes = Buffer.from(text, "base64")
  if (bytes.byteLength % 4 !== 0) return undefined
  const floats = new Float32Array(bytes.byteLength >>> 2)
  new Uint8Array(floats.buffer).set(bytes)
  return floats
}

/** `float32OfBase64` as numbers (a loop: a few times faster than `readFloatLE` per value). */
export const numbersOfBase64 = (text: string): Array<number> | undefined => {
  const floats = float32OfBase64(text)
  if (floats === undefined) return undefined
  const vector = new Array<number>(floats.length)
  for (let i = 0; i < floats.length; i++) vector[i] = floats[i]!
  return vector
}

/**
 * A stored vector on the wire: base64 of its float32 values, little-endian. Stored vectors are float32
 * already, so this is exact, and it is about a quarter of the JSON array's size and far cheaper to
 * encode and parse — a top-10 recall of 384-dimensional memories shrinks from ~83 KB to ~25 KB.
 */
const float32Base64 = <V extends ReadonlyArray<number> | Float32Array>(vector: Schema.Schema<V>) =>
  Schema.transformOrFail(Schema.String, vector, {
    strict: true,
    decode: (text, _, ast) => {
      const vector = numbersOfBase64(text)
      return vector === undefined
        ? ParseResult.fail(
          new ParseResult.Type(ast, text, "is not base64 of float32 values (length not a multiple of 4)")
        )
        : ParseResult.succeed(vector as ReadonlyArray<number> as V)
    },
    encode: (vector) => ParseResult.succeed(base64OfFloat32(vector))
  }).annotations({ identifier: "Float32Base64", description: "float32 values, little-endian, base64" })

export const Float32Base64 = float32Base64(Embedding)

/**
 * A vector in a request: `Float32Base64` or a JSON array of numbers. `HttpSemanticLive` sends base64:
 * the core has rounded its vectors to float32 before they leave, so nothing is lost, and a batch of
 * 500 memories of 384 dimensions shrinks from ~4 MB of JSON to ~1.1 MB, which both sides parse and
 * write several times faster.
 */
export const WireVector = Schema.Union(float32Base64(EmbeddingInput), EmbeddingInput)

/** A structure-only request schema whose `embedding` may also be `Float32Base64`. */
const withWireVector = <A, I extends { readonly embedding?: unknown }>(
  schema: Schema.Schema<A, I>,
  identifier: string
) =>
  Schema.extend(
    Schema.encodedSchema(schema).pipe(Schema.omit("embedding")),
    Schema.Struct({ embedding: Schema.optional(WireVector) })
  ).annotations({ identifier, parseOptions: { onExcessProperty: "error" } })

/**
 * Structure-only request schemas: the encoded side of the domain schemas, refusing unknown keys as
 * the domain does.
 */
const strict = <A, I>(schema: Schema.Schema<A, I>, identifier: string) =>
  Schema.encodedSchema(schema).annotations({ identifier, parseOptions: { onExcessProperty: "error" } })

/** A memory to remember. Give `id` (a UUID you mint, ideally v7) to make retries safe: a replay stores nothing. */
export const RememberBody = withWireVector(RememberInput, "RememberInput")
/** Many memories in one request and one transaction; ids come back in input order. */
export const RememberManyBody = Schema.Struct({ inputs: Schema.Array(RememberBody) })
/** A recall query, as `SemanticStore.recall` takes it. */
export const RecallBody = withWireVector(RecallQuery, "RecallQuery")
/**
 * One query recalled in several agents (`SemanticStore.recallAgents`): the answer holds one list of
 * hits per agent, in the order of `agentIds`.
 */
export const RecallAgentsBody = Schema.Struct({
  agentIds: Schema.Array(Schema.String),
  query: withWireVector(RecallQuery.omit("agentId"), "RecallAgentsQuery")
})
/** One agent's memory count under an optional filter. */
export const CountBody = Schema.Struct({
  agentId: Schema.String,
  filter: Schema.optional(strict(MemoryFilter, "MemoryFilter"))
})
/** A memory as the gateway returns it (its vector in `Float32Base64`). */
export const WireMemory = Schema.Struct({ ...Memory.fields, embedding: Schema.NullOr(Float32Base64) })

/** A recall hit as the gateway returns it. */
export const WireRecallHit = Schema.Struct({ memory: WireMemory, score: Schema.Number })

/** `POST /v1/memories` answer: the memory's id. */
export const RememberAnswer = Schema.Struct({ id: MemoryId })
/** `POST /v1/memories/batch` answer: the ids, in input order. */
export const RememberManyAnswer = Schema.Struct({ ids: Schema.Array(MemoryId) })
/** `POST /v1/recall` answer. */
export const RecallAnswer = Schema.Struct({ hits: Schema.Array(WireRecallHit) })
/** `POST /v1/recall/agents` answer: one list of hits per agent, in the order asked. */
export const RecallAgentsAnswer = Schema.Struct({ hits: Schema.Array(Schema.Array(WireRecallHit)) })

/** The new vector of a memory (`PUT /v1/memories/:id/embedding`). */
export const EmbeddingBody = Schema.Struct({ agentId: Schema.String, embedding: WireVector })
/** Consolidation options; `{}` for the defaults. */
export const ConsolidateBody = strict(ConsolidationOptions, "ConsolidationOptions")
const AgentParam = Schema.Struct({ agentId: Schema.String })
const IdPath = Schema.Struct({ id: Schema.String })

/** What `GET /v1/info` answers: the store's embedding space (the client checks it) and the body limit. */
export const GatewayInfo = Schema.Struct({
  embedding: EmbeddingSpace,
  maxBodyBytes: Schema.Int,
  version: Schema.String
})
export type GatewayInfo = typeof GatewayInfo.Type

// ---------------------------------------------------------------------------- administration

/** Most memories one export page holds, whatever `limit` asks for. */
export const MAX_EXPORT_PAGE = 1000

/**
 * `GET /v1/admin/memories`: the page of the export after the memory `after` (from the first memory
 * when absent), at most `limit` memories (default and maximum `MAX_EXPORT_PAGE`).
 */
export const ExportParams = Schema.Struct({
  after: Schema.optional(MemoryId),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, MAX_EXPORT_PAGE)))
})

/**
 * One page of the export: memories (with their embeddings) in id order, and `next`, the `after` of
 * the following page — null once the export is complete. A page may hold fewer than `limit`
 * memories without being the last (the gateway also ends a page at a size in bytes); only
 * `next: null` ends the export.
 */
export const ExportPage = Schema.Struct({
  memories: Schema.Array(MemoryRecord),
  next: Schema.NullOr(MemoryId)
})

/**
 * `POST /v1/admin/memories`: memories written verbatim (ids, counters, timestamps and embeddings
 * kept), replacing any memory with the same id, in one transaction of the gateway's store. The whole
 * body must fit the gateway's body limit (`maxBodyBytes` of `GET /v1/info`): `HttpSemanticLive`
 * sends batches of at most `MAX_IMPORT_BATCH` records whose JSON fits that limit.
 */
export const ImportBody = Schema.Struct({ records: Schema.Array(MemoryRecord) })

/** Most records `HttpSemanticLive` puts in one import request (fewer when they would pass the body limit). */
export const MAX_IMPORT_BATCH = 1000

/** `POST /v1/admin/purge`: forget every memory of one agent. */
export const PurgeBody = Schema.Struct({ agentId: Schema.String })

// ---------------------------------------------------------------------------- memory-api protocol

/**
 * memory-api store request. `source` is the protocol's lower-cased variant name
 * (`userprovided` is accepted for `user_provided`); `importance` and `tags` go into the metadata.
 * Unknown keys are ignored, as that protocol's servers do.
 */
export const MemoryApiStoreRequest = Schema.Struct({
  content: Schema.String,
  category: Schema.optional(Schema.String),
  agentId: Schema.String,
  source: Schema.optional(Schema.String),
  importance: Schema.optional(Schema.Number),
  tags: Schema.optional(Schema.Array(Schema.String))
})
/** memory-api store answer; engram never deduplicates, so `deduplicated` is always false. */
export const MemoryApiStoreResponse = Schema.Struct({ id: Schema.String, deduplicated: Schema.Boolean })

/** memory-api search request; `agentId` (an engram extension) narrows the agents searched. */
export const MemoryApiSearchRequest = Schema.Struct({
  query: Schema.String,
  limit: Schema.optional(Schema.Number),
  category: Schema.optional(Schema.String),
  agentId: Schema.optional(Schema.String)
})
/** One result; `agentId` is the memory's real owner. */
export const MemoryApiSearchResult = Schema.Struct({
  id: Schema.String,
  content: Schema.String,
  category: Schema.String,
  score: Schema.Number,
  createdAt: Schema.Number,
  agentId: Schema.String
})
/** memory-api search answer: the results, best first, and how many there are. */
export const MemoryApiSearchResponse = Schema.Struct({
  results: Schema.Array(MemoryApiSearchResult),
  count: Schema.Number
})

/** `GET /health` answer: `{"status":"ok"}` while the gateway serves. */
export const HealthResponse = Schema.Struct({ status: Schema.String })

// ---------------------------------------------------------------------------- groups

/** `group` behind the bearer token, with the failures every authorized route may answer. */
const authorized = <Id extends string, Endpoints extends HttpApiEndpoint.HttpApiEndpoint.Any, E, R>(
  group: HttpApiGroup.HttpApiGroup<Id, Endpoints, E, R>
) =>
  group.middleware(Authorization)
    .addError(InvalidInput, { status: 400 })
    .addError(Forbidden)
    .addError(PublicStorageError)
    .addError(PublicBackendUnavailable)

/** The SemanticStore over HTTP (`/v1`). */
export class SemanticGroup extends authorized(
  HttpApiGroup.make("semantic")
    .add(
      HttpApiEndpoint.post("remember", "/memories")
        .setPayload(RememberBody)
        .addSuccess(RememberAnswer)
    )
    .add(
      HttpApiEndpoint.post("rememberMany", "/memories/batch")
        .setPayload(RememberManyBody)
        .addSuccess(RememberManyAnswer)
    )
    .add(
      HttpApiEndpoint.post("recall", "/recall")
        .setPayload(RecallBody)
        .addSuccess(RecallAnswer)
    )
    .add(
      HttpApiEndpoint.post("recallAgents", "/recall/agents")
        .setPayload(RecallAgentsBody)
        .addSuccess(RecallAgentsAnswer)
    )
    .add(
      HttpApiEndpoint.get("get", "/memories/:id")
        .setPath(IdPath)
        .setUrlParams(AgentParam)
        .addSuccess(Schema.Struct({ memory: Schema.NullOr(WireMemory) }))
    )
    .add(
      HttpApiEndpoint.del("forget", "/memories/:id")
        .setPath(IdPath)
        .setUrlParams(AgentParam)
        .addSuccess(Schema.Struct({ forgotten: Schema.Boolean }))
    )
    .add(
      HttpApiEndpoint.put("updateEmbedding", "/memories/:id/embedding")
        .setPath(IdPath)
        .setPayload(EmbeddingBody)
        .addSuccess(HttpApiSchema.NoContent)
        .addError(WireMemoryNotFound, { status: 404 })
    )
    .add(
      HttpApiEndpoint.post("count", "/count")
        .setPayload(CountBody)
        .addSuccess(Schema.Struct({ count: Schema.Number }))
    )
    .add(HttpApiEndpoint.get("info", "/info").addSuccess(GatewayInfo))
)
  .addError(InvalidEmbedding, { status: 400 })
  .addError(PublicEmbedderError)
  .prefix("/v1")
{}

/** Decay and merge on the gateway's store (`POST /v1/consolidate`); needs a token not limited to agents. */
export class ConsolidationGroup extends authorized(
  HttpApiGroup.make("consolidation")
    .add(
      HttpApiEndpoint.post("consolidate", "/consolidate")
        .setPayload(ConsolidateBody)
        .addSuccess(ConsolidationReport)
    )
)
  .prefix("/v1")
{}

/**
 * The semantic store's administration (`/v1`). Listing agents and purging one are confined to the
 * token's agents like every other route; export and import touch every agent's memories, so they
 * need a token not limited to agents (403 otherwise).
 */
export class AdminGroup extends authorized(
  HttpApiGroup.make("admin")
    .add(
      HttpApiEndpoint.get("agents", "/agents")
        .addSuccess(Schema.Struct({ agents: Schema.Array(AgentId) }))
    )
    .add(
      HttpApiEndpoint.get("exportMemories", "/admin/memories")
        .setUrlParams(ExportParams)
        .addSuccess(ExportPage)
    )
    .add(
      HttpApiEndpoint.post("importMemories", "/admin/memories")
        .setPayload(ImportBody)
        .addSuccess(Schema.Struct({ imported: Schema.Number }))
    )
    .add(
      HttpApiEndpoint.post("purge", "/admin/purge")
        .setPayload(PurgeBody)
        .addSuccess(Schema.Struct({ purged: Schema.Number }))
    )
)
  .prefix("/v1")
{}

/** The memory-api protocol (the routes of memoryApi.ts), so that protocol's existing clients work against engram. */
export class MemoryApiGroup extends authorized(
  HttpApiGroup.make("memoryApi")
    .add(
      HttpApiEndpoint.post("store", "/memory/store")
        .setPayload(MemoryApiStoreRequest)
        .addSuccess(MemoryApiStoreResponse)
    )
    .add(
      HttpApiEndpoint.post("search", "/memory/search")
        .setPayload(MemoryApiSearchRequest)
        .addSuccess(MemoryApiSearchResponse)
    )
)
  .addError(InvalidEmbedding, { status: 400 })
  .addError(PublicEmbedderError)
{}

/** `GET /health`: the one route without authorization (the memory-api protocol sends none). */
export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(HealthResponse))
{}

/** The whole gateway API. Every route but `/health` requires a bearer token. */
export class EngramApi extends HttpApi.make("engram")
  .add(SemanticGroup)
  .add(ConsolidationGroup)
  .add(AdminGroup)
  .add(MemoryApiGroup)
  .add(HealthGroup)
  .addError(PayloadTooLarge)
  .annotate(OpenApi.Title, "engram gateway")
  .annotate(OpenApi.Description, "Semantic memory for AI agents over HTTP, and the memory-api protocol.")
{}

/** Version string reported by `GET /v1/info`. */
export const GATEWAY_VERSION = "engram-gateway/1"
