/**
 * How a SQLite store is put together: opening and migrating the file, and the main-store and semantic
 * services over one open connection. `index.ts` wires these into the public layers.
 */
import { Clock, type Context, Effect, Option, type Scope } from "effect"
import { AuditAnchor, fileAnchor, sidecarPath } from "../../core/auditAnchor.js"
import { auditLoadError, makeAuditLog } from "../../core/auditLog.js"
import { checkStoreOptions } from "../../core/memoryInputs.js"
import { migrate } from "../../core/migrator.js"
import {
  mainServices,
  type MainStoreServices,
  semanticServices,
  type SemanticStoreServices
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
import { AccessCounts } from "./accessCounts.js"
import * as Admin from "./admin.js"
import * as Audit from "./audit.js"
import { attempt, open, type SqliteConnection } from "./client.js"
import * as Consolidate from "./consolidation.js"
import * as Devices from "./devices.js"
import * as Knowledge from "./knowledge.js"
import { driver, ensureEmbeddingSpace, migrations } from "./migrations.js"
import type { SqliteOptions } from "./options.js"
import * as Semantic from "./semantic.js"
import * as Sessions from "./sessions.js"
import * as Structured from "./structured.js"
import * as Tasks from "./tasks.js"
import * as Usage from "./usage.js"

/** Open the file and bring its schema up to date (in the current scope). */
export const connect = (
  options: SqliteOptions
): Effect.Effect<SqliteConnection, BackendUnavailable | MigrationError, Scope.Scope> =>
  Effect.gen(function*() {
    const conn = yield* open(options)
    yield* migrate(driver(conn), migrations, yield* Clock.currentTimeMillis)
    return conn
  })

/**
 * The audit anchor of a database: the application's `AuditAnchor` if it provides one, else the file
 * `auditAnchorPath` (default `<database>.audit-anchor`); none for an in-memory database or when
 * `auditAnchorPath` is false.
 */
const anchorOf = (conn: SqliteConnection, options: Pick<SqliteOptions, "auditAnchorPath">) =>
  Effect.map(
    Effect.serviceOption(AuditAnchor),
    (given) =>
      Option.getOrElse(given, () =>
        options.auditAnchorPath === false || conn.path === ":memory:" || conn.path === ""
          ? undefined
          : fileAnchor(options.auditAnchorPath ?? sidecarPath(conn.path)))
  )

/** The main-store services over an open, migrated connection; verifies the audit chain against its anchor. */
export const makeMain = (
  conn: SqliteConnection,
  options: Pick<SqliteOptions, "auditAnchorPath"> = {}
): Effect.Effect<
  Context.Context<MainStoreServices>,
  AuditLoadError | AuditIntegrityError | StorageError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    // The audit log's statements are prepared first: a table that cannot be read is AuditLoadError.
    const port = yield* Effect.mapError(attempt("prepare the audit log", () => Audit.port(conn)), auditLoadError)
    const audit = yield* makeAuditLog(port, yield* anchorOf(conn, options))
    return yield* attempt(
      "prepare statements",
      () => mainServices(conn, { Structured, Knowledge, Sessions, Usage, Devices, Tasks, Admin }, audit)
    )
  })

/**
 * The semantic services over an open, migrated connection; records or checks the embedding space. The
 * writer of recall's access counters lives in the current scope.
 */
export const makeSemantic = (
  conn: SqliteConnection,
  options: StoreOptions
): Effect.Effect<
  Context.Context<SemanticStoreServices>,
  InvalidInput | EmbeddingSpaceMismatch | StorageError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const limits = yield* checkStoreOptions(options)
    yield* ensureEmbeddingSpace(conn, limits.space)
    const counts = yield* AccessCounts.make(conn)
    return yield* attempt("prepare statements", () =>
      semanticServices(
        {
          semantic: Semantic.port(conn, counts, limits.space.dimensions),
          consolidation: Consolidate.port(conn, counts),
          admin: Admin.semanticPort(conn, counts)
        },
        limits,
        options
      ))
  })
