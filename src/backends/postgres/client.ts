/**
 * The PostgreSQL connection pool behind PgLive.
 *
 * engram drives node-postgres (`pg` + `pg-pool`) directly rather than through @effect/sql-pg:
 * - every hot operation is one statement on one checked-out connection, with no statement compiler,
 *   row transform or per-query Reactivity bookkeeping in between (the benchmark holds PgLive to
 *   within a few percent of raw `pg`);
 * - the failure modes the store must survive are driver-level and need direct control: a checkout
 *   that waits for a full pool ends at `acquireTimeoutMs` with a typed `BackendUnavailable`
 *   (pg-pool's `connectionTimeoutMillis` is unset by default, so a checkout would otherwise wait
 *   forever); an 'error' listener on the pool and on every checked-out client means a connection
 *   killed by the server (`pg_terminate_backend`, restart, failover) is a typed error, never an
 *   unhandled 'error' event that crashes the process; a connection whose query was interrupted, or
 *   that failed below SQL, is destroyed rather than returned to the pool;
 * - every timeout is a driver timer, not an Effect timer, so it also fires when the layer is built
 *   under `TestClock` (an Effect timer would wait for the test to move the clock).
 *
 * The URL stays `Redacted`: only the driver sees the password, and errors carry a URL without it.
 */
import { Effect, Exit, Option, Redacted } from "effect"
import { createHash } from "node:crypto"
import pg from "pg"
import { describe } from "../../core/storage.js"
import { BackendUnavailable, StorageError, type StoreFailure } from "../../domain/errors.js"
import { identityOf, inSavepoint, joinedConnection } from "./interop.js"
import type { PgOptions } from "./options.js"

/** The driver's error behind an @effect/sql `SqlError` (its SQLSTATE is what callers look at). */
const unwrapSqlError = (e: unknown): unknown =>
  typeof e === "object" && e !== null && "_tag" in e && e._tag === "SqlError" && "cause" in e ? e.cause : e

/** Decode rows with a table's codec; a row that does not decode is a driver failure. */
export const decodeRows = <A>(
  operation: string,
  rows: ReadonlyArray<unknown>,
  decode: (row: unknown) => A
): Effect.Effect<ReadonlyArray<A>, StorageError> =>
  Effect.try({
    try: () => rows.map(decode),
    catch: (cause) =>
      new StorageError({ backend: "postgres", operation, message: `a row does not decode: ${describe(cause)}`, cause })
  })

/** Connection settings every engram connection starts with (see semantic.ts for why). */
const SESSION_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ["hnsw.iterative_scan", "relaxed_order"],
  ["hnsw.ef_search", "40"]
]

/** The session settings as statements, for connections that were not opened with them. */
const SESSION_SQL = SESSION_SETTINGS.map(([k, v]) => `SET ${k} = ${v}`).join("; ")

/** The initial `hnsw.ef_search` of every connection. */
export const DEFAULT_EF_SEARCH = 40

const INT8_OID = 20

/**
 * BIGINT columns hold epoch milliseconds and counters, all far below 2^53: parse them as numbers
 * (node-postgres returns strings by default). Every other type keeps its default parser.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? "text")) as pg.CustomTypesConfig["getTypeParser"]
}

/** The URL without its password, for messages. */
const safeUrl = (url: URL): string => {
  const copy = new URL(url.href)
  copy.password = ""
  copy.search = ""
  return copy.href
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN"
])

/** SQLSTATEs that mean the server or this connection went away (class 08, shutdown, too many connections). */
const isConnectionSqlState = (code: string): boolean =>
  code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300"

/** A failure reported by the server for one statement (the connection itself is still usable). */
const isServerError = (e: unknown): e is pg.DatabaseError => e instanceof pg.DatabaseError

/** The SQLSTATE of a server error, if any. */
export const sqlState = (e: unknown): string | undefined => isServerError(e) ? e.code : undefined

