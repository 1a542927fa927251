/** StructuredStore's port on PostgreSQL: one statement per primitive; JSON stored as its exact text. */
import { Effect, Option } from "effect"
import type { StructuredPort } from "../../core/structured.js"
import type { Json } from "../../domain/json.js"
import { agentsTable } from "../../tables/agents.js"
import { entryOf, kvTable } from "../../tables/kv.js"
import { selectFrom, upsertInto } from "../../tables/table.js"
import { parseJson, type PgClient } from "./client.js"

/**
 * The smallest string above every string that starts with `prefix`, in code point order (the
 * order of `COLLATE "C"`), or undefined when there is none. It bounds a prefix scan of the index.
 */
const prefixUpperBound = (prefix: string): string | undefined => {
  const points = [...prefix]
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1
      return points.join("") + String.fromCodePoint(next)
    }
  }
  return undefined
}

const SAVE_AGENT = `${
  upsertInto(agentsTable, "postgres", agentsTable.columns.filter((c) => c !== "id" && c !== "created_at"))
}
  RETURNING ${agentsTable.columnList}`

const first = <A>(rows: ReadonlyArray<A>): Option.Option<A> => Option.fromNullable(rows[0])

export const port = (client: PgClient): StructuredPort => ({
  backend: "postgres",
  get: (agent, key) =>
    Effect.map(
      client.query<{ value: string }>("get", {
        name: "engram_kv_get",
        text: "SELECT value FROM kv WHERE agent_id = $1 AND key = $2",
        values: [agent, key]
      }),
      (rows) => Option.map(first(rows), (r) => parseJson<Json>(r.value))
    ),
  set: (agent, key, value, now) =>
    Effect.map(
      client.query<{ version: number }>("set", {
        name: "engram_kv_set",
        text: `INSERT INTO kv (agent_id, key, value, version, updated_at) VALUES ($1, $2, $3, 1, $4)
               ON CONFLICT (agent_id, key) DO UPDATE
               SET value = excluded.value, version = kv.version + 1, updated_at = excluded.updated_at
               RETURNING version`,
        values: [agent, key, JSON.stringify(value), now]
      }),
      (rows) => rows[0]!.version
    ),
  delete: (agent, key) =>
    Effect.map(
      client.execute("delete", {
        name: "engram_kv_delete",
        text: "DELETE FROM kv WHERE agent_id = $1 AND key = $2",
        values: [agent, key]
      }),
      (n) => n > 0
    ),
  list: (agent, range) => {
    const upper = range.prefix === undefined ? undefined : prefixUpperBound(range.prefix)
    const values: Array<unknown> = [agent, range.limit]
    const where = ["agent_id = $1"]
    if (range.prefix !== undefined) {
      values.push(range.prefix)
      where.push(`key >= $${values.length}`)
    }
    if (upper !== undefined) {
      values.push(upper)
      where.push(`key < $${values.length}`)
    }
    if (range.after !== undefined) {
      values.push(range.after)
      where.push(`key > $${values.length}`)
    }
    return client.rows(
      "list",
      { text: `${selectFrom(kvTable)} WHERE ${where.join(" AND ")} ORDER BY key LIMIT $2`, values },
      (row) => entryOf(kvTable.decode(row))
    )
  },
  saveAgent: (a, now) =>
    Effect.map(
      client.rows("saveAgent", {
        text: SAVE_AGENT,
        values: agentsTable.values({ ...a, createdAt: now, updatedAt: now })
      }, agentsTable.decode),
      (rows) => rows[0]!
    ),
  loadAgent: (id) =>
    Effect.map(
      client.rows("loadAgent", { text: `${selectFrom(agentsTable)} WHERE id = $1`, values: [id] }, agentsTable.decode),
      first
    ),
  listAgents: () => client.rows("listAgents", `${selectFrom(agentsTable)} ORDER BY id`, agentsTable.decode),
  removeAgent: (id) =>
    Effect.map(client.execute("removeAgent", { text: "DELETE FROM agents WHERE id = $1", values: [id] }), (n) => n > 0)
})
