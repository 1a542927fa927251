/** AuditLog's port in memory: the log is an array in append order. */
import { Effect, Option } from "effect"
import type { AuditPort } from "../../core/auditLog.js"
import type { MemoryDb } from "./client.js"

export const port = (db: MemoryDb): AuditPort<never> => {
  const last = () => Option.fromNullable(db.audit[db.audit.length - 1])
  return {
    backend: "memory",
    append: (next) =>
      Effect.sync(() => {
        const entry = next(last())
        db.audit.push(entry)
        return entry
      }),
    entries: ({ agentId, fromSeq, limit }) =>
      Effect.sync(() =>
        db.audit
          .filter((e) => e.seq >= fromSeq && (agentId === undefined || e.agentId === agentId))
          .sort((a, b) => a.seq - b.seq)
          .slice(0, limit)
      ),
    last: () => Effect.sync(last)
  }
}
