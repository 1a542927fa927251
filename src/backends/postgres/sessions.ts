/** SessionStore primitives on PostgreSQL; the derived operations come from src/core/sessions.ts. */
import { Clock, Effect, Option } from "effect"
import { DuplicateLabel, SessionNotFound, type StoreFailure } from "../../domain/errors.js"
import type { CanonicalSession, Message, Session, SessionSummary } from "../../domain/session.js"
import { sessionInputs } from "../../core/inputs.js"
import { emptyCanonical, makeSessionStore } from "../../core/sessions.js"
import { SessionStore } from "../../services/SessionStore.js"
import { parseJson, type PgClient, sqlState } from "./client.js"

const { agentId, canonicalInput, label, listOptions, optionalLabel, sessionId, sessionInput } = sessionInputs

export interface SessionRow {
  id: string
  agent_id: string
  label: string | null
  messages: string
  created_at: number
  updated_at: number
}

interface SummaryRow {
  id: string
  agent_id: string
  label: string | null
  message_count: number
  created_at: number
  updated_at: number
}

export interface CanonicalRow {
  agent_id: string
  messages: string
  summary: string | null
  updated_at: number
}

export const SESSION_COLUMNS = "id, agent_id, label, messages, created_at, updated_at"

export const toSession = (r: SessionRow): Session => ({
  id: r.id as Session["id"],
  agentId: r.agent_id as Session["agentId"],
  label: r.label,
  messages: parseJson<Array<Message>>(r.messages),
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
  messages: parseJson<Array<Message>>(r.messages),
  summary: r.summary,
  updatedAt: r.updated_at
})

const isLabelConflict = (e: StoreFailure): boolean =>
  e._tag === "StorageError" && sqlState(e.cause) === "23505" &&
  typeof e.cause === "object" && e.cause !== null && "constraint" in e.cause && e.cause.constraint === "sessions_label"

