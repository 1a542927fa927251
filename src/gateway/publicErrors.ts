/** The public forms of the store's failures: what a client of the gateway may see. */
import { Cause, Effect } from "effect"
import { BackendUnavailable, StorageError } from "../domain/errors.js"
import { PublicBackendUnavailable, PublicStorageError } from "./Api.js"

/**
 * Replace the store's failures by their public forms. The full error (with its cause: SQL text,
 * driver messages) goes to the server log only.
 */
export const publicErrors =
  (operation: string) =>
  <A, E, R>(
    self: Effect.Effect<A, E | StorageError | BackendUnavailable, R>
  ): Effect.Effect<
    A,
    Exclude<E, StorageError | BackendUnavailable> | PublicStorageError | PublicBackendUnavailable,
    R
  > =>
    Effect.catchIf(
      self,
      (e): e is StorageError | BackendUnavailable => e instanceof StorageError || e instanceof BackendUnavailable,
      (e) =>
        Effect.zipRight(
          Effect.logError(`gateway ${operation}: ${e._tag}`, Cause.fail(e)),
          Effect.fail(
            e._tag === "StorageError"
              ? new PublicStorageError({
                backend: e.backend,
                operation,
                message: `the ${e.backend} store failed (${operation})`
              })
              : new PublicBackendUnavailable({ backend: e.backend, message: `the ${e.backend} store is unavailable` })
          )
        )
    )
