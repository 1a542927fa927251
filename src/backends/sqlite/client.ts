/**
 * The SQLite connection: better-sqlite3 12 with sqlite-vec loaded. WAL, `synchronous = FULL` (set on
 * every open: better-sqlite3 is built with WAL defaulting to NORMAL, which can lose commits on power
 * loss), a busy timeout set before anything else touches the file, and foreign keys on.
 *
 * engram talks to better-sqlite3 directly rather than through @effect/sql: every statement is
 * synchronous, so a transaction is one synchronous block (`BEGIN IMMEDIATE` … `COMMIT`) that no other
 * fiber can interleave with, and hot paths run a cached prepared statement with no per-query
 * framework cost (see the README's benchmark figures).
 */
import Database from "better-sqlite3"
import { Context, Effect, Option } from "effect"
import * as SqliteVec from "sqlite-vec"
import { describe } from "../../core/storage.js"
import { BackendUnavailable, StorageError } from "../../domain/errors.js"
import type { SqliteOptions, Synchronous } from "./options.js"

const SYNCHRONOUS: ReadonlyArray<string> = ["FULL", "NORMAL", "EXTRA"]

export type Params = ReadonlyArray<unknown> | Record<string, unknown>

/** A live connection with a prepared-statement cache. All methods are synchronous and may throw. */
export class SqliteConnection {
  private readonly statements = new Map<string, Database.Statement>()
  // One transaction wrapper for every block: better-sqlite3 builds a wrapper per `transaction()`
  // call, so making it once keeps that cost off every write.
  private readonly tx: Database.Transaction<(fn: () => unknown) => unknown>

  // PRAGMA synchronous takes effect when it is compiled, so it cannot be a cached statement.
  private readonly relax = "PRAGMA synchronous = NORMAL"
  private readonly restore: string

  constructor(
    readonly db: Database.Database,
    readonly path: string,
    synchronous: Synchronous = "FULL",
    private readonly wal = true,
    /** How long a unit of work keeps retrying while other writers hold the lock (ms). */
    readonly busyDeadlineMs = DEFAULT_BUSY_DEADLINE_MS
  ) {
    this.tx = db.transaction((fn: () => unknown) => fn())
    this.restore = `PRAGMA synchronous = ${synchronous}`
  }

  /** The cached prepared statement for `sql`. */
  statement(sql: string): Database.Statement {
    let s = this.statements.get(sql)
    if (s === undefined) {
      s = this.db.prepare(sql)
      this.statements.set(sql, s)
    }
    return s
  }

  all<Row>(sql: string, params: Params = []): Array<Row> {
    return bind(this.statement(sql), params, "all") as Array<Row>
  }

  get<Row>(sql: string, params: Params = []): Row | undefined {
    return bind(this.statement(sql), params, "get") as Row | undefined
  }

  run(sql: string, params: Params = []): Database.RunResult {
    return bind(this.statement(sql), params, "run") as Database.RunResult
  }

  /** `attempt` with this connection's busy deadline: the way ports run their units of work. */
  attempt<A>(operation: string, fn: () => A): Effect.Effect<A, StorageError> {
    return attempt(operation, fn, this.busyDeadlineMs)
  }

  /** Run statements without parameters (DDL). */
  exec(sql: string): void {
    this.db.exec(sql)
  }

  /**
   * Run `fn` in a `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so concurrent
   * processes queue on the busy timeout instead of failing with SQLITE_BUSY_SNAPSHOT when a read
   * would have to be upgraded. `fn` is synchronous; when it throws, the transaction rolls back.
   */
  immediate<A>(fn: () => A): A {
    return this.tx.immediate(fn) as A
  }

  /**
   * `immediate` for a transaction whose writes are statistics only (recall's access counters): it
   * commits without its own fsync (`synchronous = NORMAL` for this one commit). In WAL mode such a
   * commit survives a process crash and is made durable by the next fsynced commit or checkpoint;
   * only a power loss right after it can drop it, and the file stays consistent either way. Every
   * other write keeps the configured level.
   */
  immediateStatistics<A>(fn: () => A): A {
    // Outside WAL mode (":memory:") NORMAL has other trade-offs; nothing to relax there anyway. Inside
    // an application's transaction (see interop.ts) the level cannot change, and the commit is theirs.
    if (!this.wal || this.db.inTransaction) return this.immediate(fn)
    this.db.exec(this.relax)
    try {
      return this.tx.immediate(fn) as A
    } finally {
      this.db.exec(this.restore)
    }
  }

