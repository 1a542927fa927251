/**
 * SessionStore written once: decoding, the Clock, minted ids, compaction, typed refusals and
 * instrumentation live here; a backend provides `SessionPort`, the storage primitives over decoded
 * values. Atomic changes of the canonical session go through `modifyCanonical`, which each backend
 * implements with its own isolation, so concurrent appends (from any number of processes) lose nothing.
 */
import { Clock, type Context, Effect, Option } from "effect"
import { type BackendName, DuplicateLabel, SessionNotFound, type StoreFailure } from "../domain/errors.js"
import { type AgentId, mintSessionId, type SessionId } from "../domain/ids.js"
import type { CanonicalSession, Session, SessionInput, SessionSummary } from "../domain/session.js"
import { SessionStore } from "../services/SessionStore.js"
import { appendAndCompact, DEFAULT_THRESHOLD, KEEP_RECENT } from "./compaction.js"
import { sessionInputs } from "./inputs.js"
import { instrumentService } from "./instrument.js"

const {
  agentId: decodeAgent,
  canonicalInput,
  label: decodeLabel,
  listOptions,
  messages: decodeMessages,
  optionalLabel,
  sessionId,
  sessionInput,
  summary: decodeSummary,
  threshold: decodeThreshold,
  window: decodeWindow
} = sessionInputs

/** A session as `save` stores it: every field decoded, the label defaulted to null. */
export type SessionFields = typeof SessionInput.Type

/** A write refused because another session of `agentId` (the owner of the session) holds the label. */
export interface LabelTaken {
  readonly _tag: "LabelTaken"
  readonly agentId: AgentId
}

/** The refusal of a label held by another session of `agentId`. */
export const labelTaken = (agentId: AgentId): LabelTaken => ({ _tag: "LabelTaken", agentId })

const isLabelTaken = (u: unknown): u is LabelTaken =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "LabelTaken"

/** What `setLabel` did. */
export type LabelOutcome = "labelled" | "notFound" | LabelTaken

/** The storage primitives of SessionStore. Every argument is already decoded. */
export interface SessionPort {
  readonly backend: BackendName
  readonly get: (id: SessionId) => Effect.Effect<Option.Option<Session>, StoreFailure>
  /**
   * Upsert, atomically with the label check. An existing session keeps its agent and createdAt;
   * updatedAt = now (and createdAt = now on insert). When another session of the owning agent holds
   * the label, nothing is written and the result is `LabelTaken`.
   */
  readonly save: (session: SessionFields, now: number) => Effect.Effect<Session | LabelTaken, StoreFailure>
  readonly delete: (id: SessionId) => Effect.Effect<boolean, StoreFailure>
  /** Delete every session of the agent (not its canonical session); how many. */
  readonly deleteForAgent: (agentId: AgentId) => Effect.Effect<number, StoreFailure>
  /** Every session, or one agent's: updatedAt descending, then id descending (code point order). */
  readonly list: (agentId: AgentId | undefined) => Effect.Effect<ReadonlyArray<SessionSummary>, StoreFailure>
  /** Set or clear the label and set updatedAt = now, atomically with the label check. */
  readonly setLabel: (id: SessionId, label: string | null, now: number) => Effect.Effect<LabelOutcome, StoreFailure>
  readonly findByLabel: (agentId: AgentId, label: string) => Effect.Effect<Option.Option<Session>, StoreFailure>
  /** The stored canonical session, if any. */
  readonly loadCanonical: (agentId: AgentId) => Effect.Effect<Option.Option<CanonicalSession>, StoreFailure>
  /** Upsert; the canonical session as stored. */
  readonly saveCanonical: (canonical: CanonicalSession) => Effect.Effect<CanonicalSession, StoreFailure>
  readonly deleteCanonical: (agentId: AgentId) => Effect.Effect<boolean, StoreFailure>
  /**
   * Atomically, across processes: read the agent's stored canonical session (None when there is
   * none), store `f(current)` in its place and return it. `f` is pure and may run more than once.
   */
  readonly modifyCanonical: (
    agentId: AgentId,
    f: (current: Option.Option<CanonicalSession>) => CanonicalSession
  ) => Effect.Effect<CanonicalSession, StoreFailure>
}

/** The canonical session of an agent that has none stored: no messages, no summary, updated now. */
export const emptyCanonical = (agentId: AgentId, now: number): CanonicalSession => ({
  agentId,
  messages: [],
  summary: null,
  updatedAt: now
})

