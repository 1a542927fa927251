/**
 * The configuration Schemas derived from the table of settings, and validation: every source (code,
 * environment, TOML) ends here. Unknown keys and unknown values are a `ConfigError` listing what is
 * allowed; a missing URL for the chosen backend is a `ConfigError` naming the key.
 */
import { Effect, ParseResult, Schema } from "effect"
import { ConfigError } from "../domain/errors.js"
import { entriesOf, fieldsOf, isRecord, namesOf, type Table } from "./setting.js"
import { gatewaySettings, mcpSettings, memorySettings, type SemanticBackendKind } from "./settings.js"

/** The configuration Schema. */
export const MemoryConfigSchema = Schema.Struct(fieldsOf(memorySettings))

/** A validated configuration; `semanticBackend` is resolved (it follows `backend` when unset). */
export type MemoryConfig = Omit<typeof MemoryConfigSchema.Type, "semanticBackend"> & {
  readonly semanticBackend: SemanticBackendKind
}
/** What `memoryConfig` accepts (secrets as strings or `Redacted`). */
export type MemoryConfigInput = typeof MemoryConfigSchema.Encoded

/** The stdio MCP server's settings as `engram mcp` reads them. */
export const McpConfigSchema = Schema.Struct(fieldsOf(mcpSettings))
/** The stdio MCP server's validated settings. */
export type McpConfig = typeof McpConfigSchema.Type

/** The gateway's settings as `engram serve` reads them. */
export const GatewayConfigSchema = Schema.Struct(fieldsOf(gatewaySettings))
/** The gateway's validated settings. */
export type GatewayConfig = typeof GatewayConfigSchema.Type

/**
 * Validation of one table's input: unknown names (with the names allowed), then the Schema (a wrong
 * literal lists the literals allowed). Error paths are prefixed with `root` when it is not empty.
 */
const validator = <A, I>(schema: Schema.Schema<A, I>, table: Table, root: string) => {
  const names = namesOf(table)
  const literals = new Map(
    entriesOf(table).flatMap((
      e
    ) => (e.setting.kind.literals === undefined ? [] : [[e.path.join("."), e.setting.kind.literals] as const]))
  )
  const at = (path: string) => (root === "" ? path : path === "" ? root : `${root}.${path}`)

  const unknownName = (input: Record<string, unknown>): ConfigError | undefined => {
    for (const [section, allowed] of names) {
      const values = section === "" ? input : input[section]
      if (values === undefined) continue
      if (!isRecord(values)) {
        return new ConfigError({ path: at(section), message: `${at(section)} must be a table of settings` })
      }
      for (const key of Object.keys(values)) {
        if (!allowed.includes(key)) {
          const path = at(section === "" ? key : `${section}.${key}`)
          return new ConfigError({ path, message: `unknown setting ${JSON.stringify(path)}`, allowed: [...allowed] })
        }
      }
    }
    return undefined
  }

  const toConfigError = (error: ParseResult.ParseError): ConfigError => {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
    const path = (issue?.path ?? []).map(String).join(".")
    const allowed = literals.get(path)
    return new ConfigError({
      path: at(path) === "" ? "memory" : at(path),
      message: allowed === undefined ? issue?.message ?? error.message : `must be one of ${allowed.join(", ")}`,
      ...(allowed === undefined ? {} : { allowed: [...allowed] })
    })
  }

  const decode = Schema.decodeUnknown(schema, { errors: "first", onExcessProperty: "error" })

  return (input: unknown): Effect.Effect<A, ConfigError> => {
    if (!isRecord(input)) {
      return Effect.fail(
        new ConfigError({ path: root === "" ? "memory" : root, message: "configuration must be an object" })
      )
    }
    const unknown = unknownName(input)
    return unknown === undefined ? Effect.mapError(decode(input), toConfigError) : Effect.fail(unknown)
  }
}

const validateMemory = validator(MemoryConfigSchema, memorySettings, "")

/** Validate a configuration given in code (or assembled from a file or the environment). */
export const memoryConfig = (input: unknown): Effect.Effect<MemoryConfig, ConfigError> =>
  Effect.gen(function*() {
    const c = yield* validateMemory(input)
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

/** Validate the gateway's settings; error paths start with `gateway.`. */
export const gatewayConfig: (input: unknown) => Effect.Effect<GatewayConfig, ConfigError> = validator(
  GatewayConfigSchema,
  gatewaySettings,
  "gateway"
)

/** Validate the stdio MCP server's settings; error paths start with `mcp.`. */
export const mcpConfig: (input: unknown) => Effect.Effect<McpConfig, ConfigError> = validator(
  McpConfigSchema,
  mcpSettings,
  "mcp"
)
