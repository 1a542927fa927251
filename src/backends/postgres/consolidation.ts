/**
 * Consolidation on PostgreSQL. Decay is one UPDATE whose expression is the core's formula
 * (`max(floor, confidence × (1 − decayRate))`, with the factor computed in JavaScript so the float
 * operations are the same); merges are planned by src/core/consolidation.ts over each agent and
 * scope and applied in one transaction per group.
 */
import { Effect } from "effect"
import { consolidationRun, planMerges } from "../../core/consolidation.js"
import { Consolidation } from "../../services/Consolidation.js"
import type { PgClient } from "./client.js"
import { decodeVector } from "./semantic.js"

export const make = (client: PgClient) =>
  Consolidation.of({
    consolidate: (options) =>
      consolidationRun(options, (s, now) =>
        Effect.gen(function*() {
          const operation = "Consolidation.consolidate"
          // core `isStale` and `decayed`
          const decayedCount = yield* client.execute(operation, {
            text: `UPDATE memories SET confidence = GREATEST($1::float8, confidence * $2::float8)
                   WHERE accessed_at < $3::bigint AND confidence > $1::float8`,
            values: [s.floor, 1 - s.decayRate, now - s.staleAfterMs]
          })
          const groups = yield* client.query<{ agent_id: string; scope: string }>(
            operation,
            "SELECT DISTINCT agent_id, scope FROM memories WHERE embedding IS NOT NULL"
          )
          let merged = 0
          for (const g of groups) {
            merged += yield* client.transaction(operation, (q) =>
              Effect.gen(function*() {
                const rows = yield* q.query<{
                  id: string
                  created_at: number
                  embedding: Buffer
                  access_count: number
                  confidence: number
                }>({
                  text: `SELECT id, created_at, vector_send(embedding) AS embedding, access_count, confidence FROM memories
                         WHERE agent_id = $1 AND scope = $2 AND embedding IS NOT NULL
                         FOR UPDATE`,
                  values: [g.agent_id, g.scope]
                })
                const plans = planMerges(
                  rows.map((r) => ({
                    id: r.id,
                    createdAt: r.created_at,
                    embedding: decodeVector(r.embedding),
                    accessCount: r.access_count,
                    confidence: r.confidence
                  })),
                  s.mergeThreshold
                )
                if (plans.length === 0) return 0
                yield* q.execute({
                  text: `UPDATE memories m SET access_count = p.access_count, confidence = p.confidence
                         FROM unnest($1::text[], $2::bigint[], $3::float8[]) AS p(id, access_count, confidence)
                         WHERE m.id = p.id`,
                  values: [plans.map((p) => p.keep), plans.map((p) => p.accessCount), plans.map((p) => p.confidence)]
                })
                const others = plans.flatMap((p) => p.others)
                yield* q.execute({ text: "DELETE FROM memories WHERE id = ANY($1::text[])", values: [others] })
                return others.length
              }))
          }
          return { decayed: decayedCount, merged }
        }))
  })