export const make = (client: PgClient) => {
  /** The agent that owns a session (for a DuplicateLabel raised by the label index). */
  const ownerOf = (id: string, fallback: string) =>
    Effect.map(
      client.query<{ agent_id: string }>("SessionStore.label", { text: "SELECT agent_id FROM sessions WHERE id = $1", values: [id] }),
      (rows) => rows[0]?.agent_id ?? fallback
    )

  return SessionStore.of(makeSessionStore({
    get: (i) =>
      Effect.gen(function*() {
        const id = yield* sessionId(i)
        const rows = yield* client.query<SessionRow>("SessionStore.get", {
          text: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`,
          values: [id]
        })
        return Option.map(Option.fromNullable(rows[0]), toSession)
      }),
    save: (input) =>
      Effect.gen(function*() {
        const s = yield* sessionInput(input)
        const now = yield* Clock.currentTimeMillis
        // An existing session keeps its agent and createdAt.
        const rows = yield* client.query<Omit<SessionRow, "messages">>("SessionStore.save", {
          text: `INSERT INTO sessions (id, agent_id, label, messages, message_count, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)
                 ON CONFLICT (id) DO UPDATE SET label = excluded.label, messages = excluded.messages,
                   message_count = excluded.message_count, updated_at = excluded.updated_at
                 RETURNING id, agent_id, label, created_at, updated_at`,
          values: [s.id, s.agentId, s.label, JSON.stringify(s.messages), s.messages.length, now]
        }).pipe(
          Effect.catchIf(isLabelConflict, () =>
            Effect.flatMap(ownerOf(s.id, s.agentId), (agent) => new DuplicateLabel({ agentId: agent, label: s.label! })))
        )
        const r = rows[0]!
        const saved: Session = {
          id: r.id as Session["id"],
          agentId: r.agent_id as Session["agentId"],
          label: r.label,
          messages: s.messages,
          createdAt: r.created_at,
          updatedAt: r.updated_at
        }
        return saved
      }),
    delete: (i) =>
      Effect.gen(function*() {
        const id = yield* sessionId(i)
        return (yield* client.execute("SessionStore.delete", { text: "DELETE FROM sessions WHERE id = $1", values: [id] })) > 0
      }),
    deleteForAgent: (a) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        return yield* client.execute("SessionStore.deleteForAgent", {
          text: "DELETE FROM sessions WHERE agent_id = $1",
          values: [agent]
        })
      }),
    list: (options) =>
      Effect.gen(function*() {
        const o = yield* listOptions(options)
        const rows = yield* client.query<SummaryRow>("SessionStore.list", {
          text: `SELECT id, agent_id, label, message_count, created_at, updated_at FROM sessions
                 WHERE $1::text IS NULL OR agent_id = $1 ORDER BY updated_at DESC, id DESC`,
          values: [o.agentId ?? null]
        })
        return rows.map(toSummary)
      }),
    setLabel: (i, l) =>
      Effect.gen(function*() {
        const id = yield* sessionId(i)
        const newLabel = yield* optionalLabel(l)
        const now = yield* Clock.currentTimeMillis
        const n = yield* client.execute("SessionStore.setLabel", {
          text: "UPDATE sessions SET label = $2, updated_at = $3 WHERE id = $1",
          values: [id, newLabel, now]
        }).pipe(
          Effect.catchIf(isLabelConflict, () =>
            Effect.flatMap(ownerOf(id, ""), (agent) => new DuplicateLabel({ agentId: agent, label: newLabel! })))
        )
        if (n === 0) return yield* new SessionNotFound({ sessionId: id })
      }),
    findByLabel: (a, l) =>
      Effect.gen(function*() {
        const [agent, name] = [yield* agentId(a), yield* label(l)]
        const rows = yield* client.query<SessionRow>("SessionStore.findByLabel", {
          text: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE agent_id = $1 AND label = $2`,
          values: [agent, name]
        })
        return Option.map(Option.fromNullable(rows[0]), toSession)
      }),
    loadCanonical: (a) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const now = yield* Clock.currentTimeMillis
        const rows = yield* client.query<CanonicalRow>("SessionStore.loadCanonical", {
          text: "SELECT agent_id, messages, summary, updated_at FROM canonical_sessions WHERE agent_id = $1",
          values: [agent]
        })
        return rows[0] === undefined ? emptyCanonical(agent, now) : toCanonical(rows[0])
      }),
    saveCanonical: (input) =>
      Effect.gen(function*() {
        const c = yield* canonicalInput(input)
        const now = yield* Clock.currentTimeMillis
        yield* client.execute("SessionStore.saveCanonical", {
          text: `INSERT INTO canonical_sessions (agent_id, messages, summary, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (agent_id) DO UPDATE SET messages = excluded.messages, summary = excluded.summary,
                   updated_at = excluded.updated_at`,
          values: [c.agentId, JSON.stringify(c.messages), c.summary, now]
        })
        return { agentId: c.agentId, messages: c.messages, summary: c.summary, updatedAt: now }
      }),
    deleteCanonical: (a) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const n = yield* client.execute("SessionStore.deleteCanonical", {
          text: "DELETE FROM canonical_sessions WHERE agent_id = $1",
          values: [agent]
        })
        return n > 0
      }),
    modifyCanonical: (a, f) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const now = yield* Clock.currentTimeMillis
        return yield* client.transaction("SessionStore.modifyCanonical", (q) =>
          Effect.gen(function*() {
            // Create-or-lock in one statement: ON CONFLICT DO UPDATE takes the row lock, waits for a
            // concurrent modifier to commit and returns the row as it committed it, so no append is lost.
            const rows = yield* q.query<CanonicalRow>({
              text: `INSERT INTO canonical_sessions (agent_id, messages, summary, updated_at) VALUES ($1, '[]', NULL, $2)
                     ON CONFLICT (agent_id) DO UPDATE SET agent_id = excluded.agent_id
                     RETURNING agent_id, messages, summary, updated_at`,
              values: [agent, now]
            })
            const next = f(toCanonical(rows[0]!), now)
            yield* q.execute({
              text: "UPDATE canonical_sessions SET messages = $2, summary = $3, updated_at = $4 WHERE agent_id = $1",
              values: [agent, JSON.stringify(next.messages), next.summary, next.updatedAt]
            })
            return next
          }))
      })
  }))
}
