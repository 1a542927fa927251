/**
 * AuditLog's port on SQLite. An append reads the last entry and inserts the next in one `BEGIN
 * IMMEDIATE` transaction: the entry is computed by the one writer that holds the lock, across
 * processes, and exactly that entry is stored (seq is the primary key, so a second writer of seq n is
 * impossible).
 */
import { Effect, Option } from "effect"
import type { AuditPort } from "../../core/auditLog.js"
import { auditLogTable as audit, selectLastEntry } from "../../tables/auditLog.js"
import { insertInto, selectFrom } from "../../tables/table.js"
import { attempt, type SqliteConnection } from "./client.js"

/** The port over `conn`; prepares its statements (and so may throw, at layer build). */
export const port = (conn: SqliteConnection): AuditPort => {
  const last = conn.db.prepare(selectLastEntry)
  const insert = conn.db.prepare(insertInto(audit, "sqlite"))
  const from = conn.db.prepare(`${selectFrom(audit)} WHERE seq >= ? ORDER BY seq LIMIT ?`)
  const ofAgent = conn.db.prepare(`${selectFrom(audit)} WHERE agent_id = ? AND seq >= ? ORDER BY seq LIMIT ?`)
  const readLast = () => Option.map(Option.fromNullable(last.get()), audit.decode)
  return {
    backend: "sqlite",
    append: (next) =>
      attempt("append", () =>
        conn.immediate(() => {
          const entry = next(readLast())
          insert.run(...audit.values(entry))
          return entry
        })),
    entries: ({ agentId, fromSeq, limit }) =>
      attempt(
        "entries",
        () =>
          (agentId === undefined ? from.all(fromSeq, limit) : ofAgent.all(agentId, fromSeq, limit)).map(audit.decode)
      ),
    last: () => attempt("last", readLast),
    uncommitted: Effect.sync(() => conn.db.inTransaction)
  }
}
