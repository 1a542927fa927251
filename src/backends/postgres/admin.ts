/**
 * MainStoreAdmin on PostgreSQL, and SemanticStoreAdmin's port: export as keyset-paged reads (memory
 * stays flat however large a table is), verbatim import in one transaction — audit records are
 * checked against the head by the core's rule under the audit lock before anything is written — and
 * purge of one agent's data in one transaction.
 */
import { Chunk, Effect, Option, Redacted, Schema, Stream } from "effect"
import { headOf } from "../../core/audit.js"
import { foldName } from "../../core/graph.js"
import { adminInputs } from "../../core/inputs.js"
import type { SemanticAdminPort } from "../../core/semanticAdmin.js"
import { auditAppends, EXPORT_PAGE, MAIN_KIND_ORDER } from "../../core/transfer.js"
import { AuditIntegrityError, type StoreFailure } from "../../domain/errors.js"
import { AgentId, type UsageEventId } from "../../domain/ids.js"
import type { MainRecord } from "../../domain/transfer.js"
import { MainStoreAdmin } from "../../services/Admin.js"
import { AUDIT_COLUMNS, type AuditRow, auditLock, lastEntry, toEntry } from "./audit.js"
import { decodeRows, type PgClient, type Queryable, type Statement } from "./client.js"
import { DEVICE_COLUMNS, type DeviceRow, toDevice } from "./devices.js"
import { ENTITY_COLUMNS, type EntityRow, RELATION_COLUMNS, type RelationRow, toEntity, toRelation } from "./knowledge.js"
import { chunks, INPUT_NAMES, INPUT_ROWS, inputValues, insertFrom, MEMORY_COLUMNS, memoryOf, REPLACE_ON_CONFLICT } from "./memories.js"
import { type CanonicalRow, SESSION_COLUMNS, type SessionRow, toCanonical, toSession } from "./sessions.js"
import { TASK_COLUMNS, type TaskRow, toTask } from "./tasks.js"
import { agentsTable } from "../../tables/agents.js"
import { kvTable } from "../../tables/kv.js"
import { selectFrom, type Table, upsertInto } from "../../tables/table.js"

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

interface UsageRow {
  readonly id: string
  readonly agent_id: string
  readonly model: string
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cost_usd: number
  readonly tool_calls: number
  readonly at: number
}