  /**
   * `immediateStatistics` that does not wait for the lock: while another connection holds it, this
   * fails at once with SQLITE_BUSY (for `attempt` to run it again after a pause off the thread)
   * rather than blocking the thread in SQLite's busy handler. For writes that can wait while the
   * thread has other work: the counters of a store whose writes come from another connection.
   */
  immediateStatisticsNoWait<A>(fn: () => A): A {
    this.db.pragma("busy_timeout = 0")
    try {
      return this.immediateStatistics(fn)
    } finally {
      this.db.pragma(`busy_timeout = ${Math.min(this.busyDeadlineMs, BUSY_SLICE_MS)}`)
    }
  }

  /** Run `fn` in a read transaction: every statement in it sees the same snapshot of the file. */
  read<A>(fn: () => A): A {
    return this.tx.deferred(fn) as A
  }
}

/** Default of `busyTimeoutMs`: generous, so a writer on a loaded host waits rather than fails. */
export const DEFAULT_BUSY_DEADLINE_MS = 30_000

/**
 * The longest SQLite's own busy handler may block the thread in one go. Waiting beyond that happens
 * between attempts, off the thread (see `attempt`), so other fibers and requests keep running.
 */
export const BUSY_SLICE_MS = 100

const bind = (s: Database.Statement, params: Params, mode: "all" | "get" | "run"): unknown =>
  Array.isArray(params) ? s[mode](...params) : s[mode](params)

const isBusy = (e: unknown): boolean =>
  e instanceof Database.SqliteError && (e.code === "SQLITE_BUSY" || e.code.startsWith("SQLITE_BUSY_"))

/** Block the thread for `ms` (as SQLite's own busy handler does while it waits for a lock). */
const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** Run `fn`, retrying with short randomised waits while it fails with SQLITE_BUSY, until `deadline`. */
const whileBusy = <A>(deadline: number, fn: () => A): A => {
  for (let wait = 1;; wait = Math.min(wait * 2, 64)) {
    try {
      return fn()
    } catch (e) {
      if (!isBusy(e) || Date.now() >= deadline) throw e
      sleepSync(wait / 2 + Math.random() * wait)
    }
  }
}

/** Open a connection inside the current scope; it is closed when the scope closes. */
/**
 * WAL frames after which a commit checkpoints (SQLite's default is 1,000). Every recall writes its
 * access counters, ~10 pages, so at the default one recall in ~100 paid a checkpoint — two fsyncs and
 * the copy — about 150–200 µs a recall on average (measured: 10-row counter updates at 207–263 µs
 * each with the default, 62 µs with 10,000). The WAL file grows to ~40 MB (4 KiB pages) between
 * checkpoints; what a commit makes durable is unchanged.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000

export const open = (options: SqliteOptions) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        // The busy timeout is part of the constructor, so it is in force before the first pragma:
        // switching a fresh file to WAL takes a lock that concurrent starters must wait for.
        const timeout = options.busyTimeoutMs ?? DEFAULT_BUSY_DEADLINE_MS
        const synchronous = options.synchronous ?? "FULL"
        // Options may come from configuration: the level is spliced into a pragma, so check it.
        if (!SYNCHRONOUS.includes(synchronous)) throw new Error(`synchronous must be one of ${SYNCHRONOUS.join(", ")}`)
        const wal = options.path !== ":memory:" && options.path !== ""
        const db = new Database(options.path, { timeout: Math.min(timeout, BUSY_SLICE_MS) })
        try {
          if (wal) {
            // Switching a fresh file to WAL while other processes open it can fail with SQLITE_BUSY
            // at once, without the busy handler (measured: 2 of 120 starts of 8 processes at once):
            // wait and retry for as long as the busy timeout allows.
            whileBusy(Date.now() + timeout, () => db.pragma("journal_mode = WAL"))
            db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
          }
          db.pragma(`synchronous = ${synchronous}`)
          db.pragma("foreign_keys = ON")
          SqliteVec.load(db)
          return new SqliteConnection(db, options.path, synchronous, wal, timeout)
        } catch (e) {
          db.close()
          throw e
        }
      },
      catch: (cause) =>
        new BackendUnavailable({
          backend: "sqlite",
          url: options.path,
          message: `cannot open SQLite database ${options.path}: ${describe(cause)}`,
          cause
        })
    }),
    (c) => Effect.sync(() => c.db.close())
  )

/** Wait `ms` of real time (a TestClock must not stop a writer from waiting for another process). */
const pause = (ms: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), ms)
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Run a synchronous unit of storage work (one statement, or one `immediate` block), mapping a
 * driver failure to `StorageError`. A unit that fails with SQLITE_BUSY — another process held the
 * lock past SQLite's own short busy wait — is run again from the start after a jittered, growing
 * pause, until `deadlineMs` of real time has passed; then it fails with a `StorageError` saying the
 * store is busy. SQLite's lock is not fair, so without this a writer on a loaded host can
 * starve and fail although every other writer is making progress. Re-running is safe: a unit that
 * got SQLITE_BUSY wrote nothing (its transaction never began or was rolled back).
 */
