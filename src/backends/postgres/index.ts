/**
 * PgLive: all nine services on PostgreSQL ≥ 15 with pgvector ≥ 0.8, over one node-postgres pool.
 * Building a layer opens the pool (typed `BackendUnavailable` within the connect timeout when the
 * server cannot be reached), runs the migrations under a transaction-scoped advisory lock, records
 * or checks the embedding space (semantic layers: the `vector(D)` column and its HNSW index), and
 * loads and verifies the audit chain (main layers) — every way that can fail is in the layer's error
 * type, and the pool closes with the layer's scope.
 */
import { type Config, type ConfigError as EffectConfigError, Context, Effect, Layer, type Scope } from "effect"
import { loadBackend } from "../../core/loadBackend.js"
import { storeLayers } from "../../core/storeLayers.js"
import type { ConfigError, StoreLayerError } from "../../domain/errors.js"
import type { StoreOptions } from "../../domain/options.js"
import type { MainStoreAdmin, SemanticStoreAdmin } from "../../services/Admin.js"
import type { EngramServices, MainServices, SemanticServices } from "../../services/index.js"
import type { PgOptions } from "./options.js"

export type { PgOptions } from "./options.js"

/** What a PostgreSQL store takes: the store options (embedding space, content limit) and the pool settings. */
export type PgStoreOptions = StoreOptions & PgOptions

/** What the main-store layers provide: the seven services and their admin service. */
export type PgMainServices = MainServices | MainStoreAdmin

/** What the semantic layers provide: semantic memory, its consolidation and its admin service. */
export type PgSemanticServices = SemanticServices | SemanticStoreAdmin

/** What `PgLive` provides: all nine services and both admin services. */
export type PgServices = EngramServices | MainStoreAdmin | SemanticStoreAdmin

/** Every way building a PostgreSQL layer can fail (a `ConfigError` when the `pg` package is missing). */
export type PgLayerError = StoreLayerError | ConfigError

/** The implementation, loaded when the first layer is built: `pg` is an optional peer dependency. */
const layers = Effect.map(
  loadBackend("postgres", "pg", () => import("./store.js")),
  (store) => storeLayers<PgStoreOptions, PgLayerError>()(store)
)

/** All nine services (and both admin services) on the database at `options.url`, in the current scope. */
export const make = (options: PgStoreOptions): Effect.Effect<Context.Context<PgServices>, PgLayerError, Scope.Scope> =>
  Effect.flatMap(layers, (l) => l.make(options))

/** All nine services on the database at `options.url`; the pool closes with the layer. */
export const layer = (options: PgStoreOptions): Layer.Layer<PgServices, PgLayerError> =>
  Layer.unwrapEffect(Effect.map(layers, (l) => l.layer(options)))

/** The seven main-store services only; the embedding space is not touched. */
export const layerMain = (options: PgStoreOptions): Layer.Layer<PgMainServices, PgLayerError> =>
  Layer.unwrapEffect(Effect.map(layers, (l) => l.layerMain(options)))

/** Semantic memory and its consolidation only. */
export const layerSemantic = (options: PgStoreOptions): Layer.Layer<PgSemanticServices, PgLayerError> =>
  Layer.unwrapEffect(Effect.map(layers, (l) => l.layerSemantic(options)))

/** `layer` with its options read from configuration. */
export const layerConfig = (
  config: Config.Config<PgStoreOptions>
): Layer.Layer<PgServices, PgLayerError | EffectConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))

/**
 * An application's node-postgres `Pool` for `layerFromPool` (typed structurally, so that this module's
 * types do not require `@types/pg`; at run time it must be a `pg.Pool`).
 */
export class PgPool extends Context.Tag("engram/postgres/PgPool")<PgPool, {
  readonly options: object
  readonly totalCount: number
  readonly idleCount: number
}>() {}

/** What a store on an application's pool takes: the store options and engram's acquire deadline. */
export type PgPoolStoreOptions = StoreOptions & {
  readonly acquireTimeoutMs?: number
  readonly auditAnchorPath?: string
}

/**
 * All nine services on the application's pool (`PgPool`): one pool, whose lifecycle is the
 * application's Layer scope. engram keeps its fast paths on it (named statements, its own acquire
 * deadline and parsers) and sets pgvector's HNSW session settings on the connections it uses. Inside
 * the application's `sql.withTransaction` (an @effect/sql-pg client on the same database — for
 * instance `PgClient.layerFromPool` over the same pool), engram's writes join that transaction.
 */
export const layerFromPool = (options: PgPoolStoreOptions): Layer.Layer<PgServices, PgLayerError, PgPool> =>
  Layer.unwrapEffect(Effect.map(
    loadBackend("postgres", "pg", () => import("./store.js")),
    (store) =>
      Layer.scopedContext(Effect.gen(function*() {
        const pool = yield* PgPool
        const client = yield* store.connectToPool(pool, options)
        const semantic = yield* store.makeSemantic(client, options)
        return Context.merge(yield* store.makeMain(client, options), semantic)
      }))
  ))

/** All nine services on PostgreSQL + pgvector. */
export const PgLive = layer
