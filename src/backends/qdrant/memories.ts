/**
 * A memory on Qdrant is a point (client.ts describes the collection): id = memory id, every field in
 * the payload (snake_case) with the core's tokens of its content, and the embedding once, as the
 * named vector in the form vectorCodec.ts describes. This file maps memories to points and back, and
 * reads and writes points in pages that respect Qdrant's limits.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { Effect, Either, Schema } from "effect"
import { invalid } from "../../core/decode.js"
import { tokenize } from "../../core/textSearch.js"
import { type BackendUnavailable, type InvalidInput, StorageError } from "../../domain/errors.js"
import { type Memory, Memory as MemorySchema } from "../../domain/memory.js"
import { META_POINT_ID, type QdrantConnection, VECTOR } from "./client.js"
import { decodeEmbedding, encodeEmbedding, type StoredEmbedding } from "./vectorCodec.js"

type PointLike = {
  readonly id: string | number
  readonly payload?: Record<string, unknown> | null | undefined
  readonly vector?: unknown
}

/** Page size of scrolls that read every match (text recall, counts, consolidation). */
const SCROLL_PAGE = 256

/** Qdrant's default limit on a request body (`service.max_request_size_mb` = 32), in bytes. */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024

/** Every point but the reserved one that records the embedding space. */
export const NOT_A_MEMORY: ReadonlyArray<Schemas["Condition"]> = [{ has_id: [META_POINT_ID] }]

/** Payload keys of the stored embedding (null / absent for a memory without one). */
export const EMBEDDING_KEYS = ["embedding_norm", "embedding_fix"] as const

/** What a read asks for to rebuild whole memories: the payload, and the embedding vector. */
export const WHOLE: { readonly with_payload: true; readonly with_vector: Array<string> } = {
  with_payload: true,
  with_vector: [VECTOR]
}

/**
 * Qdrant 1.12 reads a JSON number with a fraction with up to one unit of error in the last place
 * (serde_json without round-trip precision), and returns what it read. So the numbers a memory must
 * give back exactly are also kept as text: the confidence always (`confidence_exact`; `confidence`
 * stays a number for range filters, which therefore only narrow — memoryFilter.ts), and the
 * metadata as JSON text when it holds a number that is not a safe integer (`metadata_json`;
 * `metadata` stays an object for match filters). Integers are read exactly.
 */
export const confidencePayload = (confidence: number): Record<string, unknown> => ({
  confidence,
  confidence_exact: String(confidence)
})

/** True when Qdrant may read a number in this JSON value differently from what was sent. */
const misreadable = (j: unknown): boolean => {
  if (typeof j === "number") return !Number.isSafeInteger(j)
  if (Array.isArray(j)) return j.some(misreadable)
  return typeof j === "object" && j !== null && Object.values(j).some(misreadable)
}

const metadataPayload = (metadata: Memory["metadata"]): Record<string, unknown> =>
  misreadable(metadata) ? { metadata, metadata_json: JSON.stringify(metadata) } : { metadata }

/** The exact confidence of a payload (the text when present; left as is when it does not parse, so decoding fails). */
export const confidenceOf = (p: Record<string, unknown>): unknown => {
  const text = p["confidence_exact"]
  if (typeof text !== "string") return p["confidence"]
  const n = Number(text)
  return text.trim() !== "" && Number.isFinite(n) ? n : text
}

const metadataOf = (p: Record<string, unknown>): unknown => {
  const text = p["metadata_json"]
  if (typeof text !== "string") return p["metadata"]
  try {
    return JSON.parse(text) as unknown
  } catch {
    // Left as the text: decoding then reports the payload as not a valid memory.
    return text
  }
}

/** The payload of a memory: every field, the core tokens of its content, and the embedding's length and fixes. */
const toPayload = (m: Memory, stored: StoredEmbedding | undefined): Record<string, unknown> => ({
  agent_id: m.agentId,
  content: m.content,
  tokens: tokenize(m.content).join(" "),
  source: m.source,
  scope: m.scope,
  ...metadataPayload(m.metadata),
  ...confidencePayload(m.confidence),
  created_at: m.createdAt,
  accessed_at: m.accessedAt,
  access_count: m.accessCount,
  ...embeddingPayload(stored)
})

/** The payload keys of a stored embedding (null for none: a filter can tell the two apart). */
export const embeddingPayload = (stored: StoredEmbedding | undefined): Record<string, unknown> =>
  stored === undefined
    ? { embedding_norm: null, embedding_fix: null }
    : { embedding_norm: stored.norm, embedding_fix: stored.fix }

