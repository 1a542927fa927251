/**
 * Consolidation's port on Qdrant: candidates are scrolled page by page with Qdrant filters, results
 * written with batch payload updates. Qdrant has no transactions: a memory recalled between a page's
 * read and its write may still be decayed once.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { Effect, Schema } from "effect"
import type { ConsolidationPort, MergePartition } from "../../core/consolidation.js"
import type { MergeCandidate } from "../../core/merge.js"
import { StorageError } from "../../domain/errors.js"
import { AgentId } from "../../domain/ids.js"
import { type QdrantConnection, VECTOR } from "./client.js"
import {
  applyBatches,
  confidencePayload,
  EMBEDDING_KEYS,
  embeddingOf,
  NOT_A_MEMORY,
  payloadFields,
  scrollPage,
  scrollPages
} from "./memories.js"
import { match, slightlyBelow } from "./memoryFilter.js"

const StaleFields = Schema.Struct({ confidence: Schema.Number, accessed_at: Schema.Number })
const CONFIDENCE_KEYS = ["confidence", "confidence_exact"]
const PartitionFields = Schema.Struct({ agent_id: AgentId, scope: Schema.String })
const MergeFields = Schema.Struct({
  created_at: Schema.Number,
  access_count: Schema.Number,
  confidence: Schema.Number
})

/** For `must_not`: memories without an embedding too (their payload holds `embedding_norm: null`). */
const NOT_EMBEDDED: ReadonlyArray<Schemas["Condition"]> = [...NOT_A_MEMORY, { is_empty: { key: "embedding_norm" } }]

/** A cursor of ours from Qdrant's page offset (point ids are memory ids: strings). */
const cursorOf = (
  next: string | number | undefined
): string | undefined => (next === undefined ? undefined : String(next))

export const port = (conn: QdrantConnection): ConsolidationPort => {
  const readStale = payloadFields(StaleFields, "decay")
  const readPartition = payloadFields(PartitionFields, "merge")
  const readCandidate = payloadFields(MergeFields, "merge")
  return {
    backend: "qdrant",
    // The query form of the core's `staleBound`. Scrolling continues by point id, so a decayed point
    // is never visited twice; one set_payload per resulting confidence.
    decayPage: (bound, cursor, decay) =>
      Effect.gen(function*() {
        const page = yield* scrollPage(
          conn,
          "decay",
          {
            must: [
              { key: "accessed_at", range: { lt: bound.accessedBefore } },
              // Narrowing only (the core's `decay` checks each exactly): see slightlyBelow.
              { key: "confidence", range: { gt: slightlyBelow(bound.confidenceAbove) } }
            ],
            must_not: [...NOT_A_MEMORY]
          },
          [...CONFIDENCE_KEYS, "accessed_at"],
          cursor
        )
        const byValue = new Map<number, Array<Schemas["ExtendedPointId"]>>()
        let n = 0
        for (const point of page.points) {
          const p = yield* readStale(point)
          const value = decay({ confidence: p.confidence, accessedAt: p.accessed_at })
          if (value === undefined) continue
          const ids = byValue.get(value)
          if (ids === undefined) byValue.set(value, [point.id])
          else ids.push(point.id)
          n++
        }
        yield* applyBatches(
          conn,
          "decay",
          [...byValue].map(([confidence, ids]) => ({
            set_payload: { payload: confidencePayload(confidence), filter: { must: [{ has_id: ids }] } }
          }))
        )
        return { decayed: n, next: cursorOf(page.next) }
      }),
    partitions: () =>
      Effect.gen(function*() {
        const found = new Map<string, MergePartition>()
        yield* scrollPages(
          conn,
          "merge",
          { must_not: [...NOT_EMBEDDED] },
          ["agent_id", "scope"],
          (points) =>
            Effect.gen(function*() {
              for (const point of points) {
                const p = yield* readPartition(point)
                found.set(JSON.stringify([p.agent_id, p.scope]), { agentId: p.agent_id, scope: p.scope })
              }
            })
        )
        return [...found.values()]
      }),
    mergePartition: ({ agentId, scope }, plan) =>
      Effect.gen(function*() {
        const candidates: Array<MergeCandidate> = []
        yield* scrollPages(
          conn,
          "merge",
          { must: [match("agent_id", agentId), match("scope", scope)], must_not: [...NOT_EMBEDDED] },
          ["created_at", "access_count", ...CONFIDENCE_KEYS, ...EMBEDDING_KEYS],
          (points) =>
            Effect.gen(function*() {
              for (const point of points) {
                const p = yield* readCandidate(point)
                const embedding = embeddingOf(point)
                if (embedding === null || typeof embedding === "string") {
                  return yield* new StorageError({
                    backend: "qdrant",
                    operation: "merge",
                    message: `point ${String(point.id)} does not hold a valid embedding: ${embedding ?? "none"}`
                  })
                }
                candidates.push({
                  id: String(point.id),
                  createdAt: p.created_at,
                  embedding,
                  accessCount: p.access_count,
                  confidence: p.confidence
                })
              }
            }),
          [VECTOR]
        )
        const operations: Array<Schemas["UpdateOperation"]> = []
        let n = 0
        for (const g of plan(candidates)) {
          operations.push(
            {
              set_payload: {
                payload: { access_count: g.accessCount, ...confidencePayload(g.confidence) },
                filter: { must: [{ has_id: [g.keep] }] }
              }
            },
            { delete: { points: [...g.others] } }
          )
          n += g.others.length
        }
        yield* applyBatches(conn, "merge", operations)
        return n
      })
  }
}
