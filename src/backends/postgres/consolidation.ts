/**
 * Consolidation's port on PostgreSQL. Each decay page and each (agent, scope) merge is one
 * transaction whose rows are locked (`FOR UPDATE`) from the read to the write, so a concurrent recall
 * or forget waits for it instead of being overwritten.
 */
import { Effect, Schema } from "effect"
import type { ConsolidationPort } from "../../core/consolidation.js"
import { AgentId, MemoryId } from "../../domain/ids.js"
import { decodeRows, type PgClient } from "./client.js"
import { decodeVector } from "./vectorCodec.js"

/** Memories decayed per transaction. */
const DECAY_PAGE = 1000

const decodeStale = Schema.decodeUnknownSync(
  Schema.Struct({ id: MemoryId, confidence: Schema.Number, accessed_at: Schema.Number })
)
const decodePartition = Schema.decodeUnknownSync(Schema.Struct({ agent_id: AgentId, scope: Schema.String }))
const decodeMember = Schema.decodeUnknownSync(Schema.Struct({
  id: MemoryId,
  created_at: Schema.Number,
  embedding: Schema.Uint8ArrayFromSelf,
  access_count: Schema.Number,
  confidence: Schema.Number
}))

export const port = (client: PgClient): ConsolidationPort => ({
  backend: "postgres",
  decayPage: (bound, cursor, decay) =>
    client.transaction("decay", (q) =>
      Effect.gen(function*() {
        // The SQL form of the core's `staleBound`, in id order from the cursor.
        const rows = yield* decodeRows(
          "decay",
          yield* q.query({
            text: `SELECT id, confidence, accessed_at FROM memories
                   WHERE accessed_at < $1::bigint AND confidence > $2::float8 AND id > $3
                   ORDER BY id LIMIT $4 FOR UPDATE`,
            values: [bound.accessedBefore, bound.confidenceAbove, cursor ?? "", DECAY_PAGE]
          }),
          decodeStale
        )
        const updates = rows.flatMap((r) => {
          const confidence = decay({ confidence: r.confidence, accessedAt: r.accessed_at })
          return confidence === undefined ? [] : [{ id: r.id, confidence }]
        })
        if (updates.length > 0) {
          yield* q.execute({
            text: `UPDATE memories m SET confidence = u.confidence
                   FROM unnest($1::text[], $2::float8[]) AS u(id, confidence) WHERE m.id = u.id`,
            values: [updates.map((u) => u.id), updates.map((u) => u.confidence)]
          })
        }
        return { decayed: updates.length, next: rows.length === DECAY_PAGE ? rows[rows.length - 1]!.id : undefined }
      })),
  partitions: () =>
    Effect.map(
      client.rows(
        "merge",
        "SELECT DISTINCT agent_id, scope FROM memories WHERE embedding IS NOT NULL",
        decodePartition
      ),
      (rows) => rows.map((r) => ({ agentId: r.agent_id, scope: r.scope }))
    ),
  mergePartition: ({ agentId, scope }, plan) =>
    client.transaction("merge", (q) =>
      Effect.gen(function*() {
        const rows = yield* decodeRows(
          "merge",
          yield* q.query({
            text: `SELECT id, created_at, vector_send(embedding) AS embedding, access_count, confidence FROM memories
                   WHERE agent_id = $1 AND scope = $2 AND embedding IS NOT NULL
                   FOR UPDATE`,
            values: [agentId, scope]
          }),
          decodeMember
        )
        const groups = plan(rows.map((r) => ({
          id: r.id,
          createdAt: r.created_at,
          embedding: decodeVector(r.embedding),
          accessCount: r.access_count,
          confidence: r.confidence
        })))
        if (groups.length === 0) return 0
        yield* q.execute({
          text: `UPDATE memories m SET access_count = g.access_count, confidence = g.confidence
                 FROM unnest($1::text[], $2::bigint[], $3::float8[]) AS g(id, access_count, confidence)
                 WHERE m.id = g.id`,
          values: [groups.map((g) => g.keep), groups.map((g) => g.accessCount), groups.map((g) => g.confidence)]
        })
        const others = groups.flatMap((g) => g.others)
        yield* q.execute({ text: "DELETE FROM memories WHERE id = ANY($1::text[])", values: [others] })
        return others.length
      }))
})
