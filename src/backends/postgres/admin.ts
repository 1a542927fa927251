/**
 * The admin ports on PostgreSQL (the flows are core/mainStoreAdmin.ts and core/semanticAdmin.ts):
 * export as keyset-paged reads (memory stays flat however large a table is), verbatim import in one
 * transaction — audit records planned by the core's rule under the audit lock before anything is
 * written — and purge of one agent's data in one transaction.
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
import { auditLock } from "./audit.js"
import { importMemories } from "./bulkLoad.js"
import { decodeRows, type PgClient } from "./client.js"
import { MEMORY_COLUMNS, memoryOf } from "./memories.js"

/** MainStoreAdmin's port over `client`: keyset-paged reads, import and purge each one transaction. */
export const mainPort = (client: PgClient): MainAdminPort => ({
  backend: "postgres",
  exportPage: (kind, cursor) => {
    const t = tableOf(kind)
    const after = Array.isArray(cursor) ? cursor : undefined
    return Effect.flatMap(
      client.query<Record<string, unknown>>("export", {
        text: selectPage(t, "postgres", after !== undefined),
        values: after === undefined ? [EXPORT_PAGE] : [...after, EXPORT_PAGE]
      }),
      (rows) => {
        const last = rows[rows.length - 1]
        return Effect.map(decodeRows("export", rows, recordOf[kind]), (records) => ({
          records,
          next: rows.length === EXPORT_PAGE && last !== undefined ? t.key.map((k) => last[k]) : undefined
        }))
      }
    )
  },
  import: (records, audits, plan) =>
    client.transaction("import", (q) =>
      Effect.gen(function*() {
        // Appends to the chain are serialised with AuditLog.append by the same lock.
        yield* q.execute({ text: "SELECT pg_advisory_xact_lock($1::bigint)", values: [auditLock(client)] })
        let appends: ReadonlyArray<typeof audits[number]> = []
        if (audits.length > 0) {
          // The plan runs before anything is written, over the stored hashes read in one statement.
          const last = yield* decodeRows("import", yield* q.query(selectLastEntry), auditLogTable.decode)
          const stored = new Map(
            (yield* q.query<{ seq: number; hash: string }>({
              text: "SELECT seq, hash FROM audit_log WHERE seq = ANY($1::bigint[])",
              values: [audits.map((r) => r.seq)]
            })).map((r) => [Number(r.seq), r.hash])
          )
          const planned = plan(Option.fromNullable(last[0]), (seq) => stored.get(seq))
          if (planned instanceof AuditIntegrityError) return yield* planned
          appends = planned
        }
        for (const r of records) {
          yield* q.execute({ text: upsertInto(tableOf(r.kind), "postgres"), values: tableOf(r.kind).values(r) })
        }
        // Appends only (entries already held were skipped by the plan), so a plain insert.
        for (const e of appends) {
          yield* q.execute({ text: insertInto(auditLogTable, "postgres"), values: auditLogTable.values(e) })
        }
      })),
  purgeAgent: (agent) =>
    client.transaction("purgeAgent", (q) =>
      Effect.map(
        Effect.forEach(
          purgedTables,
          ([count, table, column]) =>
            Effect.map(
              q.execute({ text: `DELETE FROM ${table} WHERE ${column} = $1`, values: [agent] }),
              (n) => [count, n] as const
            )
        ),
        Object.fromEntries
      ))
})

/** SemanticStoreAdmin's port over `client`. */
export const semanticPort = (client: PgClient): SemanticAdminPort => ({
  backend: "postgres",
  exportPage: (cursor) =>
    Effect.map(
      client.rows("export", {
        text: `SELECT ${MEMORY_COLUMNS} FROM memories WHERE id > $1 ORDER BY id LIMIT $2`,
        values: [cursor ?? "", EXPORT_PAGE]
      }, memoryOf),
      (memories) => ({
        memories,
        next: memories.length === EXPORT_PAGE ? memories[memories.length - 1]!.id : undefined
      })
    ),
  import: (memories) => importMemories(client, memories),
  purgeAgent: (agent) =>
    client.execute("purgeAgent", { text: "DELETE FROM memories WHERE agent_id = $1", values: [agent] }),
  agents: () => client.rows("agents", "SELECT DISTINCT agent_id FROM memories", (r) => decodeAgentRow(r).agent_id)
})

const decodeAgentRow = Schema.decodeUnknownSync(Schema.Struct({ agent_id: AgentId }))