/** A memory without an embedding is a point without the named vector: vector queries never see it. */
const toPoint = (m: Memory): Schemas["PointStruct"] => {
  const stored = m.embedding === null ? undefined : encodeEmbedding(m.embedding)
  return {
    id: m.id,
    vector: stored === undefined ? {} : { [VECTOR]: stored.unit },
    payload: toPayload(m, stored)
  }
}

/** A point that does not hold what it should is a StorageError, never silently dropped. */
const notAMemory = (operation: string, point: PointLike, message: string, cause: unknown) =>
  new StorageError({
    backend: "qdrant",
    operation,
    message: `point ${String(point.id)} does not hold a valid memory: ${message}`,
    cause
  })

const decodeMemory = Schema.decodeUnknownEither(MemorySchema)

const Fix = Schema.Array(Schema.Tuple(Schema.Int, Schema.Int))
const decodeFix = Schema.decodeUnknownEither(Schema.NullOr(Fix))

/** The named vector of a point as Qdrant returns it, if present. */
const vectorOf = (point: PointLike): unknown => {
  const v = point.vector
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[VECTOR] : undefined
}

/** The embedding a point holds: null without one, a string saying what is wrong with it otherwise. */
export const embeddingOf = (point: PointLike): ReadonlyArray<number> | null | string => {
  const p = point.payload ?? {}
  const norm = p["embedding_norm"]
  if (norm === null || norm === undefined) return null
  const unit = vectorOf(point)
  const fix = decodeFix(p["embedding_fix"] ?? null)
  if (typeof norm !== "number" || Either.isLeft(fix)) return "embedding_norm / embedding_fix are malformed"
  // The vector must have been asked for (`WHOLE`): a missing one is a bug here, not a memory without embedding.
  if (!Array.isArray(unit) || !unit.every((x) => typeof x === "number")) return `the ${VECTOR} vector was not returned`
  return decodeEmbedding(unit, norm, fix.right ?? []) ?? "embedding_fix does not fit the vector"
}

/** The memory a point holds (read with `WHOLE`). */
export const memoryOf = (operation: string) => (point: PointLike): Effect.Effect<Memory, StorageError> => {
  const p = point.payload ?? {}
  const embedding = embeddingOf(point)
  if (typeof embedding === "string") return Effect.fail(notAMemory(operation, point, embedding, undefined))
  const decoded = decodeMemory({
    id: point.id,
    agentId: p["agent_id"],
    content: p["content"],
    source: p["source"],
    scope: p["scope"],
    metadata: metadataOf(p),
    confidence: confidenceOf(p),
    createdAt: p["created_at"],
    accessedAt: p["accessed_at"],
    accessCount: p["access_count"],
    embedding
  })
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(notAMemory(operation, point, decoded.left.message, decoded.left))
}

/** The payload keys the filter check of a read needs (metadata only when the filter has a metadata condition). */
export const filterKeys = (withMetadata: boolean): Array<string> => [
  "agent_id",
  "scope",
  "source",
  "confidence",
  "confidence_exact",
  "created_at",
  ...(withMetadata ? ["metadata", "metadata_json"] : [])
]

/**
 * The memory as far as a filter check sees it, from a point read with only `filterKeys` (plus any
 * `extra` keys): the fields a filter cannot look at (content, counters, embedding) are left empty.
 * Reads that must check every match use it so that they never move contents or vectors.
 */
export const filterViewOf = (operation: string) => (point: PointLike): Effect.Effect<Memory, StorageError> => {
  const p = point.payload ?? {}
  return memoryOf(operation)({
    id: point.id,
    payload: {
      ...p,
      content: "(not read)",
      metadata: p["metadata"] ?? {},
      ...(p["metadata_json"] === undefined ? {} : { metadata_json: p["metadata_json"] }),
      accessed_at: 0,
      access_count: 0,
      embedding_norm: null
    }
  })
}

/** Decode the payload fields a step needs from a point (`confidence` is the exact one: select `confidence_exact` too). */
export const payloadFields = <A, I>(schema: Schema.Schema<A, I>, operation: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (point: PointLike): Effect.Effect<A, StorageError> => {
    const p = point.payload ?? {}
    const result = decode("confidence" in p ? { ...p, confidence: confidenceOf(p) } : p)
    return Either.isRight(result)
      ? Effect.succeed(result.right)
      : Effect.fail(notAMemory(operation, point, result.left.message, result.left))
  }
}

/** A scroll page: its points, and the offset of the next page (undefined: this was the last). */
export interface ScrollPage {
  readonly points: ReadonlyArray<Schemas["Record"]>
  readonly next: string | number | undefined
}

