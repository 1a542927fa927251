/**
 * The session operations written once over the backend primitives (SPEC §2.4): create,
 * appendCanonical (atomic through `modifyCanonical`), canonicalContext and storeSummary.
 */
import { Effect } from "effect"
import { mintSessionId } from "../domain/ids.js"
import type { CanonicalSession, MessageInput } from "../domain/session.js"
import type { SessionDerived, SessionPrimitives } from "../services/SessionStore.js"
import { appendAndCompact, DEFAULT_THRESHOLD, KEEP_RECENT } from "./compaction.js"
import { sessionInputs } from "./inputs.js"

const {
  agentId: decodeAgent,
  label: decodeLabel,
  messages: decodeMessages,
  summary: decodeSummary,
  threshold: decodeThreshold,
  window: decodeWindow
} = sessionInputs

/** The canonical session of an agent that has none stored: no messages, no summary, updated now. */
export const emptyCanonical = (agentId: string, now: number): CanonicalSession => ({
  agentId: agentId as CanonicalSession["agentId"],
  messages: [],
  summary: null,
  updatedAt: now
})

/** The full SessionStore service from a backend's primitives. */
export const makeSessionStore = (p: SessionPrimitives): SessionPrimitives & SessionDerived => ({
  ...p,
  create: (agentId, label) =>
    Effect.gen(function*() {
      // Decoded here so an error names create's own parameters, not the fields of the save it makes.
      const agent = yield* decodeAgent(agentId)
      const name = label === undefined ? null : yield* decodeLabel(label)
      const id = yield* mintSessionId
      return yield* p.save({ id, agentId: agent, label: name, messages: [] })
    }).pipe(Effect.withSpan("SessionStore.create")),

  appendCanonical: (agentId, messages: ReadonlyArray<MessageInput>, threshold = DEFAULT_THRESHOLD) =>
    Effect.gen(function*() {
      const agent = yield* decodeAgent(agentId)
      const decoded = yield* decodeMessages(messages)
      const limit = yield* decodeThreshold(threshold)
      return yield* p.modifyCanonical(agent, (current, now) => appendAndCompact(current, decoded, limit, now))
    }).pipe(Effect.withSpan("SessionStore.appendCanonical")),

  canonicalContext: (agentId, window = KEEP_RECENT) =>
    Effect.gen(function*() {
      const size = yield* decodeWindow(window)
      const canonical = yield* p.loadCanonical(agentId)
      const messages = size === 0 ? [] : canonical.messages.slice(-size)
      return { summary: canonical.summary, messages }
    }).pipe(Effect.withSpan("SessionStore.canonicalContext")),

  storeSummary: (agentId, summary, keptMessages) =>
    Effect.gen(function*() {
      const agent = yield* decodeAgent(agentId)
      const text = yield* decodeSummary(summary)
      const kept = yield* decodeMessages(keptMessages)
      return yield* p.modifyCanonical(agent, (_current, now) => ({
        agentId: agent,
        messages: kept,
        summary: text,
        updatedAt: now
      }))
    }).pipe(Effect.withSpan("SessionStore.storeSummary"))
})