/** True when `e` means the database could not be reached or the connection broke. */
const isConnectionFailure = (e: unknown): boolean => {
  if (isServerError(e)) return e.code !== undefined && isConnectionSqlState(e.code)
  if (typeof e !== "object" || e === null) return false
  const code = "code" in e && typeof e.code === "string" ? e.code : undefined
  if (code !== undefined && CONNECTION_CODES.has(code)) return true
  const message = e instanceof Error ? e.message : ""
  return /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable|Client was closed|Cannot use a pool after calling end/i
    .test(message)
}

/** A checked-out connection. Statements run one at a time; `broken` connections are destroyed on release. */
export class Connection {
  broken = false
  inTransaction = false
  private readonly onError = (_error: Error) => {
    // The server closed the connection (or the socket failed) while it was checked out: the pending
    // statement, if any, gets the error through its callback; the connection must not be reused.
    this.broken = true
  }

  constructor(
    readonly client: pg.ClientBase,
    private readonly done: (release?: Error | boolean) => void,
    /** The connection of an application's transaction (interop.ts): settings last until it ends. */
    readonly joined = false
  ) {
    if (!joined) client.on("error", this.onError)
  }

  /** Give the connection back to the pool, or destroy it when it is broken or mid-transaction. */
  release(): void {
    if (this.joined) return
    this.client.off("error", this.onError)
    this.done(this.broken || this.inTransaction ? new Error("engram: connection discarded") : undefined)
  }
}

/** A statement with its parameters; `name` makes node-postgres prepare it once per connection. */
export interface Statement {
  readonly text: string
  readonly values?: ReadonlyArray<unknown>
  readonly name?: string
}

/**
 * A statement to run on a connection before the main one, chosen once the connection is known
 * (`joined`: the application's transaction connection, whose settings end with its transaction), or
 * undefined for none; `done` runs once it has succeeded.
 */
export type Setup = (
  client: pg.ClientBase,
  joined: boolean
) => { readonly text: string; readonly done?: (() => void) | undefined } | undefined

/** A checkout under engram's acquire deadline (`PgClient.checkout`). */
interface Checkout {
  /** Whether the caller gave up: the deadline passed, or `cancel` was called. */
  readonly cancelled: () => boolean
  /** Give up: a connection that arrives later goes straight back to the pool. */
  readonly cancel: () => void
}

/** The driver's form of a statement. */
const queryConfig = (statement: Statement | string): pg.QueryConfig =>
  // The parsers travel with each statement: on an application's pool (fromPool) the connections
  // were made with the application's parsers, not engram's.
  typeof statement === "string"
    ? { text: statement, types }
    : {
      text: statement.text,
      types,
      ...(statement.values === undefined ? {} : { values: [...statement.values] }),
      ...(statement.name === undefined ? {} : { name: statement.name })
    }

/** What a unit of work can run: statements on one connection. */
export interface Queryable {
  readonly query: <R extends pg.QueryResultRow>(
    statement: Statement | string
  ) => Effect.Effect<ReadonlyArray<R>, StoreFailure>
  /** Run a statement and return how many rows it affected. */
  readonly execute: (statement: Statement | string) => Effect.Effect<number, StoreFailure>
}

/** The pool plus the error mapping every backend method uses. */
export class PgClient {
  /** Per-connection `hnsw.ef_search`, so a recall only issues `SET` when the value must change. */
  readonly efSearch = new WeakMap<pg.ClientBase, number>()
  /**
   * The schema the store lives in (the first of the search path), set when the pool connects. It
   * scopes advisory-lock keys, which are per database, to this store.
   */
  schema = ""

  /** The database this store talks to (server, port, database, user), for joining transactions. */
  readonly identity: string

  /** Connections of a shared pool that have engram's session settings. */
  private readonly prepared = new WeakSet<pg.ClientBase>()

