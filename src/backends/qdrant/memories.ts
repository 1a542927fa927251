/**
 * A memory on Qdrant is a point (client.ts describes the collection): id = memory id, every field in
 * the payload (snake_case) with the core's tokens of its content and the exact embedding, and the
 * named vector when it has one. This file maps memories to points and back, and reads and writes
 * points in pages that respect Qdrant's limits.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { Effect, Either, Schema } from "effect"
import { tokenize } from "../../core/textSearch.js"
import { type BackendUnavailable, StorageError } from "../../domain/errors.js"
import { type Memory, Memory as MemorySchema } from "../../domain/memory.js"
import { META_POINT_ID, type QdrantConnection, VECTOR } from "./client.js"

type PointLike = { readonly id: string | number; readonly payload?: Record<string, unknown> | null | undefined }

/** Page size of scrolls that read every match (text recall, counts, consolidation). */
const SCROLL_PAGE = 256
/** Most bytes of point JSON sent in one upsert (Qdrant's default request limit is 32 MiB). */
const MAX_UPSERT_BYTES = 16 * 1024 * 1024

/** Every point but the reserved one that records the embedding space. */
export const NOT_A_MEMORY: ReadonlyArray<Schemas["Condition"]> = [{ has_id: [META_POINT_ID] }]

/** The payload of a memory: every field, the core tokens of its content, and the exact embedding. */
const toPayload = (m: Memory): Record<string, unknown> => ({
  agent_id: m.agentId,
  content: m.content,
  tokens: tokenize(m.content).join(" "),
  source: m.source,
  scope: m.scope,
  metadata: m.metadata,
  confidence: m.confidence,
  created_at: m.createdAt,
  accessed_at: m.accessedAt,
  access_count: m.accessCount,
  embedding: m.embedding === null ? null : [...m.embedding]
})

/** A memory without an embedding is a point without the named vector: vector queries never see it. */
const toPoint = (m: Memory): Schemas["PointStruct"] => ({
  id: m.id,
  vector: m.embedding === null ? {} : { [VECTOR]: [...m.embedding] },
  payload: toPayload(m)
})

/** A point that does not hold what it should is a StorageError, never silently dropped. */
const notAMemory = (operation: string, point: PointLike, message: string, cause: unknown) =>
  new StorageError({
    backend: "qdrant",
    operation,
    message: `point ${String(point.id)} does not hold a valid memory: ${message}`,
    cause
  })

const decodeMemory = Schema.decodeUnknownEither(MemorySchema)

/** The memory a point holds. */
export const memoryOf = (operation: string) => (point: PointLike): Effect.Effect<Memory, StorageError> => {
  const p = point.payload ?? {}
  const decoded = decodeMemory({
    id: point.id,
    agentId: p["agent_id"],
    content: p["content"],
    source: p["source"],
    scope: p["scope"],
    metadata: p["metadata"],
    confidence: p["confidence"],
    createdAt: p["created_at"],
    accessedAt: p["accessed_at"],
    accessCount: p["access_count"],
    embedding: p["embedding"]
  })
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(notAMemory(operation, point, decoded.left.message, decoded.left))
}

/** Decode the payload fields a step needs from a point. */
export const payloadFields = <A, I>(schema: Schema.Schema<A, I>, operation: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (point: PointLike): Effect.Effect<A, StorageError> => {
    const result = decode(point.payload ?? {})
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
  limit = SCROLL_PAGE
): Effect.Effect<ScrollPage, StorageError | BackendUnavailable> =>
  Effect.map(
    conn.run(operation, (c) =>
      c.scroll(conn.collection, {
        filter,
        limit,
        with_payload: withPayload,
        with_vector: false,
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
  onPage: (points: ReadonlyArray<Schemas["Record"]>) => Effect.Effect<void, E>
): Effect.Effect<void, E | StorageError | BackendUnavailable> =>
  Effect.gen(function*() {
    let offset: string | number | undefined = undefined
    do {
      const page: ScrollPage = yield* scrollPage(conn, operation, filter, withPayload, offset)
      yield* onPage(page.points)
      offset = page.next
    } while (offset !== undefined)
  })

/** Upsert memories as points, split so that no request exceeds Qdrant's body limit. */
export const upsertAll = (conn: QdrantConnection, memories: ReadonlyArray<Memory>) =>
  Effect.gen(function*() {
    let batch: Array<Schemas["PointStruct"]> = []
    let bytes = 0
    const flush = (points: Array<Schemas["PointStruct"]>) =>
      conn.run("remember", (c) => c.upsert(conn.collection, { wait: true, points }))
    for (const m of memories) {
      const point = toPoint(m)
      const size = JSON.stringify(point).length
      if (batch.length > 0 && bytes + size > MAX_UPSERT_BYTES) {
        yield* flush(batch)
        batch = []
        bytes = 0
      }
      batch.push(point)
      bytes += size
    }
    if (batch.length > 0) yield* flush(batch)
  })

/** Apply update operations in batches of at most `MAX_BATCH_OPERATIONS`. */
export const applyBatches = (conn: QdrantConnection, operation: string, operations: ReadonlyArray<Schemas["UpdateOperation"]>) =>
  Effect.gen(function*() {
    for (let i = 0; i < operations.length; i += MAX_BATCH_OPERATIONS) {
      const chunk = operations.slice(i, i + MAX_BATCH_OPERATIONS)
      yield* conn.run(operation, (c) => c.batchUpdate(conn.collection, { wait: true, operations: chunk }))
    }
  })

/** Most operations sent in one batch request. */
const MAX_BATCH_OPERATIONS = 500
