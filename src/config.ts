/**
 * MemoryConfig (SPEC §4, R-CFG-1/2): which store holds what, and how to reach it. Three sources, one
 * validation: code (`memoryConfig(input)`), environment variables (`configFromEnv`, `ENGRAM_*`), and a TOML
 * file with a `[memory]` table (`loadConfigFile`) that also accepts the key names of the system engram is
 * modelled on. Unknown keys and unknown values are a `ConfigError` listing what is allowed; a missing
 * URL for the chosen backend is a `ConfigError` naming the key.
 */
import { readFile } from "node:fs/promises"
import { Config, Effect, Option, ParseResult, Redacted, Schema } from "effect"
import * as TOML from "smol-toml"
import { ConfigError } from "./domain/errors.js"
import { describe } from "./core/storage.js"

export const BackendKind = Schema.Literal("sqlite", "postgres")
export type BackendKind = typeof BackendKind.Type
export const SemanticBackendKind = Schema.Literal("sqlite", "postgres", "qdrant", "http")
export type SemanticBackendKind = typeof SemanticBackendKind.Type

/** A secret: a string in files and environment variables, a `Redacted` in code; `Redacted` once decoded. */
const Secret = Schema.Union(Schema.Redacted(Schema.String), Schema.RedactedFromSelf(Schema.String))
const PositiveInt = Schema.Int.pipe(Schema.positive())
const Url = Schema.String.pipe(Schema.filter((s) => URL.canParse(s) || "must be a URL"))

/** The default location of the embedded SQLite database (relative to the working directory). */
export const DEFAULT_SQLITE_PATH = ".engram/engram.db"

/** The default embedding space: the built-in deterministic embedder (src/embedder.ts). */
export const DEFAULT_EMBEDDING = { model: "engram-hash-v1", dimensions: 384 } as const

const SqliteSection = Schema.Struct({
  path: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => DEFAULT_SQLITE_PATH }),
  synchronous: Schema.optionalWith(Schema.Literal("FULL", "NORMAL", "EXTRA"), { default: () => "FULL" as const }),
  busyTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 5000 })
})
const PostgresSection = Schema.Struct({
  url: Secret,
  poolSize: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 10 }),
  connectTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 5000 }),
  acquireTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 10_000 })
})
const QdrantSection = Schema.Struct({
  url: Url,
  apiKey: Schema.optional(Secret),
  collection: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => "engram_memories" }),
  timeoutMs: Schema.optionalWith(PositiveInt, { default: () => 10_000 })
})
const HttpSection = Schema.Struct({
  url: Url,
  token: Schema.optional(Secret),
  timeoutMs: Schema.optionalWith(PositiveInt, { default: () => 10_000 })
})
const EmbeddingSection = Schema.Struct({
  model: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { default: () => DEFAULT_EMBEDDING.model }),
  dimensions: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 8192)), { default: () => DEFAULT_EMBEDDING.dimensions })
})

/** The configuration Schema. */
export const MemoryConfigSchema = Schema.Struct({
  backend: Schema.optionalWith(BackendKind, { default: () => "sqlite" as const }),
  semanticBackend: Schema.optional(SemanticBackendKind),
  sqlite: Schema.optionalWith(SqliteSection, { default: () => SqliteSection.make({}) }),
  postgres: Schema.optional(PostgresSection),
  qdrant: Schema.optional(QdrantSection),
  http: Schema.optional(HttpSection),
  embedding: Schema.optionalWith(EmbeddingSection, { default: () => EmbeddingSection.make({}) }),
  maxContentBytes: Schema.optional(PositiveInt),
  decayRate: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)), { default: () => 0.1 })
})

/** A validated configuration; `semanticBackend` is resolved (it follows `backend` when unset). */
export type MemoryConfig = Omit<typeof MemoryConfigSchema.Type, "semanticBackend"> & {
  readonly semanticBackend: SemanticBackendKind
}
/** What `memoryConfig` accepts (secrets as strings or `Redacted`). */
export type MemoryConfigInput = typeof MemoryConfigSchema.Encoded

