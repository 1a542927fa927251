/**
 * MainStoreAdmin on SQLite, and SemanticStoreAdmin's port: export as keyset-paged reads, verbatim
 * import in one `BEGIN IMMEDIATE` transaction (audit records checked against the head by the core's
 * rule before anything is written), and purge of one agent's data in one transaction.
 */
import { Chunk, Effect, Option, Redacted, Schema, Stream } from "effect"
import { headOf } from "../../core/audit.js"
import { foldName } from "../../core/graph.js"
import { adminInputs } from "../../core/inputs.js"
import type { SemanticAdminPort } from "../../core/semanticAdmin.js"
import { auditAppends, EXPORT_PAGE, MAIN_KIND_ORDER } from "../../core/transfer.js"
import { AuditIntegrityError, type StorageError } from "../../domain/errors.js"
import { AgentId } from "../../domain/ids.js"
import type { MainRecord } from "../../domain/transfer.js"
import type { UsageEvent } from "../../domain/usage.js"
import { MainStoreAdmin } from "../../services/Admin.js"
import { AUDIT_COLUMNS, type AuditRow, toEntry } from "./audit.js"
import { attempt, type SqliteConnection } from "./client.js"
import { DEVICE_COLUMNS, type DeviceRow, toDevice } from "./devices.js"
import { ENTITY_COLUMNS, type EntityRow, RELATION_COLUMNS, type RelationRow, toEntity, toRelation } from "./knowledge.js"
import { deleteMemory, located, MEMORY_COLUMNS, readMemory, statements, storeMemory } from "./memories.js"
import { type CanonicalRow, SESSION_COLUMNS, type SessionRow, toCanonical, toSession } from "./sessions.js"
import { TASK_COLUMNS, type TaskRow, toTask } from "./tasks.js"
import { agentsTable } from "../../tables/agents.js"
import { kvTable } from "../../tables/kv.js"
import { selectFrom, type Table, upsertInto } from "../../tables/table.js"

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

interface UsageRow {
  readonly id: string
  readonly agent_id: string
  readonly model: string
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cost_usd: number
  readonly tool_calls: number
  readonly timestamp: number
}

