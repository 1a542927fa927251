/**
 * Consolidation's port on SQLite. Each decay page and each (agent, scope) merge is one
 * `BEGIN IMMEDIATE` transaction, so a page's or a group's plan is made and applied under the same
 * lock without holding it for the whole store at once.
 */
import { Schema } from "effect"
import type { ConsolidationPort } from "../../core/consolidation.js"
import { AgentId, MemoryId } from "../../domain/ids.js"
import type { AccessCounts } from "./accessCounts.js"
import { attempt, type SqliteConnection } from "./client.js"
import { deleteMemory, fromBlob, setConfidence, statements } from "./memories.js"

/** Memories decayed per transaction. */
const DECAY_PAGE = 1000

const StaleRow = Schema.Struct({
  rid: Schema.Number,
  has_embedding: Schema.Literal(0, 1),
  id: MemoryId,
  confidence: Schema.Number,
  accessed_at: Schema.Number
})
const decodeStale = Schema.decodeUnknownSync(StaleRow)

const PartitionRow = Schema.Struct({ agent_id: AgentId, scope: Schema.String })
const decodePartition = Schema.decodeUnknownSync(PartitionRow)

const MemberRow = Schema.Struct({
  rid: Schema.Number,
  id: MemoryId,
  created_at: Schema.Number,
  access_count: Schema.Number,
  confidence: Schema.Number,
  embedding: Schema.Uint8ArrayFromSelf
})
const decodeMember = Schema.decodeUnknownSync(MemberRow)

/** The port over `conn`; prepares its statements (and so may throw, at layer build). */
export const port = (conn: SqliteConnection, counts: AccessCounts): ConsolidationPort => {
  const s = statements(conn)
  // The SQL form of the core's `staleBound`, in id order from the cursor.
  const stale = conn.db.prepare(
    `SELECT rid, has_embedding, id, confidence, accessed_at FROM memories
     WHERE accessed_at < ? AND confidence > ? AND id > ? ORDER BY id LIMIT ?`
  )
  const partitions = conn.db.prepare(`SELECT DISTINCT agent_id, scope FROM memories WHERE has_embedding = 1`)
  const members = conn.db.prepare(
    `SELECT rid, id, created_at, access_count, confidence, embedding
     FROM memories WHERE agent_id = ? AND scope = ? AND has_embedding = 1`
  )
  const setCounts = conn.db.prepare(`UPDATE memories SET access_count = ? WHERE rid = ?`)

  return {
    backend: "sqlite",
    decayPage: (bound, cursor, decay) =>
      attempt("decay", () =>
        counts.immediate(() => {
          const rows = stale.all(bound.accessedBefore, bound.confidenceAbove, cursor ?? "", DECAY_PAGE).map((r) =>
            decodeStale(r)
          )
          let n = 0
          for (const r of rows) {
            const confidence = decay({ confidence: r.confidence, accessedAt: r.accessed_at })
            if (confidence === undefined) continue
            setConfidence(s, { rid: r.rid, hasEmbedding: r.has_embedding === 1 }, confidence)
            n++
          }
          return { decayed: n, next: rows.length === DECAY_PAGE ? rows[rows.length - 1]!.id : undefined }
        })),
    partitions: () =>
      attempt("merge", () => partitions.all().map((r) => {
        const p = decodePartition(r)
        return { agentId: p.agent_id, scope: p.scope }
      })),
    mergePartition: ({ agentId, scope }, plan) =>
      attempt("merge", () =>
        counts.immediate(() => {
          const rows = members.all(agentId, scope).map((r) => decodeMember(r))
          const rid = new Map(rows.map((r) => [r.id as string, r.rid]))
          const groups = plan(rows.map((r) => ({
            id: r.id,
            createdAt: r.created_at,
            embedding: fromBlob(r.embedding),
            accessCount: r.access_count,
            confidence: r.confidence
          })))
          let n = 0
          for (const g of groups) {
            const keep = { rid: rid.get(g.keep)!, hasEmbedding: true }
            setCounts.run(g.accessCount, keep.rid)
            setConfidence(s, keep, g.confidence)
            for (const id of g.others) deleteMemory(s, { rid: rid.get(id)!, hasEmbedding: true })
            n += g.others.length
          }
          return n
        }))
  }
}
