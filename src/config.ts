/**
 * Configuration: which store holds what, how to reach it, and how `engram serve` listens. Every
 * setting is declared once in the table of config/settings.ts; from it come the MemoryConfig Schema,
 * the `ENGRAM_*` reader (config/env.ts), the TOML `[memory]` reader with the modelled system's key
 * names (config/toml.ts) and each backend's options (config/backendOptions.ts); `engram serve`'s and
 * `engram mcp`'s settings come from the same table.
 */
export { backendOptions, type BackendSection, storeOptions, type StoreSettings } from "./config/backendOptions.js"
export { configFromEnv, gatewayConfigFromEnv, mcpConfigFromEnv } from "./config/env.js"
export {
  type GatewayConfig,
  gatewayConfig,
  GatewayConfigSchema,
  type McpConfig,
  mcpConfig,
  McpConfigSchema,
  type MemoryConfig,
  memoryConfig,
  type MemoryConfigInput,
  MemoryConfigSchema
} from "./config/schema.js"
export type { EnvForm, Section, Setting } from "./config/setting.js"
export {
  BackendKind,
  DEFAULT_EMBEDDING,
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
  DEFAULT_SQLITE_PATH,
  gatewaySettings,
  mcpSettings,
  memorySettings,
  SemanticBackendKind
} from "./config/settings.js"
export { fromTomlTable, loadConfigFile, parseConfigToml } from "./config/toml.js"
