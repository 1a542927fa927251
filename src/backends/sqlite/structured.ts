/** StructuredStore's port on SQLite: one prepared statement per primitive. */
import { Option } from "effect"
import type { StructuredPort } from "../../core/structured.js"
import type { Json } from "../../domain/json.js"
import { agentsTable } from "../../tables/agents.js"
import { entryOf, kvTable } from "../../tables/kv.js"
import { selectFrom, upsertInto } from "../../tables/table.js"
import { attempt, type SqliteConnection } from "./client.js"

/** The port over `conn`; prepares its hot statements (and so may throw, at layer build). */
export const port = (conn: SqliteConnection): StructuredPort => {
  const getValue = conn.db.prepare(`SELECT value FROM kv WHERE agent_id = ? AND key = ?`).pluck()
  // One statement: insert at version 1 or bump the version, atomically, and return it.
  const upsert = conn.db.prepare(
    `INSERT INTO kv (agent_id, key, value, version, updated_at) VALUES (?, ?, ?, 1, ?)
     ON CONFLICT (agent_id, key) DO UPDATE SET
       value = excluded.value, version = kv.version + 1, updated_at = excluded.updated_at
     RETURNING version`
  ).pluck()
  const remove = conn.db.prepare(`DELETE FROM kv WHERE agent_id = ? AND key = ?`)
  const saveAgent = conn.db.prepare(
    `${upsertInto(agentsTable, "sqlite", agentsTable.columns.filter((c) => c !== "id" && c !== "created_at"))}
     RETURNING ${agentsTable.columnList}`
  )
  const loadAgent = conn.db.prepare(`${selectFrom(agentsTable)} WHERE id = ?`)

  /**
   * A page of keys. The prefix is matched with substr (never LIKE, whose % and _ are wildcards);
   * the range condition `key >= prefix` lets the primary key index start at the prefix.
   */
  const listSql = (prefix: boolean, after: boolean) =>
    `${selectFrom(kvTable)} WHERE agent_id = ?` +
    (prefix ? ` AND key >= ? AND substr(key, 1, length(?)) = ?` : "") +
    (after ? ` AND key > ?` : "") +
    ` ORDER BY key LIMIT ?`

  return {
    backend: "sqlite",
    get: (agent, key) =>
      attempt("get", () => {
        const text = getValue.get(agent, key) as string | undefined
        return text === undefined ? Option.none<Json>() : Option.some(JSON.parse(text) as Json)
      }),
    set: (agent, key, value, now) => attempt("set", () => upsert.get(agent, key, JSON.stringify(value), now) as number),
    delete: (agent, key) => attempt("delete", () => remove.run(agent, key).changes > 0),
    list: (agent, range) =>
      attempt("list", () => {
        const params: Array<unknown> = [agent]
        if (range.prefix !== undefined) params.push(range.prefix, range.prefix, range.prefix)
        if (range.after !== undefined) params.push(range.after)
        params.push(range.limit)
        return conn.all(listSql(range.prefix !== undefined, range.after !== undefined), params).map((r) =>
          entryOf(kvTable.decode(r))
        )
      }),
    saveAgent: (a, now) =>
      attempt(
        "saveAgent",
        () => agentsTable.decode(saveAgent.get(...agentsTable.values({ ...a, createdAt: now, updatedAt: now })))
      ),
    loadAgent: (id) =>
      attempt("loadAgent", () => Option.map(Option.fromNullable(loadAgent.get(id)), agentsTable.decode)),
    listAgents: () =>
      attempt("listAgents", () => conn.all(`${selectFrom(agentsTable)} ORDER BY id`).map(agentsTable.decode)),
    removeAgent: (id) => attempt("removeAgent", () => conn.run(`DELETE FROM agents WHERE id = ?`, [id]).changes > 0)
  }
}
