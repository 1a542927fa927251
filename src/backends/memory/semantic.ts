/** SemanticStore in memory: exact cosine ranking and the reference text matcher. */
import { Effect, Option } from "effect"
import { MemoryNotFound } from "../../domain/errors.js"
import type { Memory } from "../../domain/memory.js"
import {
  accessed,
  decodeAgentId,
  decodeMemoryId,
  fuseHybrid,
  hitOrder,
  idInUse,
  matchesFilter,
  newestOrder,
  planRecall,
  prepareEmbedding,
  prepareFilter,
  prepareRemember,
  prepareRememberMany,
  type RecallPlan,
  type SemanticLimits
} from "../../core/semantic.js"
import { textScore, tokenize } from "../../core/textSearch.js"
import { cosine } from "../../core/vector.js"
import { SemanticStore } from "../../services/SemanticStore.js"
import type { MemoryDb } from "./client.js"

type Hit = { readonly memory: Memory; readonly score: number }

const candidates = (db: MemoryDb, plan: RecallPlan): Array<Memory> =>
  [...db.memories.values()].filter((m) => m.agentId === plan.agentId && matchesFilter(m, plan.filter))

const vectorHits = (ms: ReadonlyArray<Memory>, embedding: ReadonlyArray<number>, limit: number): Array<Hit> =>
  ms.flatMap((m) => (m.embedding === null ? [] : [{ memory: m, score: cosine(embedding, m.embedding) }]))
    .sort(hitOrder)
    .slice(0, limit)

const textHits = (ms: ReadonlyArray<Memory>, terms: ReadonlyArray<string>, limit: number): Array<Hit> =>
  ms.flatMap((m) => {
    const score = textScore(terms, tokenize(m.content))
    return score === undefined ? [] : [{ memory: m, score }]
  }).sort(hitOrder).slice(0, limit)

/** Answer a recall plan against memories (the reference semantics). */
export const answer = (ms: ReadonlyArray<Memory>, plan: RecallPlan): ReadonlyArray<Hit> => {
  switch (plan.mode) {
    case "vector":
      return vectorHits(ms, plan.embedding, plan.limit)
    case "text":
      return textHits(ms, plan.terms, plan.limit)
    case "hybrid":
      return fuseHybrid(vectorHits(ms, plan.embedding, plan.limit), textHits(ms, plan.terms, plan.limit), plan.limit)
    case "newest":
      return [...ms].sort(newestOrder).slice(0, plan.limit).map((memory) => ({ memory, score: 0 }))
  }
}

/** True when the id is free or already holds this agent's memory (an idempotent replay). */
const insertable = (db: MemoryDb, m: Memory): boolean => {
  const existing = db.memories.get(m.id)
  return existing === undefined || existing.agentId === m.agentId
}

/** Store a prepared memory unless its id exists (a replay stores nothing: the first write wins). */
const insert = (db: MemoryDb, m: Memory): void => {
  if (!db.memories.has(m.id)) db.memories.set(m.id, { ...m, metadata: structuredClone(m.metadata) })
}

export const make = (db: MemoryDb, limits: SemanticLimits) =>
  SemanticStore.of({
    embeddingSpace: limits.space,
    remember: (input) =>
      Effect.gen(function*() {
        const m = yield* prepareRemember(input, limits)
        const stored = yield* Effect.sync(() => {
          if (!insertable(db, m)) return false
          insert(db, m)
          return true
        })
        if (!stored) return yield* idInUse("input.id")
        return m.id
      }),
    rememberMany: (inputs) =>
      Effect.gen(function*() {
        const ms = yield* prepareRememberMany(inputs, limits)
        // Check every id before writing any, so a conflict anywhere stores nothing (one transaction).
        const conflict = yield* Effect.sync(() => {
          const at = ms.findIndex((m) => !insertable(db, m))
          if (at >= 0) return at
          for (const m of ms) insert(db, m)
          return undefined
        })
        if (conflict !== undefined) return yield* idInUse(`inputs[${conflict}].id`)
        return ms.map((m) => m.id)
      }),
    recall: (query) =>
      Effect.gen(function*() {
        const plan = yield* planRecall(query, limits)
        return yield* Effect.sync(() =>
          answer(candidates(db, plan), plan).map((h) => {
            const memory = accessed(h.memory, plan.now)
            db.memories.set(memory.id, memory)
            return { memory, score: h.score }
          })
        )
      }),
    get: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        return Option.fromNullable(db.memories.get(id)).pipe(Option.filter((m) => m.agentId === agent))
      }),
    forget: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        return yield* Effect.sync(() => db.memories.get(id)?.agentId === agent && db.memories.delete(id))
      }),
    updateEmbedding: (a, i, e) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* decodeAgentId(a), yield* decodeMemoryId(i)]
        const embedding = yield* prepareEmbedding(e, limits)
        const found = yield* Effect.sync(() => {
          const m = db.memories.get(id)
          if (m === undefined || m.agentId !== agent) return false
          db.memories.set(id, { ...m, embedding })
          return true
        })
        if (!found) return yield* new MemoryNotFound({ agentId: agent, memoryId: id })
      }),
    count: (a, f) =>
      Effect.gen(function*() {
        const agent = yield* decodeAgentId(a)
        const filter = yield* prepareFilter(f)
        return [...db.memories.values()].filter((m) => m.agentId === agent && matchesFilter(m, filter)).length
      })
  })

