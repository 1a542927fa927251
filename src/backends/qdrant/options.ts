/** The connection settings of a Qdrant store (no driver types: this file is part of the public surface). */
import type { Redacted } from "effect"
import type { StoreOptions } from "../../domain/options.js"

/** Connection options of QdrantSemanticLive. */
export interface QdrantOptions extends StoreOptions {
  /** REST endpoint, e.g. `http://localhost:6333` (engram speaks REST; 6334 is Qdrant's gRPC port). */
  readonly url: string
  /** Sent as the `api-key` header. */
  readonly apiKey?: Redacted.Redacted<string>
  /** The collection holding this store's memories; created on first use. */
  readonly collection: string
  /**
   * Deadline of every request, in milliseconds (default 10 000). It is the client's own
   * AbortSignal timer, so it fires in real time even where the Effect clock is a TestClock — the
   * startup health check fails with `BackendUnavailable` within it when Qdrant does not answer.
   */
  readonly timeoutMs?: number
}

/** The default deadline of every request, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000
