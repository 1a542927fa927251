/** KnowledgeStore in memory. */
import { Clock, Effect, Option } from "effect"
import { EntityNotFound } from "../../domain/errors.js"
import { mintEntityId, mintRelationId } from "../../domain/ids.js"
import { entityMatches, traverse } from "../../core/graph.js"
import { knowledgeInputs } from "../../core/inputs.js"
import { KnowledgeStore } from "../../services/KnowledgeStore.js"
import { bucket, type MemoryDb } from "./client.js"

const { agentId, entityId, entityInput, graphQuery, relationInput } = knowledgeInputs

export const make = (db: MemoryDb) =>
  KnowledgeStore.of({
    upsertEntity: (input) =>
      Effect.gen(function*() {
        const e = yield* entityInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = e.id ?? (yield* mintEntityId)
        return yield* Effect.sync(() => {
          const entities = bucket(db.entities, e.agentId)
          const createdAt = entities.get(id)?.createdAt ?? now
          entities.set(id, {
            agentId: e.agentId,
            id,
            type: e.type,
            name: e.name,
            properties: structuredClone(e.properties),
            createdAt,
            updatedAt: now
          })
          return id
        })
      }),
    getEntity: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* agentId(a), yield* entityId(i)]
        return Option.fromNullable(db.entities.get(agent)?.get(id))
      }),
    deleteEntity: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* agentId(a), yield* entityId(i)]
        return yield* Effect.sync(() => {
          const existed = db.entities.get(agent)?.delete(id) ?? false
          const relations = db.relations.get(agent)
          if (relations !== undefined) {
            for (const [rid, r] of relations) if (r.source === id || r.target === id) relations.delete(rid)
          }
          return existed
        })
      }),
    addRelation: (input) =>
      Effect.gen(function*() {
        const r = yield* relationInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = yield* mintRelationId
        const missing = yield* Effect.sync(() => {
          const entities = db.entities.get(r.agentId)
          const missing = [r.source, r.target].find((e) => entities?.has(e) !== true)
          if (missing !== undefined) return missing
          bucket(db.relations, r.agentId).set(id, {
            agentId: r.agentId,
            id,
            source: r.source,
            relation: r.relation,
            target: r.target,
            properties: structuredClone(r.properties),
            confidence: r.confidence,
            createdAt: now
          })
          return undefined
        })
        if (missing !== undefined) return yield* new EntityNotFound({ agentId: r.agentId, entityId: missing })
        return id
      }),
    query: (input) =>
      Effect.gen(function*() {
        const q = yield* graphQuery(input)
        const entities = db.entities.get(q.agentId) ?? new Map()
        const relations = [...(db.relations.get(q.agentId)?.values() ?? [])]
          .filter((r) => q.relation === undefined || r.relation === q.relation)
        const starts = q.source === undefined ? null : [...entities.values()].filter((e) => entityMatches(e, q.source!))
        return yield* traverse(q, {
          outgoing: (ids) =>
            Effect.succeed(ids === null ? relations : relations.filter((r) => ids.includes(r.source))),
          entities: (ids) => Effect.succeed(ids.flatMap((id) => Option.toArray(Option.fromNullable(entities.get(id)))))
        }, starts)
      })
  })
