import { Context, type Effect, type Option } from "effect"
import type { DuplicateLabel, InvalidInput, SessionNotFound, StoreFailure } from "../domain/errors.js"
import type {
  CanonicalContext,
  CanonicalInput,
  CanonicalSession,
  MessageInput,
  Session,
  SessionInput,
  SessionSummary
} from "../domain/session.js"

type E = InvalidInput | StoreFailure

/**
 * Conversations and the per-agent canonical session: recent messages plus a summary of the older
 * ones, compacted as messages are appended. Session labels are unique per agent.
 */
export class SessionStore extends Context.Tag("engram/SessionStore")<SessionStore, {
  readonly get: (id: string) => Effect.Effect<Option.Option<Session>, E>
  /** Upsert; createdAt and the owning agent are kept on update, updatedAt = now. */
  readonly save: (session: SessionInput) => Effect.Effect<Session, E | DuplicateLabel>
  readonly delete: (id: string) => Effect.Effect<boolean, E>
  /** Deletes every session of the agent (not its canonical session); returns how many. */
  readonly deleteForAgent: (agentId: string) => Effect.Effect<number, E>
  /** Newest updatedAt first (ties: id descending). */
  readonly list: (options?: { readonly agentId?: string }) => Effect.Effect<ReadonlyArray<SessionSummary>, E>
  /** Set or clear (null) the label; updatedAt = now. */
  readonly setLabel: (id: string, label: string | null) => Effect.Effect<void, E | SessionNotFound | DuplicateLabel>
  readonly findByLabel: (agentId: string, label: string) => Effect.Effect<Option.Option<Session>, E>
  /** The stored canonical session, or an empty one with updatedAt = now (not stored). */
  readonly loadCanonical: (agentId: string) => Effect.Effect<CanonicalSession, E>
  readonly saveCanonical: (canonical: CanonicalInput) => Effect.Effect<CanonicalSession, E>
  readonly deleteCanonical: (agentId: string) => Effect.Effect<boolean, E>
  /**
   * Atomically (across processes) replace the canonical session with `f(current, now)`, where
   * current is the stored one or an empty one; `f` must be pure (it may run more than once).
   */
  readonly modifyCanonical: (
    agentId: string,
    f: (current: CanonicalSession, now: number) => CanonicalSession
  ) => Effect.Effect<CanonicalSession, E>
  /** A new session with a minted id and no messages. */
  readonly create: (agentId: string, label?: string) => Effect.Effect<Session, E | DuplicateLabel>
  /**
   * Append and compact: when more than `threshold` (default 100) messages are held, all but the
   * newest 50 are folded into the summary. Returns the stored canonical session.
   */
  readonly appendCanonical: (
    agentId: string,
    messages: ReadonlyArray<MessageInput>,
    threshold?: number
  ) => Effect.Effect<CanonicalSession, E>
  /** The summary and the last `window` (default 50) messages. */
  readonly canonicalContext: (agentId: string, window?: number) => Effect.Effect<CanonicalContext, E>
  /** Replace the summary and the kept messages. */
  readonly storeSummary: (
    agentId: string,
    summary: string,
    keptMessages: ReadonlyArray<MessageInput>
  ) => Effect.Effect<CanonicalSession, E>
}>() {}
