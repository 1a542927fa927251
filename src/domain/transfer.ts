/**
 * The portable record format of `engram export` / `import` / `copy`: one JSON object per line,
 * tagged by `kind`, carrying every stored field verbatim (ids, versions, timestamps, hashes), so a
 * copy is the same store on another backend — including an audit chain that still verifies.
 */
import { Schema } from "effect"
import { AuditEntry } from "./audit.js"
import { Device } from "./device.js"
import { EmbeddingSpace } from "./embedding.js"
import { AgentId } from "./ids.js"
import { Json } from "./json.js"
import { Entity, Relation } from "./knowledge.js"
import { Memory } from "./memory.js"
import { CanonicalSession, Session } from "./session.js"
import { AgentRecord } from "./structured.js"
import { Task } from "./task.js"
import { EpochMillis } from "./time.js"
import { UsageEvent } from "./usage.js"

/** Version of the record format; a reader refuses a newer one. */
export const TRANSFER_FORMAT_VERSION = 1

const tagged = <K extends string, F extends Schema.Struct.Fields>(kind: K, fields: F) =>
  Schema.Struct({ kind: Schema.Literal(kind), ...fields })

export const KvRecord = tagged("kv", {
  agentId: AgentId,
  key: Schema.String,
  value: Json,
  version: Schema.Number,
  updatedAt: EpochMillis
})
export const AgentTransferRecord = tagged("agent", AgentRecord.fields)
export const MemoryRecord = tagged("memory", Memory.fields)
export const EntityRecord = tagged("entity", Entity.fields)
export const RelationRecord = tagged("relation", Relation.fields)
export const SessionRecord = tagged("session", Session.fields)
export const CanonicalRecord = tagged("canonical", CanonicalSession.fields)
export const UsageRecord = tagged("usage", UsageEvent.fields)
export const DeviceRecord = tagged("device", Device.fields)
export const TaskRecord = tagged("task", Task.fields)
export const AuditRecord = tagged("audit", AuditEntry.fields)

/** Records of the main store (everything except memories). */
export const MainRecord = Schema.Union(
  KvRecord,
  AgentTransferRecord,
  EntityRecord,
  RelationRecord,
  SessionRecord,
  CanonicalRecord,
  UsageRecord,
  DeviceRecord,
  TaskRecord,
  AuditRecord
)
export type MainRecord = typeof MainRecord.Type

/** Records of the semantic store. */
export type MemoryRecord = typeof MemoryRecord.Type

/** Any record of an export stream. */
export const TransferRecord = Schema.Union(MainRecord, MemoryRecord)
export type TransferRecord = typeof TransferRecord.Type

/** The first line of an export: the format version and the semantic store's embedding space. */
export const TransferHeader = Schema.Struct({
  kind: Schema.Literal("engram-export"),
  formatVersion: Schema.Number,
  embedding: EmbeddingSpace,
  createdAt: EpochMillis
})
export type TransferHeader = typeof TransferHeader.Type

/** How many records of each kind an import wrote. */
export type ImportCounts = Readonly<Record<TransferRecord["kind"], number>>
