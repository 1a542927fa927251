/** StructuredStore on PostgreSQL: one statement per call; JSON stored as its exact text. */
import { Clock, Effect, Option } from "effect"
import { decodeCursor, pageOf } from "../../core/cursor.js"
import { structuredInputs } from "../../core/inputs.js"
import type { Json } from "../../domain/json.js"
import type { AgentRecord } from "../../domain/structured.js"
import { StructuredStore } from "../../services/StructuredStore.js"
import { parseJson, type PgClient } from "./client.js"

const { agentId, agentInput, agentRef, key, listOptions, value } = structuredInputs

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

export interface AgentRow {
  id: string
  name: string
  state: string
  manifest: string
  tags: string
  parent: string | null
  metadata: string
  created_at: number
  updated_at: number
}

export const AGENT_COLUMNS = "id, name, state, manifest, tags, parent, metadata, created_at, updated_at"

export const toAgent = (r: AgentRow): AgentRecord => ({
  id: r.id as AgentRecord["id"],
  name: r.name,
  state: r.state as AgentRecord["state"],
  manifest: parseJson<Json>(r.manifest),
  tags: parseJson<Array<string>>(r.tags),
  parent: r.parent as AgentRecord["parent"],
  metadata: parseJson<AgentRecord["metadata"]>(r.metadata),
  createdAt: r.created_at,
  updatedAt: r.updated_at
})

export const make = (client: PgClient) =>
  StructuredStore.of({
    get: (a, k) =>
      Effect.gen(function*() {
        const [agent, name] = [yield* agentId(a), yield* key(k)]
        const rows = yield* client.query<{ value: string }>("StructuredStore.get", {
          name: "engram_kv_get",
          text: "SELECT value FROM kv WHERE agent_id = $1 AND key = $2",
          values: [agent, name]
        })
        return Option.map(Option.fromNullable(rows[0]), (r) => parseJson<Json>(r.value))
      }),
    set: (a, k, v) =>
      Effect.gen(function*() {
        const [agent, name, json] = [yield* agentId(a), yield* key(k), yield* value(v)]
        const now = yield* Clock.currentTimeMillis
        const rows = yield* client.query<{ version: number }>("StructuredStore.set", {
          name: "engram_kv_set",
          text: `INSERT INTO kv (agent_id, key, value, version, updated_at) VALUES ($1, $2, $3, 1, $4)
                 ON CONFLICT (agent_id, key) DO UPDATE
                 SET value = excluded.value, version = kv.version + 1, updated_at = excluded.updated_at
                 RETURNING version`,
          values: [agent, name, JSON.stringify(json), now]
        })
        return rows[0]!.version
      }),
    delete: (a, k) =>
      Effect.gen(function*() {
        const [agent, name] = [yield* agentId(a), yield* key(k)]
        const n = yield* client.execute("StructuredStore.delete", {
          name: "engram_kv_delete",
          text: "DELETE FROM kv WHERE agent_id = $1 AND key = $2",
          values: [agent, name]
        })
        return n > 0
      }),
    list: (a, options) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const o = yield* listOptions(options)
        const after = o.cursor === undefined ? undefined : (yield* decodeCursor(o.cursor, ["string"]))[0]
        const prefix = o.prefix ?? ""
        const upper = prefix === "" ? undefined : prefixUpperBound(prefix)
        const values: Array<unknown> = [agent, o.limit + 1]
        const where = ["agent_id = $1"]
        if (prefix !== "") {
          values.push(prefix)
          where.push(`key >= $${values.length}`)
        }
        if (upper !== undefined) {
          values.push(upper)
          where.push(`key < $${values.length}`)
        }
        if (after !== undefined) {
          values.push(after)
          where.push(`key > $${values.length}`)
        }
        const rows = yield* client.query<{ key: string; value: string; version: number; updated_at: number }>(
          "StructuredStore.list",
          {
            text: `SELECT key, value, version, updated_at FROM kv WHERE ${where.join(" AND ")} ORDER BY key LIMIT $2`,
            values
          }
        )
        const page = pageOf(rows, o.limit, (last) => [last.key])
        return {
          items: page.items.map((r) => ({ key: r.key, value: parseJson<Json>(r.value), version: r.version, updatedAt: r.updated_at })),
          nextCursor: page.nextCursor
        }
      }),
    saveAgent: (input) =>
      Effect.gen(function*() {
        const a = yield* agentInput(input)
        const now = yield* Clock.currentTimeMillis
        const rows = yield* client.query<AgentRow>("StructuredStore.saveAgent", {
          text: `INSERT INTO agents (${AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, state = excluded.state,
                   manifest = excluded.manifest, tags = excluded.tags, parent = excluded.parent,
                   metadata = excluded.metadata, updated_at = excluded.updated_at
                 RETURNING ${AGENT_COLUMNS}`,
          values: [
            a.id,
            a.name,
            a.state,
            JSON.stringify(a.manifest),
            JSON.stringify(a.tags),
            a.parent,
            JSON.stringify(a.metadata),
            now
          ]
        })
        return toAgent(rows[0]!)
      }),
    loadAgent: (id) =>
      Effect.gen(function*() {
        const agent = yield* agentRef(id)
        const rows = yield* client.query<AgentRow>("StructuredStore.loadAgent", {
          text: `SELECT ${AGENT_COLUMNS} FROM agents WHERE id = $1`,
          values: [agent]
        })
        return Option.map(Option.fromNullable(rows[0]), toAgent)
      }),
    listAgents: () =>
      Effect.map(
        client.query<AgentRow>("StructuredStore.listAgents", `SELECT ${AGENT_COLUMNS} FROM agents ORDER BY id`),
        (rows) => rows.map(toAgent)
      ),
    removeAgent: (id) =>
      Effect.gen(function*() {
        const agent = yield* agentRef(id)
        const n = yield* client.execute("StructuredStore.removeAgent", { text: "DELETE FROM agents WHERE id = $1", values: [agent] })
        return n > 0
      })
  })
