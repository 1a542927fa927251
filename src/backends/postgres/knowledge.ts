/** KnowledgeStore on PostgreSQL; traversal and its ordering come from src/core/graph.ts. */
import { Clock, Effect, Option } from "effect"
import { EntityNotFound } from "../../domain/errors.js"
import { mintEntityId, mintRelationId } from "../../domain/ids.js"
import type { JsonObject } from "../../domain/json.js"
import type { Entity, Relation } from "../../domain/knowledge.js"
import { foldName, traverse } from "../../core/graph.js"
import { knowledgeInputs } from "../../core/inputs.js"
import { KnowledgeStore } from "../../services/KnowledgeStore.js"
import { parseJson, type PgClient } from "./client.js"

const { agentId, entityId, entityInput, graphQuery, relationInput } = knowledgeInputs

export interface EntityRow {
  agent_id: string
  id: string
  type: string
  name: string
  properties: string
  created_at: number
  updated_at: number
}

export interface RelationRow {
  agent_id: string
  id: string
  source: string
  relation: string
  target: string
  properties: string
  confidence: number
  created_at: number
}

export const ENTITY_COLUMNS = "agent_id, id, type, name, properties, created_at, updated_at"
export const RELATION_COLUMNS = "agent_id, id, source, relation, target, properties, confidence, created_at"

export const toEntity = (r: EntityRow): Entity => ({
  agentId: r.agent_id as Entity["agentId"],
  id: r.id as Entity["id"],
  type: r.type,
  name: r.name,
  properties: parseJson<JsonObject>(r.properties),
  createdAt: r.created_at,
  updatedAt: r.updated_at
})

export const toRelation = (r: RelationRow): Relation => ({
  agentId: r.agent_id as Relation["agentId"],
  id: r.id as Relation["id"],
  source: r.source as Relation["source"],
  relation: r.relation,
  target: r.target as Relation["target"],
  properties: parseJson<JsonObject>(r.properties),
  confidence: r.confidence,
  createdAt: r.created_at
})

export const make = (client: PgClient) =>
  KnowledgeStore.of({
    upsertEntity: (input) =>
      Effect.gen(function*() {
        const e = yield* entityInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = e.id ?? (yield* mintEntityId)
        yield* client.execute("KnowledgeStore.upsertEntity", {
          text: `INSERT INTO entities (agent_id, id, type, name, name_fold, properties, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                 ON CONFLICT (agent_id, id) DO UPDATE SET type = excluded.type, name = excluded.name,
                   name_fold = excluded.name_fold, properties = excluded.properties, updated_at = excluded.updated_at`,
          values: [e.agentId, id, e.type, e.name, foldName(e.name), JSON.stringify(e.properties), now]
        })
        return id
      }),
    getEntity: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* agentId(a), yield* entityId(i)]
        const rows = yield* client.query<EntityRow>("KnowledgeStore.getEntity", {
          text: `SELECT ${ENTITY_COLUMNS} FROM entities WHERE agent_id = $1 AND id = $2`,
          values: [agent, id]
        })
        return Option.map(Option.fromNullable(rows[0]), toEntity)
      }),
    deleteEntity: (a, i) =>
      Effect.gen(function*() {
        const [agent, id] = [yield* agentId(a), yield* entityId(i)]
        // Relations touching the entity go with it (ON DELETE CASCADE).
        const n = yield* client.execute("KnowledgeStore.deleteEntity", {
          text: "DELETE FROM entities WHERE agent_id = $1 AND id = $2",
          values: [agent, id]
        })
        return n > 0
      }),
    addRelation: (input) =>
      Effect.gen(function*() {
        const r = yield* relationInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = yield* mintRelationId
        // One statement: insert only when both ends exist, and say which one is missing. The foreign
        // keys still guard against an entity deleted concurrently (reported the same way).
        const rows = yield* client.query<{ has_source: boolean; has_target: boolean }>("KnowledgeStore.addRelation", {
          text: `WITH s AS (SELECT 1 FROM entities WHERE agent_id = $1 AND id = $2),
                      t AS (SELECT 1 FROM entities WHERE agent_id = $1 AND id = $4),
                      ins AS (
                        INSERT INTO relations (id, agent_id, source, relation, target, properties, confidence, created_at)
                        SELECT $5, $1, $2, $3, $4, $6, $7, $8
                        WHERE EXISTS (SELECT 1 FROM s) AND EXISTS (SELECT 1 FROM t)
                      )
                 SELECT EXISTS (SELECT 1 FROM s) AS has_source, EXISTS (SELECT 1 FROM t) AS has_target`,
          values: [r.agentId, r.source, r.relation, r.target, id, JSON.stringify(r.properties), r.confidence, now]
        }).pipe(
          Effect.catchIf(
            (e) => e._tag === "StorageError" && isForeignKey(e.cause),
            (e) =>
              Effect.succeed([{
                has_source: constraintOf(e._tag === "StorageError" ? e.cause : undefined) !== "relations_source_fk",
                has_target: false
              }])
          )
        )
        const found = rows[0]!
        if (!found.has_source) return yield* new EntityNotFound({ agentId: r.agentId, entityId: r.source })
        if (!found.has_target) return yield* new EntityNotFound({ agentId: r.agentId, entityId: r.target })
        return id
      }),
    query: (input) =>
      Effect.gen(function*() {
        const q = yield* graphQuery(input)
        const operation = "KnowledgeStore.query"
        const starts = q.source === undefined ? null : (yield* client.query<EntityRow>(operation, {
          text: `SELECT ${ENTITY_COLUMNS} FROM entities WHERE agent_id = $1 AND (id = $2 OR name_fold = $3)`,
          values: [q.agentId, q.source, foldName(q.source)]
        })).map(toEntity)
        return yield* traverse(q, {
          outgoing: (ids) =>
            Effect.map(
              client.query<RelationRow>(operation, {
                text: `SELECT ${RELATION_COLUMNS} FROM relations
                       WHERE agent_id = $1 AND ($2::text IS NULL OR relation = $2)
                         AND ($3::text[] IS NULL OR source = ANY($3::text[]))`,
                values: [q.agentId, q.relation ?? null, ids]
              }),
              (rows) => rows.map(toRelation)
            ),
          entities: (ids) =>
            Effect.map(
              client.query<EntityRow>(operation, {
                text: `SELECT ${ENTITY_COLUMNS} FROM entities WHERE agent_id = $1 AND id = ANY($2::text[])`,
                values: [q.agentId, ids]
              }),
              (rows) => rows.map(toEntity)
            )
        }, starts)
      })
  })

const isForeignKey = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && "code" in cause && cause.code === "23503"

const constraintOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "constraint" in cause && typeof cause.constraint === "string"
    ? cause.constraint
    : undefined
