/** MemoryConfig from code, environment and TOML: validation, defaults, legacy keys, ConfigError cases. */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { configFromEnv, memoryConfig, parseConfigToml } from "../../src/config.js"

const configError = (effect: Effect.Effect<unknown, { readonly _tag: string }>) =>
  Effect.map(Effect.flip(effect), (e) => {
    assert.strictEqual(e._tag, "ConfigError")
    return e as unknown as { readonly path: string; readonly message: string; readonly allowed?: ReadonlyArray<string> }
  })

const fromEnv = (env: Record<string, string>) =>
  configFromEnv.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("MemoryConfig in code", () => {
  it.effect("defaults: SQLite for everything, the deterministic embedder's space", () =>
    Effect.gen(function*() {
      const c = yield* memoryConfig({})
      assert.strictEqual(c.backend, "sqlite")
      assert.strictEqual(c.semanticBackend, "sqlite")
      assert.strictEqual(c.sqlite.path, ".engram/engram.db")
      assert.strictEqual(c.sqlite.synchronous, "FULL")
      assert.deepStrictEqual(c.embedding, { model: "engram-hash-v1", dimensions: 384 })
    }))

  it.effect("semanticBackend follows backend unless set, and an explicit choice is kept", () =>
    Effect.gen(function*() {
      const pg = yield* memoryConfig({ backend: "postgres", postgres: { url: "postgres://x@h/db" } })
      assert.strictEqual(pg.semanticBackend, "postgres")
      const mixed = yield* memoryConfig({
        backend: "postgres",
        semanticBackend: "sqlite",
        postgres: { url: "postgres://x@h/db" }
      })
      assert.strictEqual(mixed.semanticBackend, "sqlite")
    }))

  it.effect("secrets are Redacted whether given as strings or as Redacted", () =>
    Effect.gen(function*() {
      const a = yield* memoryConfig({ backend: "postgres", postgres: { url: "postgres://u:secret@h/db" } })
      assert.isTrue(Redacted.isRedacted(a.postgres!.url))
      assert.notInclude(String(a.postgres!.url), "secret")
      const b = yield* memoryConfig({
        semanticBackend: "http",
        http: { url: "http://127.0.0.1:5500", token: Redacted.make("tok") }
      })
      assert.strictEqual(Redacted.value(b.http!.token!), "tok")
    }))

  it.effect("an unknown backend is a ConfigError listing the allowed values", () =>
    Effect.gen(function*() {
      const e = yield* configError(memoryConfig({ backend: "mysql" }))
      assert.strictEqual(e.path, "backend")
      assert.deepStrictEqual(e.allowed, ["sqlite", "postgres"])
      const s = yield* configError(memoryConfig({ semanticBackend: "pinecone" }))
      assert.strictEqual(s.path, "semanticBackend")
      assert.deepStrictEqual(s.allowed, ["sqlite", "postgres", "qdrant", "http"])
    }))

  it.effect("an unknown key is a ConfigError listing the allowed keys, at the top level and in a section", () =>
    Effect.gen(function*() {
      const top = yield* configError(memoryConfig({ backnd: "sqlite" }))
      assert.strictEqual(top.path, "backnd")
      assert.include(top.allowed ?? [], "backend")
      const nested = yield* configError(memoryConfig({ sqlite: { file: "x.db" } }))
      assert.strictEqual(nested.path, "sqlite.file")
      assert.deepStrictEqual(nested.allowed, ["path", "synchronous", "busyTimeoutMs"])
    }))

  it.effect("a missing URL for the chosen backend is a ConfigError naming the key", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* configError(memoryConfig({ backend: "postgres" }))).path, "postgres.url")
      assert.strictEqual((yield* configError(memoryConfig({ semanticBackend: "postgres" }))).path, "postgres.url")
      assert.strictEqual((yield* configError(memoryConfig({ semanticBackend: "qdrant" }))).path, "qdrant.url")
      assert.strictEqual((yield* configError(memoryConfig({ semanticBackend: "http" }))).path, "http.url")
    }))

  it.effect("values of the wrong type or range are ConfigErrors naming the setting", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        (yield* configError(memoryConfig({ embedding: { dimensions: 0 } }))).path,
        "embedding.dimensions"
      )
      assert.strictEqual((yield* configError(memoryConfig({ decayRate: 1.5 }))).path, "decayRate")
      assert.strictEqual(
        (yield* configError(memoryConfig({ sqlite: { synchronous: "OFF" } }))).path,
        "sqlite.synchronous"
      )
      assert.strictEqual(
        (yield* configError(memoryConfig({ semanticBackend: "qdrant", qdrant: { url: "not a url" } }))).path,
        "qdrant.url"
      )
      assert.strictEqual((yield* configError(memoryConfig("sqlite"))).path, "memory")
    }))
})

