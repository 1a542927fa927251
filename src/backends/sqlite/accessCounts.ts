/**
 * Recall's access counters on SQLite, written in batches. A recall that runs in its own transaction
 * records which memories it returned here instead of updating their rows: the update (10 rows on
 * ~10 pages, written to the WAL at commit) was about a quarter of a recall's cost. What is recorded
 * is written by one transaction shortly after (`FLUSH_MS`), or folded into the next transaction that
 * needs the stored counters (consolidation) — and every read of this connection sees it at once:
 * memories read here pass through `seen`, which adds what is still pending.
 *
 * What this changes, and only for the counters: another process sees an access up to `FLUSH_MS`
 * late (later while other connections hold the write lock: the batch waits for it off the thread), and a crash of this process drops the accesses of its last `FLUSH_MS` (the statistics commit
 * of a recall never had an fsync of its own either). A memory, its content and every other write are
 * committed as before. Inside an application's transaction a recall still updates the counters in
 * that transaction (it may roll back, and the counters with it).
 */
import { Clock, Effect, Queue, type Scope } from "effect"
import type { StorageError } from "../../domain/errors.js"
import type { Memory } from "../../domain/memory.js"
import type { SqliteConnection } from "./client.js"

/** How long recorded accesses wait before their transaction: recalls within it share one commit. */
export const FLUSH_MS = 100

/** A memory's accesses not yet written: how many, the time of the last, and its rowid when known. */
interface Pending {
  count: number
  at: number
  rid: number | undefined
}

/** Accesses recorded by recalls and not yet written, with the fiber that writes them. */
export class AccessCounts {
  private pending = new Map<string, Pending>()
  // Whether the writer has been woken for what is pending now (one wake per batch).
  private armed = false

  private constructor(
    private readonly conn: SqliteConnection,
    private readonly wake: Queue.Queue<void>
  ) {}

  /**
   * The counters of `conn`, written by a fiber that lives in the current scope; when the scope closes,
   * what is still pending is written before the connection closes (the connection's finalizer was
   * registered first, so it runs after this one).
   */
  static make(conn: SqliteConnection): Effect.Effect<AccessCounts, never, Scope.Scope> {
    return Effect.gen(function*() {
      const counts = new AccessCounts(conn, yield* Queue.sliding<void>(1))
      yield* Effect.forkScoped(Effect.forever(counts.writeAfterPause))
      yield* Effect.addFinalizer(() =>
        Effect.catchAll(counts.writeNow, (e) => Effect.logWarning(`engram: access counters not written: ${e.message}`))
      )
      return counts
    })
  }

  /**
   * Count one access of each memory (its id, and its rowid when the caller read it) at `at` (the last
   * access's time is the one kept).
   */
  record(accessed: ReadonlyArray<readonly [id: string, rid: number | undefined]>, at: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      for (const [id, rid] of accessed) {
        const p = this.pending.get(id)
        if (p === undefined) this.pending.set(id, { count: 1, at, rid })
        else {
          p.count++
          p.at = at
          p.rid ??= rid
        }
      }
      return this.arm
    })
  }

  /** `m` with the accesses still pending for it. */
  seen(m: Memory): Memory {
    if (this.pending.size === 0) return m
    const p = this.pending.get(m.id)
    return p === undefined ? m : { ...m, accessCount: m.accessCount + p.count, accessedAt: p.at }
  }

  /**
   * Run `work` in a `BEGIN IMMEDIATE` transaction that first writes what is pending: every write of
   * the semantic store goes through here, so the stored counters are those of every earlier recall
   * when a memory is replaced, removed, merged or decayed. If the transaction fails, the accesses
   * stay pending.
   */
  immediate<A>(work: () => A): A {
    // Inside an application's transaction, which may roll back, they wait for the writer.
    if (this.conn.db.inTransaction) return this.conn.immediate(work)
    return this.written((apply) => this.conn.immediate(() => (apply(), work())))
  }

  /** Take what is pending and write it through `transaction`; on failure it is pending again. */
  private written<A>(transaction: (apply: () => void) => A): A {
    const taken = this.pending
    if (taken.size === 0) return transaction(() => {})
    this.pending = new Map()
    try {
      return transaction(() => {
        // By rowid where known (the id, checked too, guards against a rowid taken by a later row).
        const byRid = this.conn.statement(
          `UPDATE memories SET accessed_at = ?, access_count = access_count + ? WHERE rid = ? AND id = ?`
        )
        const byId = this.conn.statement(
          `UPDATE memories SET accessed_at = ?, access_count = access_count + ? WHERE id = ?`
        )
        for (const [id, p] of taken) {
          if (p.rid === undefined) byId.run(p.at, p.count, id)
          else byRid.run(p.at, p.count, p.rid, id)
        }
      })
    } catch (e) {
      // Recorded meanwhile (only by `work` itself: nothing else runs in between) is newer.
      for (const [id, p] of this.pending) {
        const old = taken.get(id)
        taken.set(id, old === undefined ? p : { count: old.count + p.count, at: p.at, rid: old.rid ?? p.rid })
      }
      this.pending = taken
      throw e
    }
  }

  /** Wake the writer for the first access of a batch. */
  private get arm(): Effect.Effect<void> {
    if (this.armed || this.pending.size === 0) return Effect.void
    this.armed = true
    return Queue.offer(this.wake, undefined)
  }

  /**
   * Write what is pending in one transaction with the statistics commit of a recall. Not while an
   * application's transaction is open on the connection (the write would become part of it): then,
   * as after a failure, it stays pending for the next turn.
   */
  private get writeNow(): Effect.Effect<void, StorageError> {
    return Effect.suspend(() => {
      this.armed = false
      if (this.pending.size === 0) return Effect.void
      if (this.conn.db.inTransaction) return this.arm
      // Without waiting in SQLite's busy handler: while another connection writes (the gateway's writer
      // thread, another process), `attempt` tries again after a pause and the thread goes on meanwhile.
      return this.conn.attempt("recall", () => this.written((apply) => this.conn.immediateStatisticsNoWait(apply)))
    })
  }

  /** One turn of the writer: wait to be woken, let the batch gather, write it (or try again later). */
  private get writeAfterPause(): Effect.Effect<void> {
    return Queue.take(this.wake).pipe(
      // Real time: a TestClock must not hold the counters back.
      Effect.zipRight(Effect.withClock(Effect.sleep(FLUSH_MS), realTime)),
      Effect.zipRight(this.writeNow),
      Effect.catchAll((e) =>
        Effect.zipRight(
          Effect.logWarning(`engram: access counters not written yet, will retry: ${e.message}`),
          this.arm
        )
      )
    )
  }
}

const realTime = Clock.make()
