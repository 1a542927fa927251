/**
 * KnowledgeStore's port on PostgreSQL: one named statement per primitive. A graph query's lookups
 * run on one connection.
 */
import { Effect, Option } from "effect"
import type { GraphView, KnowledgePort } from "../../core/knowledge.js"
import type { EntityId } from "../../domain/ids.js"
import { entitiesTable } from "../../tables/entities.js"
import { relationsTable } from "../../tables/relations.js"
import { selectFrom, upsertInto } from "../../tables/table.js"
import { decodeRows, type PgClient, sqlState, type Statement } from "./client.js"

const UPSERT_ENTITY = upsertInto(
  entitiesTable,
  "postgres",
  entitiesTable.columns.filter((c) => !entitiesTable.key.includes(c) && c !== "created_at")
)

/**
 * One statement: insert only when both ends exist, and say which one is missing. The parameters are
 * the relation's values in column order ($1 agent_id, $3 source, $5 target).
 */
const ADD_RELATION = `WITH s AS (SELECT 1 FROM entities WHERE agent_id = $1 AND id = $3),
       t AS (SELECT 1 FROM entities WHERE agent_id = $1 AND id = $5),
       ins AS (
         INSERT INTO relations (${relationsTable.columnList})
         SELECT $1, $2, $3, $4, $5, $6, $7, $8
         WHERE EXISTS (SELECT 1 FROM s) AND EXISTS (SELECT 1 FROM t)
       )
  SELECT EXISTS (SELECT 1 FROM s) AS has_source, EXISTS (SELECT 1 FROM t) AS has_target`

/** Outgoing relations of an agent, of every source or of the listed ones, of any type or of one. */
const outgoing = (agent: string, relation: string | undefined, ids: ReadonlyArray<string> | null): Statement => {
  const values: Array<unknown> = [agent]
  let text = `${selectFrom(relationsTable)} WHERE agent_id = $1`
  if (relation !== undefined) {
    values.push(relation)
    text += ` AND relation = $${values.length}`
  }
  if (ids !== null) {
    values.push(ids)
    text += ` AND source = ANY($${values.length}::text[])`
  }
  const name = `engram_relations_${ids === null ? "all" : "from"}${relation === undefined ? "" : "_typed"}`
  return { name, text, values }
}

/** The constraint a server error names, if any. */
const constraintOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "constraint" in cause && typeof cause.constraint === "string"
    ? cause.constraint
    : undefined

/** The port over the pool of `client`. */
export const port = (client: PgClient): KnowledgePort => ({
  backend: "postgres",
  upsertEntity: (e, now) =>
    Effect.asVoid(client.execute("upsertEntity", {
      name: "engram_entities_upsert",
      text: UPSERT_ENTITY,
      values: entitiesTable.values({ ...e, createdAt: now, updatedAt: now })
    })),
  getEntity: (agent, id) =>
    Effect.map(
      client.rows("getEntity", {
        name: "engram_entities_get",
        text: `${selectFrom(entitiesTable)} WHERE agent_id = $1 AND id = $2`,
        values: [agent, id]
      }, entitiesTable.decode),
      (rows) => Option.fromNullable(rows[0])
    ),
  // Relations touching the entity go with it (ON DELETE CASCADE).
  deleteEntity: (agent, id) =>
    Effect.map(
      client.execute("deleteEntity", {
        name: "engram_entities_delete",
        text: "DELETE FROM entities WHERE agent_id = $1 AND id = $2",
        values: [agent, id]
      }),
      (n) => n > 0
    ),
  addRelation: (r) =>
    client.query<{ has_source: boolean; has_target: boolean }>("addRelation", {
      name: "engram_relations_add",
      text: ADD_RELATION,
      values: relationsTable.values(r)
    }).pipe(
      Effect.map((rows): Option.Option<EntityId> =>
        rows[0]?.has_source !== true
          ? Option.some(r.source)
          : rows[0].has_target
          ? Option.none()
          : Option.some(r.target)
      ),
      // An end deleted by a concurrent transaction after the check is caught by the foreign keys.
      Effect.catchIf(
        (e) => e._tag === "StorageError" && sqlState(e.cause) === "23503",
        (e) => Effect.succeed(Option.some(constraintOf(e.cause) === "relations_source_fk" ? r.source : r.target))
      )
    ),
  readGraph: (agent, relation, read) =>
    client.withConnection("query", (q) => {
      const rows = <A>(statement: Statement, decode: (row: unknown) => A) =>
        Effect.flatMap(q.query(statement), (raw) => decodeRows("query", raw, decode))
      const view: GraphView = {
        named: (ref, folded) =>
          rows({
            name: "engram_entities_named",
            text: `${selectFrom(entitiesTable)} WHERE agent_id = $1 AND (id = $2 OR name_folded = $3)`,
            values: [agent, ref, folded]
          }, entitiesTable.decode),
        outgoing: (ids) => rows(outgoing(agent, relation, ids), relationsTable.decode),
        entities: (ids) =>
          rows({
            name: "engram_entities_in",
            text: `${selectFrom(entitiesTable)} WHERE agent_id = $1 AND id = ANY($2::text[])`,
            values: [agent, ids]
          }, entitiesTable.decode)
      }
      return read(view)
    })
})
