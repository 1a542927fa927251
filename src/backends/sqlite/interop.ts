/**
 * An @effect/sql `SqlClient` over the store's own SQLite connection, so an application can keep
 * its tables in the same file and make its writes and engram's one unit:
 *
 * ```ts
 * sql.withTransaction(Effect.all([sql`INSERT INTO orders …`, memory.remember(…), audit.append(…)]))
 * ```
 *
 * Inside the application's transaction every engram write runs on the same connection, as a
 * SAVEPOINT of that transaction (better-sqlite3 nests `transaction()` that way), and commits or rolls
 * back with it. Work of other fibers waits until the transaction has ended (see `attempt` in
 * client.ts), so it neither joins the transaction nor sees its uncommitted rows.
 *
 * What the stock client of @effect/sql 0.52 does differently, and why this one does not:
 * - transactions begin `IMMEDIATE` (a deferred `BEGIN` fails at once with SQLITE_BUSY_SNAPSHOT when
 *   its first write finds that another process committed), and a busy `BEGIN` is retried up to the
 *   store's busy deadline like every engram write;
 * - a failing COMMIT is a typed `SqlError` and the transaction is rolled back (the stock client makes
 *   it a defect and leaves SQLite's transaction open);
 * - ROLLBACK is skipped when SQLite has already ended the transaction (the stock client then dies).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import type Database from "better-sqlite3"
import { Context, Effect, Layer, Option, Scope, Stream } from "effect"
import { storeLayers } from "../../core/storeLayers.js"
import { appTransactionClosed, appTransactionOpened, type SqliteConnection, unit } from "./client.js"
import type { SqliteLayerError, SqliteServices, SqliteStoreOptions } from "./index.js"
import { connect, makeMain, makeSemantic } from "./store.js"

/**
 * A statement of the application, run with the store's busy retry; failures are SqlErrors. The
 * client's lock already orders it: a statement runs inside its transaction or while holding the lock.
 */
const run = <A>(conn: SqliteConnection, fn: () => A): Effect.Effect<A, SqlError> =>
  Effect.mapError(
    unit("sql", fn, conn.busyDeadlineMs),
    (e) => new SqlError({ message: e.message, cause: e.cause ?? e })
  )

/** Rows of a statement that returns rows; nothing for one that does not. */
const rowsOf = (statement: Database.Statement, params: ReadonlyArray<unknown>): ReadonlyArray<object> => {
  if (statement.reader) return statement.all(...params) as ReadonlyArray<object>
  statement.run(...params)
  return []
}

/** @effect/sql's view of the connection: statements through the store's statement cache. */
const connectionOf = (conn: SqliteConnection): Connection => {
  const execute = (
    prepare: () => Database.Statement,
    params: ReadonlyArray<unknown>,
    transformRows: (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
  ) =>
    run(conn, () => {
      const rows = rowsOf(prepare(), params)
      return transformRows === undefined ? rows : transformRows(rows)
    })
  return {
    execute: (sql, params, transformRows) => execute(() => conn.statement(sql), params, transformRows),
    executeUnprepared: (sql, params, transformRows) => execute(() => conn.db.prepare(sql), params, transformRows),
    executeRaw: (sql, params) =>
      run(conn, () => {
        const statement = conn.statement(sql)
        return statement.reader ? statement.all(...params) : statement.run(...params)
      }),
    executeValues: (sql, params) =>
      run(conn, () => {
        // A fresh statement: `raw(true)` would otherwise change the cached one for every later caller.
        const statement = conn.db.prepare(sql)
        if (!statement.reader) {
          statement.run(...params)
          return []
        }
        return statement.raw(true).all(...params) as ReadonlyArray<ReadonlyArray<unknown>>
      }),
    // The rows of one synchronous statement, as a stream.
    executeStream: (sql, params, transformRows) =>
      Stream.fromIterableEffect(execute(() => conn.statement(sql), params, transformRows))
  }
}

/** Make the store's `SqlClient` (needs Reactivity, as every @effect/sql client does). */
const makeSqlClient = (conn: SqliteConnection): Effect.Effect<SqlClient.SqlClient, never, Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const connection = connectionOf(conn)
    // One transaction at a time on the connection; a statement outside a transaction waits for it.
    const lock = yield* Effect.makeSemaphore(1)
    const statementAcquirer: Effect.Effect<Connection, SqlError, Scope.Scope> = Effect.as(
      Effect.acquireRelease(lock.take(1), () => lock.release(1)),
      connection
    )
    // The transaction is announced as open once BEGIN has succeeded (see `begin`), and no longer
    // once COMMIT or ROLLBACK is done and the lock is given back.
    const transactionAcquirer: Effect.Effect<Connection, SqlError, Scope.Scope> = Effect.as(
      Effect.acquireRelease(
        lock.take(1),
        () => Effect.zipRight(Effect.sync(() => appTransactionClosed(lock)), lock.release(1))
      ),
      connection
    )
    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [["db.system.name", "sqlite"]]
    const client = yield* SqlClient.make({
      acquirer: statementAcquirer,
      transactionAcquirer,
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes
    })
    const exec = (sql: string) => run(conn, () => conn.db.exec(sql))
    const transaction = SqlClient.makeWithTransaction({
      transactionTag: SqlClient.TransactionConnection,
      spanAttributes,
      acquireConnection: Effect.flatMap(
        Scope.make(),
        (scope) => Effect.map(Scope.extend(transactionAcquirer, scope), (c) => [scope, c] as const)
      ),
      begin: () => Effect.tap(exec("BEGIN IMMEDIATE"), () => appTransactionOpened(lock)),
      savepoint: (_, id) => exec(`SAVEPOINT effect_sql_${id}`),
      commit: () =>
        exec("COMMIT").pipe(
          // SQLite keeps the transaction open when COMMIT fails (a deferred foreign key, say):
          // roll it back before the connection is handed to anyone else.
          Effect.tapError(() => run(conn, () => conn.db.inTransaction && conn.db.exec("ROLLBACK")).pipe(Effect.ignore))
        ),
      rollback: () => (conn.db.inTransaction ? exec("ROLLBACK") : Effect.void),
      rollbackSavepoint: (_, id) => exec(`ROLLBACK TO SAVEPOINT effect_sql_${id}`)
    })
    // @effect/sql 0.52 turns a failed COMMIT or ROLLBACK into a defect: give it back as a failure.
    const withTransaction = <R, E, A>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
      Effect.catchSomeDefect(
        transaction(self),
        (defect) => (defect instanceof SqlError ? Option.some(Effect.fail(defect)) : Option.none())
      )
    return Object.assign(client, { withTransaction })
  })

const { servicesOn } = storeLayers<SqliteStoreOptions, SqliteLayerError>()({ connect, makeMain, makeSemantic })

/**
 * All nine services and an @effect/sql `SqlClient` over the same connection: the application's own
 * tables live in the same file, and inside `sql.withTransaction` engram's writes join the
 * application's transaction (they commit and roll back with it).
 */
export const layerWithSqlClient = (
  options: SqliteStoreOptions
): Layer.Layer<SqliteServices | SqlClient.SqlClient, SqliteLayerError> =>
  Layer.scopedContext(Effect.gen(function*() {
    const conn = yield* connect(options)
    const services = yield* servicesOn(conn, options)
    const sql = yield* Effect.provide(makeSqlClient(conn), Reactivity.layer)
    return Context.add(services, SqlClient.SqlClient, sql)
  }))
