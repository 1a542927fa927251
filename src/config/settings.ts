/**
 * The table of settings: every setting engram reads, declared once. `memorySettings` is the
 * MemoryConfig (which store holds what, and how to reach it: code, `ENGRAM_*` variables, a TOML
 * `[memory]` table); `gatewaySettings` configures `engram serve` and `mcpSettings` `engram mcp`
 * (environment variables only).
 * The Schemas, the readers, the backends' options and the README's tables are derived from here;
 * test/config/settings.test.ts checks that the README lists exactly these variables.
 */
import { Schema } from "effect"
import { DEFAULT_MAX_CONTENT_BYTES } from "../domain/text.js"
import { defaultedSection, kind, oneOf, optionalSection, setting } from "./setting.js"

/** The default location of the embedded SQLite database (relative to the working directory). */
export const DEFAULT_SQLITE_PATH = ".engram/engram.db"

/** The default embedding space: the built-in deterministic embedder (src/embedder.ts). */
export const DEFAULT_EMBEDDING = { model: "engram-hash-v1", dimensions: 384 } as const

/** Loopback: the gateway is reachable from this machine only unless told otherwise. */
export const DEFAULT_HOST = "127.0.0.1"
/** The port of the memory-api examples, so that protocol's clients find engram where they expect it. */
export const DEFAULT_PORT = 5500
/** 16 MiB: room for a 1 MiB memory even when JSON escaping multiplies its size. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

const mib = (bytes: number) => `${bytes / (1024 * 1024)} MiB`

const text = kind(Schema.String.pipe(Schema.minLength(1)), "text")
const url = kind(Schema.String.pipe(Schema.filter((s) => URL.canParse(s) || "must be a URL")), "text")
/** A secret: a string in files and environment variables, a `Redacted` in code; `Redacted` once decoded. */
const secret = kind(Schema.Union(Schema.Redacted(Schema.String), Schema.RedactedFromSelf(Schema.String)), "secret")
const positiveInt = kind(Schema.Int.pipe(Schema.positive()), "number")
const intBetween = (min: number, max: number) => kind(Schema.Int.pipe(Schema.between(min, max)), "number")
const list = kind(Schema.Array(Schema.String), "list")

const backendKind = oneOf("sqlite", "postgres")
const semanticBackendKind = oneOf("sqlite", "postgres", "qdrant", "http")

/** The main stores. */
export const BackendKind = backendKind.schema
export type BackendKind = typeof BackendKind.Type
/** The stores of memories. */
export const SemanticBackendKind = semanticBackendKind.schema
export type SemanticBackendKind = typeof SemanticBackendKind.Type

/** Which stores hold what. */
const choice = {
  backend: setting(backendKind, {
    default: "sqlite",
    env: "ENGRAM_BACKEND",
    legacy: "backend",
    description: "the main store: `sqlite` or `postgres`"
  }),
  semanticBackend: setting(semanticBackendKind, {
    env: "ENGRAM_SEMANTIC_BACKEND",
    legacy: "semantic_backend",
    defaultNote: "follows `ENGRAM_BACKEND`",
    description: "the store of memories: `sqlite`, `postgres`, `qdrant` or `http`"
  })
}

