/**
 * KnowledgeStore on SQLite. Names are matched case-insensitively through the stored `name_folded`
 * (the core's `foldName`); traversal, cycle rules and result order are the core's `traverse`, fed by
 * two lookups that all run in one read transaction, so a query sees one snapshot of the graph.
 */
import { Clock, Effect, Option } from "effect"
import { foldName, traverse } from "../../core/graph.js"
import { knowledgeInputs } from "../../core/inputs.js"
import { EntityNotFound } from "../../domain/errors.js"
import { mintEntityId, mintRelationId } from "../../domain/ids.js"
import type { JsonObject } from "../../domain/json.js"
import type { Entity, Relation } from "../../domain/knowledge.js"
import { KnowledgeStore } from "../../services/KnowledgeStore.js"
import { attempt, type SqliteConnection } from "./client.js"

const { agentId, entityId, entityInput, graphQuery, relationInput } = knowledgeInputs

export interface EntityRow {
  readonly agent_id: string
  readonly id: string
  readonly type: string
  readonly name: string
  readonly properties: string
  readonly created_at: number
  readonly updated_at: number
}

export interface RelationRow {
  readonly agent_id: string
  readonly id: string
  readonly source: string
  readonly relation: string
  readonly target: string
  readonly properties: string
  readonly confidence: number
  readonly created_at: number
}

export const ENTITY_COLUMNS = "agent_id, id, type, name, properties, created_at, updated_at"
export const RELATION_COLUMNS = "agent_id, id, source, relation, target, properties, confidence, created_at"

export const toEntity = (r: EntityRow): Entity => ({
  agentId: r.agent_id as Entity["agentId"],
  id: r.id as Entity["id"],
  type: r.type,
  name: r.name,
  properties: JSON.parse(r.properties) as JsonObject,
  createdAt: r.created_at,
  updatedAt: r.updated_at
})

export const toRelation = (r: RelationRow): Relation => ({
  agentId: r.agent_id as Relation["agentId"],
  id: r.id as Relation["id"],
  source: r.source as Relation["source"],
  relation: r.relation,
  target: r.target as Relation["target"],
  properties: JSON.parse(r.properties) as JsonObject,
  confidence: r.confidence,
  createdAt: r.created_at
})

/** The service over `conn`. */
export const make = (conn: SqliteConnection) =>
  KnowledgeStore.of({
    upsertEntity: (input) =>
      Effect.gen(function*() {
        const e = yield* entityInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = e.id ?? (yield* mintEntityId)
        yield* attempt("KnowledgeStore.upsertEntity", () =>
          conn.run(
            `INSERT INTO entities (agent_id, id, type, name, name_folded, properties, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (agent_id, id) DO UPDATE SET
               type = excluded.type, name = excluded.name, name_folded = excluded.name_folded,
               properties = excluded.properties, updated_at = excluded.updated_at`,
            [e.agentId, id, e.type, e.name, foldName(e.name), JSON.stringify(e.properties), now, now]
          ))
        return id
      }),
    getEntity: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* agentId(a), yield* entityId(i)]
        return yield* attempt("KnowledgeStore.getEntity", () =>
          Option.map(
            Option.fromNullable(
              conn.get<EntityRow>(`SELECT ${ENTITY_COLUMNS} FROM entities WHERE agent_id = ? AND id = ?`, [agent, id])
            ),
            toEntity
          ))
      }),
    deleteEntity: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* agentId(a), yield* entityId(i)]
        // Relations touching the entity go with it (ON DELETE CASCADE, in the same statement).
        return yield* attempt("KnowledgeStore.deleteEntity", () =>
          conn.run(`DELETE FROM entities WHERE agent_id = ? AND id = ?`, [agent, id]).changes > 0)
      }),
    addRelation: (input) =>
      Effect.gen(function*() {
        const r = yield* relationInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = yield* mintRelationId
        const missing = yield* attempt("KnowledgeStore.addRelation", () =>
          conn.immediate(() => {
            for (const end of [r.source, r.target]) {
              if (conn.get(`SELECT 1 FROM entities WHERE agent_id = ? AND id = ?`, [r.agentId, end]) === undefined) {
                return end
              }
            }
            conn.run(
              `INSERT INTO relations (${RELATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
              [r.agentId, id, r.source, r.relation, r.target, JSON.stringify(r.properties), r.confidence, now]
            )
            return undefined
          }))
        if (missing !== undefined) return yield* new EntityNotFound({ agentId: r.agentId, entityId: missing })
        return id
      }),
    query: (input) =>
      Effect.gen(function*() {
        const q = yield* graphQuery(input)
        const relationSql = (bySource: boolean) =>
          `SELECT ${RELATION_COLUMNS} FROM relations WHERE agent_id = ?` +
          (q.relation === undefined ? "" : " AND relation = ?") +
          (bySource ? " AND source IN (SELECT value FROM json_each(?))" : "")
        const withRelation = (params: Array<unknown>) => (q.relation === undefined ? params : [...params.slice(0, 1), q.relation, ...params.slice(1)])
        const lookups = {
          outgoing: (ids: ReadonlyArray<string> | null) =>
            Effect.sync(() =>
              conn.all<RelationRow>(
                relationSql(ids !== null),
                withRelation(ids === null ? [q.agentId] : [q.agentId, JSON.stringify(ids)])
              ).map(toRelation)
            ),
          entities: (ids: ReadonlyArray<string>) =>
            Effect.sync(() =>
              conn.all<EntityRow>(
                `SELECT ${ENTITY_COLUMNS} FROM entities WHERE agent_id = ? AND id IN (SELECT value FROM json_each(?))`,
                [q.agentId, JSON.stringify(ids)]
              ).map(toEntity)
            )
        }
        // The lookups are synchronous SQL, so the whole traversal runs inside one read transaction;
        // a driver failure inside it surfaces from runSync and becomes a StorageError.
        return yield* attempt("KnowledgeStore.query", () =>
          conn.read(() => {
            const starts = q.source === undefined ? null : conn.all<EntityRow>(
              `SELECT ${ENTITY_COLUMNS} FROM entities WHERE agent_id = ? AND (id = ? OR name_folded = ?)`,
              [q.agentId, q.source, foldName(q.source)]
            ).map(toEntity)
            return Effect.runSync(traverse(q, lookups, starts))
          }))
      })
  })