/** The statement that writes one main-store record verbatim, replacing a record with the same key. */
const upsert = (r: Exclude<MainRecord, { readonly kind: "audit" }>): Statement => {
  switch (r.kind) {
    case "agent":
      return { text: upsertInto(agentsTable, "postgres"), values: agentsTable.values(r) }
    case "kv":
      return { text: upsertInto(kvTable, "postgres"), values: kvTable.values(r) }
    case "entity":
      return {
        text: `INSERT INTO entities (agent_id, id, type, name, name_fold, properties, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (agent_id, id) DO UPDATE SET type = excluded.type, name = excluded.name,
                 name_fold = excluded.name_fold, properties = excluded.properties,
                 created_at = excluded.created_at, updated_at = excluded.updated_at`,
        values: [r.agentId, r.id, r.type, r.name, foldName(r.name), JSON.stringify(r.properties), r.createdAt, r.updatedAt]
      }
    case "relation":
      return {
        text: `INSERT INTO relations (${RELATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, source = excluded.source,
                 relation = excluded.relation, target = excluded.target, properties = excluded.properties,
                 confidence = excluded.confidence, created_at = excluded.created_at`,
        values: [r.agentId, r.id, r.source, r.relation, r.target, JSON.stringify(r.properties), r.confidence, r.createdAt]
      }
    case "session":
      return {
        text: `INSERT INTO sessions (id, agent_id, label, messages, message_count, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, label = excluded.label,
                 messages = excluded.messages, message_count = excluded.message_count,
                 created_at = excluded.created_at, updated_at = excluded.updated_at`,
        values: [r.id, r.agentId, r.label, JSON.stringify(r.messages), r.messages.length, r.createdAt, r.updatedAt]
      }
    case "canonical":
      return {
        text: `INSERT INTO canonical_sessions (agent_id, messages, summary, updated_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (agent_id) DO UPDATE SET messages = excluded.messages, summary = excluded.summary,
                 updated_at = excluded.updated_at`,
        values: [r.agentId, JSON.stringify(r.messages), r.summary, r.updatedAt]
      }
    case "usage":
      return {
        text: `INSERT INTO usage_events (id, agent_id, model, input_tokens, output_tokens, cost_usd, tool_calls, at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, model = excluded.model,
                 input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
                 cost_usd = excluded.cost_usd, tool_calls = excluded.tool_calls, at = excluded.at`,
        values: [r.id, r.agentId, r.model, r.inputTokens, r.outputTokens, r.costUsd, r.toolCalls, r.timestamp]
      }
    case "device":
      return {
        text: `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (device_id) DO UPDATE SET display_name = excluded.display_name, platform = excluded.platform,
                 paired_at = excluded.paired_at, last_seen = excluded.last_seen, push_token = excluded.push_token`,
        values: [r.deviceId, r.displayName, r.platform, r.pairedAt, r.lastSeen, r.pushToken === undefined ? null : Redacted.value(r.pushToken)]
      }
    case "task":
      return {
        text: `INSERT INTO tasks (${TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
               ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
                 status = excluded.status, priority = excluded.priority, assigned_to = excluded.assigned_to,
                 created_by = excluded.created_by, claimed_by = excluded.claimed_by, attempt = excluded.attempt,
                 lease_expires_at = excluded.lease_expires_at, result = excluded.result, error = excluded.error,
                 created_at = excluded.created_at, updated_at = excluded.updated_at, completed_at = excluded.completed_at`,
        values: [
          r.id, r.title, r.description, r.status, r.priority, r.assignedTo, r.createdBy, r.claimedBy, r.attempt,
          r.leaseExpiresAt, r.result, r.error, r.createdAt, r.updatedAt, r.completedAt
        ]
      }
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
    const head = headOf(yield* lastEntry(q))
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
  const op = "MainStoreAdmin.export"
  const streams: ReadonlyArray<Stream.Stream<MainRecord, StoreFailure>> = [
    pagedTable(client, agentsTable, (a): MainRecord => ({ kind: "agent", ...a })),
    pagedTable(client, kvTable, (e): MainRecord => ({ kind: "kv", ...e })),
    paged(client, op, `SELECT ${ENTITY_COLUMNS} FROM entities`, ["agent_id", "id"], (r: EntityRow): MainRecord => ({ kind: "entity", ...toEntity(r) })),
    paged(client, op, `SELECT ${RELATION_COLUMNS} FROM relations`, ["id"], (r: RelationRow): MainRecord => ({ kind: "relation", ...toRelation(r) })),
    paged(client, op, `SELECT ${SESSION_COLUMNS} FROM sessions`, ["id"], (r: SessionRow): MainRecord => ({ kind: "session", ...toSession(r) })),
    paged(client, op, "SELECT agent_id, messages, summary, updated_at FROM canonical_sessions", ["agent_id"], (r: CanonicalRow): MainRecord => ({
      kind: "canonical",
      ...toCanonical(r)
    })),
    paged(
      client,
      op,
      "SELECT id, agent_id, model, input_tokens, output_tokens, cost_usd, tool_calls, at FROM usage_events",
      ["id"],
      (r: UsageRow): MainRecord => ({
        kind: "usage",
        id: r.id as UsageEventId,
        agentId: r.agent_id as AgentId,
        model: r.model,
        inputTokens: r.input_tokens,
        outputTokens: r.output_tokens,
        costUsd: r.cost_usd,
        toolCalls: r.tool_calls,
        timestamp: r.at
      })
    ),
    paged(client, op, `SELECT ${DEVICE_COLUMNS} FROM devices`, ["device_id"], (r: DeviceRow): MainRecord => ({ kind: "device", ...toDevice(r) })),
    paged(client, op, `SELECT ${TASK_COLUMNS} FROM tasks`, ["id"], (r: TaskRow): MainRecord => ({ kind: "task", ...toTask(r) })),
    paged(client, op, `SELECT ${AUDIT_COLUMNS} FROM audit_log`, ["seq"], (r: AuditRow): MainRecord => ({ kind: "audit", ...toEntry(r) }))
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
          for (const e of appends) {
            yield* q.execute({
              text: `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
              values: [e.seq, e.timestamp, e.agentId, e.action, e.detail, e.outcome, e.prevHash, e.hash]
            })
          }
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
  import: (memories) =>
    client.transaction("import", (q) =>
      Effect.forEach(
        chunks(memories),
        (chunk) =>
          q.execute({
            text: `${insertFrom("u")} FROM ${INPUT_ROWS} AS u(${INPUT_NAMES}) ${REPLACE_ON_CONFLICT}`,
            values: inputValues(chunk)
          }),
        { discard: true }
      )),
  purgeAgent: (agent) => client.execute("purgeAgent", { text: "DELETE FROM memories WHERE agent_id = $1", values: [agent] }),
  agents: () => client.rows("agents", "SELECT DISTINCT agent_id FROM memories", (r) => decodeAgentRow(r).agent_id)
})

const decodeAgentRow = Schema.decodeUnknownSync(Schema.Struct({ agent_id: AgentId }))
