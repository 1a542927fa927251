/**
 * SqliteLive: all nine services on one SQLite file (better-sqlite3 12 + sqlite-vec + FTS5), the
 * embedded default. Building a layer opens the file (WAL, synchronous FULL, busy timeout, foreign
 * keys, sqlite-vec), runs the migrations under `BEGIN IMMEDIATE`, records or checks the embedding
 * space (semantic layers), and loads and verifies the audit chain (main layers) — every way that can
 * fail is in the layer's error type, and the connection closes with the layer's scope.
 *
 * The @effect/sql interop (`layerWithSqlClient`) is a separate entry point, `engram/sqlite/sql`, so
 * that an application without @effect/sql installed never loads it.
 */
import type { Config, ConfigError, Context, Effect, Layer, Scope } from "effect"
import { storeLayers } from "../../core/storeLayers.js"
import type { StoreLayerError } from "../../domain/errors.js"
import type { StoreOptions } from "../../domain/options.js"
import type { MainStoreAdmin, SemanticStoreAdmin } from "../../services/Admin.js"
import type { EngramServices, MainServices, SemanticServices } from "../../services/index.js"
import type { SqliteOptions } from "./options.js"
import { connect, makeMain, makeSemantic } from "./store.js"

export type { SqliteOptions, Synchronous } from "./options.js"

/** What a SQLite store takes: the store options (embedding space, content limit) and the file. */
export type SqliteStoreOptions = StoreOptions & SqliteOptions

/** What the main-store layer provides: the seven main services and their admin service. */
export type SqliteMainServices = MainServices | MainStoreAdmin

/** What the semantic layer provides: semantic memory, its consolidation and its admin service. */
export type SqliteSemanticServices = SemanticServices | SemanticStoreAdmin

/** Everything `SqliteLive` provides: the nine services and both admin services. */
export type SqliteServices = EngramServices | MainStoreAdmin | SemanticStoreAdmin

/** Every way building a SQLite layer can fail. */
export type SqliteLayerError = StoreLayerError

const layers = storeLayers<SqliteStoreOptions, SqliteLayerError>()({ connect, makeMain, makeSemantic })

/** All nine services (and both admin services) on the SQLite file `options.path`, in the current scope. */
export const make: (
  options: SqliteStoreOptions
) => Effect.Effect<Context.Context<SqliteServices>, SqliteLayerError, Scope.Scope> = layers.make

/** All nine services on the SQLite file `options.path`; the connection closes with the layer. */
export const layer: (options: SqliteStoreOptions) => Layer.Layer<SqliteServices, SqliteLayerError> = layers.layer

/** The seven main-store services only; the embedding space is not touched. */
export const layerMain: (options: SqliteStoreOptions) => Layer.Layer<SqliteMainServices, SqliteLayerError> =
  layers.layerMain

/** Semantic memory and its consolidation only. */
export const layerSemantic: (options: SqliteStoreOptions) => Layer.Layer<SqliteSemanticServices, SqliteLayerError> =
  layers.layerSemantic

/** `layer` with its options read from configuration. */
export const layerConfig: (
  config: Config.Config<SqliteStoreOptions>
) => Layer.Layer<SqliteServices, SqliteLayerError | ConfigError.ConfigError> = layers.layerConfig

/** All nine services on SQLite: the embedded default. */
export const SqliteLive = layer
