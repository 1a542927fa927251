/**
 * The table of settings is the one declaration: the README lists exactly its variables, every
 * variable is read, names are unique, the gateway's settings and the HTTP retries come from it, and
 * its defaults agree with the backends' own.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { readFileSync } from "node:fs"
import * as HttpBackend from "../../src/backends/http/index.js"
import { DEFAULT_TIMEOUT_MS as QDRANT_TIMEOUT_MS } from "../../src/backends/qdrant/options.js"
import {
  backendOptions,
  configFromEnv,
  gatewayConfigFromEnv,
  gatewaySettings,
  mcpConfigFromEnv,
  mcpSettings,
  memorySettings,
  parseConfigToml
} from "../../src/config.js"
import { entriesOf } from "../../src/config/setting.js"
import { blockIn, blocks, README } from "../support/settingsDoc.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const variables = (text: string) => new Set([...text.matchAll(/^\| `(ENGRAM_[A-Z0-9_]+)`/gm)].map((m) => m[1]!))

const memoryEntries = entriesOf(memorySettings)
const gatewayEntries = entriesOf(gatewaySettings)
const mcpEntries = entriesOf(mcpSettings)
const declared = [...memoryEntries, ...gatewayEntries, ...mcpEntries].map((e) => e.setting.env)

/** A valid value for every memory variable, all at once (postgres main store, http semantic store). */
const everyVariable: Record<string, string> = {
  ENGRAM_BACKEND: "postgres",
  ENGRAM_SEMANTIC_BACKEND: "http",
  ENGRAM_SQLITE_PATH: "/tmp/every.db",
  ENGRAM_SQLITE_SYNCHRONOUS: "NORMAL",
  ENGRAM_SQLITE_BUSY_TIMEOUT_MS: "1234",
  ENGRAM_POSTGRES_URL: "postgres://u:pw@h/db",
  ENGRAM_POSTGRES_POOL_SIZE: "3",
  ENGRAM_POSTGRES_CONNECT_TIMEOUT_MS: "111",
  ENGRAM_POSTGRES_ACQUIRE_TIMEOUT_MS: "222",
  ENGRAM_QDRANT_URL: "http://127.0.0.1:6333",
  ENGRAM_QDRANT_API_KEY: "qk",
  ENGRAM_QDRANT_COLLECTION: "every",
  ENGRAM_QDRANT_TIMEOUT_MS: "333",
  ENGRAM_HTTP_URL: "http://127.0.0.1:5500",
  ENGRAM_HTTP_TOKEN: "ht",
  ENGRAM_HTTP_TIMEOUT_MS: "444",
  ENGRAM_HTTP_RETRIES: "0",
  ENGRAM_EMBEDDING_MODEL: "m",
  ENGRAM_EMBEDDING_DIMENSIONS: "8",
  ENGRAM_MAX_CONTENT_BYTES: "4096",
  ENGRAM_DECAY_RATE: "0.25",
  ENGRAM_EMBEDDER_URL: "http://127.0.0.1:11434/v1",
  ENGRAM_EMBEDDER_API_KEY: "ek",
  ENGRAM_EMBEDDER_TIMEOUT_MS: "555",
  ENGRAM_EMBEDDER_RETRIES: "2",
  ENGRAM_EMBEDDER_BATCH_SIZE: "64",
  ENGRAM_EMBEDDER_REQUEST_DIMENSIONS: "true"
}

