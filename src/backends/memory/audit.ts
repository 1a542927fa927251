/** AuditLog in memory; hashing and verification come from src/core/audit.ts. */
import { Clock, Effect, Option } from "effect"
import { headOf, nextEntry, verifyChain } from "../../core/audit.js"
import { auditInputs } from "../../core/inputs.js"
import { AuditLog } from "../../services/AuditLog.js"
import type { MemoryDb } from "./client.js"

const { auditInput, auditQuery } = auditInputs

const page = (db: MemoryDb) => (afterSeq: number, limit: number) =>
  Effect.sync(() => db.audit.filter((e) => e.seq > afterSeq).sort((a, b) => a.seq - b.seq).slice(0, limit))

/** Build the log over `db`, verifying what it already holds (fail closed). */
export const make = (db: MemoryDb) =>
  Effect.gen(function*() {
    yield* verifyChain(page(db))
    const head = () => Effect.sync(() => headOf(Option.fromNullable(db.audit[db.audit.length - 1])))
    return AuditLog.of({
      append: (input) =>
        Effect.gen(function*() {
          const a = yield* auditInput(input)
          const now = yield* Clock.currentTimeMillis
          return yield* Effect.sync(() => {
            const entry = nextEntry(headOf(Option.fromNullable(db.audit[db.audit.length - 1])), a, now)
            db.audit.push(entry)
            return entry
          })
        }),
      entries: (query) =>
        Effect.gen(function*() {
          const q = yield* auditQuery(query)
          return db.audit
            .filter((e) => (q.agentId === undefined || e.agentId === q.agentId) && e.seq >= (q.fromSeq ?? 1))
            .sort((a, b) => a.seq - b.seq)
            .slice(0, q.limit)
        }),
      head,
      verify: () => verifyChain(page(db), { chunk: 1000 })
    })
  })