/** How to reach each store: a section per backend, whose names are the backend's own options. */
const backends = {
  sqlite: defaultedSection({
    path: setting(text, {
      default: DEFAULT_SQLITE_PATH,
      env: "ENGRAM_SQLITE_PATH",
      legacy: "sqlite_path",
      description: "the SQLite database file (`:memory:` for a private in-memory one)"
    }),
    synchronous: setting(oneOf("FULL", "NORMAL", "EXTRA"), {
      default: "FULL",
      env: "ENGRAM_SQLITE_SYNCHRONOUS",
      description: "`FULL` survives power loss; `NORMAL` is faster and survives process crashes"
    }),
    busyTimeoutMs: setting(positiveInt, {
      default: 30_000,
      env: "ENGRAM_SQLITE_BUSY_TIMEOUT_MS",
      description: "how long a unit of work keeps retrying while other processes hold the write lock, in ms"
    })
  }),
  postgres: optionalSection({
    url: setting(secret, {
      required: true,
      env: "ENGRAM_POSTGRES_URL",
      legacy: "postgres_url",
      description: "the PostgreSQL database, `postgres://user:password@host:port/database`"
    }),
    poolSize: setting(intBetween(1, 1000), {
      default: 10,
      env: "ENGRAM_POSTGRES_POOL_SIZE",
      legacy: "postgres_pool_size",
      description: "most connections the pool opens"
    }),
    connectTimeoutMs: setting(positiveInt, {
      default: 5000,
      env: "ENGRAM_POSTGRES_CONNECT_TIMEOUT_MS",
      description: "how long opening one connection may take, in ms"
    }),
    acquireTimeoutMs: setting(positiveInt, {
      default: 10_000,
      env: "ENGRAM_POSTGRES_ACQUIRE_TIMEOUT_MS",
      description: "how long a call may wait for a pooled connection, in ms"
    })
  }),
  qdrant: optionalSection({
    url: setting(url, {
      required: true,
      env: "ENGRAM_QDRANT_URL",
      legacy: "qdrant_url",
      description: "Qdrant's REST endpoint, e.g. `http://127.0.0.1:6333`"
    }),
    apiKey: setting(secret, {
      env: "ENGRAM_QDRANT_API_KEY",
      legacyEnv: "qdrant_api_key_env",
      description: "sent as Qdrant's `api-key` header"
    }),
    collection: setting(text, {
      default: "engram_memories",
      env: "ENGRAM_QDRANT_COLLECTION",
      legacy: "qdrant_collection",
      description: "the collection holding the memories (created on first use)"
    }),
    timeoutMs: setting(positiveInt, {
      default: 10_000,
      env: "ENGRAM_QDRANT_TIMEOUT_MS",
      description: "deadline of every Qdrant request, in ms"
    })
  }),
  http: optionalSection({
    url: setting(url, {
      required: true,
      env: "ENGRAM_HTTP_URL",
      legacy: "http_url",
      description: "an engram gateway's base URL, e.g. `http://127.0.0.1:5500`"
    }),
    token: setting(secret, {
      env: "ENGRAM_HTTP_TOKEN",
      legacyEnv: "http_token_env",
      description: "the gateway token, sent as `Authorization: Bearer …`"
    }),
    timeoutMs: setting(positiveInt, {
      default: 10_000,
      env: "ENGRAM_HTTP_TIMEOUT_MS",
      description: "deadline of each call to the gateway, retries included, in ms"
    }),
    retries: setting(kind(Schema.Int.pipe(Schema.nonNegative()), "number"), {
      default: 2,
      env: "ENGRAM_HTTP_RETRIES",
      description: "extra attempts of an idempotent call after a transient failure"
    })
  })
}

/** What every store takes, whichever backend it is. */
const everyStore = {
  embedding: defaultedSection({
    model: setting(text, {
      default: DEFAULT_EMBEDDING.model,
      env: "ENGRAM_EMBEDDING_MODEL",
      legacy: "embedding_model",
      description: "the embedding model the stored vectors come from"
    }),
    dimensions: setting(intBetween(1, 8192), {
      default: DEFAULT_EMBEDDING.dimensions,
      env: "ENGRAM_EMBEDDING_DIMENSIONS",
      legacy: "embedding_dimensions",
      description: "the length of those vectors"
    })
  }),
  maxContentBytes: setting(positiveInt, {
    env: "ENGRAM_MAX_CONTENT_BYTES",
    defaultNote: mib(DEFAULT_MAX_CONTENT_BYTES),
    description: "largest memory content accepted, in UTF-8 bytes"
  }),
  decayRate: setting(kind(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)), "number"), {
    default: 0.1,
    env: "ENGRAM_DECAY_RATE",
    legacy: "decay_rate",
    description: "the share of its confidence a stale memory loses at each consolidation (between 0 and 1)"
  })
}

