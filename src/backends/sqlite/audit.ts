/**
 * AuditLog on SQLite; hashing and verification come from src/core/audit.ts. An append reads the head
 * and inserts the next entry in one `BEGIN IMMEDIATE` transaction: the entry is computed by the one
 * writer that holds the lock, across processes, and exactly that entry is stored (seq is the primary
 * key, so a second writer of seq n is impossible).
 */
import { Clock, Effect, Option } from "effect"
import { headOf, nextEntry, verifyChain } from "../../core/audit.js"
import { auditInputs } from "../../core/inputs.js"
import type { AuditEntry } from "../../domain/audit.js"
import { AuditLoadError, type StorageError } from "../../domain/errors.js"
import { AuditLog } from "../../services/AuditLog.js"
import { attempt, type SqliteConnection } from "./client.js"

const { auditInput, auditQuery } = auditInputs

export interface AuditRow {
  readonly seq: number
  readonly timestamp: number
  readonly agent_id: string
  readonly action: string
  readonly detail: string
  readonly outcome: string
  readonly prev_hash: string
  readonly hash: string
}

export const AUDIT_COLUMNS = "seq, timestamp, agent_id, action, detail, outcome, prev_hash, hash"

/** A stored row as an entry, exactly as stored: verification must see what an attacker wrote. */
export const toEntry = (r: AuditRow): AuditEntry => ({
  seq: r.seq,
  timestamp: r.timestamp,
  agentId: r.agent_id,
  action: r.action,
  detail: r.detail,
  outcome: r.outcome,
  prevHash: r.prev_hash,
  hash: r.hash
})

/**
 * Build the log over `conn`, verifying the whole stored chain first (fail closed): a log that cannot
 * be read is `AuditLoadError`, a broken chain `AuditIntegrityError`.
 */
export const make = (conn: SqliteConnection) =>
  Effect.gen(function*() {
    const statements = yield* Effect.mapError(
      attempt("AuditLog.load", () => ({
        last: conn.db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1`),
        insert: conn.db.prepare(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
        page: conn.db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`)
      })),
      (e) => new AuditLoadError({ message: `cannot read the audit log: ${e.message}`, cause: e })
    )
    const page = (afterSeq: number, limit: number): Effect.Effect<ReadonlyArray<AuditEntry>, StorageError> =>
      attempt("AuditLog.verify", () => (statements.page.all(afterSeq, limit) as Array<AuditRow>).map(toEntry))
    const head = () =>
      attempt("AuditLog.head", () =>
        headOf(Option.map(Option.fromNullable(statements.last.get() as AuditRow | undefined), toEntry)))

    yield* verifyChain(page).pipe(
      Effect.catchTag("StorageError", (e) =>
        Effect.fail(new AuditLoadError({ message: `cannot read the audit log: ${e.message}`, cause: e })))
    )

    return AuditLog.of({
      append: (input) =>
        Effect.gen(function*() {
          const a = yield* auditInput(input)
          const now = yield* Clock.currentTimeMillis
          return yield* attempt("AuditLog.append", () =>
            conn.immediate(() => {
              const last = statements.last.get() as AuditRow | undefined
              const entry = nextEntry(headOf(Option.map(Option.fromNullable(last), toEntry)), a, now)
              statements.insert.run(
                entry.seq,
                entry.timestamp,
                entry.agentId,
                entry.action,
                entry.detail,
                entry.outcome,
                entry.prevHash,
                entry.hash
              )
              return entry
            }))
        }),
      entries: (query) =>
        Effect.gen(function*() {
          const q = yield* auditQuery(query)
          const from = q.fromSeq ?? 1
          return yield* attempt("AuditLog.entries", () =>
            (q.agentId === undefined
              ? conn.all<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?`, [from, q.limit])
              : conn.all<AuditRow>(
                `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE agent_id = ? AND seq >= ? ORDER BY seq LIMIT ?`,
                [q.agentId, from, q.limit]
              )).map(toEntry))
        }),
      head,
      verify: () => verifyChain(page, { chunk: 1000 })
    })
  })