const sections = {
  "": ["backend", "semanticBackend", "sqlite", "postgres", "qdrant", "http", "embedding", "maxContentBytes", "decayRate"],
  sqlite: ["path", "synchronous", "busyTimeoutMs"],
  postgres: ["url", "poolSize", "connectTimeoutMs", "acquireTimeoutMs"],
  qdrant: ["url", "apiKey", "collection", "timeoutMs"],
  http: ["url", "token", "timeoutMs"],
  embedding: ["model", "dimensions"]
} as const

const literalsAt: Record<string, ReadonlyArray<string>> = {
  backend: BackendKind.literals,
  semanticBackend: SemanticBackendKind.literals,
  "sqlite.synchronous": ["FULL", "NORMAL", "EXTRA"]
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !Redacted.isRedacted(u)

/** Unknown keys anywhere in the input, reported with the allowed names. */
const unknownKey = (input: Record<string, unknown>): ConfigError | undefined => {
  for (const [section, allowed] of Object.entries(sections)) {
    const table = section === "" ? input : input[section]
    if (table === undefined) continue
    if (!isRecord(table)) {
      return new ConfigError({ path: section, message: `${section} must be a table of settings` })
    }
    for (const key of Object.keys(table)) {
      if (!(allowed as ReadonlyArray<string>).includes(key)) {
        const path = section === "" ? key : `${section}.${key}`
        return new ConfigError({ path, message: `unknown setting ${JSON.stringify(path)}`, allowed: [...allowed] })
      }
    }
  }
  return undefined
}

const toConfigError = (error: ParseResult.ParseError): ConfigError => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = (issue?.path ?? []).map(String).join(".")
  const allowed = literalsAt[path]
  return new ConfigError({
    path: path === "" ? "memory" : path,
    message: allowed === undefined ? issue?.message ?? error.message : `must be one of ${allowed.join(", ")}`,
    ...(allowed === undefined ? {} : { allowed: [...allowed] })
  })
}

const decodeConfig = Schema.decodeUnknown(MemoryConfigSchema, { errors: "first", onExcessProperty: "error" })

/** Validate a configuration given in code (or assembled from a file or the environment). */
export const memoryConfig = (input: unknown): Effect.Effect<MemoryConfig, ConfigError> =>
  Effect.gen(function*() {
    if (!isRecord(input)) return yield* new ConfigError({ path: "memory", message: "configuration must be an object" })
    const unknown = unknownKey(input)
    if (unknown !== undefined) return yield* unknown
    const c = yield* Effect.mapError(decodeConfig(input), toConfigError)
    const semanticBackend = c.semanticBackend ?? c.backend
    if ((c.backend === "postgres" || semanticBackend === "postgres") && c.postgres === undefined) {
      return yield* new ConfigError({ path: "postgres.url", message: "the postgres backend needs postgres.url" })
    }
    if (semanticBackend === "qdrant" && c.qdrant === undefined) {
      return yield* new ConfigError({ path: "qdrant.url", message: "the qdrant semantic backend needs qdrant.url" })
    }
    if (semanticBackend === "http" && c.http === undefined) {
      return yield* new ConfigError({ path: "http.url", message: "the http semantic backend needs http.url" })
    }
    return { ...c, semanticBackend }
  })

// ---------------------------------------------------------------------------------------------
// Environment (R-CFG-2)

const opt = (name: string) => Config.option(Config.string(name))
const optSecret = (name: string) => Config.option(Config.redacted(name))