describe("MemoryConfig from ENGRAM_* environment variables", () => {
  it.effect("reads every section, with secrets redacted", () =>
    Effect.gen(function*() {
      const c = yield* fromEnv({
        ENGRAM_BACKEND: "postgres",
        ENGRAM_SEMANTIC_BACKEND: "qdrant",
        ENGRAM_POSTGRES_URL: "postgres://u:pw@h:5432/db",
        ENGRAM_POSTGRES_POOL_SIZE: "25",
        ENGRAM_QDRANT_URL: "http://127.0.0.1:6333",
        ENGRAM_QDRANT_API_KEY: "k",
        ENGRAM_QDRANT_COLLECTION: "mem",
        ENGRAM_EMBEDDING_MODEL: "m",
        ENGRAM_EMBEDDING_DIMENSIONS: "768"
      })
      assert.strictEqual(c.backend, "postgres")
      assert.strictEqual(c.semanticBackend, "qdrant")
      assert.strictEqual(c.postgres!.poolSize, 25)
      assert.strictEqual(Redacted.value(c.postgres!.url), "postgres://u:pw@h:5432/db")
      assert.strictEqual(Redacted.value(c.qdrant!.apiKey!), "k")
      assert.strictEqual(c.qdrant!.collection, "mem")
      assert.deepStrictEqual(c.embedding, { model: "m", dimensions: 768 })
    }))

  it.effect("an empty environment gives the defaults", () =>
    Effect.gen(function*() {
      const c = yield* fromEnv({})
      assert.strictEqual(c.backend, "sqlite")
      assert.strictEqual(c.semanticBackend, "sqlite")
    }))

  it.effect("bad values are ConfigErrors: unknown backend, non-numeric number, missing url", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* configError(fromEnv({ ENGRAM_BACKEND: "oracle" }))).allowed, [
        "sqlite",
        "postgres"
      ])
      assert.strictEqual(
        (yield* configError(fromEnv({ ENGRAM_EMBEDDING_DIMENSIONS: "lots" }))).path,
        "embedding.dimensions"
      )
      assert.strictEqual((yield* configError(fromEnv({ ENGRAM_SEMANTIC_BACKEND: "http" }))).path, "http.url")
    }))
})

describe("MemoryConfig from a TOML [memory] table", () => {
  it.effect("accepts engram's own names with nested tables", () =>
    Effect.gen(function*() {
      const c = yield* parseConfigToml(
        `
[memory]
backend = "sqlite"
semanticBackend = "http"
[memory.sqlite]
path = "/tmp/x.db"
[memory.http]
url = "http://127.0.0.1:5500"
timeoutMs = 2000
[memory.embedding]
model = "e5"
dimensions = 1024
`,
        {}
      )
      assert.strictEqual(c.sqlite.path, "/tmp/x.db")
      assert.strictEqual(c.semanticBackend, "http")
      assert.strictEqual(c.http!.timeoutMs, 2000)
      assert.deepStrictEqual(c.embedding, { model: "e5", dimensions: 1024 })
    }))

  it.effect("accepts the modelled system's key names, reading *_env secrets from the environment", () =>
    Effect.gen(function*() {
      const c = yield* parseConfigToml(
        `
[agent]
name = "the host's own table is ignored"

[memory]
backend = "postgres"
semantic_backend = "qdrant"
postgres_url = "postgres://u@h/db"
postgres_pool_size = 7
qdrant_url = "http://127.0.0.1:6334"
qdrant_api_key_env = "MY_QDRANT_KEY"
qdrant_collection = "openfang_memories"
decay_rate = 0.2
embedding_model = "all-MiniLM-L6-v2"
consolidation_interval_hours = 24
`,
        { MY_QDRANT_KEY: "qk" }
      )
      assert.strictEqual(c.backend, "postgres")
      assert.strictEqual(c.semanticBackend, "qdrant")
      assert.strictEqual(c.postgres!.poolSize, 7)
      assert.strictEqual(Redacted.value(c.qdrant!.apiKey!), "qk")
      assert.strictEqual(c.qdrant!.collection, "openfang_memories")
      assert.strictEqual(c.decayRate, 0.2)
      assert.strictEqual(c.embedding.model, "all-MiniLM-L6-v2")
    }))

  it.effect("the legacy backend = \"http\" means SQLite plus the HTTP semantic store", () =>
    Effect.gen(function*() {
      const c = yield* parseConfigToml(
        `
[memory]
backend = "http"
http_url = "http://127.0.0.1:5500"
http_token_env = "TOKEN"
`,
        { TOKEN: "t" }
      )
      assert.strictEqual(c.backend, "sqlite")
      assert.strictEqual(c.semanticBackend, "http")
      assert.strictEqual(Redacted.value(c.http!.token!), "t")
    }))

  it.effect("ConfigError cases: unknown key, unknown backend, missing url, unset *_env variable, a key set twice, bad TOML", () =>
    Effect.gen(function*() {
      const unknown = yield* configError(parseConfigToml(`[memory]\nmemory_api_url = "http://x"`, {}))
      assert.strictEqual(unknown.path, "memory_api_url")
      assert.include(unknown.allowed ?? [], "http_url")
      const backend = yield* configError(parseConfigToml(`[memory]\nbackend = "postgres+qdrant"`, {}))
      assert.deepStrictEqual(backend.allowed, ["sqlite", "postgres"])
      assert.strictEqual(
        (yield* configError(parseConfigToml(`[memory]\nsemantic_backend = "qdrant"`, {}))).path,
        "qdrant.url"
      )
      const env = yield* configError(
        parseConfigToml(`[memory]\nsemantic_backend = "http"\nhttp_url = "http://x:1"\nhttp_token_env = "NOPE"`, {})
      )
      assert.include(env.message, "NOPE")
      const twice = yield* configError(
        parseConfigToml(`[memory]\nsqlite_path = "a.db"\n[memory.sqlite]\npath = "b.db"`, {})
      )
      assert.strictEqual(twice.path, "sqlite.path")
      assert.strictEqual((yield* configError(parseConfigToml(`[memory\nbackend=`, {}))).path, "file")
      assert.strictEqual((yield* configError(parseConfigToml(`[other]\nx = 1`, {}))).path, "memory")
    }))
})
