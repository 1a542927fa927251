/**
 * AuditLog's port on PostgreSQL. An append reads the last entry and inserts the next in one
 * transaction that holds a transaction-scoped advisory lock, so appenders in every process form one
 * linear chain; the primary key on seq is the backstop that turns a missed lock into an error rather
 * than a fork.
 */
import { Effect, Option } from "effect"
import type { AuditPort } from "../../core/auditLog.js"
import { auditLogTable as audit, selectLastEntry } from "../../tables/auditLog.js"
import { insertInto, selectFrom } from "../../tables/table.js"
import { decodeRows, lockKey, type PgClient } from "./client.js"
import { joinedConnection } from "./interop.js"

/** The advisory lock every writer of the chain holds (appends, and admin imports of audit records). */
export const auditLock = (client: PgClient): string => lockKey(client.schema, "audit")

const INSERT = insertInto(audit, "postgres")
// Two statements rather than one with an optional agent: each keeps a plan that fits its index.
const ENTRIES = `${selectFrom(audit)} WHERE seq >= $1 ORDER BY seq LIMIT $2`
const ENTRIES_OF_AGENT = `${selectFrom(audit)} WHERE agent_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`

const first = <A>(rows: ReadonlyArray<A>): Option.Option<A> => Option.fromNullable(rows[0])

export const port = (client: PgClient): AuditPort => {
  const key = auditLock(client)
  return {
    backend: "postgres",
    append: (next) =>
      client.transaction("append", (q) =>
        Effect.gen(function*() {
          // Its own statement: the read below takes its snapshot after the lock is held.
          yield* q.execute({
            name: "engram_audit_lock",
            text: "SELECT pg_advisory_xact_lock($1::bigint)",
            values: [key]
          })
          const rows = yield* q.query({ name: "engram_audit_last", text: selectLastEntry })
          const entry = next(first(yield* decodeRows("append", rows, audit.decode)))
          yield* q.execute({ name: "engram_audit_insert", text: INSERT, values: audit.values(entry) })
          return entry
        })),
    entries: ({ agentId, fromSeq, limit }) =>
      client.rows(
        "entries",
        agentId === undefined
          ? { name: "engram_audit_entries", text: ENTRIES, values: [fromSeq, limit] }
          : { name: "engram_audit_entries_of_agent", text: ENTRIES_OF_AGENT, values: [agentId, fromSeq, limit] },
        audit.decode
      ),
    last: () =>
      Effect.map(client.rows("last", { name: "engram_audit_last", text: selectLastEntry }, audit.decode), first),
    uncommitted: Effect.map(joinedConnection(client.identity), Option.isSome)
  }
}