/** The configuration read from `ENGRAM_*` environment variables (through Effect's `Config`). */
export const configFromEnv: Effect.Effect<MemoryConfig, ConfigError> = Effect.gen(function*() {
  const env = yield* Config.all({
    backend: opt("ENGRAM_BACKEND"),
    semanticBackend: opt("ENGRAM_SEMANTIC_BACKEND"),
    sqlitePath: opt("ENGRAM_SQLITE_PATH"),
    sqliteSynchronous: opt("ENGRAM_SQLITE_SYNCHRONOUS"),
    postgresUrl: optSecret("ENGRAM_POSTGRES_URL"),
    postgresPoolSize: opt("ENGRAM_POSTGRES_POOL_SIZE"),
    postgresConnectTimeoutMs: opt("ENGRAM_POSTGRES_CONNECT_TIMEOUT_MS"),
    qdrantUrl: opt("ENGRAM_QDRANT_URL"),
    qdrantApiKey: optSecret("ENGRAM_QDRANT_API_KEY"),
    qdrantCollection: opt("ENGRAM_QDRANT_COLLECTION"),
    httpUrl: opt("ENGRAM_HTTP_URL"),
    httpToken: optSecret("ENGRAM_HTTP_TOKEN"),
    httpTimeoutMs: opt("ENGRAM_HTTP_TIMEOUT_MS"),
    embeddingModel: opt("ENGRAM_EMBEDDING_MODEL"),
    embeddingDimensions: opt("ENGRAM_EMBEDDING_DIMENSIONS"),
    maxContentBytes: opt("ENGRAM_MAX_CONTENT_BYTES"),
    decayRate: opt("ENGRAM_DECAY_RATE")
  }).pipe(Effect.mapError((e) => new ConfigError({ path: "environment", message: String(e) })))
  const num = (name: string, o: Option.Option<string>) =>
    Option.map(o, (s) => (s.trim() !== "" && Number.isFinite(Number(s)) ? Number(s) : `${name}=${s}`))
  const input: Record<string, unknown> = {}
  const put = (path: ReadonlyArray<string>, value: Option.Option<unknown>) => {
    if (Option.isNone(value)) return
    let table = input
    for (const k of path.slice(0, -1)) table = (table[k] ??= {}) as Record<string, unknown>
    table[path[path.length - 1]!] = value.value
  }
  put(["backend"], env.backend)
  put(["semanticBackend"], env.semanticBackend)
  put(["sqlite", "path"], env.sqlitePath)
  put(["sqlite", "synchronous"], env.sqliteSynchronous)
  put(["postgres", "url"], env.postgresUrl)
  put(["postgres", "poolSize"], num("ENGRAM_POSTGRES_POOL_SIZE", env.postgresPoolSize))
  put(["postgres", "connectTimeoutMs"], num("ENGRAM_POSTGRES_CONNECT_TIMEOUT_MS", env.postgresConnectTimeoutMs))
  put(["qdrant", "url"], env.qdrantUrl)
  put(["qdrant", "apiKey"], env.qdrantApiKey)
  put(["qdrant", "collection"], env.qdrantCollection)
  put(["http", "url"], env.httpUrl)
  put(["http", "token"], env.httpToken)
  put(["http", "timeoutMs"], num("ENGRAM_HTTP_TIMEOUT_MS", env.httpTimeoutMs))
  put(["embedding", "model"], env.embeddingModel)
  put(["embedding", "dimensions"], num("ENGRAM_EMBEDDING_DIMENSIONS", env.embeddingDimensions))
  put(["maxContentBytes"], num("ENGRAM_MAX_CONTENT_BYTES", env.maxContentBytes))
  put(["decayRate"], num("ENGRAM_DECAY_RATE", env.decayRate))
  // A section given only through secondary settings (e.g. a pool size without a URL) is an error
  // about the missing URL, reported by memoryConfig; partial sections are passed through as they are.
  return yield* memoryConfig(input)
})

// ---------------------------------------------------------------------------------------------
// TOML file

/** Keys of the modelled system's `[memory]` table, mapped to engram's settings. */
const legacyKeys: Record<string, ReadonlyArray<string> | "env-secret" | "ignored"> = {
  backend: ["backend"],
  semantic_backend: ["semanticBackend"],
  sqlite_path: ["sqlite", "path"],
  postgres_url: ["postgres", "url"],
  postgres_pool_size: ["postgres", "poolSize"],
  qdrant_url: ["qdrant", "url"],
  qdrant_api_key_env: "env-secret",
  qdrant_collection: ["qdrant", "collection"],
  http_url: ["http", "url"],
  http_token_env: "env-secret",
  decay_rate: ["decayRate"],
  embedding_model: ["embedding", "model"],
  embedding_dimensions: ["embedding", "dimensions"],
  // Settings of the host runtime that the modelled system kept in the same table; engram has nothing to
  // configure for them, so they are accepted (an existing file keeps working) and not used.
  consolidation_threshold: "ignored",
  consolidation_interval_hours: "ignored",
  embedding_provider: "ignored",
  embedding_api_key_env: "ignored"
}

