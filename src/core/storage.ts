/** Mapping driver failures to the typed `StorageError` every service method declares. */
import { Effect } from "effect"
import { type BackendName, StorageError } from "../domain/errors.js"

/** A short, secret-free description of a driver failure. */
export const describe = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string") {
    return cause.message
  }
  return String(cause)
}

/** Turn any failure of `self` into a `StorageError` for `backend`/`operation`. */
export const refail = (backend: BackendName, operation: string) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, StorageError, R> =>
  Effect.mapError(self, (cause) => new StorageError({ backend, operation, message: describe(cause), cause }))
