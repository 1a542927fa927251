/**
 * MainStoreAdmin on SQLite, and SemanticStoreAdmin's port: export as keyset-paged reads, verbatim
 * import in one `BEGIN IMMEDIATE` transaction (audit records checked against the head by the core's
 * rule before anything is written), and purge of one agent's data in one transaction.
 */
import { Chunk, Effect, Option, Schema, Stream } from "effect"
import { headOf } from "../../core/audit.js"
import { adminInputs } from "../../core/inputs.js"
import type { SemanticAdminPort } from "../../core/semanticAdmin.js"
import { auditAppends, EXPORT_PAGE, MAIN_KIND_ORDER } from "../../core/transfer.js"
import { AuditIntegrityError, type StorageError } from "../../domain/errors.js"
import { AgentId } from "../../domain/ids.js"
import type { MainRecord } from "../../domain/transfer.js"
import { MainStoreAdmin } from "../../services/Admin.js"
import { attempt, type SqliteConnection } from "./client.js"
import { deleteMemory, located, MEMORY_COLUMNS, readMemory, statements, storeMemory } from "./memories.js"
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
 * A table read in pages of `EXPORT_PAGE` rows in primary-key order: each page starts after the key
 * of the last row of the previous one, so memory stays flat however large the table is.
 */
const paged = <Row, Rec>(
  conn: SqliteConnection,
  operation: string,
  select: string,
  key: ReadonlyArray<keyof Row & string>,
  toRecord: (row: Row) => Rec
): Stream.Stream<Rec, StorageError> => {
  const order = key.join(", ")
  const first = `${select} ORDER BY ${order} LIMIT ?`
  const next = `${select} WHERE (${order}) > (${key.map(() => "?").join(", ")}) ORDER BY ${order} LIMIT ?`
  return Stream.paginateChunkEffect(Option.none<ReadonlyArray<unknown>>(), (after) =>
    attempt(operation, () => {
      const rows = Option.match(after, {
        onNone: () => conn.all<Row>(first, [EXPORT_PAGE]),
        onSome: (k) => conn.all<Row>(next, [...k, EXPORT_PAGE])
      })
      const last = rows[rows.length - 1]
      const cursor = rows.length === EXPORT_PAGE && last !== undefined
        ? Option.some(Option.some(key.map((k) => (last as Row)[k])))
        : Option.none()
      return [Chunk.fromIterable(rows.map(toRecord)), cursor] as const
    }))
}

/** A table read in pages in primary-key order, each row decoded by the table's codec. */
const pagedTable = <Row, A, Rec>(conn: SqliteConnection, t: Table<Row, A>, toRecord: (a: A) => Rec) =>
  paged<Row, Rec>(conn, "MainStoreAdmin.export", selectFrom(t), t.key, (row) => toRecord(t.decode(row)))