/**
 * Turn a `[memory]` table into `memoryConfig` input. Accepts engram's own names (as in code, with
 * nested tables) and the modelled system's flat snake_case names; `*_env` keys name the environment
 * variable that holds the secret. The legacy `backend = "http"` means SQLite plus the HTTP semantic store.
 */
export const fromTomlTable = (
  table: Record<string, unknown>,
  env: Record<string, string | undefined> = process.env
): Effect.Effect<{ readonly input: Record<string, unknown>; readonly warnings: ReadonlyArray<string> }, ConfigError> =>
  Effect.gen(function*() {
    const input: Record<string, unknown> = {}
    const warnings: Array<string> = []
    const put = (path: ReadonlyArray<string>, value: unknown, source: string) => {
      let t = input
      for (const k of path.slice(0, -1)) {
        const next = (t[k] ??= {})
        if (!isRecord(next)) throw new ConfigError({ path: k, message: `${k} must be a table of settings` })
        t = next
      }
      const leaf = path[path.length - 1]!
      if (t[leaf] !== undefined) {
        throw new ConfigError({ path: path.join("."), message: `${path.join(".")} is set twice (again by ${source})` })
      }
      t[leaf] = value
    }
    const allowed = [...sections[""], ...Object.keys(legacyKeys)]
    return yield* Effect.try({
      try: () => {
        for (const [key, value] of Object.entries(table)) {
          const legacy = legacyKeys[key]
          if ((sections[""] as ReadonlyArray<string>).includes(key) && legacy === undefined) {
            if (isRecord(value)) for (const [k, v] of Object.entries(value)) put([key, k], v, `${key}.${k}`)
            else put([key], value, key)
          } else if (legacy === "ignored") {
            warnings.push(`memory.${key} configures the host runtime, not engram; it is ignored`)
          } else if (legacy === "env-secret") {
            if (typeof value !== "string" || value === "") {
              throw new ConfigError({ path: key, message: `${key} must name an environment variable` })
            }
            const secret = env[value]
            if (secret === undefined || secret === "") {
              throw new ConfigError({ path: key, message: `environment variable ${value} (named by ${key}) is not set` })
            }
            put(key === "qdrant_api_key_env" ? ["qdrant", "apiKey"] : ["http", "token"], Redacted.make(secret), key)
          } else if (legacy !== undefined) {
            if (key === "backend" && value === "http") {
              warnings.push(`memory.backend = "http" is the legacy spelling of semantic_backend = "http"; using sqlite + http`)
              put(["backend"], "sqlite", key)
              put(["semanticBackend"], "http", key)
            } else {
              put(legacy, value, key)
            }
          } else {
            throw new ConfigError({ path: key, message: `unknown setting ${JSON.stringify(key)} in [memory]`, allowed })
          }
        }
        return { input, warnings }
      },
      catch: (e) => (e instanceof ConfigError ? e : new ConfigError({ path: "memory", message: describe(e) }))
    })
  })

/** Parse TOML text: its `[memory]` table (other tables belong to the host application). */
export const parseConfigToml = (text: string, env: Record<string, string | undefined> = process.env) =>
  Effect.gen(function*() {
    const doc = yield* Effect.try({
      try: () => TOML.parse(text),
      catch: (e) => new ConfigError({ path: "file", message: `not valid TOML: ${describe(e)}` })
    })
    const memory = doc["memory"]
    if (memory === undefined) return yield* new ConfigError({ path: "memory", message: "the file has no [memory] table" })
    if (!isRecord(memory)) return yield* new ConfigError({ path: "memory", message: "[memory] must be a table" })
    const { input, warnings } = yield* fromTomlTable(memory, env)
    for (const w of warnings) yield* Effect.logWarning(w)
    return yield* memoryConfig(input)
  })

/** Read and validate a TOML configuration file. */
export const loadConfigFile = (path: string, env: Record<string, string | undefined> = process.env) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (e) => new ConfigError({ path: "file", message: `cannot read ${path}: ${describe(e)}` })
  }).pipe(Effect.flatMap((text) => parseConfigToml(text, env)))
