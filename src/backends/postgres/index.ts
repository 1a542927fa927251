/**
 * PgLive: all nine services on PostgreSQL ≥ 15 with pgvector ≥ 0.8, over one node-postgres pool.
 * Building a layer opens the pool (typed `BackendUnavailable` within the connect timeout when the
 * server cannot be reached), runs the migrations under a transaction-scoped advisory lock, records
 * or checks the embedding space (semantic layers: the `vector(D)` column and its HNSW index), and
 * loads and verifies the audit chain (main layers) — every way that can fail is in the layer's error
 * type, and the pool closes with the layer's scope.
 */
import { Clock, type Config, type ConfigError, Context, Effect, Layer, Schema, type Scope } from "effect"
import { decode } from "../../core/decode.js"
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
import * as Client from "./client.js"
import * as Consolidate from "./consolidation.js"
import * as Devices from "./devices.js"
import * as Knowledge from "./knowledge.js"
import { ensureEmbeddingSpace, MIGRATIONS, runMigrations } from "./migrations.js"
import * as Semantic from "./semantic.js"
import * as Sessions from "./sessions.js"
import * as Structured from "./structured.js"
import * as Tasks from "./tasks.js"
import * as Usage from "./usage.js"

export { type PgClient, type PgOptions } from "./client.js"
export { MIGRATIONS as migrations } from "./migrations.js"

/** What a PostgreSQL store takes: the store options (embedding space, content limit) and the pool settings. */
export type PgStoreOptions = StoreOptions & Client.PgOptions

/** What the main-store layers provide: the seven services and their admin service. */
export type PgMainServices = MainServices | MainStoreAdmin

/** What the semantic layers provide: semantic memory, its consolidation and its admin service. */
export type PgSemanticServices = SemanticServices | SemanticStoreAdmin

/** What `PgLive` provides: all nine services and both admin services. */
export type PgServices = EngramServices | MainStoreAdmin | SemanticStoreAdmin

/** Every way building a PostgreSQL layer can fail. */
export type PgLayerError =
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

const checkPool = decode(
  Schema.Struct({
    poolSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000))),
    connectTimeoutMs: Schema.optional(Schema.Int.pipe(Schema.positive())),
    acquireTimeoutMs: Schema.optional(Schema.Int.pipe(Schema.positive())),
    idleTimeoutMs: Schema.optional(Schema.Int.pipe(Schema.positive())),
    statementTimeoutMs: Schema.optional(Schema.Int.pipe(Schema.positive()))
  }),
  "options"
)

/** Open the pool and bring the schema up to date (in the current scope). */
export const connect = (
  options: Client.PgOptions
): Effect.Effect<Client.PgClient, InvalidInput | BackendUnavailable | MigrationError, Scope.Scope> =>
  Effect.gen(function*() {
    yield* checkPool({
      poolSize: options.poolSize,
      connectTimeoutMs: options.connectTimeoutMs,
      acquireTimeoutMs: options.acquireTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      statementTimeoutMs: options.statementTimeoutMs
    })
    const client = yield* Client.make(options)
    yield* runMigrations(client, yield* Clock.currentTimeMillis)
    return client
  })

/** The main-store services over a migrated pool; verifies the audit chain. */
export const makeMain = (
  client: Client.PgClient
): Effect.Effect<Context.Context<PgMainServices>, AuditLoadError | AuditIntegrityError> =>
  Effect.map(Audit.make(client), (audit) =>
    Context.make(StructuredStore, Structured.make(client)).pipe(
      Context.add(KnowledgeStore, Knowledge.make(client)),
      Context.add(SessionStore, Sessions.make(client)),
      Context.add(UsageStore, Usage.make(client)),
      Context.add(DeviceStore, Devices.make(client)),
      Context.add(TaskQueue, Tasks.make(client)),
      Context.add(AuditLog, audit),
      Context.add(MainStoreAdmin, Admin.makeMain(client))
    ))

/** The semantic services over a migrated pool; records or checks the embedding space. */
export const makeSemantic = (
  client: Client.PgClient,
  options: StoreOptions
): Effect.Effect<
  Context.Context<PgSemanticServices>,
  InvalidInput | EmbeddingSpaceMismatch | MigrationError | StorageError | BackendUnavailable
> =>
  Effect.gen(function*() {
    const checked = yield* checkOptions({ embedding: options.embedding, maxContentBytes: options.maxContentBytes })
    yield* ensureEmbeddingSpace(client, checked.embedding)
    const limits: SemanticLimits = {
      space: checked.embedding,
      ...(checked.maxContentBytes === undefined ? {} : { maxContentBytes: checked.maxContentBytes })
    }
    return Context.make(SemanticStore, Semantic.make(client, limits)).pipe(
      Context.add(Consolidation, Consolidate.make(client)),
      Context.add(SemanticStoreAdmin, Admin.makeSemantic(client, checked.embedding))
    )
  })

/** All nine services (and both admin services) over one pool, closed with the scope. */
export const make = (
  options: PgStoreOptions
): Effect.Effect<Context.Context<PgServices>, PgLayerError, Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* connect(options)
    const semantic = yield* makeSemantic(client, options)
    const main = yield* makeMain(client)
    return Context.merge(main, semantic)
  })

/** All nine services on the PostgreSQL database at `options.url`. */
export const layer = (options: PgStoreOptions): Layer.Layer<PgServices, PgLayerError> =>
  Layer.scopedContext(make(options))

/** The main store (everything but semantic memory) on PostgreSQL; the embedding space is not touched. */
export const layerMain = (options: PgStoreOptions): Layer.Layer<PgMainServices, PgLayerError> =>
  Layer.scopedContext(Effect.flatMap(connect(options), makeMain))

/** Semantic memory and its consolidation on PostgreSQL + pgvector. */
export const layerSemantic = (options: PgStoreOptions): Layer.Layer<PgSemanticServices, PgLayerError> =>
  Layer.scopedContext(Effect.flatMap(connect(options), (client) => makeSemantic(client, options)))

/** The options read from configuration. */
export const layerConfig = (
  config: Config.Config<PgStoreOptions>
): Layer.Layer<PgServices, PgLayerError | ConfigError.ConfigError> => Layer.unwrapEffect(Effect.map(config, layer))

/** All nine services on PostgreSQL + pgvector. */
export const PgLive = layer

/** The migration versions PgLive applies (the same numbers as SQLite's). */
export const migrationVersions: ReadonlyArray<number> = MIGRATIONS.map((m) => m.version)
