/**
 * Describing driver failures for the typed `StorageError` every service method declares (each
 * backend maps its driver's errors with this description).
 */

/** A short, secret-free description of a driver failure. */
export const describe = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string") {
    return cause.message
  }
  return String(cause)
}
