/**
 * How a PostgreSQL store is put together: opening the pool and migrating the schema, and the
 * main-store and semantic services over one pool. `index.ts` wires these into the public layers.
 */
import { Clock, type Context, Effect, Option, Schema, type Scope } from "effect"
import pg from "pg"
import { AuditAnchor, fileAnchor } from "../../core/auditAnchor.js"
import { makeAuditLog } from "../../core/auditLog.js"
import { decode } from "../../core/decode.js"
import { checkStoreOptions } from "../../core/memoryInputs.js"
import {
  mainServices,
  type MainStoreServices,
  semanticServices,
  type SemanticStoreServices
} from "../../core/storeLayers.js"
import {
  type AuditIntegrityError,
  type AuditLoadError,
  type BackendUnavailable,
  type EmbeddingSpaceMismatch,
  InvalidInput,
  MigrationError,
  StorageError
} from "../../domain/errors.js"
import type { StoreOptions } from "../../domain/options.js"
import * as Admin from "./admin.js"
import * as Audit from "./audit.js"
import * as Client from "./client.js"
import * as Consolidate from "./consolidation.js"
import * as Devices from "./devices.js"
import * as Knowledge from "./knowledge.js"
import { ensureEmbeddingSpace, runMigrations } from "./migrations.js"
import type { PgOptions } from "./options.js"
import * as Semantic from "./semantic.js"
import * as Sessions from "./sessions.js"
import * as Structured from "./structured.js"
import * as Tasks from "./tasks.js"
import * as Usage from "./usage.js"

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
  options: PgOptions
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

/**
 * Use an application's pool (its lifecycle is the application's) and bring the schema up to date.
 * The pool must be a node-postgres `Pool` of the same `pg` package engram loads.
 */
export const connectToPool = (
  pool: unknown,
  options: { readonly acquireTimeoutMs?: number | undefined }
): Effect.Effect<Client.PgClient, InvalidInput | BackendUnavailable | MigrationError> =>
  Effect.gen(function*() {
    if (!(pool instanceof pg.Pool)) {
      return yield* new InvalidInput({ field: "PgPool", message: "must be a node-postgres Pool (pg.Pool)" })
    }
    yield* checkPool({ acquireTimeoutMs: options.acquireTimeoutMs })
    const client = yield* Client.fromPool(pool, options)
    yield* runMigrations(client, yield* Clock.currentTimeMillis)
    return client
  })

/**
 * The audit anchor: the application's `AuditAnchor` if it provides one, else the file
 * `auditAnchorPath`, else none (a table in the same database would not be outside the reach of
 * whoever can truncate the log).
 */
const anchorOf = (options: { readonly auditAnchorPath?: string | undefined }) =>
  Effect.map(
    Effect.serviceOption(AuditAnchor),
    (given) =>
      Option.getOrElse(
        given,
        () => options.auditAnchorPath === undefined ? undefined : fileAnchor(options.auditAnchorPath)
      )
  )

/** The main-store services over a migrated pool; verifies the audit chain against its anchor, if any. */
export const makeMain = (
  client: Client.PgClient,
  options: { readonly auditAnchorPath?: string | undefined } = {}
): Effect.Effect<Context.Context<MainStoreServices>, AuditLoadError | AuditIntegrityError, Scope.Scope> =>
  Effect.map(
    Effect.flatMap(anchorOf(options), (anchor) => makeAuditLog(Audit.port(client), anchor)),
    (audit) => mainServices(client, { Structured, Knowledge, Sessions, Usage, Devices, Tasks, Admin }, audit)
  )

/** The semantic services over a migrated pool; records or checks the embedding space. */
export const makeSemantic = (
  client: Client.PgClient,
  options: StoreOptions
): Effect.Effect<
  Context.Context<SemanticStoreServices>,
  InvalidInput | EmbeddingSpaceMismatch | MigrationError | StorageError | BackendUnavailable
> =>
  Effect.gen(function*() {
    const limits = yield* checkStoreOptions(options)
    yield* ensureEmbeddingSpace(client, limits.space)
    return semanticServices(
      {
        semantic: Semantic.port(client, limits.space),
        consolidation: Consolidate.port(client),
        admin: Admin.semanticPort(client)
      },
      limits,
      options
    )
  })