/** The main-store admin over `conn`. */
export const makeMain = (conn: SqliteConnection) => {
  const streams: Record<MainRecord["kind"], Stream.Stream<MainRecord, StorageError>> = {
    agent: pagedTable(conn, agentsTable, (a) => ({ kind: "agent" as const, ...a })),
    kv: pagedTable(conn, kvTable, (e) => ({ kind: "kv" as const, ...e })),
    entity: paged(conn, "MainStoreAdmin.export", `SELECT ${ENTITY_COLUMNS} FROM entities`, ["agent_id", "id"], (r: EntityRow) => ({
      kind: "entity" as const,
      ...toEntity(r)
    })),
    relation: paged(conn, "MainStoreAdmin.export", `SELECT ${RELATION_COLUMNS} FROM relations`, ["id"], (r: RelationRow) => ({
      kind: "relation" as const,
      ...toRelation(r)
    })),
    session: paged(conn, "MainStoreAdmin.export", `SELECT ${SESSION_COLUMNS} FROM sessions`, ["id"], (r: SessionRow) => ({
      kind: "session" as const,
      ...toSession(r)
    })),
    canonical: paged(
      conn,
      "MainStoreAdmin.export",
      `SELECT agent_id, messages, summary, updated_at FROM canonical_sessions`,
      ["agent_id"],
      (r: CanonicalRow) => ({ kind: "canonical" as const, ...toCanonical(r) })
    ),
    usage: paged(
      conn,
      "MainStoreAdmin.export",
      `SELECT id, agent_id, model, input_tokens, output_tokens, cost_usd, tool_calls, timestamp FROM usage_events`,
      ["id"],
      (r: UsageRow) => ({
        kind: "usage" as const,
        id: r.id as UsageEvent["id"],
        agentId: r.agent_id as AgentId,
        model: r.model,
        inputTokens: r.input_tokens,
        outputTokens: r.output_tokens,
        costUsd: r.cost_usd,
        toolCalls: r.tool_calls,
        timestamp: r.timestamp
      })
    ),
    device: paged(conn, "MainStoreAdmin.export", `SELECT ${DEVICE_COLUMNS} FROM devices`, ["device_id"], (r: DeviceRow) => ({
      kind: "device" as const,
      ...toDevice(r)
    })),
    task: paged(conn, "MainStoreAdmin.export", `SELECT ${TASK_COLUMNS} FROM tasks`, ["id"], (r: TaskRow) => ({
      kind: "task" as const,
      ...toTask(r)
    })),
    audit: paged(conn, "MainStoreAdmin.export", `SELECT ${AUDIT_COLUMNS} FROM audit_log`, ["seq"], (r: AuditRow) => ({
      kind: "audit" as const,
      ...toEntry(r)
    }))
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
        conn.run(
          `INSERT INTO entities (agent_id, id, type, name, name_folded, properties, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (agent_id, id) DO UPDATE SET type = excluded.type, name = excluded.name,
             name_folded = excluded.name_folded, properties = excluded.properties,
             created_at = excluded.created_at, updated_at = excluded.updated_at`,
          [r.agentId, r.id, r.type, r.name, foldName(r.name), JSON.stringify(r.properties), r.createdAt, r.updatedAt]
        )
        return
      case "relation":
        conn.run(
          `INSERT INTO relations (${RELATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, source = excluded.source,
             relation = excluded.relation, target = excluded.target, properties = excluded.properties,
             confidence = excluded.confidence, created_at = excluded.created_at`,
          [r.agentId, r.id, r.source, r.relation, r.target, JSON.stringify(r.properties), r.confidence, r.createdAt]
        )
        return
      case "session":
        conn.run(
          `INSERT INTO sessions (id, agent_id, label, messages, message_count, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, label = excluded.label,
             messages = excluded.messages, message_count = excluded.message_count,
             created_at = excluded.created_at, updated_at = excluded.updated_at`,
          [r.id, r.agentId, r.label, JSON.stringify(r.messages), r.messages.length, r.createdAt, r.updatedAt]
        )
        return
      case "canonical":
        conn.run(
          `INSERT INTO canonical_sessions (agent_id, messages, summary, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (agent_id) DO UPDATE SET
             messages = excluded.messages, summary = excluded.summary, updated_at = excluded.updated_at`,
          [r.agentId, JSON.stringify(r.messages), r.summary, r.updatedAt]
        )
        return
      case "usage":
        // Usage events are immutable facts: one already present is kept, never counted twice.
        conn.run(
          `INSERT INTO usage_events (id, agent_id, model, input_tokens, output_tokens, cost_usd, tool_calls, timestamp)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
          [r.id, r.agentId, r.model, r.inputTokens, r.outputTokens, r.costUsd, r.toolCalls, r.timestamp]
        )
        return
      case "device":
        conn.run(
          `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (device_id) DO UPDATE SET display_name = excluded.display_name, platform = excluded.platform,
             paired_at = excluded.paired_at, last_seen = excluded.last_seen, push_token = excluded.push_token`,
          [r.deviceId, r.displayName, r.platform, r.pairedAt, r.lastSeen, r.pushToken === undefined ? null : Redacted.value(r.pushToken)]
        )
        return
      case "task":
        conn.run(
          `INSERT INTO tasks (${TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
             status = excluded.status, priority = excluded.priority, assigned_to = excluded.assigned_to,
             created_by = excluded.created_by, claimed_by = excluded.claimed_by, attempt = excluded.attempt,
             lease_expires_at = excluded.lease_expires_at, result = excluded.result, error = excluded.error,
             created_at = excluded.created_at, updated_at = excluded.updated_at, completed_at = excluded.completed_at`,
          [
            r.id, r.title, r.description, r.status, r.priority, r.assignedTo, r.createdBy, r.claimedBy, r.attempt,
            r.leaseExpiresAt, r.result, r.error, r.createdAt, r.updatedAt, r.completedAt
          ]
        )
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
            const last = conn.get<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1`)
            const appends = auditAppends(
              headOf(Option.map(Option.fromNullable(last), toEntry)),
              records,
              (seq) => conn.get<{ hash: string }>(`SELECT hash FROM audit_log WHERE seq = ?`, [seq])?.hash
            )
            if (appends instanceof AuditIntegrityError) return appends
            // Records may arrive in any order within a batch: foreign keys are checked at commit.
            conn.exec("PRAGMA defer_foreign_keys = ON")
            for (const r of records) write(r)
            for (const e of appends) {
              conn.run(
                `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
                [e.seq, e.timestamp, e.agentId, e.action, e.detail, e.outcome, e.prevHash, e.hash]
              )
            }
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
