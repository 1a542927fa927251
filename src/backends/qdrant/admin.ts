/**
 * SemanticStoreAdmin's port on Qdrant: export scrolls the memory points in id order (Qdrant scrolls
 * by id; lower-case UUIDs order the same as code points), import upserts memories verbatim,
 * purgeAgent deletes by the agent condition.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { Effect, Schema } from "effect"
import { invalid } from "../../core/decode.js"
import type { SemanticAdminPort } from "../../core/semanticAdmin.js"
import { EXPORT_PAGE } from "../../core/transfer.js"
import { AgentId } from "../../domain/ids.js"
import { META_POINT_ID, type QdrantConnection, VECTOR } from "./client.js"
import { memoryOf, NOT_A_MEMORY, payloadFields, scrollPage, scrollPages, upsertAll } from "./memories.js"
import { match } from "./memoryFilter.js"

/** Every point but the reserved one that records the embedding space. */
const MEMORIES: Schemas["Filter"] = { must_not: [...NOT_A_MEMORY] }

const ofAgent = (agentId: string): Schemas["Filter"] => ({ must: [match("agent_id", agentId)] })

export const port = (conn: QdrantConnection): SemanticAdminPort => {
  const readAgent = payloadFields(Schema.Struct({ agent_id: AgentId }), "list agents")
  return {
    backend: "qdrant",
    exportPage: (cursor) =>
      Effect.gen(function*() {
        const page = yield* scrollPage(conn, "export", MEMORIES, true, cursor, EXPORT_PAGE, [VECTOR])
        const memories = yield* Effect.forEach(page.points, memoryOf("export"))
        return { memories, next: page.next === undefined ? undefined : String(page.next) }
      }),
    import: (memories) =>
      Effect.gen(function*() {
        const reserved = memories.findIndex((m) => m.id === META_POINT_ID)
        if (reserved >= 0) return yield* invalid(`records[${reserved}].id`, "is reserved by the Qdrant backend")
        yield* upsertAll(conn, memories)
      }),
    purgeAgent: (agent) =>
      Effect.gen(function*() {
        const { count } = yield* conn.run(
          "purge agent",
          (c) => c.count(conn.collection, { filter: ofAgent(agent), exact: true })
        )
        if (count > 0) {
          yield* conn.run("purge agent", (c) => c.delete(conn.collection, { wait: true, filter: ofAgent(agent) }))
        }
        return count
      }),
    agents: () =>
      Effect.gen(function*() {
        const agents = new Set<AgentId>()
        yield* scrollPages(conn, "list agents", MEMORIES, ["agent_id"], (points) =>
          Effect.gen(function*() {
            for (const p of points) agents.add((yield* readAgent(p)).agent_id)
          }))
        return [...agents]
      })
  }
}
