/**
 * Consolidation on Qdrant (SPEC §2.8): decay and merge run where the memories live. The decay and
 * merge rules are the core's (src/core/consolidation.ts); this file scrolls the candidates page by
 * page with Qdrant filters and writes the results with batch payload updates.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { Clock, Effect, Either, Schema } from "effect"
import { StorageError } from "../../domain/errors.js"
import { consolidationSettings, decayed, isStale, type MergeCandidate, planMerges } from "../../core/consolidation.js"
import { Consolidation } from "../../services/Consolidation.js"
import { META_POINT_ID, type QdrantConnection } from "./client.js"
import { scrollPages } from "./semantic.js"

/** Most operations sent in one batch request. */
const MAX_BATCH_OPERATIONS = 500

const StaleFields = Schema.Struct({ confidence: Schema.Number, accessed_at: Schema.Number })
const GroupFields = Schema.Struct({ agent_id: Schema.String, scope: Schema.String })
const MergeFields = Schema.Struct({
  created_at: Schema.Number,
  access_count: Schema.Number,
  confidence: Schema.Number,
  embedding: Schema.Array(Schema.Number)
})

/** Decode the payload fields a step needs; a point without them is a StorageError. */
const fields = <A, I>(schema: Schema.Schema<A, I>, operation: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (point: Schemas["Record"]): Effect.Effect<A, StorageError> => {
    const result = decode(point.payload ?? {})
    return Either.isRight(result)
      ? Effect.succeed(result.right)
      : Effect.fail(
        new StorageError({
          backend: "qdrant",
          operation,
          message: `point ${String(point.id)} does not hold a valid memory: ${result.left.message}`,
          cause: result.left
        })
      )
  }
}

/** For `must_not`: the reserved point that records the embedding space is not a memory. */
const NOT_A_MEMORY: ReadonlyArray<Schemas["Condition"]> = [{ has_id: [META_POINT_ID] }]
/** For `must_not`: also memories without an embedding (their payload holds `embedding: null`). */
const NOT_EMBEDDED: ReadonlyArray<Schemas["Condition"]> = [...NOT_A_MEMORY, { is_empty: { key: "embedding" } }]

const applyBatches = (conn: QdrantConnection, operation: string, operations: ReadonlyArray<Schemas["UpdateOperation"]>) =>
  Effect.gen(function*() {
    for (let i = 0; i < operations.length; i += MAX_BATCH_OPERATIONS) {
      const chunk = operations.slice(i, i + MAX_BATCH_OPERATIONS)
      yield* conn.run(operation, (c) => c.batchUpdate(conn.collection, { wait: true, operations: chunk }))
    }
  })

export const make = (conn: QdrantConnection) =>
  Consolidation.of({
    consolidate: Effect.fn("Consolidation.consolidate")(function*(options) {
      const s = yield* consolidationSettings(options)
      const started = Date.now()
      const now = yield* Clock.currentTimeMillis

      // Decay: the stale memories above the floor, one batch of set_payload per page (one
      // operation per resulting confidence). Scrolling continues by point id, so a decayed point
      // is never visited twice.
      let decayedCount = 0
      const readStale = fields(StaleFields, "decay")
      yield* scrollPages(
        conn,
        "decay",
        {
          must: [
            { key: "accessed_at", range: { lt: now - s.staleAfterMs } },
            { key: "confidence", range: { gt: s.floor } }
          ],
          must_not: [...NOT_A_MEMORY]
        },
        ["confidence", "accessed_at"],
        (points) =>
          Effect.gen(function*() {
            const byValue = new Map<number, Array<Schemas["ExtendedPointId"]>>()
            for (const point of points) {
              const p = yield* readStale(point)
              if (!isStale(p.accessed_at, p.confidence, now, s)) continue
              const value = decayed(p.confidence, s)
              const ids = byValue.get(value)
              if (ids === undefined) byValue.set(value, [point.id])
              else ids.push(point.id)
              decayedCount++
            }
            yield* applyBatches(
              conn,
              "decay",
              [...byValue].map(([confidence, ids]) => ({
                set_payload: { payload: { confidence }, filter: { must: [{ has_id: ids }] } }
              }))
            )
          })
      )

      // Merge, one agent and scope at a time so memory is bounded by the largest group: first the
      // groups (a light scroll), then each group's vectors, planned by the core.
      const groups = new Map<string, { readonly agentId: string; readonly scope: string }>()
      const readGroup = fields(GroupFields, "merge")
      yield* scrollPages(conn, "merge", { must_not: [...NOT_EMBEDDED] }, ["agent_id", "scope"], (points) =>
        Effect.gen(function*() {
          for (const point of points) {
            const g = yield* readGroup(point)
            groups.set(JSON.stringify([g.agent_id, g.scope]), { agentId: g.agent_id, scope: g.scope })
          }
        }))

      let merged = 0
      const readCandidate = fields(MergeFields, "merge")
      for (const { agentId, scope } of groups.values()) {
        const candidates: Array<MergeCandidate> = []
        yield* scrollPages(
          conn,
          "merge",
          {
            must: [{ key: "agent_id", match: { value: agentId } }, { key: "scope", match: { value: scope } }],
            must_not: [...NOT_EMBEDDED]
          },
          ["created_at", "access_count", "confidence", "embedding"],
          (points) =>
            Effect.gen(function*() {
              for (const point of points) {
                const p = yield* readCandidate(point)
                candidates.push({
                  id: String(point.id),
                  createdAt: p.created_at,
                  embedding: p.embedding,
                  accessCount: p.access_count,
                  confidence: p.confidence
                })
              }
            })
        )
        const plans = planMerges(candidates, s.mergeThreshold)
        const operations: Array<Schemas["UpdateOperation"]> = []
        for (const plan of plans) {
          operations.push(
            {
              set_payload: {
                payload: { access_count: plan.accessCount, confidence: plan.confidence },
                filter: { must: [{ has_id: [plan.keep] }] }
              }
            },
            { delete: { points: [...plan.others] } }
          )
          merged += plan.others.length
        }
        yield* applyBatches(conn, "merge", operations)
      }
      return { decayed: decayedCount, merged, durationMs: Date.now() - started }
    })
  })