  constructor(
    readonly pool: pg.Pool,
    /** The URL without password, for messages. */
    readonly url: string,
    readonly poolSize: number,
    readonly acquireTimeoutMs: number,
    /** True for an application's pool (fromPool): engram neither configured nor ends it. */
    readonly shared = false
  ) {
    this.identity = identityOf(pool.options)
  }

  /** The typed error for a driver failure of `operation`. */
  fail(operation: string, cause: unknown): StoreFailure {
    if (isConnectionFailure(cause)) {
      const message = cause instanceof Error && /timeout exceeded when trying to connect/i.test(cause.message)
        ? `no PostgreSQL connection became available within ${this.acquireTimeoutMs} ms (pool of ${this.poolSize})`
        : `PostgreSQL at ${this.url} is unavailable: ${describe(cause)}`
      return new BackendUnavailable({ backend: "postgres", url: this.url, message: `${operation}: ${message}`, cause })
    }
    return new StorageError({ backend: "postgres", operation, message: describe(cause), cause })
  }

  /**
   * Check a connection out of the pool and hand it to `use`, under engram's own deadline: a pool it
   * did not configure (fromPool) may have none, and a checkout would then wait forever. A failed
   * checkout or the deadline calls `fail`; a connection that arrives after the caller gave up (the
   * deadline, or `cancel` when it was interrupted) goes straight back to the pool.
   */
  private checkout(
    operation: string,
    fail: (e: StoreFailure) => void,
    use: (conn: Connection, checkout: Checkout) => void
  ): Checkout {
    let cancelled = false
    const timer = setTimeout(() => {
      cancelled = true
      fail(this.fail(operation, new Error("timeout exceeded when trying to connect")))
    }, this.acquireTimeoutMs)
    const checkout: Checkout = {
      cancelled: () => cancelled,
      cancel: () => {
        cancelled = true
        clearTimeout(timer)
      }
    }
    this.pool.connect((error, client, done) => {
      clearTimeout(timer)
      if (cancelled) {
        if (client !== undefined) done()
        return
      }
      if (error || !client) return fail(this.fail(operation, error ?? new Error("no client returned")))
      use(new Connection(client, done), checkout)
    })
    return checkout
  }

  /** Check out a connection, waiting at most `acquireTimeoutMs`. */
  acquire(operation: string): Effect.Effect<Connection, StoreFailure> {
    return Effect.async<Connection, StoreFailure>((resume) => {
      const checkout = this.checkout(operation, (e) => resume(Effect.fail(e)), (c) => resume(Effect.succeed(c)))
      return Effect.sync(checkout.cancel)
    })
  }

  /**
   * Connections of an application's pool (fromPool) were not opened with engram's session settings:
   * set them once on each such connection engram uses (they change only pgvector's HNSW scans).
   */
  private prepare(conn: Connection, operation: string): Effect.Effect<void, StoreFailure> {
    if (!this.shared || this.prepared.has(conn.client)) return Effect.void
    return Effect.tap(
      this.run(conn, operation, SESSION_SQL),
      () => Effect.sync(() => this.prepared.add(conn.client))
    )
  }

  /** Run one statement on `conn`. An interrupted statement leaves the connection to be destroyed. */
  run<R extends pg.QueryResultRow>(
    conn: Connection,
    operation: string,
    statement: Statement | string
  ): Effect.Effect<pg.QueryResult<R>, StoreFailure> {
    const config = queryConfig(statement)
    return Effect.async<pg.QueryResult<R>, StoreFailure>((resume) => {
      conn.client.query<R>(config, (error, result) => {
        if (error) {
          if (!isServerError(error) || isConnectionFailure(error)) conn.broken = true
          resume(Effect.fail(this.fail(operation, error)))
        } else {
          resume(Effect.succeed(result))
        }
      })
      return Effect.sync(() => {
        conn.broken = true
      })
    })
  }

  private queryable(conn: Connection, operation: string): Queryable {
    return {
      query: <R extends pg.QueryResultRow>(statement: Statement | string) =>
        Effect.map(this.run<R>(conn, operation, statement), (r) => r.rows),
      execute: (statement) => Effect.map(this.run(conn, operation, statement), (r) => r.rowCount ?? 0)
    }
  }

