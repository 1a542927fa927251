/**
 * MemoryConfig from a TOML file's `[memory]` table. It accepts engram's own names (as in code, with
 * nested tables) and the flat snake_case keys of the system engram is modelled on (each setting's
 * `legacy` / `legacyEnv` key in the table), so an existing file works as it is.
 */
import { Config, ConfigProvider, Effect, Option, Redacted } from "effect"
import { readFile } from "node:fs/promises"
import * as TOML from "smol-toml"
import { describe } from "../core/storage.js"
import { ConfigError } from "../domain/errors.js"
import { type MemoryConfig, memoryConfig } from "./schema.js"
import { entriesOf, isRecord, setIn } from "./setting.js"
import { memorySettings } from "./settings.js"

/** A legacy key: where its value goes, and whether the value names the environment variable holding it. */
interface LegacyKey {
  readonly path: ReadonlyArray<string>
  readonly viaEnv: boolean
}

const legacyKeys: ReadonlyMap<string, LegacyKey> = new Map(
  entriesOf(memorySettings).flatMap(({ path, setting }): Array<[string, LegacyKey]> => [
    ...(setting.legacy === undefined ? [] : [[setting.legacy, { path, viaEnv: false }] satisfies [string, LegacyKey]]),
    ...(setting.legacyEnv === undefined
      ? []
      : [[setting.legacyEnv, { path, viaEnv: true }] satisfies [string, LegacyKey]])
  ])
)

/**
 * Settings of the host runtime that the modelled system kept in the same table; engram has nothing to
 * configure for them, so they are accepted (an existing file keeps working) and not used.
 */
const hostRuntimeKeys: ReadonlyArray<string> = [
  "consolidation_threshold",
  "consolidation_interval_hours",
  "embedding_provider",
  "embedding_api_key_env"
]

const ownNames = Object.keys(memorySettings)

/** The secret in the environment variable that the legacy key `key` names. */
const secretNamedBy = (key: string, name: unknown) =>
  Effect.gen(function*() {
    if (typeof name !== "string" || name === "") {
      return yield* new ConfigError({ path: key, message: `${key} must name an environment variable` })
    }
    const secret = yield* Config.option(Config.redacted(name)).pipe(
      Effect.mapError((e) => new ConfigError({ path: key, message: String(e) }))
    )
    if (Option.isNone(secret) || Redacted.value(secret.value) === "") {
      return yield* new ConfigError({ path: key, message: `environment variable ${name} (named by ${key}) is not set` })
    }
    return secret.value
  })

/** Variables given explicitly (tests, other processes' environments) instead of the ambient ones. */
const withEnv = (env: Record<string, string | undefined> | undefined) => <A, E>(self: Effect.Effect<A, E>) => {
  if (env === undefined) return self
  const defined = Object.entries(env).flatMap(([k, v]): Array<[string, string]> => (v === undefined ? [] : [[k, v]]))
  return Effect.withConfigProvider(self, ConfigProvider.fromMap(new Map(defined)))
}

/**
 * Turn a `[memory]` table into `memoryConfig` input. `*_env` keys name the environment variable that
 * holds the secret: read from `env` when given, else through the current `ConfigProvider`. The legacy
 * `backend = "http"` means SQLite plus the HTTP semantic store.
 */
export const fromTomlTable = (
  table: Record<string, unknown>,
  env?: Record<string, string | undefined>
): Effect.Effect<{ readonly input: Record<string, unknown>; readonly warnings: ReadonlyArray<string> }, ConfigError> =>
  Effect.gen(function*() {
    const input: Record<string, unknown> = {}
    const warnings: Array<string> = []
    const put = (path: ReadonlyArray<string>, value: unknown, source: string) => {
      const error = setIn(input, path, value, source)
      return error === undefined ? Effect.void : Effect.fail(error)
    }
    for (const [key, value] of Object.entries(table)) {
      const legacy = legacyKeys.get(key)
      if (legacy?.viaEnv === true) {
        yield* put(legacy.path, yield* secretNamedBy(key, value), key)
      } else if (legacy !== undefined && key === "backend" && value === "http") {
        warnings.push(
          `memory.backend = "http" is the legacy spelling of semantic_backend = "http"; using sqlite + http`
        )
        yield* put(["backend"], "sqlite", key)
        yield* put(["semanticBackend"], "http", key)
      } else if (legacy !== undefined) {
        yield* put(legacy.path, value, key)
      } else if (hostRuntimeKeys.includes(key)) {
        warnings.push(`memory.${key} configures the host runtime, not engram; it is ignored`)
      } else if (ownNames.includes(key)) {
        if (isRecord(value)) {
          for (const [k, v] of Object.entries(value)) yield* put([key, k], v, `${key}.${k}`)
        } else {
          yield* put([key], value, key)
        }
      } else {
        return yield* new ConfigError({
          path: key,
          message: `unknown setting ${JSON.stringify(key)} in [memory]`,
          allowed: [...ownNames, ...legacyKeys.keys(), ...hostRuntimeKeys]
        })
      }
    }
    return { input, warnings }
  }).pipe(withEnv(env))

/** Parse TOML text: its `[memory]` table (other tables belong to the host application). */
export const parseConfigToml = (
  text: string,
  env?: Record<string, string | undefined>
): Effect.Effect<MemoryConfig, ConfigError> =>
  Effect.gen(function*() {
    const doc = yield* Effect.try({
      try: () => TOML.parse(text),
      catch: (e) => new ConfigError({ path: "file", message: `not valid TOML: ${describe(e)}` })
    })
    const memory = doc["memory"]
    if (memory === undefined) {
      return yield* new ConfigError({ path: "memory", message: "the file has no [memory] table" })
    }
    if (!isRecord(memory)) return yield* new ConfigError({ path: "memory", message: "[memory] must be a table" })
    const { input, warnings } = yield* fromTomlTable(memory, env)
    for (const w of warnings) yield* Effect.logWarning(w)
    return yield* memoryConfig(input)
  })

/** Read and validate a TOML configuration file. */
export const loadConfigFile = (
  path: string,
  env?: Record<string, string | undefined>
): Effect.Effect<MemoryConfig, ConfigError> =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (e) => new ConfigError({ path: "file", message: `cannot read ${path}: ${describe(e)}` })
  }).pipe(Effect.flatMap((text) => parseConfigToml(text, env)))
