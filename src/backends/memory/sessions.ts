/** SessionStore primitives in memory; the derived operations come from src/core/sessions.ts. */
import { Clock, Effect, Option } from "effect"
import { DuplicateLabel, SessionNotFound } from "../../domain/errors.js"
import type { SessionSummary } from "../../domain/session.js"
import { sessionInputs } from "../../core/inputs.js"
import { compareCodePoints } from "../../core/order.js"
import { emptyCanonical, makeSessionStore } from "../../core/sessions.js"
import { SessionStore } from "../../services/SessionStore.js"
import type { MemoryDb } from "./client.js"

const { agentId, canonicalInput, label, listOptions, optionalLabel, sessionId, sessionInput } = sessionInputs

const labelTaken = (db: MemoryDb, agent: string, l: string | null, except: string): boolean =>
  l !== null && [...db.sessions.values()].some((s) => s.agentId === agent && s.label === l && s.id !== except)

export const make = (db: MemoryDb) =>
  SessionStore.of(makeSessionStore({
    get: (i) => Effect.map(sessionId(i), (id) => Option.fromNullable(db.sessions.get(id))),
    save: (input) =>
      Effect.gen(function*() {
        const s = yield* sessionInput(input)
        const now = yield* Clock.currentTimeMillis
        const result = yield* Effect.sync(() => {
          const existing = db.sessions.get(s.id)
          const agent = existing?.agentId ?? s.agentId
          if (labelTaken(db, agent, s.label, s.id)) return new DuplicateLabel({ agentId: agent, label: s.label! })
          const saved = {
            id: s.id,
            agentId: agent,
            label: s.label,
            messages: structuredClone(s.messages),
            createdAt: existing?.createdAt ?? now,
            updatedAt: now
          }
          db.sessions.set(s.id, saved)
          return saved
        })
        if (result instanceof DuplicateLabel) return yield* result
        return result
      }),
    delete: (i) => Effect.flatMap(sessionId(i), (id) => Effect.sync(() => db.sessions.delete(id))),
    deleteForAgent: (a) =>
      Effect.flatMap(agentId(a), (agent) =>
        Effect.sync(() => {
          let n = 0
          for (const [id, s] of db.sessions) {
            if (s.agentId === agent) {
              db.sessions.delete(id)
              n++
            }
          }
          return n
        })),
    list: (options) =>
      Effect.gen(function*() {
        const o = yield* listOptions(options)
        return [...db.sessions.values()]
          .filter((s) => o.agentId === undefined || s.agentId === o.agentId)
          .sort((x, y) => y.updatedAt - x.updatedAt || compareCodePoints(y.id, x.id))
          .map((s): SessionSummary => ({
            id: s.id,
            agentId: s.agentId,
            label: s.label,
            messageCount: s.messages.length,
            createdAt: s.createdAt,
            updatedAt: s.updatedAt
          }))
      }),
    setLabel: (i, l) =>
      Effect.gen(function*() {
        const id = yield* sessionId(i)
        const newLabel = yield* optionalLabel(l)
        const now = yield* Clock.currentTimeMillis
        const error = yield* Effect.sync(() => {
          const s = db.sessions.get(id)
          if (s === undefined) return new SessionNotFound({ sessionId: id })
          if (labelTaken(db, s.agentId, newLabel, id)) return new DuplicateLabel({ agentId: s.agentId, label: newLabel! })
          db.sessions.set(id, { ...s, label: newLabel, updatedAt: now })
          return undefined
        })
        if (error !== undefined) return yield* error
      }),
    findByLabel: (a, l) =>
      Effect.gen(function*() {
        const [agent, name] = [yield* agentId(a), yield* label(l)]
        return Option.fromNullable([...db.sessions.values()].find((s) => s.agentId === agent && s.label === name))
      }),
    loadCanonical: (a) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const now = yield* Clock.currentTimeMillis
        return db.canonical.get(agent) ?? emptyCanonical(agent, now)
      }),
    saveCanonical: (input) =>
      Effect.gen(function*() {
        const c = yield* canonicalInput(input)
        const now = yield* Clock.currentTimeMillis
        const saved = { agentId: c.agentId, messages: structuredClone(c.messages), summary: c.summary, updatedAt: now }
        yield* Effect.sync(() => db.canonical.set(c.agentId, saved))
        return saved
      }),
    deleteCanonical: (a) => Effect.flatMap(agentId(a), (agent) => Effect.sync(() => db.canonical.delete(agent))),
    modifyCanonical: (a, f) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const now = yield* Clock.currentTimeMillis
        return yield* Effect.sync(() => {
          const current = db.canonical.get(agent) ?? emptyCanonical(agent, now)
          // A copy, like `save`: the caller's message objects (tool inputs are decoded by reference)
          // must not alias what is stored.
          const next = structuredClone(f(current, now))
          db.canonical.set(agent, next)
          return next
        })
      })
  }))
