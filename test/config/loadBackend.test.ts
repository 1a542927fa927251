/** A backend whose driver package is missing is a ConfigError naming the package, not a crash. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadBackend } from "../../src/core/loadBackend.js"

// A specifier held in a variable, so TypeScript does not resolve it: the import fails at run time
// exactly as `import("pg")` does where pg is not installed.
const missing = "engram-test-driver-that-is-not-installed"

describe("loadBackend", () => {
  it.effect("a driver that is not installed is a ConfigError saying what to install", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(loadBackend("postgres", missing, () => import(missing)))
      assert.strictEqual(error._tag, "ConfigError")
      assert.strictEqual(error.path, "backend")
      assert.include(error.message, `npm install ${missing}`)
    }))

  it.effect("any other failure to load names the backend and the cause", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        loadBackend("qdrant", "@qdrant/js-client-rest", () => Promise.reject(new Error("boom")))
      )
      assert.strictEqual(error.message, "cannot load the qdrant backend: boom")
    }))
})
