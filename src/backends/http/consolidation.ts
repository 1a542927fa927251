/**
 * Consolidation's port over an engram gateway: it runs on the gateway's store, where the memories
 * live. It is never retried once it may have reached the gateway — a replay would decay the memories
 * a second time — and it has its own, longer deadline.
 */
import { Effect } from "effect"
import type { RemoteConsolidationPort } from "../../core/consolidation.js"
import { InvalidEmbedding, MemoryNotFound, StorageError } from "../../domain/errors.js"
import type { GatewayConnection } from "./client.js"

/** The port of the connected gateway. */
export const port = (c: GatewayConnection): RemoteConsolidationPort => ({
  backend: "http",
  consolidate: (options) =>
    c.call(
      "consolidate",
      { idempotent: false, field: "options", timeoutMs: c.consolidationTimeoutMs },
      c.api.consolidation.consolidate({ payload: options })
    ).pipe(
      Effect.catchIf(
        // The API declares neither for consolidation; either would mean the gateway broke it.
        (e): e is MemoryNotFound | InvalidEmbedding => e instanceof MemoryNotFound || e instanceof InvalidEmbedding,
        (e) =>
          Effect.fail(
            new StorageError({ backend: "http", operation: "consolidate", message: `unexpected answer: ${e._tag}` })
          )
      )
    )
})
