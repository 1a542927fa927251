/**
 * SessionStore primitives on SQLite; the derived operations (create, appendCanonical with compaction,
 * canonicalContext, storeSummary) come from src/core/sessions.ts. `modifyCanonical` reads, applies
 * the pure function and writes in one `BEGIN IMMEDIATE` transaction, so concurrent appends from any
 * number of processes are serialised and none is lost.
 */
import { Clock, Effect, Option } from "effect"
import { sessionInputs } from "../../core/inputs.js"
import { emptyCanonical, makeSessionStore } from "../../core/sessions.js"
import { DuplicateLabel, SessionNotFound } from "../../domain/errors.js"
import type { CanonicalSession, Message, Session, SessionSummary } from "../../domain/session.js"
import { SessionStore } from "../../services/SessionStore.js"
import { attempt, type SqliteConnection } from "./client.js"

const { agentId, canonicalInput, label, listOptions, optionalLabel, sessionId, sessionInput } = sessionInputs

export interface SessionRow {
  readonly id: string
  readonly agent_id: string
  readonly label: string | null
  readonly messages: string
  readonly created_at: number
  readonly updated_at: number
}

interface SummaryRow {
  readonly id: string
  readonly agent_id: string
  readonly label: string | null
  readonly message_count: number
  readonly created_at: number
  readonly updated_at: number
}

export interface CanonicalRow {
  readonly agent_id: string
  readonly messages: string
  readonly summary: string | null
  readonly updated_at: number
}

export const SESSION_COLUMNS = "id, agent_id, label, messages, created_at, updated_at"

export const toSession = (r: SessionRow): Session => ({
  id: r.id as Session["id"],
  agentId: r.agent_id as Session["agentId"],
  label: r.label,
  messages: JSON.parse(r.messages) as ReadonlyArray<Message>,
  createdAt: r.created_at,
  updatedAt: r.updated_at
})

const toSummary = (r: SummaryRow): SessionSummary => ({
  id: r.id as SessionSummary["id"],
  agentId: r.agent_id as SessionSummary["agentId"],
  label: r.label,
  messageCount: r.message_count,
  createdAt: r.created_at,
  updatedAt: r.updated_at
})

export const toCanonical = (r: CanonicalRow): CanonicalSession => ({
  agentId: r.agent_id as CanonicalSession["agentId"],
  messages: JSON.parse(r.messages) as ReadonlyArray<Message>,
  summary: r.summary,
  updatedAt: r.updated_at
})

