/**
 * SqliteLive: all nine services on one SQLite file (better-sqlite3 12 + sqlite-vec + FTS5), the
 * embedded default. Building a layer opens the file (WAL, synchronous FULL, busy timeout, foreign
 * keys, sqlite-vec), runs the migrations under `BEGIN IMMEDIATE`, records or checks the embedding
 * space (semantic layers), and loads and verifies the audit chain (main layers) — every way that can
 * fail is in the layer's error type, and the connection closes with the layer's scope.
 */
import { Clock, type Config, type ConfigError, Context, Effect, Layer, Schema, type Scope } from "effect"
import { decode } from "../../core/decode.js"
import { migrate } from "../../core/migrator.js"
import type { SemanticLimits } from "../../core/semantic.js"
import { EmbeddingSpace } from "../../domain/embedding.js"
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
import { MainStoreAdmin, SemanticStoreAdmin } from "../../services/Admin.js"
import { AuditLog } from "../../services/AuditLog.js"
import { Consolidation } from "../../services/Consolidation.js"
import { DeviceStore } from "../../services/DeviceStore.js"
import type { EngramServices, MainServices, SemanticServices } from "../../services/index.js"
import { KnowledgeStore } from "../../services/KnowledgeStore.js"
import { SemanticStore } from "../../services/SemanticStore.js"
import { SessionStore } from "../../services/SessionStore.js"
import { StructuredStore } from "../../services/StructuredStore.js"
import { TaskQueue } from "../../services/TaskQueue.js"
import { UsageStore } from "../../services/UsageStore.js"
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
export type SqliteMainServices = MainServices | MainStoreAdmin

/** What the semantic layer provides: semantic memory, its consolidation and its admin service. */
export type SqliteSemanticServices = SemanticServices | SemanticStoreAdmin

/** Everything `SqliteLive` provides: the nine services and both admin services. */
export type SqliteServices = EngramServices | MainStoreAdmin | SemanticStoreAdmin

/** Every way building a SQLite layer can fail. */
export type SqliteLayerError =
  | InvalidInput
  | BackendUnavailable
  | MigrationError
  | EmbeddingSpaceMismatch
  | AuditLoadError
  | AuditIntegrityError
  | StorageError

const checkOptions = decode(
  Schema.Struct({
    embedding: EmbeddingSpace,
    maxContentBytes: Schema.optional(Schema.Int.pipe(Schema.positive()))
  }),
  "options"
)

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
      Context.make(StructuredStore, Structured.make(conn)).pipe(
        Context.add(KnowledgeStore, Knowledge.make(conn)),
        Context.add(SessionStore, Sessions.make(conn)),
        Context.add(UsageStore, Usage.make(conn)),
        Context.add(DeviceStore, Devices.make(conn)),
        Context.add(TaskQueue, Tasks.make(conn)),
        Context.add(AuditLog, audit),
        Context.add(MainStoreAdmin, Admin.makeMain(conn))
      ))
  })

/** The semantic services over an open, migrated connection; records or checks the embedding space. */
export const makeSemantic = (
  conn: SqliteConnection,
  options: StoreOptions
): Effect.Effect<Context.Context<SqliteSemanticServices>, InvalidInput | EmbeddingSpaceMismatch | StorageError> =>
  Effect.gen(function*() {
    const checked = yield* checkOptions({ embedding: options.embedding, maxContentBytes: options.maxContentBytes })
    yield* ensureEmbeddingSpace(conn, checked.embedding)
    const limits: SemanticLimits = {
      space: checked.embedding,
      ...(checked.maxContentBytes === undefined ? {} : { maxContentBytes: checked.maxContentBytes })
    }
    return yield* attempt("prepare statements", () =>
      Context.make(SemanticStore, Semantic.make(conn, limits)).pipe(
        Context.add(Consolidation, Consolidate.make(conn)),
        Context.add(SemanticStoreAdmin, Admin.makeSemantic(conn, checked.embedding))
      ))
  })

/** All nine services (and both admin services) over one connection, closed with the scope. */
export const make = (
  options: SqliteStoreOptions
): Effect.Effect<Context.Context<SqliteServices>, SqliteLayerError, Scope.Scope> =>
  Effect.gen(function*() {
    const conn = yield* connect(options)
    const semantic = yield* makeSemantic(conn, options)
    const main = yield* makeMain(conn)
    return Context.merge(main, semantic)
  })

/** All nine services on the SQLite file `options.path`. */
export const layer = (options: SqliteStoreOptions): Layer.Layer<SqliteServices, SqliteLayerError> =>
  Layer.scopedContext(make(options))

/** The main store (everything but semantic memory) on SQLite; the embedding space is not touched. */
export const layerMain = (options: SqliteStoreOptions): Layer.Layer<SqliteMainServices, SqliteLayerError> =>
  Layer.scopedContext(Effect.flatMap(connect(options), makeMain))

/** Semantic memory and its consolidation on SQLite. */
export const layerSemantic = (options: SqliteStoreOptions): Layer.Layer<SqliteSemanticServices, SqliteLayerError> =>
  Layer.scopedContext(Effect.flatMap(connect(options), (conn) => makeSemantic(conn, options)))

/** The options read from configuration. */
export const layerConfig = (
  config: Config.Config<SqliteStoreOptions>
): Layer.Layer<SqliteServices, SqliteLayerError | ConfigError.ConfigError> => Layer.unwrapEffect(Effect.map(config, layer))

/** All nine services on SQLite: the embedded default. */
export const SqliteLive = layer
