/**
 * MainStoreAdmin and SemanticStoreAdmin on PostgreSQL: export as keyset-paged streams (memory stays
 * flat however large a table is), verbatim import in one transaction — audit records are checked
 * against the head by the core's rule under the audit lock before anything is written — and purge
 * of one agent's data in one transaction.
 */
import { Chunk, Effect, Option, Stream } from "effect"
import { headOf } from "../../core/audit.js"
import { adminInputs } from "../../core/inputs.js"
import { auditAppends, checkMemoryRecords, EXPORT_PAGE, MAIN_KIND_ORDER } from "../../core/transfer.js"
import type { EmbeddingSpace } from "../../domain/embedding.js"
import { AuditIntegrityError, type StoreFailure } from "../../domain/errors.js"
import type { AgentId } from "../../domain/ids.js"
import type { MainRecord, MemoryRecord } from "../../domain/transfer.js"
import { MainStoreAdmin, SemanticStoreAdmin } from "../../services/Admin.js"
import { auditLock } from "./audit.js"
import { decodeRows, type PgClient, type Queryable, type Statement } from "./client.js"
import { columns, type MemoryRow, textIndex, toMemory, vectorText } from "./semantic.js"
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

/** Largest number of memories one import statement carries. */
const IMPORT_CHUNK = 1000

/** The semantic-store admin over `client`; imported vectors must fit `space`. */
export const makeSemantic = (client: PgClient, space: EmbeddingSpace) =>
  SemanticStoreAdmin.of({
    export: () =>
      paged(client, "SemanticStoreAdmin.export", `SELECT ${columns()} FROM memories`, ["id"], (r: MemoryRow): MemoryRecord => ({
        kind: "memory",
        ...toMemory(r)
      })),
    import: (records) =>
      Effect.zipRight(
        checkMemoryRecords(records, space),
        client.transaction("SemanticStoreAdmin.import", (q) =>
          Effect.forEach(
            Array.from({ length: Math.ceil(records.length / IMPORT_CHUNK) }, (_, i) => records.slice(i * IMPORT_CHUNK, (i + 1) * IMPORT_CHUNK)),
            (chunk) => {
              const text = chunk.map((r) => textIndex(r.content))
              return q.execute({
                text: `INSERT INTO memories (id, agent_id, content, source, scope, metadata, confidence, created_at,
                                             accessed_at, access_count, embedding, tsv, tf, len_norm)
                       SELECT id, agent_id, content, source, scope, metadata, confidence, created_at, accessed_at,
                              access_count, embedding::vector,
                              CASE WHEN lexemes IS NULL THEN NULL ELSE array_to_tsvector(string_to_array(lexemes, ' ')) END,
                              tf::jsonb, len_norm
                       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[],
                                   $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::float8[])
                         AS u(id, agent_id, content, source, scope, metadata, confidence, created_at, accessed_at,
                              access_count, embedding, lexemes, tf, len_norm)
                       ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, content = excluded.content,
                         source = excluded.source, scope = excluded.scope, metadata = excluded.metadata,
                         confidence = excluded.confidence, created_at = excluded.created_at,
                         accessed_at = excluded.accessed_at, access_count = excluded.access_count,
                         embedding = excluded.embedding, tsv = excluded.tsv, tf = excluded.tf, len_norm = excluded.len_norm`,
                values: [
                  chunk.map((r) => r.id),
                  chunk.map((r) => r.agentId),
                  chunk.map((r) => r.content),
                  chunk.map((r) => r.source),
                  chunk.map((r) => r.scope),
                  chunk.map((r) => JSON.stringify(r.metadata)),
                  chunk.map((r) => r.confidence),
                  chunk.map((r) => r.createdAt),
                  chunk.map((r) => r.accessedAt),
                  chunk.map((r) => r.accessCount),
                  chunk.map((r) => (r.embedding === null ? null : vectorText(r.embedding))),
                  text.map((t) => t.lexemes),
                  text.map((t) => t.tf),
                  text.map((t) => t.lenNorm)
                ]
              })
            },
            { discard: true }
          ))
      ),
    purgeAgent: (a) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        return yield* client.execute("SemanticStoreAdmin.purgeAgent", {
          text: "DELETE FROM memories WHERE agent_id = $1",
          values: [agent]
        })
      }),
    agents: () =>
      Effect.map(
        client.query<{ agent_id: string }>("SemanticStoreAdmin.agents", "SELECT DISTINCT agent_id FROM memories ORDER BY agent_id"),
        (rows) => rows.map((r) => r.agent_id as AgentId)
      )
  })
