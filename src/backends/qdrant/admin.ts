/**
 * SemanticStoreAdmin on Qdrant (src/services/Admin.ts): export streams the memory points in id
 * order (Qdrant scrolls by id; lower-case UUIDs order the same as code points), import upserts
 * memories verbatim, purgeAgent deletes by the agent condition.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { Chunk, Effect, Either, Option, Schema, Stream } from "effect"
import type { EmbeddingSpace } from "../../domain/embedding.js"
import { StorageError } from "../../domain/errors.js"
import { AgentId } from "../../domain/ids.js"
import { compareCodePoints } from "../../core/order.js"
import { decodeAgentId } from "../../core/semantic.js"
import { invalid } from "../../core/decode.js"
import { checkMemoryRecords, EXPORT_PAGE } from "../../core/transfer.js"
import type { MemoryRecord } from "../../domain/transfer.js"
import { SemanticStoreAdmin } from "../../services/Admin.js"
import { META_POINT_ID, type QdrantConnection } from "./client.js"
import { memoryOf, scrollPages, upsertAll } from "./semantic.js"

/** Every point but the reserved one that records the embedding space. */
const MEMORIES: Schemas["Filter"] = { must_not: [{ has_id: [META_POINT_ID] }] }

const decodeAgent = Schema.decodeUnknownEither(AgentId)

const agentCondition = (agentId: string): Schemas["Filter"] => ({ must: [{ key: "agent_id", match: { value: agentId } }] })

export const make = (conn: QdrantConnection, space: EmbeddingSpace) =>
  SemanticStoreAdmin.of({
    export: () =>
      Stream.paginateChunkEffect(
        Option.none<Schemas["ExtendedPointId"]>(),
        (from) =>
          Effect.gen(function*() {
            const page = yield* conn.run("export", (c) =>
              c.scroll(conn.collection, {
                filter: MEMORIES,
                limit: EXPORT_PAGE,
                with_payload: true,
                with_vector: false,
                ...(Option.isSome(from) ? { offset: from.value } : {})
              }))
            const memories = yield* Effect.forEach(page.points, memoryOf("export"))
            const next = page.next_page_offset
            return [
              Chunk.fromIterable(memories.map((m): MemoryRecord => ({ kind: "memory", ...m }))),
              typeof next === "string" || typeof next === "number" ? Option.some(Option.some(next)) : Option.none()
            ] as const
          })
      ),
    import: (records) =>
      Effect.gen(function*() {
        yield* checkMemoryRecords(records, space)
        const reserved = records.findIndex((r) => r.id === META_POINT_ID)
        if (reserved >= 0) return yield* invalid(`records[${reserved}].id`, "is reserved by the Qdrant backend")
        yield* upsertAll(conn, records.map(({ kind: _, ...m }) => m))
      }),
    purgeAgent: (a) =>
      Effect.gen(function*() {
        const agentId = yield* decodeAgentId(a)
        const { count } = yield* conn.run("purge agent", (c) =>
          c.count(conn.collection, { filter: agentCondition(agentId), exact: true }))
        if (count > 0) {
          yield* conn.run("purge agent", (c) => c.delete(conn.collection, { wait: true, filter: agentCondition(agentId) }))
        }
        return count
      }),
    agents: () =>
      Effect.gen(function*() {
        const agents = new Map<string, AgentId>()
        yield* scrollPages(conn, "list agents", MEMORIES, ["agent_id"], (points) =>
          Effect.gen(function*() {
            for (const p of points) {
              const agent = decodeAgent(p.payload?.["agent_id"])
              if (Either.isLeft(agent)) {
                return yield* new StorageError({
                  backend: "qdrant",
                  operation: "list agents",
                  message: `point ${String(p.id)} does not hold a valid memory: ${agent.left.message}`,
                  cause: agent.left
                })
              }
              agents.set(agent.right, agent.right)
            }
          }))
        return [...agents.values()].sort(compareCodePoints)
      })
  })
