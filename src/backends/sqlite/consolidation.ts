/**
 * Consolidation on the SQLite memories: decay, then merge of near-duplicates within each agent and
 * scope. The rules (staleness, the decay formula, the merge plan) are the core's; this file reads
 * candidates and writes results. Decay is one `BEGIN IMMEDIATE` transaction; each (agent, scope)
 * group is merged in its own, so the plan is made and applied under the same lock without holding
 * it for the whole store at once.
 */
import { Effect } from "effect"
import { consolidationRun, decayed, isStale, planMerges } from "../../core/consolidation.js"
import { Consolidation } from "../../services/Consolidation.js"
import { attempt, type SqliteConnection } from "./client.js"
import { deleteMemory, fromBlob, statements } from "./semantic.js"

interface Candidate {
  readonly rid: number
  readonly id: string
  readonly created_at: number
  readonly access_count: number
  readonly confidence: number
  readonly embedding: Buffer
}

/** The service over `conn`; prepares its statements (and so may throw, at layer build). */
export const make = (conn: SqliteConnection) => {
  const s = statements(conn)
  const stale = conn.db.prepare(
    `SELECT rid, confidence, accessed_at, has_embedding FROM memories WHERE accessed_at < ? AND confidence > ?`
  )
  const groups = conn.db.prepare(`SELECT DISTINCT agent_id, scope FROM memories WHERE has_embedding = 1`)
  // CROSS JOIN: the group's rows drive, each vector is fetched by rowid.
  const members = conn.db.prepare(
    `SELECT m.rid, m.id, m.created_at, m.access_count, m.confidence, v.embedding
     FROM memories m CROSS JOIN memories_vec v ON v.rowid = m.rid
     WHERE m.agent_id = ? AND m.scope = ? AND m.has_embedding = 1`
  )
  const setCounts = conn.db.prepare(`UPDATE memories SET access_count = ?, confidence = ? WHERE rid = ?`)

  return Consolidation.of({
    consolidate: (options) =>
      consolidationRun(options, (settings, now) =>
        Effect.gen(function*() {
          const decayedCount = yield* attempt("Consolidation.decay", () =>
            conn.immediate(() => {
              let n = 0
              for (const row of stale.all(now - settings.staleAfterMs, settings.floor) as Array<{
                rid: number
                confidence: number
                accessed_at: number
                has_embedding: number
              }>) {
                if (!isStale(row.accessed_at, row.confidence, now, settings)) continue
                const confidence = decayed(row.confidence, settings)
                s.setConfidence.run(confidence, row.rid)
                // The vector table filters minConfidence inside the KNN: keep its copy in step.
                if (row.has_embedding === 1) s.setVectorConfidence.run(confidence, BigInt(row.rid))
                n++
              }
              return n
            }))
          const keys = yield* attempt("Consolidation.merge", () =>
            groups.all() as Array<{ agent_id: string; scope: string }>)
          let merged = 0
          for (const key of keys) {
            merged += yield* attempt("Consolidation.merge", () =>
              conn.immediate(() => {
                const rows = members.all(key.agent_id, key.scope) as Array<Candidate>
                const byId = new Map(rows.map((r) => [r.id, r]))
                const plans = planMerges(
                  rows.map((r) => ({
                    id: r.id,
                    createdAt: r.created_at,
                    embedding: fromBlob(r.embedding),
                    accessCount: r.access_count,
                    confidence: r.confidence
                  })),
                  settings.mergeThreshold
                )
                let n = 0
                for (const p of plans) {
                  const keep = byId.get(p.keep)!
                  setCounts.run(p.accessCount, p.confidence, keep.rid)
                  s.setVectorConfidence.run(p.confidence, BigInt(keep.rid))
                  for (const id of p.others) deleteMemory(s, byId.get(id)!.rid, true)
                  n += p.others.length
                }
                return n
              }))
          }
          return { decayed: decayedCount, merged }
        }))
  })
}
