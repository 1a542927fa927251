/**
 * PgLive: all nine services on PostgreSQL ≥ 15 with pgvector ≥ 0.8, over one node-postgres pool.
 * Building a layer opens the pool (typed `BackendUnavailable` within the connect timeout when the
 * server cannot be reached), runs the migrations under a transaction-scoped advisory lock, records
 * or checks the embedding space (semantic layers: the `vector(D)` column and its HNSW index), and
 * loads and verifies the audit chain (main layers) — every way that can fail is in the layer's error
 * type, and the pool closes with the layer's scope.
 */
import { Clock, type Context, Effect, Schema, type Scope } from "effect"
import { decode } from "../../core/decode.js"
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
import * as Client from "./client.js"
import * as Consolidate from "./consolidation.js"
import * as Devices from "./devices.js"
import * as Knowledge from "./knowledge.js"
import { ensureEmbeddingSpace, runMigrations } from "./migrations.js"
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
export type PgMainServices = MainStoreServices

/** What the semantic layers provide: semantic memory, its consolidation and its admin service. */
export type PgSemanticServices = SemanticStoreServices

/** What `PgLive` provides: all nine services and both admin services. */
export type PgServices = EngramServices | MainStoreAdmin | SemanticStoreAdmin

/** Every way building a PostgreSQL layer can fail. */
export type PgLayerError = StoreLayerError

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
    mainContext({
      structured: Structured.make(client),
      knowledge: Knowledge.make(client),
      sessions: Sessions.make(client),
      usage: Usage.make(client),
      devices: Devices.make(client),
      tasks: Tasks.make(client),
      audit,
      admin: Admin.makeMain(client)
    }))

/** The semantic services over a migrated pool; records or checks the embedding space. */
export const makeSemantic = (
  client: Client.PgClient,
  options: StoreOptions
): Effect.Effect<
  Context.Context<PgSemanticServices>,
  InvalidInput | EmbeddingSpaceMismatch | MigrationError | StorageError | BackendUnavailable
> =>
  Effect.gen(function*() {
    const limits = yield* checkStoreOptions(options)
    yield* ensureEmbeddingSpace(client, limits.space)
    return semanticContext({
      semantic: Semantic.make(client, limits),
      consolidation: Consolidate.make(client),
      admin: Admin.makeSemantic(client, limits.space)
    })
  })

/**
 * The layers over `connect`, `makeMain` and `makeSemantic`, wired by the core
 * (src/core/storeLayers.ts): `make`, `layer` (all nine services on the PostgreSQL database at
 * `options.url`), `layerMain`, `layerSemantic` and `layerConfig`.
 */
export const { layer, layerConfig, layerMain, layerSemantic, make } = storeLayers<PgStoreOptions, PgLayerError>()({
  connect,
  makeMain,
  makeSemantic
})

/** All nine services on PostgreSQL + pgvector. */
export const PgLive = layer
