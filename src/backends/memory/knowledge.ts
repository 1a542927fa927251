/** KnowledgeStore's port in memory. */
import { Effect, Option } from "effect"
import { foldName } from "../../core/graph.js"
import type { GraphView, KnowledgePort } from "../../core/knowledge.js"
import type { Entity } from "../../domain/knowledge.js"
import { bucket, type MemoryDb } from "./client.js"

/** The port over `db`; every primitive is one synchronous step, so it is atomic. */
export const port = (db: MemoryDb): KnowledgePort => ({
  backend: "memory",
  upsertEntity: (e, now) =>
    Effect.sync(() => {
      const entities = bucket(db.entities, e.agentId)
      const createdAt = entities.get(e.id)?.createdAt ?? now
      entities.set(e.id, { ...e, properties: structuredClone(e.properties), createdAt, updatedAt: now })
    }),
  getEntity: (agent, id) => Effect.sync(() => Option.fromNullable(db.entities.get(agent)?.get(id))),
  deleteEntity: (agent, id) =>
    Effect.sync(() => {
      const existed = db.entities.get(agent)?.delete(id) ?? false
      const relations = db.relations.get(agent)
      if (relations !== undefined) {
        for (const [rid, r] of relations) if (r.source === id || r.target === id) relations.delete(rid)
      }
      return existed
    }),
  addRelation: (r) =>
    Effect.sync(() => {
      const entities = db.entities.get(r.agentId)
      const missing = [r.source, r.target].find((end) => entities?.has(end) !== true)
      if (missing === undefined) {
        bucket(db.relations, r.agentId).set(r.id, { ...r, properties: structuredClone(r.properties) })
      }
      return Option.fromNullable(missing)
    }),
  readGraph: (agent, relation, read) =>
    Effect.suspend(() => {
      // A copy of the agent's graph taken in one synchronous step: the query sees one snapshot.
      const entities = new Map<string, Entity>(db.entities.get(agent))
      const relations = [...(db.relations.get(agent)?.values() ?? [])]
        .filter((r) => relation === undefined || r.relation === relation)
      const view: GraphView = {
        named: (ref, folded) =>
          Effect.succeed([...entities.values()].filter((e) => e.id === ref || foldName(e.name) === folded)),
        outgoing: (ids) => {
          if (ids === null) return Effect.succeed(relations)
          const sources = new Set(ids)
          return Effect.succeed(relations.filter((r) => sources.has(r.source)))
        },
        entities: (ids) => Effect.succeed(ids.flatMap((id) => Option.toArray(Option.fromNullable(entities.get(id)))))
      }
      return read(view)
    })
})