  /**
   * Run `body` with one connection (no transaction of its own): inside the application's transaction
   * on this database, its connection within a savepoint (interop.ts); otherwise one of the pool's.
   */
  withConnection<A, E>(
    operation: string,
    body: (q: Queryable, conn: Connection) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | StoreFailure> {
    return Effect.flatMap(joinedConnection(this.identity), (joined) =>
      Option.isSome(joined)
        ? inSavepoint(
          joined.value,
          (cause) => this.fail(operation, unwrapSqlError(cause)),
          (q) => body(q, new Connection(joined.value.pg, () => {}, true))
        )
        : this.pooled(operation, body))
  }

  /** Run `body` with a connection checked out of the pool. */
  private pooled<A, E>(
    operation: string,
    body: (q: Queryable, conn: Connection) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | StoreFailure> {
    return Effect.acquireUseRelease(
      this.acquire(operation),
      (conn) => Effect.zipRight(this.prepare(conn, operation), body(this.queryable(conn, operation), conn)),
      (conn, exit) =>
        Effect.sync(() => {
          if (Exit.isInterrupted(exit)) conn.broken = true
          conn.release()
        })
    )
  }

  /**
   * One statement on a connection of its own, preceded by the `setup` it asks for on that
   * connection (see `Setup`). Outside an application's transaction the checkout, the statements and
   * the release run as one asynchronous step of node-postgres callbacks: the general path
   * (`withConnection`, several Effect steps) cost a single-statement call more client time than the
   * driver itself. Failures, timeouts and interruption are handled as on the general path: the same
   * typed errors, the same acquire deadline, and an interrupted or broken connection is destroyed.
   */
  statement<R extends pg.QueryResultRow>(
    operation: string,
    statement: Statement | string,
    setup?: Setup
  ): Effect.Effect<ReadonlyArray<R>, StoreFailure> {
    return Effect.flatMap(joinedConnection(this.identity), (joined) => {
      if (Option.isNone(joined)) return this.pooledStatement<R>(operation, statement, setup)
      return this.withConnection(operation, (q, conn) => {
        const first = setup?.(conn.client, true)
        const run = q.query<R>(statement)
        return first === undefined ? run : Effect.zipRight(q.execute(first.text), run)
      })
    })
  }

  /** `statement` on a connection checked out of the pool, in one asynchronous step. */
  private pooledStatement<R extends pg.QueryResultRow>(
    operation: string,
    statement: Statement | string,
    setup: Setup | undefined
  ): Effect.Effect<ReadonlyArray<R>, StoreFailure> {
    const config = queryConfig(statement)
    return Effect.async<ReadonlyArray<R>, StoreFailure>((resume) => {
      let conn: Connection | undefined
      const checkout = this.checkout(operation, (e) => resume(Effect.fail(e)), (c, { cancelled }) => {
        conn = c
        const client = c.client
        const failed = (e: Error) => {
          if (cancelled()) return
          if (!isServerError(e) || isConnectionFailure(e)) c.broken = true
          conn = undefined
          c.release()
          resume(Effect.fail(this.fail(operation, e)))
        }
        // A driver that throws instead of calling back fails the call (the general path's
        // Effect.async does the same), rather than escaping from this callback.
        const send = (query: pg.QueryConfig, callback: (e: Error | null, result: pg.QueryResult<R>) => void) => {
          try {
            client.query<R>(query, callback)
          } catch (e) {
            failed(e instanceof Error ? e : new Error(describe(e)))
          }
        }
        const main = () =>
          send(config, (e, result) => {
            if (e) return failed(e)
            if (cancelled()) return
            conn = undefined
            c.release()
            resume(Effect.succeed(result.rows))
          })
        // Steps before the statement: engram's session settings on an application's pool, then the
        // caller's setup; each is recorded only once it succeeded.
        const steps: Array<{ readonly text: string; readonly done?: (() => void) | undefined }> = []
        if (this.shared && !this.prepared.has(client)) {
          steps.push({ text: SESSION_SQL, done: () => this.prepared.add(client) })
        }
        const own = setup?.(client, false)
        if (own !== undefined) steps.push(own)
        const next = (i: number): void => {
          const step = steps[i]
          if (step === undefined) return void main()
          send({ text: step.text, types }, (e) => {
            if (e) return failed(e)
            if (cancelled()) return
            step.done?.()
            next(i + 1)
          })
        }
        next(0)
      })
      return Effect.sync(() => {
        checkout.cancel()
        // Interrupted mid-statement: the connection is destroyed, as the general path does.
        if (conn !== undefined) {
          conn.broken = true
          conn.release()
          conn = undefined
        }
      })
    })
  }

  /** One statement on a pooled connection. */
  query<R extends pg.QueryResultRow>(
    operation: string,
    statement: Statement | string
  ): Effect.Effect<ReadonlyArray<R>, StoreFailure> {
    return this.statement<R>(operation, statement)
  }

  /** One statement whose rows are decoded by `decode` (a table's codec); a row that does not decode is a StorageError. */
  rows<A>(
    operation: string,
    statement: Statement | string,
    decode: (row: unknown) => A
  ): Effect.Effect<ReadonlyArray<A>, StoreFailure> {
    return Effect.flatMap(this.query(operation, statement), (rows) => decodeRows(operation, rows, decode))
  }

  /** One statement; returns how many rows it affected. */
  execute(operation: string, statement: Statement | string): Effect.Effect<number, StoreFailure> {
    return this.withConnection(operation, (q) => q.execute(statement))
  }

  /**
   * Run `body` in a transaction. It commits when `body` succeeds and rolls back when it fails; a
   * connection that cannot roll back (or whose fiber was interrupted mid-transaction) is destroyed,
   * which makes the server roll back.
   */
  transaction<A, E>(
    operation: string,
    body: (q: Queryable) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | StoreFailure> {
    return Effect.flatMap(joinedConnection(this.identity), (joined) =>
      Option.isSome(joined)
        // Inside the application's transaction: a savepoint is the unit (it commits with theirs).
        ? inSavepoint(joined.value, (cause) => this.fail(operation, unwrapSqlError(cause)), body)
        : this.ownTransaction(operation, body))
  }

  private ownTransaction<A, E>(
    operation: string,
    body: (q: Queryable) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | StoreFailure> {
    return this.pooled(operation, (q, conn) =>
      Effect.gen(function*() {
        yield* q.execute("BEGIN")
        conn.inTransaction = true
        const exit = yield* Effect.exit(body(q))
        if (Exit.isSuccess(exit)) {
          yield* q.execute("COMMIT")
          conn.inTransaction = false
          return exit.value
        }
        const rolledBack = yield* Effect.exit(q.execute("ROLLBACK"))
        if (Exit.isSuccess(rolledBack)) conn.inTransaction = false
        return yield* exit
      }))
  }
}

/** Parse JSON text written by this backend (it was validated as `A` before it was stored). */
export const parseJson = <A>(text: string): A => JSON.parse(text) as A

/** A 64-bit advisory-lock key (as a decimal string, cast with `::bigint`) for the given parts. */
export const lockKey = (...parts: ReadonlyArray<string>): string =>
  createHash("sha256").update(JSON.stringify(["engram", ...parts])).digest().readBigInt64BE(0).toString()

/** A node-postgres client class whose connection attempts time out after `connectTimeoutMs`. */
const clientWithConnectTimeout = (connectTimeoutMs: number) =>
  class EngramPgClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis: connectTimeoutMs })
    }
  }

