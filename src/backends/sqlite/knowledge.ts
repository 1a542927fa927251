/**
 * KnowledgeStore's port on SQLite: one prepared statement per primitive. A graph query's lookups are
 * synchronous SQL, so the whole traversal runs inside one read transaction and sees one snapshot.
 */
import { Effect, Option } from "effect"
import type { GraphView, KnowledgePort } from "../../core/knowledge.js"
import { entitiesTable } from "../../tables/entities.js"
import { relationsTable } from "../../tables/relations.js"
import { insertInto, selectFrom, upsertInto } from "../../tables/table.js"
import { attempt, type SqliteConnection } from "./client.js"

/** The port over `conn`; prepares its statements (and so may throw, at layer build). */
export const port = (conn: SqliteConnection): KnowledgePort => {
  const upsertEntity = conn.db.prepare(
    upsertInto(
      entitiesTable,
      "sqlite",
      entitiesTable.columns.filter((c) => !entitiesTable.key.includes(c) && c !== "created_at")
    )
  )
  const getEntity = conn.db.prepare(`${selectFrom(entitiesTable)} WHERE agent_id = ? AND id = ?`)
  // Relations touching the entity go with it (ON DELETE CASCADE, in the same statement).
  const deleteEntity = conn.db.prepare(`DELETE FROM entities WHERE agent_id = ? AND id = ?`)
  const entityExists = conn.db.prepare(`SELECT 1 FROM entities WHERE agent_id = ? AND id = ?`).pluck()
  const insertRelation = conn.db.prepare(insertInto(relationsTable, "sqlite"))
  const named = conn.db.prepare(`${selectFrom(entitiesTable)} WHERE agent_id = ? AND (id = ? OR name_folded = ?)`)
  const entitiesIn = conn.db.prepare(
    `${selectFrom(entitiesTable)} WHERE agent_id = ? AND id IN (SELECT value FROM json_each(?))`
  )
  /** Outgoing relations: [of every source, of the listed sources] × [any type, one type]. */
  const outgoing = [false, true].map((bySource) =>
    [false, true].map((byType) =>
      conn.db.prepare(
        `${selectFrom(relationsTable)} WHERE agent_id = ?` +
          (byType ? " AND relation = ?" : "") +
          (bySource ? " AND source IN (SELECT value FROM json_each(?))" : "")
      )
    )
  )

  return {
    backend: "sqlite",
    upsertEntity: (e, now) =>
      attempt("upsertEntity", () => {
        upsertEntity.run(...entitiesTable.values({ ...e, createdAt: now, updatedAt: now }))
      }),
    getEntity: (agent, id) =>
      attempt("getEntity", () => Option.map(Option.fromNullable(getEntity.get(agent, id)), entitiesTable.decode)),
    deleteEntity: (agent, id) => attempt("deleteEntity", () => deleteEntity.run(agent, id).changes > 0),
    addRelation: (r) =>
      attempt("addRelation", () =>
        conn.immediate(() => {
          const missing = [r.source, r.target].find((end) => entityExists.get(r.agentId, end) === undefined)
          if (missing === undefined) insertRelation.run(...relationsTable.values(r))
          return Option.fromNullable(missing)
        })),
    readGraph: (agent, relation, read) => {
      const view: GraphView = {
        named: (ref, folded) => attempt("query", () => named.all(agent, ref, folded).map(entitiesTable.decode)),
        outgoing: (ids) =>
          attempt("query", () => {
            const params: Array<unknown> = [agent]
            if (relation !== undefined) params.push(relation)
            if (ids !== null) params.push(JSON.stringify(ids))
            return outgoing[ids === null ? 0 : 1]![relation === undefined ? 0 : 1]!.all(...params).map(
              relationsTable.decode
            )
          }),
        entities: (ids) => attempt("query", () => entitiesIn.all(agent, JSON.stringify(ids)).map(entitiesTable.decode))
      }
      // The read runs to completion synchronously inside the transaction; its exit, typed failures
      // included, comes out as it is.
      return Effect.flatten(attempt("query", () => conn.read(() => Effect.runSyncExit(read(view)))))
    }
  }
}
