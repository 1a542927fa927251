/**
 * The Qdrant connection: the official REST client (`@qdrant/js-client-rest` 1.18, the last release
 * for Node 20), the health check, and the collection bootstrap that runs while the layer builds.
 *
 * Collection layout (one collection per store; payload format 2):
 * - one named dense vector, `embedding`, with the store's dimension and dot distance, holding each
 *   embedding's unit vector (vectorCodec.ts: the dot product of unit vectors is their cosine; the
 *   embedding's length and exactness fixes are in the payload, so it is stored once and comes back
 *   bit-exact). A memory stored without an embedding is a point without that vector, so Qdrant never
 *   returns it from a vector query (a named vector may be absent; an unnamed one may not);
 * - point id = memory id; every memory field is in the payload (snake_case), plus `tokens`, the
 *   content's words as the core tokenizer splits them (src/core/textSearch.ts), joined by spaces
 *   and indexed full-text with the whitespace tokenizer and no lower-casing — so Qdrant matches
 *   exactly the set every other backend matches;
 * - the access counters (`accessed_at`, `access_count`) are not indexed: recall updates them on
 *   every returned point, and updating an indexed field is what makes Qdrant rebuild index entries;
 * - a reserved point (`META_POINT_ID`, no vector, no `agent_id`) records the embedding model, so a
 *   store opened with another model of the same dimension is refused too.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { QdrantClient, QdrantClientResourceExhaustedError, QdrantClientTimeoutError } from "@qdrant/js-client-rest"
import { Effect, Redacted } from "effect"
import { describe } from "../../core/storage.js"
import type { EmbeddingSpace } from "../../domain/embedding.js"
import { BackendUnavailable, EmbeddingSpaceMismatch, StorageError } from "../../domain/errors.js"
import { DEFAULT_TIMEOUT_MS, type QdrantOptions } from "./options.js"

export { DEFAULT_TIMEOUT_MS }

/** Name of the dense vector holding memory embeddings. */
export const VECTOR = "embedding"

/** Id of the point that records the store's embedding space (it has no `agent_id`, so no query sees it). */
export const META_POINT_ID = "00000000-0000-0000-0000-000000000000"

/**
 * Version of the collection layout written by this code. Format 1 (engram before issue 14) had a
 * cosine vector and a JSON copy of each embedding in the payload; this code refuses it.
 */
export const PAYLOAD_FORMAT = 2

/** The vector distance of format 2: dot products of unit vectors. */
const DISTANCE = "Dot"

/**
 * Payload indexes the store needs: agent and filters (keyword / range), and full-text on the
 * tokens. Not the access counters, which every recall writes (decay filters on `accessed_at`
 * unindexed, once per consolidation).
 */
export const PAYLOAD_INDEXES: ReadonlyArray<readonly [string, Schemas["PayloadFieldSchema"]]> = [
  ["agent_id", "keyword"],
  ["scope", "keyword"],
  ["source", "keyword"],
  ["created_at", "integer"],
  ["confidence", "float"],
  ["tokens", { type: "text", tokenizer: "whitespace", lowercase: false }]
]

/** A live connection: the client, the collection, and a runner that types every client rejection. */
export interface QdrantConnection {
  readonly client: QdrantClient
  readonly collection: string
  readonly url: string
  /** Run one client call; a rejection becomes `StorageError`, or `BackendUnavailable` when Qdrant cannot be reached. */
  readonly run: <A>(
    operation: string,
    call: (client: QdrantClient) => Promise<A>
  ) => Effect.Effect<A, StorageError | BackendUnavailable>
}

/** The HTTP status of a client rejection, when Qdrant answered at all. */
export const statusOf = (cause: unknown): number | undefined =>
  typeof cause === "object" && cause !== null && "status" in cause && typeof cause.status === "number"
    ? cause.status
    : undefined

/** The error text of a Qdrant error response (`{ status: { error } }`), or the client's message. */
const errorText = (cause: unknown): string => {
  if (typeof cause === "object" && cause !== null && "data" in cause) {
    const data = cause.data
    if (typeof data === "object" && data !== null && "status" in data) {
      const status = data.status
      if (typeof status === "object" && status !== null && "error" in status && typeof status.error === "string") {
        return status.error
      }
    }
  }
  return describe(cause)
}

/**
 * Qdrant could not be reached: a transport failure (refused, reset, DNS — undici reports these as
 * a `TypeError`), the request deadline, or a gateway status in front of Qdrant.
 */
const unreachable = (cause: unknown): boolean => {
  const status = statusOf(cause)
  if (status !== undefined) return status === 502 || status === 503 || status === 504
  if (cause instanceof QdrantClientResourceExhaustedError) return false
  return cause instanceof QdrantClientTimeoutError || cause instanceof TypeError
}