const valueAt = (config: unknown, path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>(
    (v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined),
    config
  )

describe("the table of settings", () => {
  it("the README's tables are the rendering of the table (npx tsx test/support/settingsDoc.ts --write)", () => {
    const readme = readFileSync(README, "utf8")
    for (const { name, markdown } of blocks()) {
      assert.strictEqual(blockIn(readme, name), markdown, `README block ${name}`)
    }
  })

  it("every variable in the README's tables is a setting, and every setting is in the README", () => {
    const readme = readFileSync(README, "utf8")
    const documented = new Set(blocks().flatMap(({ name }) => [...variables(blockIn(readme, name) ?? "")]))
    assert.deepStrictEqual([...documented].filter((v) => !declared.includes(v)), [], "in the README, not in the table")
    assert.deepStrictEqual(declared.filter((v) => !documented.has(v)), [], "in the table, not in the README")
  })

  it("variables and legacy keys are unique, and variables are ENGRAM_*", () => {
    assert.strictEqual(new Set(declared).size, declared.length)
    for (const v of declared) assert.match(v, /^ENGRAM_[A-Z0-9_]+$/)
    const legacy = memoryEntries.flatMap((e) => [e.setting.legacy, e.setting.legacyEnv].filter((k) => k !== undefined))
    assert.strictEqual(new Set(legacy).size, legacy.length)
  })

  it("the modelled system's keys are all still accepted", () => {
    const legacy = memoryEntries.flatMap((e) => [e.setting.legacy, e.setting.legacyEnv].filter((k) => k !== undefined))
      .sort()
    assert.deepStrictEqual(legacy, [
      "backend",
      "decay_rate",
      "embedding_dimensions",
      "embedding_model",
      "http_token_env",
      "http_url",
      "postgres_pool_size",
      "postgres_url",
      "qdrant_api_key_env",
      "qdrant_collection",
      "qdrant_url",
      "semantic_backend",
      "sqlite_path"
    ])
  })

  it("defaults agree with the backends' own", () => {
    assert.strictEqual(memorySettings.http.settings.timeoutMs.default, HttpBackend.DEFAULT_TIMEOUT_MS)
    assert.strictEqual(memorySettings.http.settings.retries.default, HttpBackend.DEFAULT_RETRIES)
    assert.strictEqual(memorySettings.qdrant.settings.timeoutMs.default, QDRANT_TIMEOUT_MS)
  })

  it.effect("every memory variable is read into its setting", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(Object.keys(everyVariable).sort(), memoryEntries.map((e) => e.setting.env).sort())
      const c = yield* configFromEnv.pipe(withEnv(everyVariable))
      for (const { path, setting } of memoryEntries) {
        const value = valueAt(c, path)
        const shown = Redacted.isRedacted(value) ? Redacted.value(value) : String(value)
        assert.strictEqual(shown, everyVariable[setting.env], setting.env)
      }
    }))

  it.effect("the HTTP backend's options carry the retries; unset optional settings are absent", () =>
    Effect.gen(function*() {
      const c = yield* configFromEnv.pipe(
        withEnv({ ENGRAM_SEMANTIC_BACKEND: "http", ENGRAM_HTTP_URL: "http://h:1", ENGRAM_HTTP_RETRIES: "5" })
      )
      const options = yield* backendOptions(c, "http")
      assert.strictEqual(options.retries, 5)
      assert.isFalse("token" in options)
      assert.isFalse("maxContentBytes" in options)
      assert.deepStrictEqual(options.embedding, { model: "engram-hash-v1", dimensions: 384 })
      const toml = yield* parseConfigToml(
        `[memory]\nsemantic_backend = "http"\n[memory.http]\nurl = "http://h:1"\nretries = 1`,
        {}
      )
      assert.strictEqual(toml.http!.retries, 1)
    }))
})

describe("the gateway's settings from ENGRAM_GATEWAY_* variables", () => {
  it.effect("defaults", () =>
    Effect.gen(function*() {
      const g = yield* gatewayConfigFromEnv.pipe(withEnv({}))
      assert.deepStrictEqual(g, { host: "127.0.0.1", port: 5500, auth: "required" })
    }))

  it.effect("every variable is read; the token is Redacted and lists are comma-separated", () =>
    Effect.gen(function*() {
      const g = yield* gatewayConfigFromEnv.pipe(withEnv({
        ENGRAM_GATEWAY_HOST: "0.0.0.0",
        ENGRAM_GATEWAY_PORT: "0",
        ENGRAM_GATEWAY_TOKEN: "secret-token",
        ENGRAM_GATEWAY_AGENTS: "a, b,,c",
        ENGRAM_GATEWAY_CORS_ORIGINS: "https://app.example.com",
        ENGRAM_GATEWAY_MAX_BODY_BYTES: "1024",
        ENGRAM_GATEWAY_AUTH: "disabled"
      }))
      assert.strictEqual(g.host, "0.0.0.0")
      assert.strictEqual(g.port, 0)
      assert.isTrue(Redacted.isRedacted(g.token))
      assert.strictEqual(Redacted.value(g.token!), "secret-token")
      assert.deepStrictEqual(g.agents, ["a", "b", "c"])
      assert.deepStrictEqual(g.corsOrigins, ["https://app.example.com"])
      assert.strictEqual(g.maxBodyBytes, 1024)
      assert.strictEqual(g.auth, "disabled")
      assert.notInclude(JSON.stringify(g), "secret-token")
    }))

  it.effect("engram mcp's agents come from ENGRAM_MCP_AGENTS, comma-separated; none means every agent", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* mcpConfigFromEnv.pipe(withEnv({})), {})
      const m = yield* mcpConfigFromEnv.pipe(withEnv({ ENGRAM_MCP_AGENTS: " alice,, bob " }))
      assert.deepStrictEqual(m.agents, ["alice", "bob"])
    }))

  it.effect("bad values are ConfigErrors naming the setting", () =>
    Effect.gen(function*() {
      const port = yield* Effect.flip(gatewayConfigFromEnv.pipe(withEnv({ ENGRAM_GATEWAY_PORT: "http" })))
      assert.strictEqual(port.path, "gateway.port")
      assert.include(port.message, "ENGRAM_GATEWAY_PORT=http")
      assert.strictEqual(
        (yield* Effect.flip(gatewayConfigFromEnv.pipe(withEnv({ ENGRAM_GATEWAY_PORT: "70000" })))).path,
        "gateway.port"
      )
      const auth = yield* Effect.flip(gatewayConfigFromEnv.pipe(withEnv({ ENGRAM_GATEWAY_AUTH: "maybe" })))
      assert.strictEqual(auth.path, "gateway.auth")
      assert.deepStrictEqual(auth.allowed, ["required", "disabled"])
    }))
})