/** Parse and check the URL; a malformed URL is reported without echoing it (it may hold a password). */
const parseUrl = (url: Redacted.Redacted<string>): Effect.Effect<URL, BackendUnavailable> =>
  Effect.suspend(() => {
    let parsed: URL
    try {
      parsed = new URL(Redacted.value(url))
    } catch {
      return Effect.fail(
        new BackendUnavailable({ backend: "postgres", message: "the PostgreSQL URL is not a valid URL" })
      )
    }
    if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
      return Effect.fail(
        new BackendUnavailable({
          backend: "postgres",
          url: safeUrl(parsed),
          message: `the PostgreSQL URL must start with postgres:// or postgresql:// (got ${parsed.protocol})`
        })
      )
    }
    return Effect.succeed(parsed)
  })

/**
 * Open the pool inside the current scope (closed with it) and check that the server answers.
 * Unreachable: `BackendUnavailable` within the connect timeout.
 */
export const make = (options: PgOptions) =>
  Effect.gen(function*() {
    const url = yield* parseUrl(options.url)
    const poolSize = options.poolSize ?? 10
    const connectTimeoutMs = options.connectTimeoutMs ?? 5_000
    const acquireTimeoutMs = options.acquireTimeoutMs ?? 10_000
    // `options=-c …` in the URL would replace the session settings below (node-postgres lets the
    // connection string override explicit config), so it is taken out of the URL and merged.
    const connectionUrl = new URL(url.href)
    const userOptions = connectionUrl.searchParams.get("options")
    connectionUrl.searchParams.delete("options")
    const sessionOptions = [
      ...SESSION_SETTINGS.map(([k, v]) => `-c ${k}=${v}`),
      ...(userOptions === null ? [] : [userOptions])
    ].join(" ")
    const config: pg.PoolConfig = {
      connectionString: connectionUrl.href,
      max: poolSize,
      connectionTimeoutMillis: acquireTimeoutMs,
      idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
      application_name: options.applicationName ?? "engram",
      options: sessionOptions,
      types,
      Client: clientWithConnectTimeout(connectTimeoutMs) as unknown as NonNullable<pg.PoolConfig["Client"]>,
      ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs })
    }
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new pg.Pool(config)
        // An idle pooled connection that the server closes emits 'error' on the pool; pg-pool has
        // already discarded it, and without a listener Node would crash the process.
        pool.on("error", () => {})
        return new PgClient(pool, safeUrl(url), poolSize, acquireTimeoutMs)
      }),
      (c) => closePool(c.pool)
    )
    return yield* probe(client)
  })

