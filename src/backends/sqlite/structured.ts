/** StructuredStore on SQLite: key-value rows per agent and the agent registry. */
import { Clock, Effect, Option } from "effect"
import { decodeCursor, pageOf } from "../../core/cursor.js"
import { structuredInputs } from "../../core/inputs.js"
import type { InvalidInput } from "../../domain/errors.js"
import type { Json } from "../../domain/json.js"
import type { AgentRecord } from "../../domain/structured.js"
import { StructuredStore } from "../../services/StructuredStore.js"
import { attempt, type SqliteConnection } from "./client.js"

const { agentId, agentInput, agentRef, key, listOptions, value } = structuredInputs

export interface AgentRow {
  readonly id: string
  readonly name: string
  readonly state: string
  readonly manifest: string
  readonly tags: string
  readonly parent: string | null
  readonly metadata: string
  readonly created_at: number
  readonly updated_at: number
}

export const toAgent = (r: AgentRow): AgentRecord => ({
  id: r.id as AgentRecord["id"],
  name: r.name,
  state: r.state as AgentRecord["state"],
  manifest: JSON.parse(r.manifest),
  tags: JSON.parse(r.tags),
  parent: r.parent as AgentRecord["parent"],
  metadata: JSON.parse(r.metadata),
  createdAt: r.created_at,
  updatedAt: r.updated_at
})

export const AGENT_COLUMNS = "id, name, state, manifest, tags, parent, metadata, created_at, updated_at"

/** Most strings a validity memo holds before it starts over. */
const MEMO_SIZE = 4096

/** Record a string that decoded successfully (bounded: the memo is cleared when full). */
const remember = (memo: Set<string>, s: string): void => {
  if (memo.size >= MEMO_SIZE) memo.clear()
  memo.add(s)
}

/** The service over `conn`; prepares its hot statements (and so may throw, at layer build). */
export const make = (conn: SqliteConnection) => {
  // Agent ids and keys that passed the core's decoders. The decoded value of such a string is the
  // string itself (the schemas check, they do not transform), so it can be used as is.
  const seenAgents = new Set<string>()
  const seenKeys = new Set<string>()
  const getValue = conn.db.prepare(`SELECT value FROM kv WHERE agent_id = ? AND key = ?`).pluck()
  // One statement: insert at version 1 or bump the version, atomically, and return it.
  const upsert = conn.db.prepare(
    `INSERT INTO kv (agent_id, key, value, version, updated_at) VALUES (?, ?, ?, 1, ?)
     ON CONFLICT (agent_id, key) DO UPDATE SET
       value = excluded.value, version = kv.version + 1, updated_at = excluded.updated_at
     RETURNING version`
  ).pluck()
  const remove = conn.db.prepare(`DELETE FROM kv WHERE agent_id = ? AND key = ?`)

  /**
   * A page of keys. The prefix is matched with substr (never LIKE, whose % and _ are wildcards);
   * the range condition `key >= prefix` lets the primary key index start at the prefix.
   */
  const listSql = (prefix: boolean, cursor: boolean) =>
    `SELECT key, value, version, updated_at FROM kv WHERE agent_id = ?` +
    (prefix ? ` AND key >= ? AND substr(key, 1, length(?)) = ?` : "") +
    (cursor ? ` AND key > ?` : "") +
    ` ORDER BY key LIMIT ?`

  const read = (agent: string, name: string) =>
    attempt("StructuredStore.get", () => {
      const text = getValue.get(agent, name) as string | undefined
      return text === undefined ? Option.none<Json>() : Option.some(JSON.parse(text) as Json)
    })

  /**
   * Check an agent id and a key. A get is one indexed read, so decoding its two strings would cost
   * more than the read: strings that decoded once are remembered and pass at once (decoding is
   * pure — the same string always decodes the same way — and yields the string itself).
   */
  const ids = (a: string, k: string): Effect.Effect<void, InvalidInput> =>
    seenAgents.has(a) && seenKeys.has(k)
      ? Effect.void
      : Effect.flatMap(agentId(a), (agent) =>
        Effect.map(key(k), (name) => {
          remember(seenAgents, agent)
          remember(seenKeys, name)
        }))

  return StructuredStore.of({
    get: (a, k) => (seenAgents.has(a) && seenKeys.has(k) ? read(a, k) : Effect.flatMap(ids(a, k), () => read(a, k))),
    set: (a, k, v) =>
      Effect.flatMap(ids(a, k), () =>
        Effect.flatMap(value(v), (json) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            attempt("StructuredStore.set", () => upsert.get(a, k, JSON.stringify(json), now) as number)))),
    delete: (a, k) =>
      Effect.gen(function*() {
        const [agent, name] = [yield* agentId(a), yield* key(k)]
        return yield* attempt("StructuredStore.delete", () => remove.run(agent, name).changes > 0)
      }),
    list: (a, options) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const o = yield* listOptions(options)
        const after = o.cursor === undefined ? undefined : (yield* decodeCursor(o.cursor, ["string"]))[0]
        const prefix = o.prefix === undefined || o.prefix === "" ? undefined : o.prefix
        const params: Array<unknown> = [agent]
        if (prefix !== undefined) params.push(prefix, prefix, prefix)
        if (after !== undefined) params.push(after)
        // One row more than the page tells whether there is a next page.
        params.push(o.limit + 1)
        const rows = yield* attempt("StructuredStore.list", () =>
          conn.all<{ key: string; value: string; version: number; updated_at: number }>(
            listSql(prefix !== undefined, after !== undefined),
            params
          ))
        const page = pageOf(rows, o.limit, (last) => [last.key])
        return {
          items: page.items.map((r) => ({
            key: r.key,
            value: JSON.parse(r.value) as Json,
            version: r.version,
            updatedAt: r.updated_at
          })),
          nextCursor: page.nextCursor
        }
      }),
    saveAgent: (input) =>
      Effect.gen(function*() {
        const a = yield* agentInput(input)
        const now = yield* Clock.currentTimeMillis
        const row = yield* attempt("StructuredStore.saveAgent", () =>
          conn.get<AgentRow>(
            `INSERT INTO agents (${AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET
               name = excluded.name, state = excluded.state, manifest = excluded.manifest, tags = excluded.tags,
               parent = excluded.parent, metadata = excluded.metadata, updated_at = excluded.updated_at
             RETURNING ${AGENT_COLUMNS}`,
            [
              a.id,
              a.name,
              a.state,
              JSON.stringify(a.manifest),
              JSON.stringify(a.tags),
              a.parent,
              JSON.stringify(a.metadata),
              now,
              now
            ]
          )!)
        return toAgent(row)
      }),
    loadAgent: (id) =>
      Effect.flatMap(agentRef(id), (a) =>
        attempt("StructuredStore.loadAgent", () =>
          Option.map(
            Option.fromNullable(conn.get<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ?`, [a])),
            toAgent
          ))),
    listAgents: () =>
      attempt("StructuredStore.listAgents", () =>
        conn.all<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents ORDER BY id`).map(toAgent)),
    removeAgent: (id) =>
      Effect.flatMap(agentRef(id), (a) =>
        attempt("StructuredStore.removeAgent", () => conn.run(`DELETE FROM agents WHERE id = ?`, [a]).changes > 0))
  })
}
