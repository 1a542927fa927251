/**
 * MainStoreAdmin on PostgreSQL, and SemanticStoreAdmin's port: export as keyset-paged reads (memory
 * stays flat however large a table is), verbatim import in one transaction — audit records are
 * checked against the head by the core's rule under the audit lock before anything is written — and
 * purge of one agent's data in one transaction.
 */
import { Chunk, Effect, Option, Schema, Stream } from "effect"
import { headOf } from "../../core/audit.js"
import { adminInputs } from "../../core/inputs.js"
import type { SemanticAdminPort } from "../../core/semanticAdmin.js"
import { auditAppends, EXPORT_PAGE, MAIN_KIND_ORDER } from "../../core/transfer.js"
import { AuditIntegrityError, type StoreFailure } from "../../domain/errors.js"
import { AgentId } from "../../domain/ids.js"
import type { MainRecord } from "../../domain/transfer.js"
import { MainStoreAdmin } from "../../services/Admin.js"
import { auditLock } from "./audit.js"
import { decodeRows, type PgClient, type Queryable, type Statement } from "./client.js"
import { importMemories } from "./bulkLoad.js"
import { MEMORY_COLUMNS, memoryOf } from "./memories.js"
import { agentsTable } from "../../tables/agents.js"
import { auditLogTable, selectLastEntry } from "../../tables/auditLog.js"
import { canonicalSessionsTable } from "../../tables/canonicalSessions.js"
import { devicesTable } from "../../tables/devices.js"
import { entitiesTable } from "../../tables/entities.js"
import { kvTable } from "../../tables/kv.js"
import { relationsTable } from "../../tables/relations.js"
import { sessionsTable } from "../../tables/sessions.js"
import { tasksTable } from "../../tables/tasks.js"
import { usageEventsTable } from "../../tables/usageEvents.js"
import { insertInto, selectFrom, type Table, upsertInto } from "../../tables/table.js"

const { agentId } = adminInputs

/**
 * A table read in pages of `EXPORT_PAGE` rows in primary-key order, each page starting after the
 * key of the last row of the previous one.
 */
const paged = <Row extends object, Rec>(
  client: PgClient,
  operation: string,
  select: string,
  key: ReadonlyArray<keyof Row & string>,
  toRecord: (row: Row) => Rec
): Stream.Stream<Rec, StoreFailure> => {
  const order = key.join(", ")
  return Stream.paginateChunkEffect(Option.none<ReadonlyArray<unknown>>(), (after) => {
    const statement: Statement = Option.match(after, {
      onNone: () => ({ text: `${select} ORDER BY ${order} LIMIT ${EXPORT_PAGE}` }),
      onSome: (k) => ({
        text: `${select} WHERE (${order}) > (${k.map((_, i) => `$${i + 1}`).join(", ")}) ORDER BY ${order} LIMIT ${EXPORT_PAGE}`,
        values: k
      })
    })
    return Effect.flatMap(client.query<Row & Record<string, unknown>>(operation, statement), (rows) => {
      const last = rows[rows.length - 1]
      const next = rows.length === EXPORT_PAGE && last !== undefined
        ? Option.some(Option.some(key.map((k) => last[k])))
        : Option.none()
      return Effect.map(decodeRows(operation, rows, (row) => toRecord(row as Row)), (records) =>
        [Chunk.fromIterable(records), next] as const)
    })
  })
}

/** A table read in pages in primary-key order, each row decoded by the table's codec. */
const pagedTable = <Row extends object, A, Rec>(client: PgClient, t: Table<Row, A>, toRecord: (a: A) => Rec) =>
  paged<Row, Rec>(client, "MainStoreAdmin.export", selectFrom(t), t.key, (row) => toRecord(t.decode(row)))

/** The statement that writes one main-store record verbatim, replacing a record with the same key. */
const upsert = (r: Exclude<MainRecord, { readonly kind: "audit" }>): Statement => {
  switch (r.kind) {
    case "agent":
      return { text: upsertInto(agentsTable, "postgres"), values: agentsTable.values(r) }
    case "kv":
      return { text: upsertInto(kvTable, "postgres"), values: kvTable.values(r) }
    case "entity":
      return { text: upsertInto(entitiesTable, "postgres"), values: entitiesTable.values(r) }
    case "relation":
      return { text: upsertInto(relationsTable, "postgres"), values: relationsTable.values(r) }
    case "session":
      return { text: upsertInto(sessionsTable, "postgres"), values: sessionsTable.values(r) }
    case "canonical":
      return { text: upsertInto(canonicalSessionsTable, "postgres"), values: canonicalSessionsTable.values(r) }
    case "usage":
      return { text: upsertInto(usageEventsTable, "postgres"), values: usageEventsTable.values(r) }
    case "device":
      return { text: upsertInto(devicesTable, "postgres"), values: devicesTable.values(r) }
    case "task":
      return { text: upsertInto(tasksTable, "postgres"), values: tasksTable.values(r) }
  }
}