export const attempt = <A>(
  operation: string,
  fn: () => A,
  deadlineMs: number = DEFAULT_BUSY_DEADLINE_MS
): Effect.Effect<A, StorageError> =>
  openAppTransactions.size === 0 ? unit(operation, fn, deadlineMs) : Effect.flatMap(
    Effect.serviceOption(TransactionConnection),
    (joined) =>
      // Inside the application's transaction: run now, as part of it (see interop.ts). Otherwise wait
      // until the open application transactions have ended, so this unit neither joins one nor
      // sees its uncommitted rows.
      Option.isSome(joined)
        ? unit(operation, fn, deadlineMs)
        : Effect.zipRight(appTransactionsEnded, Effect.suspend(() => attempt(operation, fn, deadlineMs)))
  )

/**
 * One unit of work with the busy retry described at `attempt`, without waiting for application
 * transactions: for the statements of such a transaction itself (interop.ts), which its lock orders.
 */
export const unit = <A>(operation: string, fn: () => A, deadlineMs: number): Effect.Effect<A, StorageError> =>
  Effect.suspend(() => {
    const started = Date.now()
    const run = (wait: number): Effect.Effect<A, StorageError> => {
      try {
        return Effect.succeed(fn())
      } catch (cause) {
        if (!isBusy(cause)) {
          return Effect.fail(new StorageError({ backend: "sqlite", operation, message: describe(cause), cause }))
        }
        const waited = Date.now() - started
        if (waited >= deadlineMs) {
          return Effect.fail(
            new StorageError({
              backend: "sqlite",
              operation,
              message:
                `the store is busy: other writers held the database lock for ${waited} ms (busyTimeoutMs ${deadlineMs})`,
              cause
            })
          )
        }
        return Effect.zipRight(
          pause(wait / 2 + Math.random() * wait),
          Effect.suspend(() => run(Math.min(wait * 2, 200)))
        )
      }
    }
    return run(4)
  })

/**
 * The transaction an application opened through a store's `SqlClient` (interop.ts) is visible in
 * its fiber as this @effect/sql context entry; the tag is named by its key, so this module does not
 * load @effect/sql.
 */
const TransactionConnection = Context.GenericTag<"TransactionConnection", readonly [unknown, number]>(
  "@effect/sql/SqlClient/TransactionConnection"
)

/**
 * The locks of the application transactions open right now, on any store of this process. Units of
 * engram work are synchronous, so they never interleave with each other; an application transaction
 * spans awaits, and work of other fibers must not slip into it.
 */
const openAppTransactions = new Set<Effect.Semaphore>()

/** Record an application transaction as open while it holds `lock` (interop.ts). */
export const appTransactionOpened = (lock: Effect.Semaphore): void => {
  openAppTransactions.add(lock)
}

/** Record the end of that transaction. */
export const appTransactionClosed = (lock: Effect.Semaphore): void => {
  openAppTransactions.delete(lock)
}

/** Wait until every application transaction open now has ended (taking and returning each lock). */
const appTransactionsEnded: Effect.Effect<void> = Effect.suspend(() =>
  Effect.forEach([...openAppTransactions], (lock) => lock.withPermits(1)(Effect.void), { discard: true })
)
