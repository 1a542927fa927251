/**
 * AuditLog on PostgreSQL; hashing and verification come from src/core/audit.ts. An append reads the
 * head and inserts the next entry in one transaction that holds a transaction-scoped advisory lock,
 * so appenders in every process form one linear chain; the primary key on seq is the backstop that
 * turns a missed lock into an error rather than a fork.
 */
import { Clock, Effect, Option } from "effect"
import { headOf, nextEntry, verifyChain } from "../../core/audit.js"
import { auditInputs } from "../../core/inputs.js"
import type { AuditEntry } from "../../domain/audit.js"
import { AuditLoadError } from "../../domain/errors.js"
import { AuditLog } from "../../services/AuditLog.js"
import { lockKey, type PgClient, type Queryable } from "./client.js"

const { auditInput, auditQuery } = auditInputs

export interface AuditRow {
  seq: number
  at: number
  agent_id: string
  action: string
  detail: string
  outcome: string
  prev_hash: string
  hash: string
}

export const AUDIT_COLUMNS = "seq, at, agent_id, action, detail, outcome, prev_hash, hash"

export const toEntry = (r: AuditRow): AuditEntry => ({
  seq: r.seq,
  timestamp: r.at,
  agentId: r.agent_id,
  action: r.action,
  detail: r.detail,
  outcome: r.outcome,
  prevHash: r.prev_hash,
  hash: r.hash
})

export const lastEntry = (q: Queryable) =>
  Effect.map(
    q.query<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1`),
    (rows) => Option.map(Option.fromNullable(rows[0]), toEntry)
  )

/** The advisory lock every writer of the chain holds (appends, and admin imports of audit records). */
export const auditLock = (client: PgClient): string => lockKey(client.schema, "audit")

/** Build the log, verifying what it already holds (fail closed: a broken chain does not build). */
export const make = (client: PgClient) =>
  Effect.gen(function*() {
    const page = (operation: string) => (afterSeq: number, limit: number) =>
      Effect.map(
        client.query<AuditRow>(operation, {
          text: `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
          values: [afterSeq, limit]
        }),
        (rows) => rows.map(toEntry)
      )
    yield* verifyChain(page("AuditLog.load")).pipe(
      Effect.catchTags({
        StorageError: (e) => Effect.fail(new AuditLoadError({ message: `cannot read the audit log: ${e.message}`, cause: e })),
        BackendUnavailable: (e) => Effect.fail(new AuditLoadError({ message: `cannot read the audit log: ${e.message}`, cause: e }))
      })
    )
    const key = auditLock(client)
    return AuditLog.of({
      append: (input) =>
        Effect.gen(function*() {
          const a = yield* auditInput(input)
          const now = yield* Clock.currentTimeMillis
          return yield* client.transaction("AuditLog.append", (q) =>
            Effect.gen(function*() {
              // Its own statement: the head read below takes its snapshot after the lock is held.
              yield* q.execute({ text: "SELECT pg_advisory_xact_lock($1::bigint)", values: [key] })
              const entry = nextEntry(headOf(yield* lastEntry(q)), a, now)
              yield* q.execute({
                text: `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
                values: [entry.seq, entry.timestamp, entry.agentId, entry.action, entry.detail, entry.outcome, entry.prevHash, entry.hash]
              })
              return entry
            }))
        }),
      entries: (query) =>
        Effect.gen(function*() {
          const q = yield* auditQuery(query)
          const rows = yield* client.query<AuditRow>("AuditLog.entries", {
            text: `SELECT ${AUDIT_COLUMNS} FROM audit_log
                   WHERE ($1::text IS NULL OR agent_id = $1) AND seq >= $2
                   ORDER BY seq LIMIT $3`,
            values: [q.agentId ?? null, q.fromSeq ?? 1, q.limit]
          })
          return rows.map(toEntry)
        }),
      head: () => client.withConnection("AuditLog.head", (q) => Effect.map(lastEntry(q), headOf)),
      verify: () => verifyChain(page("AuditLog.verify"), { chunk: 1000 })
    })
  })
