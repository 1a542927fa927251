/** Consolidation over the in-memory memories. */
import { Effect } from "effect"
import { consolidationRun, decayed, isStale, planMerges } from "../../core/consolidation.js"
import type { Memory } from "../../domain/memory.js"
import { Consolidation } from "../../services/Consolidation.js"
import type { MemoryDb } from "./client.js"

export const make = (db: MemoryDb) =>
  Consolidation.of({
    consolidate: (options) =>
      consolidationRun(options, (s, now) =>
        Effect.sync(() => {
          let decayedCount = 0
          for (const m of db.memories.values()) {
            if (isStale(m.accessedAt, m.confidence, now, s)) {
              db.memories.set(m.id, { ...m, confidence: decayed(m.confidence, s) })
              decayedCount++
            }
          }
          const groups = new Map<string, Array<Memory>>()
          for (const m of db.memories.values()) {
            if (m.embedding === null) continue
            const k = JSON.stringify([m.agentId, m.scope])
            const g = groups.get(k)
            if (g === undefined) groups.set(k, [m])
            else g.push(m)
          }
          let merged = 0
          for (const ms of groups.values()) {
            const plans = planMerges(ms.map((m) => ({ ...m, embedding: m.embedding! })), s.mergeThreshold)
            for (const p of plans) {
              const keep = db.memories.get(p.keep)!
              db.memories.set(p.keep, { ...keep, accessCount: p.accessCount, confidence: p.confidence })
              for (const id of p.others) db.memories.delete(id)
              merged += p.others.length
            }
          }
          return { decayed: decayedCount, merged }
        }))
  })