const failure =
  (url: string, timeoutMs: number, operation: string) => (cause: unknown): StorageError | BackendUnavailable => {
    if (unreachable(cause)) {
      const why = cause instanceof QdrantClientTimeoutError
        ? `no answer within ${timeoutMs} ms`
        : describe(cause instanceof Error && cause.cause !== undefined ? cause.cause : cause)
      return new BackendUnavailable({
        backend: "qdrant",
        url,
        message: `Qdrant at ${url} is unavailable (${operation}): ${why}`,
        cause
      })
    }
    const status = statusOf(cause)
    return new StorageError({
      backend: "qdrant",
      operation,
      message: status === undefined ? errorText(cause) : `HTTP ${status}: ${errorText(cause)}`,
      cause
    })
  }

const connection = (client: QdrantClient, options: QdrantOptions): QdrantConnection => {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  return {
    client,
    collection: options.collection,
    url: options.url,
    run: (operation, call) =>
      Effect.tryPromise({ try: () => call(client), catch: failure(options.url, timeoutMs, operation) })
  }
}

const unavailable = (options: QdrantOptions, message: string, cause?: unknown) =>
  new BackendUnavailable({ backend: "qdrant", url: options.url, message, ...(cause === undefined ? {} : { cause }) })

/** The recorded space of an existing collection, or a description of why it cannot be used. */
const vectorParams = (info: Schemas["CollectionInfo"]): Schemas["VectorParams"] | undefined => {
  const vectors = info.config.params.vectors
  if (vectors === undefined || vectors === null || "size" in vectors) return undefined
  const named = (vectors as Record<string, Schemas["VectorParams"] | undefined>)[VECTOR]
  return named === undefined || typeof named.size !== "number" ? undefined : named
}

/**
 * True when an existing payload index is the one we need. A text index with another tokenizer or
 * with lower-casing would match another set than the core rules, so it is (re)created.
 */
const indexFits = (info: Schemas["PayloadIndexInfo"] | undefined, wanted: Schemas["PayloadFieldSchema"]): boolean => {
  if (info === undefined) return false
  if (typeof wanted === "string") return info.data_type === wanted
  if (info.data_type !== wanted.type) return false
  if (wanted.type !== "text") return true
  const params = info.params
  return params !== null && params !== undefined && "tokenizer" in params &&
    params.tokenizer === wanted.tokenizer && "lowercase" in params && params.lowercase === wanted.lowercase
}

interface MetaPayload {
  readonly engram: "collection"
  readonly format: number
  readonly model: string
  readonly dimensions: number
}

const metaPayload = (space: EmbeddingSpace): MetaPayload => ({
  engram: "collection",
  format: PAYLOAD_FORMAT,
  model: space.model,
  dimensions: space.dimensions
})

const recordedModel = (payload: Record<string, unknown> | null | undefined): string | undefined =>
  payload !== null && payload !== undefined && payload["engram"] === "collection" &&
    typeof payload["model"] === "string"
    ? payload["model"]
    : undefined

const recordedFormat = (payload: Record<string, unknown> | null | undefined): number | undefined =>
  payload !== null && payload !== undefined && payload["engram"] === "collection" &&
    typeof payload["format"] === "number"
    ? payload["format"]
    : undefined

/** Why a collection written in another payload format cannot be used, and what to do. */
const otherFormat = (collection: string, format: number) =>
  new StorageError({
    backend: "qdrant",
    operation: "verify collection",
    message: format < PAYLOAD_FORMAT
      ? `collection ${collection} has payload format ${format} (an earlier engram: cosine vector, embeddings copied ` +
        `in the payload); this engram writes format ${PAYLOAD_FORMAT} and does not use it. To migrate, run ` +
        "`engram export` with the engram version that wrote it, then `engram import` into a new collection " +
        "(or delete the collection to start empty)"
      : `collection ${collection} has payload format ${format}, written by a newer engram; this one reads format ${PAYLOAD_FORMAT} only`
  })

/** Qdrant's gRPC port: engram's client speaks REST (HTTP/1.1 + JSON), by default on 6333. */
const GRPC_PORT = "6334"

/**
 * A hint for a health check that failed because the URL points at Qdrant's gRPC port (or any
 * server that does not answer HTTP/1.1), the usual mistake with configurations written for gRPC
 * clients.
 */
