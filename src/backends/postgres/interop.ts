/**
 * PgLive inside an application's @effect/sql transactions. When a call runs in a fiber that is
 * inside `sql.withTransaction` of an @effect/sql-pg client on the store's own database, engram's
 * statements run on that transaction's connection, inside a SAVEPOINT of their own — so they commit
 * and roll back with the application's unit, and an engram failure that is handled (a duplicate label,
 * say) does not abort the application's transaction. Outside one, engram uses its own pool and its
 * fast paths (named statements, its own acquire deadline).
 *
 * The transaction's connection lacks engram's session settings and type parsers, so inside the
 * savepoint the vector-search settings are set with `SET LOCAL` (they end with the transaction), and
 * BIGINT columns, which node-postgres returns as strings by default, are read back as numbers.
 */
import { Context, Effect, Exit, Option } from "effect"
import pg from "pg"
import type { StoreFailure } from "../../domain/errors.js"
import type { Queryable, Statement } from "./client.js"

/** @effect/sql's context entry for the transaction a fiber is in (named by key: no import needed). */
const TransactionConnection = Context.GenericTag<"TransactionConnection", readonly [unknown, number]>(
  "@effect/sql/SqlClient/TransactionConnection"
)

/** What engram uses of an @effect/sql-pg transaction connection. */
export interface AppConnection {
  readonly executeRaw: (sql: string, params: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
}

/** The server, port, database and user a connection talks to, as one comparable string. */
export const identityOf = (config: pg.ClientConfig | undefined): string => clientIdentity(new pg.Client(config))

const clientIdentity = (c: pg.Client): string => JSON.stringify([c.host, c.port, c.database, c.user])

const isAppConnection = (u: unknown, identity: string): u is AppConnection & { readonly pg: pg.Client } => {
  if (typeof u !== "object" || u === null || !("executeRaw" in u) || typeof u.executeRaw !== "function") return false
  // @effect/sql-pg keeps the node-postgres client of the connection as `pg`: it tells the database.
  const client = "pg" in u ? u.pg : undefined
  return client instanceof pg.Client && clientIdentity(client) === identity
}

/** The application's transaction connection of this fiber, when it is on the database `identity`. */
export const joinedConnection = (
  identity: string
): Effect.Effect<Option.Option<AppConnection & { readonly pg: pg.Client }>> =>
  Effect.map(
    Effect.serviceOption(TransactionConnection),
    (joined) => (Option.isSome(joined) && isAppConnection(joined.value[0], identity)
      ? Option.some(joined.value[0])
      : Option.none())
  )

const INT8_OID = 20

interface RawResult {
  readonly rows?: ReadonlyArray<Record<string, unknown>>
  readonly rowCount?: number | null
  readonly fields?: ReadonlyArray<{ readonly name: string; readonly dataTypeID: number }>
}

/** Rows with BIGINT columns as numbers, as engram's own connections parse them. */
const rowsOf = (result: RawResult): ReadonlyArray<Record<string, unknown>> => {
  const rows = result.rows ?? []
  const bigints = (result.fields ?? []).filter((f) => f.dataTypeID === INT8_OID).map((f) => f.name)
  if (bigints.length === 0) return rows
  return rows.map((row) => {
    const copy = { ...row }
    for (const name of bigints) if (typeof copy[name] === "string") copy[name] = Number(copy[name])
    return copy
  })
}

let savepoints = 0

/**
 * Run `body` on the application's connection inside a savepoint: released when `body` succeeds,
 * rolled back to (and released) when it fails, so the application's transaction goes on either way.
 */
export const inSavepoint = <A, E>(
  conn: AppConnection,
  fail: (cause: unknown) => StoreFailure,
  body: (q: Queryable) => Effect.Effect<A, E>
): Effect.Effect<A, E | StoreFailure> =>
  Effect.suspend(() => {
    const raw = (text: string, values: ReadonlyArray<unknown> = []) =>
      Effect.mapError(conn.executeRaw(text, values), fail) as Effect.Effect<RawResult, StoreFailure>
    const text = (s: Statement | string) => (typeof s === "string" ? s : s.text)
    const values = (s: Statement | string) => (typeof s === "string" ? [] : s.values ?? [])
    const q: Queryable = {
      query: <R extends pg.QueryResultRow>(s: Statement | string) =>
        Effect.map(raw(text(s), values(s)), (r) => rowsOf(r) as ReadonlyArray<R>),
      execute: (s) => Effect.map(raw(text(s), values(s)), (r) => r.rowCount ?? 0)
    }
    const name = `engram_${++savepoints}`
    return Effect.gen(function*() {
      yield* raw(`SAVEPOINT ${name}`)
      yield* raw("SET LOCAL hnsw.iterative_scan = relaxed_order")
      const exit = yield* Effect.exit(body(q))
      yield* Exit.isSuccess(exit) ? raw(`RELEASE SAVEPOINT ${name}`) : raw(`ROLLBACK TO SAVEPOINT ${name}`)
      return yield* exit
    })
  })
