/**
 * SqliteLive: all nine services on one SQLite file (better-sqlite3 12 + sqlite-vec + FTS5), the
 * embedded default. Building a layer opens the file (WAL, synchronous FULL, busy timeout, foreign
 * keys, sqlite-vec), runs the migrations under `BEGIN IMMEDIATE`, records or checks the embedding
 * space (semantic layers), and loads and verifies the audit chain (main layers) — every way that can
 * fail is in the layer's error type, and the connection closes with the layer's scope.
 */
import { Clock, type Context, Effect, type Scope } from "effect"
import { migrate } from "../../core/migrator.js"
import { checkStoreOptions } from "../../core/semantic.js"
import {
  mainContext,
  type MainStoreServices,
  semanticContext,
  type SemanticStoreServices,
  type StoreLayerError,
  storeLayers
} from "../../core/storeLayers.js"
import type {
  AuditIntegrityError,
  AuditLoadError,
  BackendUnavailable,
  EmbeddingSpaceMismatch,
  InvalidInput,
  MigrationError,
  StorageError
} from "../../domain/errors.js"
import type { StoreOptions } from "../../domain/options.js"
import type { MainStoreAdmin, SemanticStoreAdmin } from "../../services/Admin.js"
import type { EngramServices } from "../../services/index.js"
import * as Admin from "./admin.js"
import * as Audit from "./audit.js"
import { attempt, open, type SqliteConnection, type SqliteOptions } from "./client.js"
import * as Consolidate from "./consolidation.js"
import * as Devices from "./devices.js"
import * as Knowledge from "./knowledge.js"
import { driver, ensureEmbeddingSpace, migrations } from "./migrations.js"
import * as Semantic from "./semantic.js"
import * as Sessions from "./sessions.js"
import * as Structured from "./structured.js"
import * as Tasks from "./tasks.js"
import * as Usage from "./usage.js"

export { type SqliteOptions } from "./client.js"
export { migrations } from "./migrations.js"

/** What a SQLite store takes: the store options (embedding space, content limit) and the file. */
export type SqliteStoreOptions = StoreOptions & SqliteOptions

/** What the main-store layer provides: the seven main services and their admin service. */
export type SqliteMainServices = MainStoreServices

/** What the semantic layer provides: semantic memory, its consolidation and its admin service. */
export type SqliteSemanticServices = SemanticStoreServices

/** Everything `SqliteLive` provides: the nine services and both admin services. */
export type SqliteServices = EngramServices | MainStoreAdmin | SemanticStoreAdmin

/** Every way building a SQLite layer can fail. */
export type SqliteLayerError = StoreLayerError

/** Open the file and bring its schema up to date (in the current scope). */
export const connect = (
  options: SqliteOptions
): Effect.Effect<SqliteConnection, BackendUnavailable | MigrationError, Scope.Scope> =>
  Effect.gen(function*() {
    const conn = yield* open(options)
    yield* migrate(driver(conn), migrations, yield* Clock.currentTimeMillis)
    return conn
  })

/** The main-store services over an open, migrated connection; verifies the audit chain. */
export const makeMain = (
  conn: SqliteConnection
): Effect.Effect<Context.Context<SqliteMainServices>, AuditLoadError | AuditIntegrityError | StorageError> =>
  Effect.gen(function*() {
    const audit = yield* Audit.make(conn)
    return yield* attempt("prepare statements", () =>
      mainContext({
        structured: Structured.make(conn),
        knowledge: Knowledge.make(conn),
        sessions: Sessions.make(conn),
        usage: Usage.make(conn),
        devices: Devices.make(conn),
        tasks: Tasks.make(conn),
        audit,
        admin: Admin.makeMain(conn)
      }))
  })

/** The semantic services over an open, migrated connection; records or checks the embedding space. */
export const makeSemantic = (
  conn: SqliteConnection,
  options: StoreOptions
): Effect.Effect<Context.Context<SqliteSemanticServices>, InvalidInput | EmbeddingSpaceMismatch | StorageError> =>
  Effect.gen(function*() {
    const limits = yield* checkStoreOptions(options)
    yield* ensureEmbeddingSpace(conn, limits.space)
    return yield* attempt("prepare statements", () =>
      semanticContext({
        semantic: Semantic.make(conn, limits),
        consolidation: Consolidate.make(conn),
        admin: Admin.makeSemantic(conn, limits.space)
      }))
  })

/**
 * The layers over `connect`, `makeMain` and `makeSemantic`, wired by the core
 * (src/core/storeLayers.ts): `make`, `layer` (all nine services on the SQLite file `options.path`),
 * `layerMain`, `layerSemantic` and `layerConfig`.
 */
export const { layer, layerConfig, layerMain, layerSemantic, make } = storeLayers<SqliteStoreOptions, SqliteLayerError>()({
  connect,
  makeMain,
  makeSemantic
})

/** All nine services on SQLite: the embedded default. */
export const SqliteLive = layer
