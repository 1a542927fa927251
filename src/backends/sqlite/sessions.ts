/**
 * SessionStore's port on SQLite: one prepared statement per primitive. Every read-check-write
 * (a save or relabel with its label check, a change of the canonical session) runs in one `BEGIN
 * IMMEDIATE` transaction, so concurrent writers in any number of processes are serialised and none
 * is lost.
 */
import { Option } from "effect"
import { labelTaken, type SessionPort } from "../../core/sessions.js"
import type { AgentId } from "../../domain/ids.js"
import type { CanonicalSession } from "../../domain/session.js"
import { canonicalSessionsTable as canonical } from "../../tables/canonicalSessions.js"
import {
  sessionOwners as owners,
  sessionsTable as sessions,
  sessionSummaries as summaries
} from "../../tables/sessions.js"
import { selectFrom, type Table, upsertInto } from "../../tables/table.js"
import { attempt, type SqliteConnection } from "./client.js"

/** `a` as a read of the row just written with `values` returns it: a copy no caller object aliases. */
const asStored = <Row, A>(t: Table<Row, A>, values: ReadonlyArray<unknown>): A =>
  t.decode(Object.fromEntries(t.columns.map((column, i) => [column, values[i]])))

/** The port over `conn`; prepares its statements (and so may throw, at layer build). */
export const port = (conn: SqliteConnection): SessionPort => {
  const prepare = (sql: string) => conn.db.prepare(sql)
  const get = prepare(`${selectFrom(sessions)} WHERE id = ?`)
  const owner = prepare(`${selectFrom(owners)} WHERE id = ?`)
  const holder = prepare(`SELECT 1 FROM sessions WHERE agent_id = ? AND label = ? AND id <> ?`).pluck()
  // An existing session keeps its agent and createdAt.
  const upsert = prepare(upsertInto(sessions, "sqlite", ["label", "messages", "message_count", "updated_at"]))
  const remove = prepare(`DELETE FROM sessions WHERE id = ?`)
  const removeForAgent = prepare(`DELETE FROM sessions WHERE agent_id = ?`)
  const listAll = prepare(`${selectFrom(summaries)} ORDER BY updated_at DESC, id DESC`)
  const listAgent = prepare(
    `${selectFrom(summaries)} WHERE agent_id = ? ORDER BY updated_at DESC, id DESC`
  )
  const relabel = prepare(`UPDATE sessions SET label = ?, updated_at = ? WHERE id = ?`)
  const byLabel = prepare(`${selectFrom(sessions)} WHERE agent_id = ? AND label = ?`)
  const loadCanonical = prepare(`${selectFrom(canonical)} WHERE agent_id = ?`)
  const saveCanonical = prepare(upsertInto(canonical, "sqlite"))
  const removeCanonical = prepare(`DELETE FROM canonical_sessions WHERE agent_id = ?`)

  const taken = (agent: string, label: string | null, except: string): boolean =>
    label !== null && holder.get(agent, label, except) !== undefined

  const readCanonical = (agent: AgentId): Option.Option<CanonicalSession> =>
    Option.map(Option.fromNullable(loadCanonical.get(agent)), canonical.decode)

  /** Store `c`; returns it as stored, a copy the caller's objects cannot alias. */
  const writeCanonical = (c: CanonicalSession): CanonicalSession => {
    const values = canonical.values(c)
    saveCanonical.run(...values)
    return asStored(canonical, values)
  }

  return {
    backend: "sqlite",
    get: (id) => attempt("get", () => Option.map(Option.fromNullable(get.get(id)), sessions.decode)),
    save: (s, now) =>
      attempt("save", () =>
        conn.immediate(() => {
          const row = owner.get(s.id)
          const existing = row === undefined ? undefined : owners.decode(row)
          // A session belongs to the agent that created it; a save never moves it.
          const agentId = existing?.agentId ?? s.agentId
          if (taken(agentId, s.label, s.id)) return labelTaken(agentId)
          const saved = { ...s, agentId, createdAt: existing?.createdAt ?? now, updatedAt: now }
          const values = sessions.values(saved)
          upsert.run(...values)
          return asStored(sessions, values)
        })),
    delete: (id) => attempt("delete", () => remove.run(id).changes > 0),
    deleteForAgent: (agent) => attempt("deleteForAgent", () => removeForAgent.run(agent).changes),
    list: (agent) =>
      attempt("list", () => (agent === undefined ? listAll.all() : listAgent.all(agent)).map(summaries.decode)),
    setLabel: (id, label, now) =>
      attempt("setLabel", () =>
        conn.immediate(() => {
          const row = owner.get(id)
          if (row === undefined) return "notFound"
          const s = owners.decode(row)
          if (taken(s.agentId, label, id)) return labelTaken(s.agentId)
          relabel.run(label, now, id)
          return "labelled"
        })),
    findByLabel: (agent, label) =>
      attempt("findByLabel", () => Option.map(Option.fromNullable(byLabel.get(agent, label)), sessions.decode)),
    loadCanonical: (agent) => attempt("loadCanonical", () => readCanonical(agent)),
    saveCanonical: (c) => attempt("saveCanonical", () => writeCanonical(c)),
    deleteCanonical: (agent) => attempt("deleteCanonical", () => removeCanonical.run(agent).changes > 0),
    modifyCanonical: (agent, f) =>
      attempt("modifyCanonical", () => conn.immediate(() => writeCanonical(f(readCanonical(agent)))))
  }
}