/** SessionStore over a backend's port. */
export const makeSessionStore = (port: SessionPort): Context.Tag.Service<typeof SessionStore> => {
  /** Replace the agent's canonical session with `f(current or empty, now)`; the row stays the agent's. */
  const modify = (agent: AgentId, f: (current: CanonicalSession, now: number) => CanonicalSession) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      port.modifyCanonical(agent, (current) => ({
        ...f(Option.getOrElse(current, () => emptyCanonical(agent, now)), now),
        agentId: agent
      })))

  const save = (s: SessionFields) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(port.save(s, now), (saved) =>
        isLabelTaken(saved)
          ? Effect.fail(new DuplicateLabel({ agentId: saved.agentId, label: s.label ?? "" }))
          : Effect.succeed(saved)))

  return instrumentService(SessionStore, port.backend, {
    deleteForAgent: 0,
    findByLabel: 0,
    loadCanonical: 0,
    deleteCanonical: 0,
    modifyCanonical: 0,
    create: 0,
    appendCanonical: 0,
    canonicalContext: 0,
    storeSummary: 0
  })({
    get: (id) => Effect.flatMap(sessionId(id), port.get),
    save: (input) => Effect.flatMap(sessionInput(input), save),
    delete: (id) => Effect.flatMap(sessionId(id), port.delete),
    deleteForAgent: (a) => Effect.flatMap(decodeAgent(a), port.deleteForAgent),
    list: (options) => Effect.flatMap(listOptions(options), (o) => port.list(o.agentId)),
    setLabel: (i, l) =>
      Effect.gen(function*() {
        const id = yield* sessionId(i)
        const label = yield* optionalLabel(l)
        const outcome = yield* port.setLabel(id, label, yield* Clock.currentTimeMillis)
        if (outcome === "notFound") return yield* new SessionNotFound({ sessionId: id })
        if (isLabelTaken(outcome)) return yield* new DuplicateLabel({ agentId: outcome.agentId, label: label ?? "" })
      }),
    findByLabel: (a, l) =>
      Effect.flatMap(
        decodeAgent(a),
        (agent) => Effect.flatMap(decodeLabel(l), (label) => port.findByLabel(agent, label))
      ),
    loadCanonical: (a) =>
      Effect.flatMap(
        decodeAgent(a),
        (agent) =>
          Effect.flatMap(port.loadCanonical(agent), (stored) =>
            Option.isSome(stored)
              ? Effect.succeed(stored.value)
              : Effect.map(Clock.currentTimeMillis, (now) => emptyCanonical(agent, now)))
      ),
    saveCanonical: (input) =>
      Effect.flatMap(
        canonicalInput(input),
        (c) => Effect.flatMap(Clock.currentTimeMillis, (now) => port.saveCanonical({ ...c, updatedAt: now }))
      ),
    deleteCanonical: (a) => Effect.flatMap(decodeAgent(a), port.deleteCanonical),
    modifyCanonical: (a, f) => Effect.flatMap(decodeAgent(a), (agent) => modify(agent, f)),

    create: (a, l) =>
      Effect.gen(function*() {
        // Decoded here so an error names create's own parameters, not the fields of the save it makes.
        const agentId = yield* decodeAgent(a)
        const label = l === undefined ? null : yield* decodeLabel(l)
        return yield* save({ id: yield* mintSessionId, agentId, label, messages: [] })
      }),
    appendCanonical: (a, messages, threshold = DEFAULT_THRESHOLD) =>
      Effect.gen(function*() {
        const agent = yield* decodeAgent(a)
        const decoded = yield* decodeMessages(messages)
        const limit = yield* decodeThreshold(threshold)
        return yield* modify(agent, (current, now) => appendAndCompact(current, decoded, limit, now))
      }),
    canonicalContext: (a, window = KEEP_RECENT) =>
      Effect.gen(function*() {
        const agent = yield* decodeAgent(a)
        const size = yield* decodeWindow(window)
        const stored = yield* port.loadCanonical(agent)
        return Option.match(stored, {
          onNone: () => ({ summary: null, messages: [] }),
          onSome: (c) => ({ summary: c.summary, messages: size === 0 ? [] : c.messages.slice(-size) })
        })
      }),
    storeSummary: (a, summary, keptMessages) =>
      Effect.gen(function*() {
        const agent = yield* decodeAgent(a)
        const text = yield* decodeSummary(summary)
        const kept = yield* decodeMessages(keptMessages)
        return yield* modify(agent, (_current, now) => ({
          agentId: agent,
          messages: kept,
          summary: text,
          updatedAt: now
        }))
      })
  })
}