/**
 * The embedding model engram calls itself (to embed what is remembered and recalled without a vector):
 * an OpenAI-compatible endpoint. The model asked for and its vectors' length are the embedding space's
 * (`embedding.model`, `embedding.dimensions`). Without this section the hash embedder serves the
 * default space `engram-hash-v1`, and any other space has no embedder (callers bring their vectors).
 */
const embedderSection = {
  embedder: optionalSection({
    url: setting(url, {
      required: true,
      env: "ENGRAM_EMBEDDER_URL",
      description: "an OpenAI-compatible API base, `POST <url>/embeddings` (e.g. `http://127.0.0.1:11434/v1`)"
    }),
    apiKey: setting(secret, {
      env: "ENGRAM_EMBEDDER_API_KEY",
      description: "sent as `Authorization: Bearer …` to the embeddings endpoint"
    }),
    timeoutMs: setting(positiveInt, {
      default: 30_000,
      env: "ENGRAM_EMBEDDER_TIMEOUT_MS",
      description: "deadline of each embeddings request, in ms"
    }),
    retries: setting(kind(Schema.Int.pipe(Schema.between(0, 10)), "number"), {
      default: 3,
      env: "ENGRAM_EMBEDDER_RETRIES",
      description: "extra attempts after a 408, 429 (honouring `Retry-After`), 5xx or timeout"
    }),
    batchSize: setting(intBetween(1, 2048), {
      default: 256,
      env: "ENGRAM_EMBEDDER_BATCH_SIZE",
      description: "most texts sent in one embeddings request"
    }),
    requestDimensions: setting(kind(Schema.Boolean, "boolean"), {
      default: false,
      env: "ENGRAM_EMBEDDER_REQUEST_DIMENSIONS",
      description: "send `dimensions` in each request (models that can shorten their vectors)"
    })
  })
}

/** The settings every store takes: what `storeOptions` hands to each backend. */
export const storeSettingNames = Object.keys(everyStore) as ReadonlyArray<keyof typeof everyStore>

/** The MemoryConfig's settings. */
export const memorySettings = { ...choice, ...backends, ...everyStore, ...embedderSection }

/** The settings of `engram mcp`, the stdio MCP server (environment variables only). */
export const mcpSettings = {
  agents: setting(list, {
    env: "ENGRAM_MCP_AGENTS",
    defaultNote: "every agent",
    description: "comma-separated agents every MCP call is confined to (`--agent` overrides it)"
  })
}

/** The settings of `engram serve`'s gateway (environment variables only). */
export const gatewaySettings = {
  host: setting(text, {
    default: DEFAULT_HOST,
    env: "ENGRAM_GATEWAY_HOST",
    description: "address to bind (`--host` overrides it)"
  }),
  port: setting(intBetween(0, 65535), {
    default: DEFAULT_PORT,
    env: "ENGRAM_GATEWAY_PORT",
    description: "port to listen on, 0 for a free one (`--port` overrides it)"
  }),
  token: setting(secret, {
    env: "ENGRAM_GATEWAY_TOKEN",
    defaultNote: "a random token written once to `.engram/gateway-token` (mode 0600)",
    description: "the bearer token clients must send"
  }),
  agents: setting(list, {
    env: "ENGRAM_GATEWAY_AGENTS",
    defaultNote: "every agent",
    description: "comma-separated agents the token is limited to"
  }),
  corsOrigins: setting(list, {
    env: "ENGRAM_GATEWAY_CORS_ORIGINS",
    defaultNote: "none (CORS off)",
    description: "comma-separated origins allowed to call from a browser"
  }),
  maxBodyBytes: setting(positiveInt, {
    env: "ENGRAM_GATEWAY_MAX_BODY_BYTES",
    defaultNote: `${mib(DEFAULT_MAX_BODY_BYTES)}, or 6 × \`ENGRAM_MAX_CONTENT_BYTES\` + 64 KiB when larger`,
    description: "largest request body, in bytes (a larger one is answered 413)"
  }),
  auth: setting(oneOf("required", "disabled"), {
    default: "required",
    env: "ENGRAM_GATEWAY_AUTH",
    description: "`disabled` serves without a token (loopback addresses only)"
  })
}
