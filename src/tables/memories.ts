/**
 * The `memories` table: the columns of a memory that both SQL backends store alike, metadata as its
 * canonical JSON text (so equal metadata is equal text, which SQLite's metadata filter relies on).
 * Where the vector lives differs per dialect — a sqlite-vec `vec0` table beside this one, a pgvector
 * column of it — as do each dialect's text-index columns, so the `embedding` of a memory is added by
 * the dialect that reads it.
 */
import { Schema } from "effect"
import { AgentId, isUuid, MemoryId } from "../domain/ids.js"
import { canonicalJson, type JsonObject } from "../domain/json.js"
import { isMemorySource, type Memory, MemorySource } from "../domain/memory.js"
import { isName } from "../domain/text.js"
import { table } from "./table.js"

/** A memory without its vector: what the shared columns hold. */
export type MemoryFields = Omit<Memory, "embedding">

export const MemoryRow = Schema.Struct({
  id: MemoryId,
  agent_id: AgentId,
  content: Schema.String,
  source: MemorySource,
  scope: Schema.String,
  metadata: Schema.String,
  confidence: Schema.Number,
  created_at: Schema.Number,
  accessed_at: Schema.Number,
  access_count: Schema.Number
})

/**
 * True when `r` passes exactly the checks of `MemoryRow`'s fields (the predicates their Schemas
 * apply), so it can be taken as decoded: the Schema decode was most of the cost of reading a recall's
 * rows. A row that fails any of them is decoded by the Schema, which then says what is wrong.
 */
export const isMemoryRow = (r: unknown): r is typeof MemoryRow.Type => {
  if (typeof r !== "object" || r === null) return false
  const row = r as Record<string, unknown>
  return typeof row.id === "string" && isUuid(row.id) &&
    typeof row.agent_id === "string" && isName(row.agent_id) &&
    typeof row.content === "string" && isMemorySource(row.source) && typeof row.scope === "string" &&
    typeof row.metadata === "string" && typeof row.confidence === "number" &&
    typeof row.created_at === "number" && typeof row.accessed_at === "number" &&
    typeof row.access_count === "number"
}

/** The memory fields of a decoded row. */
export const memoryFields = (r: typeof MemoryRow.Type): MemoryFields => ({
  id: r.id,
  agentId: r.agent_id,
  content: r.content,
  source: r.source,
  scope: r.scope,
  metadata: JSON.parse(r.metadata) as JsonObject,
  confidence: r.confidence,
  createdAt: r.created_at,
  accessedAt: r.accessed_at,
  accessCount: r.access_count
})

export const memoriesTable = table({
  name: "memories",
  row: MemoryRow,
  key: ["id"],
  fromRow: memoryFields,
  toRow: (m: MemoryFields) => ({
    id: m.id,
    agent_id: m.agentId,
    content: m.content,
    source: m.source,
    scope: m.scope,
    metadata: canonicalJson(m.metadata),
    confidence: m.confidence,
    created_at: m.createdAt,
    accessed_at: m.accessedAt,
    access_count: m.accessCount
  })
})

/** The memory of a decoded row and its vector (null when it has none). */
export const withEmbedding = (fields: MemoryFields, embedding: ReadonlyArray<number> | null): Memory => ({
  // Every field written out: a spread of the fields cost ~2 µs per row (every recalled row passes here).
  id: fields.id,
  agentId: fields.agentId,
  content: fields.content,
  source: fields.source,
  scope: fields.scope,
  metadata: fields.metadata,
  confidence: fields.confidence,
  createdAt: fields.createdAt,
  accessedAt: fields.accessedAt,
  accessCount: fields.accessCount,
  embedding
})
