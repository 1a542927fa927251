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
 * The storage primitives a backend provides. `modifyCanonical` applies a pure function to an agent's
 * canonical session atomically (across processes), which is what makes concurrent appends lossless.
 */
export interface SessionPrimitives {
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
  /** Atomically replace the canonical session with `f(current, now)`. */
  readonly modifyCanonical: (
    agentId: string,
    f: (current: CanonicalSession, now: number) => CanonicalSession
  ) => Effect.Effect<CanonicalSession, E>
}

/** The operations written once over the primitives (src/core/sessions.ts). */
export interface SessionDerived {
  readonly create: (agentId: string, label?: string) => Effect.Effect<Session, E | DuplicateLabel>
  /** Append and compact (threshold default 100, keep 50); returns the stored canonical session. */
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
}

/** Conversations and the per-agent canonical session (SPEC §2.4). */
export class SessionStore extends Context.Tag("engram/SessionStore")<
  SessionStore,
  SessionPrimitives & SessionDerived
>() {}
