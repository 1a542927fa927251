/**
 * The main store's tables by record kind, shared by the SQLite and PostgreSQL admin ports: which
 * table holds each kind of export record (its codec gives the export's decode and the import's
 * verbatim upsert), and which rows belong to an agent when it is purged.
 */
import type { MainRecord } from "../domain/transfer.js"
import { agentsTable } from "./agents.js"
import { auditLogTable } from "./auditLog.js"
import { canonicalSessionsTable } from "./canonicalSessions.js"
import { devicesTable } from "./devices.js"
import { entitiesTable } from "./entities.js"
import { kvTable } from "./kv.js"
import { relationsTable } from "./relations.js"
import { sessionsTable } from "./sessions.js"
import type { Table } from "./table.js"
import { tasksTable } from "./tasks.js"
import { usageEventsTable } from "./usageEvents.js"

type Kind = MainRecord["kind"]

/** The fields of a record of `kind` (the record without its tag): what its table's codec converts. */
export type FieldsOf<K extends Kind> = Omit<Extract<MainRecord, { readonly kind: K }>, "kind">

/** The table of each kind of main-store record. */
export const mainTables: { readonly [K in Kind]: Table<never, FieldsOf<K>> } = {
  agent: agentsTable,
  kv: kvTable,
  entity: entitiesTable,
  relation: relationsTable,
  session: sessionsTable,
  canonical: canonicalSessionsTable,
  usage: usageEventsTable,
  device: devicesTable,
  task: tasksTable,
  audit: auditLogTable
}

/** The table of `kind`. */
export const tableOf = <K extends Kind>(kind: K): Table<never, FieldsOf<K>> => mainTables[kind]

/** A row of each kind's table, decoded, as an export record. */
export const recordOf: { readonly [K in Kind]: (row: unknown) => MainRecord } = {
  agent: (row) => ({ kind: "agent", ...agentsTable.decode(row) }),
  kv: (row) => ({ kind: "kv", ...kvTable.decode(row) }),
  entity: (row) => ({ kind: "entity", ...entitiesTable.decode(row) }),
  relation: (row) => ({ kind: "relation", ...relationsTable.decode(row) }),
  session: (row) => ({ kind: "session", ...sessionsTable.decode(row) }),
  canonical: (row) => ({ kind: "canonical", ...canonicalSessionsTable.decode(row) }),
  usage: (row) => ({ kind: "usage", ...usageEventsTable.decode(row) }),
  device: (row) => ({ kind: "device", ...devicesTable.decode(row) }),
  task: (row) => ({ kind: "task", ...tasksTable.decode(row) }),
  audit: (row) => ({ kind: "audit", ...auditLogTable.decode(row) })
}

/**
 * What purging an agent deletes, in order: the count's name, the table and the column naming the
 * agent. Relations come first: deleting the entities would remove them by cascade, uncounted.
 */
export const purgedTables: ReadonlyArray<readonly [count: string, table: string, column: string]> = [
  ["relations", "relations", "agent_id"],
  ["kv", "kv", "agent_id"],
  ["agents", "agents", "id"],
  ["entities", "entities", "agent_id"],
  ["sessions", "sessions", "agent_id"],
  ["canonical", "canonical_sessions", "agent_id"],
  ["usage", "usage_events", "agent_id"]
]