/** The main-store admin over `conn`. */
export const makeMain = (conn: SqliteConnection) => {
  const streams: Record<MainRecord["kind"], Stream.Stream<MainRecord, StorageError>> = {
    agent: pagedTable(conn, agentsTable, (a) => ({ kind: "agent" as const, ...a })),
    kv: pagedTable(conn, kvTable, (e) => ({ kind: "kv" as const, ...e })),
    entity: pagedTable(conn, entitiesTable, (e) => ({ kind: "entity" as const, ...e })),
    relation: pagedTable(conn, relationsTable, (r) => ({ kind: "relation" as const, ...r })),
    session: pagedTable(conn, sessionsTable, (s) => ({ kind: "session" as const, ...s })),
    canonical: pagedTable(conn, canonicalSessionsTable, (c) => ({ kind: "canonical" as const, ...c })),
    usage: pagedTable(conn, usageEventsTable, (e) => ({ kind: "usage" as const, ...e })),
    device: pagedTable(conn, devicesTable, (d) => ({ kind: "device" as const, ...d })),
    task: pagedTable(conn, tasksTable, (t) => ({ kind: "task" as const, ...t })),
    audit: pagedTable(conn, auditLogTable, (e) => ({ kind: "audit" as const, ...e }))
  }

  /** Write one record verbatim, replacing the record with the same key (inside the import transaction). */
  const write = (r: MainRecord): void => {
    switch (r.kind) {
      case "agent":
        conn.run(upsertInto(agentsTable, "sqlite"), agentsTable.values(r))
        return
      case "kv":
        conn.run(upsertInto(kvTable, "sqlite"), kvTable.values(r))
        return
      case "entity":
        conn.run(upsertInto(entitiesTable, "sqlite"), entitiesTable.values(r))
        return
      case "relation":
        conn.run(upsertInto(relationsTable, "sqlite"), relationsTable.values(r))
        return
      case "session":
        conn.run(upsertInto(sessionsTable, "sqlite"), sessionsTable.values(r))
        return
      case "canonical":
        conn.run(upsertInto(canonicalSessionsTable, "sqlite"), canonicalSessionsTable.values(r))
        return
      case "usage":
        conn.run(upsertInto(usageEventsTable, "sqlite"), usageEventsTable.values(r))
        return
      case "device":
        conn.run(upsertInto(devicesTable, "sqlite"), devicesTable.values(r))
        return
      case "task":
        conn.run(upsertInto(tasksTable, "sqlite"), tasksTable.values(r))
        return
      case "audit":
        // Audit entries are appended after the check, in chain order (see import).
        return
    }
  }

  return MainStoreAdmin.of({
    export: () => Stream.concatAll(Chunk.fromIterable(MAIN_KIND_ORDER.map((kind) => streams[kind]))),
    import: (records) =>
      Effect.flatMap(
        attempt("MainStoreAdmin.import", () =>
          conn.immediate((): AuditIntegrityError | undefined => {
            // The audit records are checked against the head first, so a refused import writes nothing.
            const last = Option.map(Option.fromNullable(conn.get(selectLastEntry)), auditLogTable.decode)
            const appends = auditAppends(
              headOf(last),
              records,
              (seq) => conn.get<{ hash: string }>(`SELECT hash FROM audit_log WHERE seq = ?`, [seq])?.hash
            )
            if (appends instanceof AuditIntegrityError) return appends
            // Records may arrive in any order within a batch: foreign keys are checked at commit.
            conn.exec("PRAGMA defer_foreign_keys = ON")
            for (const r of records) write(r)
            // Appends only (entries already held were skipped above), so a plain insert.
            for (const e of appends) conn.run(insertInto(auditLogTable, "sqlite"), auditLogTable.values(e))
            return undefined
          })),
        (refused) => (refused === undefined ? Effect.void : Effect.fail(refused))
      ),
    purgeAgent: (a) =>
      Effect.flatMap(agentId(a), (agent) =>
        attempt("MainStoreAdmin.purgeAgent", () =>
          conn.immediate(() => {
            const removed = (sql: string) => conn.run(sql, [agent]).changes
            // Relations first: deleting the entities would take them along uncounted.
            const relations = removed(`DELETE FROM relations WHERE agent_id = ?`)
            return {
              kv: removed(`DELETE FROM kv WHERE agent_id = ?`),
              agents: removed(`DELETE FROM agents WHERE id = ?`),
              entities: removed(`DELETE FROM entities WHERE agent_id = ?`),
              relations,
              sessions: removed(`DELETE FROM sessions WHERE agent_id = ?`),
              canonical: removed(`DELETE FROM canonical_sessions WHERE agent_id = ?`),
              usage: removed(`DELETE FROM usage_events WHERE agent_id = ?`)
            }
          })))
  })
}

/** SemanticStoreAdmin's port over `conn`; prepares its statements (and so may throw, at layer build). */
export const semanticPort = (conn: SqliteConnection): SemanticAdminPort => {
  const s = statements(conn)
  const ofAgent = conn.db.prepare(`SELECT rid, has_embedding FROM memories WHERE agent_id = ?`)
  const page = conn.db.prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id > ? ORDER BY m.id LIMIT ?`)
  return {
    backend: "sqlite",
    exportPage: (cursor) =>
      attempt("export", () =>
        conn.read(() => {
          const rows = page.all(cursor ?? "", EXPORT_PAGE).map((r) => readMemory(s, r))
          return { memories: rows, next: rows.length === EXPORT_PAGE ? rows[rows.length - 1]!.id : undefined }
        })),
    import: (memories) =>
      attempt("import", () =>
        conn.immediate(() => {
          for (const m of memories) {
            // Verbatim: a memory with the same id is replaced, counters and timestamps included.
            const old = s.locate.get(m.id)
            if (old !== undefined) deleteMemory(s, located(old))
            storeMemory(s, m)
          }
        })),
    purgeAgent: (agent) =>
      attempt("purgeAgent", () =>
        conn.immediate(() => {
          const rows = ofAgent.all(agent).map(located)
          for (const r of rows) deleteMemory(s, r)
          return rows.length
        })),
    agents: () =>
      attempt("agents", () => conn.all(`SELECT DISTINCT agent_id FROM memories`).map((r) => decodeAgentRow(r).agent_id))
  }
}

const decodeAgentRow = Schema.decodeUnknownSync(Schema.Struct({ agent_id: AgentId }))