/**
 * The audit records of a batch that continue the chain (the core's `auditAppends`, over the stored
 * hashes of the seqs the batch repeats, read in one statement); fails when one does not, before
 * anything is written.
 */
const storedAuditAppends = (q: Queryable, records: ReadonlyArray<MainRecord>) =>
  Effect.gen(function*() {
    const audits = records.flatMap((r) => (r.kind === "audit" ? [r] : []))
    if (audits.length === 0) return []
    const last = yield* decodeRows("MainStoreAdmin.import", yield* q.query(selectLastEntry), auditLogTable.decode)
    const head = headOf(Option.fromNullable(last[0]))
    const stored = new Map(
      (yield* q.query<{ seq: number; hash: string }>({
        text: "SELECT seq, hash FROM audit_log WHERE seq = ANY($1::bigint[])",
        values: [audits.filter((r) => r.seq <= head.seq).map((r) => r.seq)]
      })).map((r) => [r.seq, r.hash])
    )
    const appends = auditAppends(head, audits, (seq) => stored.get(seq))
    if (appends instanceof AuditIntegrityError) return yield* appends
    return appends
  })

const kindRank = new Map(MAIN_KIND_ORDER.map((k, i) => [k, i]))

/** The main-store admin over `client`. */
export const makeMain = (client: PgClient) => {
  const streams: ReadonlyArray<Stream.Stream<MainRecord, StoreFailure>> = [
    pagedTable(client, agentsTable, (a): MainRecord => ({ kind: "agent", ...a })),
    pagedTable(client, kvTable, (e): MainRecord => ({ kind: "kv", ...e })),
    pagedTable(client, entitiesTable, (e): MainRecord => ({ kind: "entity", ...e })),
    pagedTable(client, relationsTable, (r): MainRecord => ({ kind: "relation", ...r })),
    pagedTable(client, sessionsTable, (s): MainRecord => ({ kind: "session", ...s })),
    pagedTable(client, canonicalSessionsTable, (c): MainRecord => ({ kind: "canonical", ...c })),
    pagedTable(client, usageEventsTable, (e): MainRecord => ({ kind: "usage", ...e })),
    pagedTable(client, devicesTable, (d): MainRecord => ({ kind: "device", ...d })),
    pagedTable(client, tasksTable, (t): MainRecord => ({ kind: "task", ...t })),
    pagedTable(client, auditLogTable, (e): MainRecord => ({ kind: "audit", ...e }))
  ]

  return MainStoreAdmin.of({
    export: () => Stream.concatAll(Chunk.fromIterable(streams)),
    import: (records) =>
      client.transaction("MainStoreAdmin.import", (q) =>
        Effect.gen(function*() {
          // Appends to the chain are serialised with AuditLog.append by the same lock.
          yield* q.execute({ text: "SELECT pg_advisory_xact_lock($1::bigint)", values: [auditLock(client)] })
          const appends = yield* storedAuditAppends(q, records)
          // Dependencies first (entities before their relations), whatever order the batch has.
          const ordered = [...records].sort((a, b) => kindRank.get(a.kind)! - kindRank.get(b.kind)!)
          for (const r of ordered) if (r.kind !== "audit") yield* q.execute(upsert(r))
          // Appends only (entries already held were skipped), so a plain insert.
          for (const e of appends) yield* q.execute({ text: insertInto(auditLogTable, "postgres"), values: auditLogTable.values(e) })
        })),
    purgeAgent: (a) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        return yield* client.transaction("MainStoreAdmin.purgeAgent", (q) =>
          Effect.gen(function*() {
            const del = (table: string, column = "agent_id") =>
              q.execute({ text: `DELETE FROM ${table} WHERE ${column} = $1`, values: [agent] })
            // Relations first: deleting the entities would remove them by cascade, uncounted.
            const relations = yield* del("relations")
            return {
              kv: yield* del("kv"),
              agents: yield* del("agents", "id"),
              entities: yield* del("entities"),
              relations,
              sessions: yield* del("sessions"),
              canonical: yield* del("canonical_sessions"),
              usage: yield* del("usage_events")
            }
          }))
      })
  })
}

/** SemanticStoreAdmin's port over `client`. */
export const semanticPort = (client: PgClient): SemanticAdminPort => ({
  backend: "postgres",
  exportPage: (cursor) =>
    Effect.map(
      client.rows("export", {
        text: `SELECT ${MEMORY_COLUMNS} FROM memories WHERE id > $1 ORDER BY id LIMIT $2`,
        values: [cursor ?? "", EXPORT_PAGE]
      }, memoryOf),
      (memories) => ({ memories, next: memories.length === EXPORT_PAGE ? memories[memories.length - 1]!.id : undefined })
    ),
  import: (memories) => importMemories(client, memories),
  purgeAgent: (agent) => client.execute("purgeAgent", { text: "DELETE FROM memories WHERE agent_id = $1", values: [agent] }),
  agents: () => client.rows("agents", "SELECT DISTINCT agent_id FROM memories", (r) => decodeAgentRow(r).agent_id)
})

const decodeAgentRow = Schema.decodeUnknownSync(Schema.Struct({ agent_id: AgentId }))
