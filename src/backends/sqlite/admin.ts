/**
 * The admin ports on SQLite (the flows are core/mainStoreAdmin.ts and core/semanticAdmin.ts): export
 * as keyset-paged reads, verbatim import in one `BEGIN IMMEDIATE` transaction (audit records planned
 * by the core's rule before anything is written), and purge of one agent's data in one transaction.
 */
import { Effect, Option, Schema } from "effect"
import type { MainAdminPort } from "../../core/mainStoreAdmin.js"
import type { SemanticAdminPort } from "../../core/semanticAdmin.js"
import { EXPORT_PAGE } from "../../core/transfer.js"
import { AuditIntegrityError } from "../../domain/errors.js"
import { AgentId } from "../../domain/ids.js"
import { auditLogTable, selectLastEntry } from "../../tables/auditLog.js"
import { purgedTables, recordOf, tableOf } from "../../tables/mainRecords.js"
import { insertInto, selectPage, upsertInto } from "../../tables/table.js"
import type { AccessCounts } from "./accessCounts.js"
import { attempt, type SqliteConnection } from "./client.js"
import { deleteMemory, located, MEMORY_COLUMNS, readMemory, statements, storeMemory } from "./memories.js"

/** MainStoreAdmin's port over `conn`: keyset-paged reads, import and purge each one `BEGIN IMMEDIATE` transaction. */
export const mainPort = (conn: SqliteConnection): MainAdminPort => ({
  backend: "sqlite",
  exportPage: (kind, cursor) =>
    attempt("export", () => {
      const t = tableOf(kind)
      const after = Array.isArray(cursor) ? cursor : undefined
      const rows = conn.all<Record<string, unknown>>(
        selectPage(t, "sqlite", after !== undefined),
        after === undefined ? [EXPORT_PAGE] : [...after, EXPORT_PAGE]
      )
      const last = rows[rows.length - 1]
      return {
        records: rows.map(recordOf[kind]),
        next: rows.length === EXPORT_PAGE && last !== undefined ? t.key.map((k) => last[k]) : undefined
      }
    }),
  import: (records, audits, plan) =>
    Effect.flatMap(
      attempt("import", () =>
        conn.immediate((): AuditIntegrityError | undefined => {
          // The audit records are planned first, so a refused import writes nothing.
          const appends = audits.length === 0 ? [] : plan(
            Option.map(Option.fromNullable(conn.get(selectLastEntry)), auditLogTable.decode),
            (seq) => conn.get<{ hash: string }>(`SELECT hash FROM audit_log WHERE seq = ?`, [seq])?.hash
          )
          if (appends instanceof AuditIntegrityError) return appends
          // A batch may hold a record before the one it refers to: foreign keys are checked at commit.
          conn.exec("PRAGMA defer_foreign_keys = ON")
          for (const r of records) conn.run(upsertInto(tableOf(r.kind), "sqlite"), tableOf(r.kind).values(r))
          // Appends only (entries already held were skipped by the plan), so a plain insert.
          for (const e of appends) conn.run(insertInto(auditLogTable, "sqlite"), auditLogTable.values(e))
          return undefined
        })),
      (refused) => (refused === undefined ? Effect.void : Effect.fail(refused))
    ),
  purgeAgent: (agent) =>
    attempt("purgeAgent", () =>
      conn.immediate(() =>
        Object.fromEntries(
          purgedTables.map((
            [count, table, column]
          ) => [count, conn.run(`DELETE FROM ${table} WHERE ${column} = ?`, [agent]).changes])
        )
      ))
})

/** SemanticStoreAdmin's port over `conn`; prepares its statements (and so may throw, at layer build). */
export const semanticPort = (conn: SqliteConnection, counts: AccessCounts): SemanticAdminPort => {
  const s = statements(conn)
  const ofAgent = conn.db.prepare(`SELECT rid, has_embedding FROM memories WHERE agent_id = ?`)
  const page = conn.db.prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id > ? ORDER BY m.id LIMIT ?`)
  return {
    backend: "sqlite",
    exportPage: (cursor) =>
      attempt("export", () =>
        conn.read(() => {
          const rows = page.all(cursor ?? "", EXPORT_PAGE).map((r) => counts.seen(readMemory(r)))
          return { memories: rows, next: rows.length === EXPORT_PAGE ? rows[rows.length - 1]!.id : undefined }
        })),
    import: (memories) =>
      attempt("import", () =>
        counts.immediate(() => {
          for (const m of memories) {
            // Verbatim: a memory with the same id is replaced, counters and timestamps included.
            const old = s.locate.get(m.id)
            if (old !== undefined) deleteMemory(s, located(old))
            storeMemory(s, m)
          }
        })),
    purgeAgent: (agent) =>
      attempt("purgeAgent", () =>
        counts.immediate(() => {
          const rows = ofAgent.all(agent).map(located)
          for (const r of rows) deleteMemory(s, r)
          return rows.length
        })),
    agents: () =>
      attempt("agents", () => conn.all(`SELECT DISTINCT agent_id FROM memories`).map((r) => decodeAgentRow(r).agent_id))
  }
}

const decodeAgentRow = Schema.decodeUnknownSync(Schema.Struct({ agent_id: AgentId }))
