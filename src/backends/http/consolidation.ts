/**
 * Consolidation over an engram gateway: it runs on the gateway's store, where the memories live
 * (SPEC §2.8). It is never retried once it may have reached the gateway — a replay would decay the
 * memories a second time — and it has its own, longer deadline.
 */
import { Effect } from "effect"
import { consolidationSettings } from "../../core/consolidation.js"
import { InvalidEmbedding, MemoryNotFound, StorageError } from "../../domain/errors.js"
import { Consolidation } from "../../services/Consolidation.js"
import type { GatewayConnection } from "./client.js"

/** The Consolidation of the connected gateway. */
export const make = (c: GatewayConnection) =>
  Consolidation.of({
    consolidate: (options) =>
      Effect.gen(function*() {
        // The core's check first: NaN options would reach the gateway as null.
        yield* consolidationSettings(options)
        return yield* c.call(
          "consolidate",
          { idempotent: false, field: "options", timeoutMs: c.consolidationTimeoutMs },
          c.api.consolidation.consolidate({ payload: options ?? {} })
        )
      }).pipe(
        Effect.catchIf(
          // The API declares neither for consolidation; either would mean the gateway broke it.
          (e): e is MemoryNotFound | InvalidEmbedding => e instanceof MemoryNotFound || e instanceof InvalidEmbedding,
          (e) => Effect.fail(new StorageError({ backend: "http", operation: "consolidate", message: `unexpected answer: ${e._tag}` }))
        )
      )
  })
