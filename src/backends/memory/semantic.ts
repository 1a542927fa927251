/** SemanticStore's port in memory: the core's filter predicate and text score over every memory of the agent. */
import { Effect, Option } from "effect"
import { filterPredicate } from "../../core/memoryFilter.js"
import type { Candidates, RecallPlan } from "../../core/recall.js"
import type { SemanticPort } from "../../core/semantic.js"
import { textScore, tokenize } from "../../core/textSearch.js"
import type { Memory } from "../../domain/memory.js"
import type { MemoryDb } from "./client.js"

/** What a plan needs, read from the agent's memories that pass its filter. */
const candidates = (db: MemoryDb, plan: RecallPlan): Candidates => {
  const passes = filterPredicate(plan.filter)
  const mine = [...db.memories.values()].filter((m) => m.agentId === plan.agentId && passes(m))
  const nearest = () => mine.filter((m) => m.embedding !== null)
  const matches = (terms: ReadonlyArray<string>) =>
    mine.flatMap((memory) => {
      const score = textScore(terms, tokenize(memory.content))
      return score === undefined ? [] : [{ memory, score }]
    })
  switch (plan.mode) {
    case "vector":
      return { nearest: nearest() }
    case "text":
      return { matches: matches(plan.terms) }
    case "hybrid":
      return { nearest: nearest(), matches: matches(plan.terms) }
    case "newest":
      return { newest: mine }
  }
}

/** True when the id is free or already holds this agent's memory (an idempotent replay). */
const insertable = (db: MemoryDb, m: Memory): boolean => {
  const existing = db.memories.get(m.id)
  return existing === undefined || existing.agentId === m.agentId
}

/** The agent's memory with this id. */
const owned = (db: MemoryDb, agentId: string, id: string): Memory | undefined => {
  const m = db.memories.get(id)
  return m?.agentId === agentId ? m : undefined
}

export const port = (db: MemoryDb): SemanticPort => ({
  backend: "memory",
  insert: (memories) =>
    Effect.sync(() => {
      // Check every id before writing any, so a conflict anywhere stores nothing (one transaction).
      const conflict = memories.findIndex((m) => !insertable(db, m))
      if (conflict >= 0) return conflict
      // A replay stores nothing: the first write wins.
      for (const m of memories) {
        if (!db.memories.has(m.id)) db.memories.set(m.id, { ...m, metadata: structuredClone(m.metadata) })
      }
      return undefined
    }),
  recall: (plan, pick) =>
    Effect.sync(() => {
      const hits = pick(candidates(db, plan))
      for (const { memory } of hits) {
        const stored = db.memories.get(memory.id)!
        db.memories.set(memory.id, { ...stored, accessedAt: plan.now, accessCount: stored.accessCount + 1 })
      }
      return hits
    }),
  get: (agent, id) => Effect.sync(() => Option.fromNullable(owned(db, agent, id))),
  forget: (agent, id) => Effect.sync(() => owned(db, agent, id) !== undefined && db.memories.delete(id)),
  updateEmbedding: (agent, id, embedding) =>
    Effect.sync(() => {
      const m = owned(db, agent, id)
      if (m === undefined) return false
      db.memories.set(id, { ...m, embedding })
      return true
    }),
  count: (agent, filter) =>
    Effect.sync(() => {
      const passes = filterPredicate(filter)
      let n = 0
      for (const m of db.memories.values()) if (m.agentId === agent && passes(m)) n++
      return n
    })
})