/** The service over `conn`. */
export const make = (conn: SqliteConnection) => {
  const labelTaken = (agent: string, l: string | null, except: string): boolean =>
    l !== null &&
    conn.get(`SELECT 1 FROM sessions WHERE agent_id = ? AND label = ? AND id <> ?`, [agent, l, except]) !== undefined

  /** Store `c`; returns the messages as stored, a copy the caller's objects cannot alias. */
  const writeCanonical = (c: CanonicalSession): CanonicalSession => {
    const messages = JSON.stringify(c.messages)
    conn.run(
      `INSERT INTO canonical_sessions (agent_id, messages, summary, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET
         messages = excluded.messages, summary = excluded.summary, updated_at = excluded.updated_at`,
      [c.agentId, messages, c.summary, c.updatedAt]
    )
    return { ...c, messages: JSON.parse(messages) as ReadonlyArray<Message> }
  }

  const readCanonical = (agent: string): CanonicalRow | undefined =>
    conn.get<CanonicalRow>(`SELECT agent_id, messages, summary, updated_at FROM canonical_sessions WHERE agent_id = ?`, [agent])

  return SessionStore.of(makeSessionStore({
    get: (i) =>
      Effect.flatMap(sessionId(i), (id) =>
        attempt("SessionStore.get", () =>
          Option.map(
            Option.fromNullable(conn.get<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`, [id])),
            toSession
          ))),
    save: (input) =>
      Effect.gen(function*() {
        const s = yield* sessionInput(input)
        const now = yield* Clock.currentTimeMillis
        const result = yield* attempt("SessionStore.save", () =>
          conn.immediate((): Session | DuplicateLabel => {
            const existing = conn.get<{ agent_id: string; created_at: number }>(
              `SELECT agent_id, created_at FROM sessions WHERE id = ?`,
              [s.id]
            )
            // A session belongs to the agent that created it; a save never moves it.
            const agent = existing?.agent_id ?? s.agentId
            if (labelTaken(agent, s.label, s.id)) return new DuplicateLabel({ agentId: agent, label: s.label! })
            const createdAt = existing?.created_at ?? now
            const messages = JSON.stringify(s.messages)
            conn.run(
              `INSERT INTO sessions (id, agent_id, label, messages, message_count, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET
                 label = excluded.label, messages = excluded.messages,
                 message_count = excluded.message_count, updated_at = excluded.updated_at`,
              [s.id, agent, s.label, messages, s.messages.length, createdAt, now]
            )
            return {
              id: s.id,
              agentId: agent as Session["agentId"],
              label: s.label,
              messages: JSON.parse(messages) as ReadonlyArray<Message>,
              createdAt,
              updatedAt: now
            }
          }))
        if (result instanceof DuplicateLabel) return yield* result
        return result
      }),
    delete: (i) =>
      Effect.flatMap(sessionId(i), (id) =>
        attempt("SessionStore.delete", () => conn.run(`DELETE FROM sessions WHERE id = ?`, [id]).changes > 0)),
    deleteForAgent: (a) =>
      Effect.flatMap(agentId(a), (agent) =>
        attempt("SessionStore.deleteForAgent", () => conn.run(`DELETE FROM sessions WHERE agent_id = ?`, [agent]).changes)),
    list: (options) =>
      Effect.gen(function*() {
        const o = yield* listOptions(options)
        const columns = "id, agent_id, label, message_count, created_at, updated_at"
        return yield* attempt("SessionStore.list", () =>
          (o.agentId === undefined
            ? conn.all<SummaryRow>(`SELECT ${columns} FROM sessions ORDER BY updated_at DESC, id DESC`)
            : conn.all<SummaryRow>(
              `SELECT ${columns} FROM sessions WHERE agent_id = ? ORDER BY updated_at DESC, id DESC`,
              [o.agentId]
            )).map(toSummary))
      }),
    setLabel: (i, l) =>
      Effect.gen(function*() {
        const id = yield* sessionId(i)
        const newLabel = yield* optionalLabel(l)
        const now = yield* Clock.currentTimeMillis
        const error = yield* attempt("SessionStore.setLabel", () =>
          conn.immediate((): SessionNotFound | DuplicateLabel | undefined => {
            const s = conn.get<{ agent_id: string }>(`SELECT agent_id FROM sessions WHERE id = ?`, [id])
            if (s === undefined) return new SessionNotFound({ sessionId: id })
            if (labelTaken(s.agent_id, newLabel, id)) return new DuplicateLabel({ agentId: s.agent_id, label: newLabel! })
            conn.run(`UPDATE sessions SET label = ?, updated_at = ? WHERE id = ?`, [newLabel, now, id])
            return undefined
          }))
        if (error !== undefined) return yield* error
      }),
    findByLabel: (a, l) =>
      Effect.gen(function*() {
        const [agent, name] = [yield* agentId(a), yield* label(l)]
        return yield* attempt("SessionStore.findByLabel", () =>
          Option.map(
            Option.fromNullable(
              conn.get<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE agent_id = ? AND label = ?`, [agent, name])
            ),
            toSession
          ))
      }),
    loadCanonical: (a) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const now = yield* Clock.currentTimeMillis
        return yield* attempt("SessionStore.loadCanonical", () => {
          const row = readCanonical(agent)
          return row === undefined ? emptyCanonical(agent, now) : toCanonical(row)
        })
      }),
    saveCanonical: (input) =>
      Effect.gen(function*() {
        const c = yield* canonicalInput(input)
        const now = yield* Clock.currentTimeMillis
        const saved: CanonicalSession = { agentId: c.agentId, messages: c.messages, summary: c.summary, updatedAt: now }
        return yield* attempt("SessionStore.saveCanonical", () => writeCanonical(saved))
      }),
    deleteCanonical: (a) =>
      Effect.flatMap(agentId(a), (agent) =>
        attempt("SessionStore.deleteCanonical", () =>
          conn.run(`DELETE FROM canonical_sessions WHERE agent_id = ?`, [agent]).changes > 0)),
    modifyCanonical: (a, f) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const now = yield* Clock.currentTimeMillis
        return yield* attempt("SessionStore.modifyCanonical", () =>
          conn.immediate(() => {
            const row = readCanonical(agent)
            const next = f(row === undefined ? emptyCanonical(agent, now) : toCanonical(row), now)
            return writeCanonical(next)
          }))
      })
  }))
}
