/**
 * The `ENGRAM_*` environment variables, read through Effect's `Config` (secrets with
 * `Config.redacted`), one per setting of the table. This is the only place engram reads its
 * environment; tests swap the source with `Effect.withConfigProvider`.
 */
import { Config, Effect, Option } from "effect"
import { ConfigError } from "../domain/errors.js"
import {
  type GatewayConfig,
  gatewayConfig,
  type McpConfig,
  mcpConfig,
  type MemoryConfig,
  memoryConfig
} from "./schema.js"
import { entriesOf, setIn, type Setting, type Table } from "./setting.js"
import { gatewaySettings, mcpSettings, memorySettings } from "./settings.js"

/**
 * The value of a setting's variable, if set. A number that does not parse is passed on as
 * "NAME=text", so the Schema's error names the variable and what it held.
 */
const fromEnv = (setting: Setting): Config.Config<Option.Option<unknown>> => {
  const name = setting.env
  switch (setting.kind.form) {
    case "secret":
      return Config.option(Config.redacted(name))
    case "text":
      return Config.option(Config.string(name))
    case "number":
      return Config.option(Config.string(name)).pipe(
        Config.map(Option.map((s) => s.trim() !== "" && Number.isFinite(Number(s)) ? Number(s) : `${name}=${s}`))
      )
    case "boolean":
      return Config.option(Config.string(name)).pipe(Config.map(Option.map((s) => {
        const v = s.trim().toLowerCase()
        return v === "true" ? true : v === "false" ? false : `${name}=${s}`
      })))
    case "list":
      return Config.option(Config.string(name)).pipe(
        Config.map(Option.map((s) => s.split(",").map((x) => x.trim()).filter((x) => x !== "")))
      )
  }
}

/**
 * The input a table's variables spell. A section given only through secondary settings (a pool
 * size without a URL) is passed on as it is: validation reports the missing URL.
 */
const inputFromEnv = (table: Table): Effect.Effect<Record<string, unknown>, ConfigError> =>
  Effect.gen(function*() {
    const entries = entriesOf(table)
    const values = yield* Config.all(entries.map((e) => fromEnv(e.setting))).pipe(
      Effect.mapError((e) => new ConfigError({ path: "environment", message: String(e) }))
    )
    const input: Record<string, unknown> = {}
    entries.forEach((entry, i) => {
      const value = values[i]
      if (value !== undefined && Option.isSome(value)) setIn(input, entry.path, value.value, entry.setting.env)
    })
    return input
  })

/** The configuration read from `ENGRAM_*` environment variables (through Effect's `Config`). */
export const configFromEnv: Effect.Effect<MemoryConfig, ConfigError> = Effect.flatMap(
  inputFromEnv(memorySettings),
  memoryConfig
)

/** The gateway's settings read from `ENGRAM_GATEWAY_*` environment variables. */
export const gatewayConfigFromEnv: Effect.Effect<GatewayConfig, ConfigError> = Effect.flatMap(
  inputFromEnv(gatewaySettings),
  gatewayConfig
)

/** The stdio MCP server's settings read from `ENGRAM_MCP_*` environment variables. */
export const mcpConfigFromEnv: Effect.Effect<McpConfig, ConfigError> = Effect.flatMap(
  inputFromEnv(mcpSettings),
  mcpConfig
)
