/**
 * Composition: a MemoryConfig becomes one Layer providing all nine services (and the two
 * admin services), for every pair of main store (sqlite | postgres) and semantic store
 * (sqlite | postgres | qdrant | http), honouring the choice made. Backends are loaded with dynamic
 * `import()` only when selected: a SQLite-only process never loads `pg` or the Qdrant client.
 * When both stores use the same SQL backend they share one connection (or pool).
 */
import { Effect, Layer } from "effect"
import { mkdir } from "node:fs/promises"
import { dirname } from "node:path"
import {
  backendOptions,
  configFromEnv,
  loadConfigFile,
  type MemoryConfig,
  memoryConfig,
  type MemoryConfigInput
} from "../config.js"
import { loadBackend } from "../core/loadBackend.js"
import { describe } from "../core/storage.js"
import { BackendUnavailable, type ConfigError, type StoreLayerError } from "../domain/errors.js"
import type { MainStoreAdmin, SemanticStoreAdmin } from "../services/Admin.js"
import type { MainServices, SemanticServices } from "../services/index.js"

/** Everything a composed store provides. */
export type MainLayerServices = MainServices | MainStoreAdmin
export type SemanticLayerServices = SemanticServices | SemanticStoreAdmin
export type EngramLayerServices = MainLayerServices | SemanticLayerServices

/** Every way building a composed store can fail. */
export type EngramLayerError = ConfigError | StoreLayerError

/** A backend's module; its own layers name a missing driver package (see loadBackend.ts). */
const load = <M>(name: string, importer: () => Promise<M>) => loadBackend(name, undefined, importer)

/** SQLite's options; the directory of its file is created first. */
const sqliteOptions = (c: MemoryConfig) =>
  Effect.gen(function*() {
    const options = yield* backendOptions(c, "sqlite")
    const path = options.path
    if (path !== ":memory:") {
      yield* Effect.tryPromise({
        try: () => mkdir(dirname(path), { recursive: true }),
        catch: (cause) =>
          new BackendUnavailable({
            backend: "sqlite",
            url: path,
            message: `cannot create the directory of ${path}: ${describe(cause)}`
          })
      })
    }
    return options
  })

/** Type-checked widening of a backend's layer to the composed error type. */
const semantic = (l: Layer.Layer<SemanticLayerServices, EngramLayerError>) => l

/** The semantic store alone, on its own connection. */
export const semanticLayerFromConfig = (c: MemoryConfig): Layer.Layer<SemanticLayerServices, EngramLayerError> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    switch (c.semanticBackend) {
      case "sqlite": {
        const sqlite = yield* load("sqlite", () => import("../backends/sqlite/index.js"))
        return semantic(sqlite.layerSemantic(yield* sqliteOptions(c)))
      }
      case "postgres": {
        const pg = yield* load("postgres", () => import("../backends/postgres/index.js"))
        return semantic(pg.layerSemantic(yield* backendOptions(c, "postgres")))
      }
      case "qdrant": {
        const qdrant = yield* load("qdrant", () => import("../backends/qdrant/index.js"))
        return semantic(qdrant.layer(yield* backendOptions(c, "qdrant")))
      }
      case "http": {
        const http = yield* load("http", () => import("../backends/http/index.js"))
        return semantic(http.layer(yield* backendOptions(c, "http")))
      }
    }
  }))

/** The main store alone (the seven services other than semantic memory). */
export const mainLayerFromConfig = (c: MemoryConfig): Layer.Layer<MainLayerServices, EngramLayerError> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    if (c.backend === "sqlite") {
      const sqlite = yield* load("sqlite", () => import("../backends/sqlite/index.js"))
      return sqlite.layerMain(yield* sqliteOptions(c))
    }
    const pg = yield* load("postgres", () => import("../backends/postgres/index.js"))
    return pg.layerMain(yield* backendOptions(c, "postgres"))
  }))

/** All nine services for a validated configuration. */
export const layerFromConfig = (c: MemoryConfig): Layer.Layer<EngramLayerServices, EngramLayerError> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    // Same SQL backend for both: one connection or pool serves all nine services.
    if (c.backend === "sqlite" && c.semanticBackend === "sqlite") {
      const sqlite = yield* load("sqlite", () => import("../backends/sqlite/index.js"))
      return sqlite.layer(yield* sqliteOptions(c))
    }
    if (c.backend === "postgres" && c.semanticBackend === "postgres") {
      const pg = yield* load("postgres", () => import("../backends/postgres/index.js"))
      return pg.layer(yield* backendOptions(c, "postgres"))
    }
    return Layer.merge(mainLayerFromConfig(c), semanticLayerFromConfig(c))
  }))

/**
 * All nine services for a configuration given in code. The parameter is typed, so a misspelt key or
 * backend is a compile error; the value is still validated (ranges, URLs, the URL a backend needs).
 */
export const layer = (config: MemoryConfigInput): Layer.Layer<EngramLayerServices, EngramLayerError> =>
  Layer.unwrapEffect(Effect.map(memoryConfig(config), layerFromConfig))

/** All nine services for a configuration from outside the program (parsed JSON, say): validated at run time. */
export const layerFromInput = (input: unknown): Layer.Layer<EngramLayerServices, EngramLayerError> =>
  Layer.unwrapEffect(Effect.map(memoryConfig(input), layerFromConfig))

/** All nine services configured by `ENGRAM_*` environment variables. */
export const layerConfig: Layer.Layer<EngramLayerServices, EngramLayerError> = Layer.unwrapEffect(
  Effect.map(configFromEnv, layerFromConfig)
)

/** All nine services configured by the `[memory]` table of a TOML file. */
export const layerFile = (path: string): Layer.Layer<EngramLayerServices, EngramLayerError> =>
  Layer.unwrapEffect(Effect.map(loadConfigFile(path), layerFromConfig))