const grpcHint = (url: string, cause: unknown): string => {
  let port: string | undefined
  try {
    port = new URL(url).port
  } catch {
    port = undefined
  }
  const text = `${describe(cause)} ${cause instanceof Error && cause.cause !== undefined ? describe(cause.cause) : ""}`
  if (port === GRPC_PORT) {
    return ` — ${GRPC_PORT} is Qdrant's gRPC port; engram talks to Qdrant's REST API, by default on port 6333 (e.g. http://localhost:6333)`
  }
  if (/HTTP\/1\.1 protocol|HPE_|Parse Error|other side closed|SocketError/i.test(text)) {
    return " — the server does not answer HTTP/1.1; if this is Qdrant's gRPC port (6334), use its REST port instead: engram talks REST, by default on port 6333"
  }
  return ""
}

/**
 * Connect, check health, and create or verify the collection and its payload indexes.
 * Unreachable (or refusing our credentials) → BackendUnavailable naming the url; another embedding
 * space → EmbeddingSpaceMismatch; any other client failure → StorageError.
 */
export const open = (
  options: QdrantOptions
): Effect.Effect<QdrantConnection, BackendUnavailable | EmbeddingSpaceMismatch | StorageError> =>
  Effect.gen(function*() {
    const space = options.embedding
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const client = yield* Effect.try({
      try: () =>
        new QdrantClient({
          url: options.url,
          ...(options.apiKey === undefined ? {} : { apiKey: Redacted.value(options.apiKey) }),
          // 1.18 would otherwise fire an unawaited version probe from the constructor (pitfall P15).
          checkCompatibility: false,
          timeout: timeoutMs
        }),
      catch: (cause) => unavailable(options, `cannot use ${options.url} as a Qdrant URL: ${describe(cause)}`, cause)
    })
    const conn = connection(client, options)
    const collection = options.collection

    // Health check: the root endpoint answers without touching any collection.
    yield* conn.run("health check", (c) => c.versionInfo()).pipe(
      Effect.mapError((e) =>
        unavailable(
          options,
          `Qdrant health check failed at ${options.url}: ${e.message}${grpcHint(options.url, e.cause)}`,
          e
        )
      )
    )
    // The first call that needs credentials: a refused API key means the store cannot be used.
    const exists = yield* conn.run("collection exists", (c) => c.collectionExists(collection)).pipe(
      Effect.catchIf(
        (e) => e._tag === "StorageError" && [401, 403].includes(statusOf(e.cause) ?? 0),
        (e) => Effect.fail(unavailable(options, `Qdrant at ${options.url} refused the request: ${e.message}`, e))
      )
    )

    // Records the store's embedding space (and payload format) in the collection's meta point.
    const recordSpace = conn.run(
      "record embedding space",
      (c) =>
        c.upsert(collection, {
          wait: true,
          points: [{ id: META_POINT_ID, vector: {}, payload: { ...metaPayload(space) } }]
        })
    )
    if (!exists.exists) {
      const created = yield* conn.run(
        "create collection",
        (c) => c.createCollection(collection, { vectors: { [VECTOR]: { size: space.dimensions, distance: DISTANCE } } })
      ).pipe(
        Effect.as(true),
        // Another process created it between our check and our create: verify theirs instead.
        Effect.catchIf((e) => e._tag === "StorageError" && statusOf(e.cause) === 409, () => Effect.succeed(false))
      )
      if (created) yield* recordSpace
    }

    const info = yield* conn.run("collection info", (c) => c.getCollection(collection))
    const params = vectorParams(info)
    if (params === undefined) {
      return yield* new StorageError({
        backend: "qdrant",
        operation: "verify collection",
        message: `collection ${collection} has no dense vector named "${VECTOR}"; it was not created by engram`
      })
    }
    const [meta] = yield* conn.run(
      "read embedding space",
      (c) => c.retrieve(collection, { ids: [META_POINT_ID], with_payload: true, with_vector: false })
    )
    const model = recordedModel(meta?.payload)
    const format = recordedFormat(meta?.payload)
    if (format !== undefined && format !== PAYLOAD_FORMAT) return yield* otherFormat(collection, format)
    if (
      params.size !== space.dimensions || params.distance !== DISTANCE || (model !== undefined && model !== space.model)
    ) {
      const actualModel = model ?? "(not recorded)"
      return yield* new EmbeddingSpaceMismatch({
        expected: { model: space.model, dimensions: space.dimensions },
        actual: {
          model: params.distance === DISTANCE ? actualModel : `${actualModel} with ${params.distance} distance`,
          dimensions: params.size
        }
      })
    }
    if (model === undefined) {
      // A collection with the right vector but no record (created by a process that lost the
      // creation race before recording, or by hand): adopt it for this model.
      yield* recordSpace
    }

    const existing = info.payload_schema ?? {}
    for (const [field, schema] of PAYLOAD_INDEXES) {
      if (indexFits(existing[field], schema)) continue
      yield* conn.run(
        `create payload index ${field}`,
        (c) => c.createPayloadIndex(collection, { field_name: field, field_schema: schema, wait: true })
      )
    }
    return conn
  })
