/**
 * Loading a backend's implementation on demand. The drivers of the optional backends (`pg`,
 * `@qdrant/js-client-rest`) are optional peer dependencies: importing `engram/postgres` or selecting
 * the backend in a configuration loads nothing until a layer is built, and a driver that is not
 * installed is a typed `ConfigError` naming the package to install — never a crash at import time.
 */
import { Effect } from "effect"
import { ConfigError } from "../domain/errors.js"
import { describe } from "./storage.js"

const isMissing = (cause: unknown, pkg: string): boolean =>
  typeof cause === "object" && cause !== null && "code" in cause &&
  (cause.code === "ERR_MODULE_NOT_FOUND" || cause.code === "MODULE_NOT_FOUND") &&
  describe(cause).includes(`'${pkg}'`)

/**
 * Import `importer()`'s module for `backend`. When the import fails because `driver` (an npm package)
 * is not installed, the error says so and how to install it.
 */
export const loadBackend = <M>(
  backend: string,
  driver: string | undefined,
  importer: () => Promise<M>
): Effect.Effect<M, ConfigError> =>
  Effect.tryPromise({
    try: importer,
    catch: (cause) =>
      new ConfigError({
        path: "backend",
        message: driver !== undefined && isMissing(cause, driver)
          ? `the ${backend} backend needs the npm package "${driver}", which is not installed: npm install ${driver}`
          : `cannot load the ${backend} backend: ${describe(cause)}`
      })
  })