/** One page of the points matching `filter`, from `offset`. */
export const scrollPage = (
  conn: QdrantConnection,
  operation: string,
  filter: Schemas["Filter"],
  withPayload: Schemas["WithPayloadInterface"],
  offset: string | number | undefined,
  limit = SCROLL_PAGE,
  withVector: Schemas["WithVector"] = false
): Effect.Effect<ScrollPage, StorageError | BackendUnavailable> =>
  Effect.map(
    conn.run(operation, (c) =>
      c.scroll(conn.collection, {
        filter,
        limit,
        with_payload: withPayload,
        with_vector: withVector,
        ...(offset === undefined ? {} : { offset })
      })),
    (page) => {
      const next = page.next_page_offset
      return { points: page.points, next: typeof next === "string" || typeof next === "number" ? next : undefined }
    }
  )

/** Visit every point matching `filter`, one page at a time (nothing is kept between pages). */
export const scrollPages = <E>(
  conn: QdrantConnection,
  operation: string,
  filter: Schemas["Filter"],
  withPayload: Schemas["WithPayloadInterface"],
  onPage: (points: ReadonlyArray<Schemas["Record"]>) => Effect.Effect<void, E>,
  withVector: Schemas["WithVector"] = false
): Effect.Effect<void, E | StorageError | BackendUnavailable> =>
  Effect.gen(function*() {
    let offset: string | number | undefined = undefined
    do {
      const page: ScrollPage = yield* scrollPage(conn, operation, filter, withPayload, offset, SCROLL_PAGE, withVector)
      yield* onPage(page.points)
      offset = page.next
    } while (offset !== undefined)
  })

/** The size of the body an upsert of `points` sends, in bytes (the client sends `{"points":[…]}`). */
const bodyBytes = (points: ReadonlyArray<Schemas["PointStruct"]>): number =>
  Buffer.byteLength(JSON.stringify({ points }), "utf8")

const tooLarge = (field: string, bytes: number) =>
  invalid(
    field,
    `needs a ${bytes}-byte request, above Qdrant's 32 MiB request limit (${MAX_REQUEST_BYTES} bytes, ` +
      "the server's service.max_request_size_mb); store fewer or smaller memories per call"
  )

/**
 * Upsert memories in ONE request, so a batch is stored whole or not at all. A batch whose request
 * would exceed Qdrant's request limit is InvalidInput, and nothing is sent.
 */
export const upsertOnce = (
  conn: QdrantConnection,
  memories: ReadonlyArray<Memory>
): Effect.Effect<void, InvalidInput | StorageError | BackendUnavailable> =>
  Effect.gen(function*() {
    if (memories.length === 0) return
    const points = memories.map(toPoint)
    const bytes = bodyBytes(points)
    if (bytes > MAX_REQUEST_BYTES) return yield* tooLarge("inputs", bytes)
    yield* conn.run("remember", (c) => c.upsert(conn.collection, { wait: true, points }))
  })

/**
 * Upsert memories in as few requests as Qdrant's request limit allows (import: each memory is
 * written whole, the set need not be one unit). A single memory above the limit is InvalidInput.
 */
export const upsertAll = (
  conn: QdrantConnection,
  memories: ReadonlyArray<Memory>
): Effect.Effect<void, InvalidInput | StorageError | BackendUnavailable> =>
  Effect.gen(function*() {
    // The envelope `{"points":[]}` plus one comma per point after the first.
    const envelope = bodyBytes([])
    let batch: Array<Schemas["PointStruct"]> = []
    let bytes = envelope
    const flush = (points: Array<Schemas["PointStruct"]>) =>
      conn.run("import", (c) => c.upsert(conn.collection, { wait: true, points }))
    for (const [i, m] of memories.entries()) {
      const point = toPoint(m)
      const size = Buffer.byteLength(JSON.stringify(point), "utf8")
      if (envelope + size > MAX_REQUEST_BYTES) return yield* tooLarge(`records[${i}]`, envelope + size)
      if (batch.length > 0 && bytes + 1 + size > MAX_REQUEST_BYTES) {
        yield* flush(batch)
        batch = []
        bytes = envelope
      }
      bytes += (batch.length > 0 ? 1 : 0) + size
      batch.push(point)
    }
    if (batch.length > 0) yield* flush(batch)
  })

/** Apply update operations in batches of at most `MAX_BATCH_OPERATIONS`. */
export const applyBatches = (
  conn: QdrantConnection,
  operation: string,
  operations: ReadonlyArray<Schemas["UpdateOperation"]>
) =>
  Effect.gen(function*() {
    for (let i = 0; i < operations.length; i += MAX_BATCH_OPERATIONS) {
      const chunk = operations.slice(i, i + MAX_BATCH_OPERATIONS)
      yield* conn.run(operation, (c) => c.batchUpdate(conn.collection, { wait: true, operations: chunk }))
    }
  })

/** Most operations sent in one batch request. */
const MAX_BATCH_OPERATIONS = 500
