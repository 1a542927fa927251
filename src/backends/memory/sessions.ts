/** SessionStore's port in memory. Stored values are copies, so a caller's objects never alias them. */
import { Effect, Option } from "effect"
import { compareCodePoints } from "../../core/order.js"
import { labelTaken, type SessionPort } from "../../core/sessions.js"
import type { AgentId } from "../../domain/ids.js"
import type { Session } from "../../domain/session.js"
import { deleteWhere, type MemoryDb } from "./client.js"

/** True when a session of `agent` other than `except` holds `label`. */
const holder = (db: MemoryDb, agent: AgentId, label: string | null, except: string): boolean =>
  label !== null && [...db.sessions.values()].some((s) => s.agentId === agent && s.label === label && s.id !== except)

export const port = (db: MemoryDb): SessionPort => ({
  backend: "memory",
  get: (id) => Effect.sync(() => Option.fromNullable(db.sessions.get(id))),
  save: (s, now) =>
    Effect.sync(() => {
      const existing = db.sessions.get(s.id)
      // A session belongs to the agent that created it; a save never moves it.
      const agentId = existing?.agentId ?? s.agentId
      if (holder(db, agentId, s.label, s.id)) return labelTaken(agentId)
      const saved: Session = {
        id: s.id,
        agentId,
        label: s.label,
        messages: structuredClone(s.messages),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now
      }
      db.sessions.set(s.id, saved)
      return saved
    }),
  delete: (id) => Effect.sync(() => db.sessions.delete(id)),
  deleteForAgent: (agent) => Effect.sync(() => deleteWhere(db.sessions, (s) => s.agentId === agent)),
  list: (agent) =>
    Effect.sync(() =>
      [...db.sessions.values()]
        .filter((s) => agent === undefined || s.agentId === agent)
        .sort((x, y) => y.updatedAt - x.updatedAt || compareCodePoints(y.id, x.id))
        .map((s) => ({
          id: s.id,
          agentId: s.agentId,
          label: s.label,
          messageCount: s.messages.length,
          createdAt: s.createdAt,
          updatedAt: s.updatedAt
        }))
    ),
  setLabel: (id, label, now) =>
    Effect.sync(() => {
      const s = db.sessions.get(id)
      if (s === undefined) return "notFound"
      if (holder(db, s.agentId, label, id)) return labelTaken(s.agentId)
      db.sessions.set(id, { ...s, label, updatedAt: now })
      return "labelled"
    }),
  findByLabel: (agent, label) =>
    Effect.sync(() =>
      Option.fromNullable([...db.sessions.values()].find((s) => s.agentId === agent && s.label === label))
    ),
  loadCanonical: (agent) => Effect.sync(() => Option.fromNullable(db.canonical.get(agent))),
  saveCanonical: (c) =>
    Effect.sync(() => {
      const saved = structuredClone(c)
      db.canonical.set(c.agentId, saved)
      return saved
    }),
  deleteCanonical: (agent) => Effect.sync(() => db.canonical.delete(agent)),
  modifyCanonical: (agent, f) =>
    Effect.sync(() => {
      const next = structuredClone(f(Option.fromNullable(db.canonical.get(agent))))
      db.canonical.set(agent, next)
      return next
    })
})
