/** Consolidation's port in memory: one page holds every memory, and `decay` decides for each. */
import { Effect } from "effect"
import type { ConsolidationPort, MergePartition } from "../../core/consolidation.js"
import type { MemoryDb } from "./client.js"

export const port = (db: MemoryDb): ConsolidationPort => ({
  backend: "memory",
  decayPage: (_bound, _cursor, decay) =>
    Effect.sync(() => {
      let n = 0
      for (const m of db.memories.values()) {
        const confidence = decay(m)
        if (confidence === undefined) continue
        db.memories.set(m.id, { ...m, confidence })
        n++
      }
      return { decayed: n, next: undefined }
    }),
  partitions: () =>
    Effect.sync(() => {
      const found = new Map<string, MergePartition>()
      for (const m of db.memories.values()) {
        if (m.embedding !== null) {
          found.set(JSON.stringify([m.agentId, m.scope]), { agentId: m.agentId, scope: m.scope })
        }
      }
      return [...found.values()]
    }),
  mergePartition: ({ agentId, scope }, plan) =>
    Effect.sync(() => {
      const candidates = [...db.memories.values()].flatMap((m) =>
        m.agentId === agentId && m.scope === scope && m.embedding !== null ? [{ ...m, embedding: m.embedding }] : []
      )
      let n = 0
      for (const p of plan(candidates)) {
        const keep = db.memories.get(p.keep)!
        db.memories.set(p.keep, { ...keep, accessCount: p.accessCount, confidence: p.confidence })
        for (const id of p.others) db.memories.delete(id)
        n += p.others.length
      }
      return n
    })
})