/** Learn the store's schema (the first of the search path); unreachable → BackendUnavailable. */
const probe = (client: PgClient) =>
  client.query<{ schema: string }>("connect", "SELECT coalesce(current_schema(), '') AS schema").pipe(
    Effect.mapError((e) =>
      e._tag === "BackendUnavailable"
        ? e
        : new BackendUnavailable({
          backend: "postgres",
          url: client.url,
          message: `cannot connect to PostgreSQL at ${client.url}: ${e.message}`,
          cause: e
        })
    ),
    Effect.map((rows) => {
      client.schema = rows[0]?.schema ?? ""
      return client
    })
  )

/**
 * A client over an application's pool: the pool is theirs — engram neither configures nor ends it —
 * and engram keeps its own acquire deadline and parsers on it.
 */
export const fromPool = (pool: pg.Pool, options: { readonly acquireTimeoutMs?: number | undefined }) =>
  Effect.suspend(() => {
    const params = new pg.Client(pool.options)
    const url = `postgres://${params.user ?? ""}@${params.host}:${params.port}/${params.database ?? ""}`
    return probe(new PgClient(pool, url, pool.options.max ?? 10, options.acquireTimeoutMs ?? 10_000, true))
  })

/** End the pool; gives up after a second of real time so a leaked connection cannot hang the scope. */
const closePool = (pool: pg.Pool): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), 1_000)
    pool.end().then(
      () => {
        clearTimeout(timer)
        resume(Effect.void)
      },
      () => {
        clearTimeout(timer)
        resume(Effect.void)
      }
    )
  })
