/**
 * A memory on SQLite is a row of `memories` (the shared codec, tables/memories.ts, plus `rid` and
 * `has_embedding`); its vector (when it has one) is the row of the sqlite-vec table `memories_vec`
 * with the same rowid, partitioned by agent with the filter fields as metadata columns; its words are
 * the FTS5 row with the same rowid. This file writes, reads and removes a memory across the three.
 * Every function is synchronous, runs inside the caller's transaction, and may throw.
 */
import type Database from "better-sqlite3"
import { Schema } from "effect"
import { tokenize } from "../../core/textSearch.js"
import type { Memory } from "../../domain/memory.js"
import type { MemoryFields } from "../../tables/memories.js"
import { memoriesTable, memoryFields, MemoryRow, withEmbedding } from "../../tables/memories.js"
import type { SqliteConnection } from "./client.js"

/** The columns of a memory row as recall, get and export select them (`m` is `memories`). */
export const MEMORY_COLUMNS = ["rid", "has_embedding", ...memoriesTable.columns].map((c) => `m.${c}`).join(", ")

/** The SQLite-only columns of a memory row. */
const StorageColumns = Schema.Struct({ rid: Schema.Number, has_embedding: Schema.Literal(0, 1) })
const decodeStorage = Schema.decodeUnknownSync(StorageColumns)

/** Where a memory's other rows are: its rowid, and whether it has a vector. */
export interface Located {
  readonly rid: number
  readonly hasEmbedding: boolean
}

/** The location of a row that holds `rid` and `has_embedding` (throws when it does not decode). */
export const located = (row: unknown): Located => {
  const r = decodeStorage(row)
  return { rid: r.rid, hasEmbedding: r.has_embedding === 1 }
}

/** A vector as sqlite-vec stores it: little-endian float32. */
export const toBlob = (v: ReadonlyArray<number>): Buffer => {
  const f = Float32Array.from(v)
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength)
}

/** The float32 values of a stored vector. */
export const fromBlob = (b: Uint8Array): Array<number> => {
  const n = b.byteLength >>> 2
  if (b.byteOffset % 4 === 0) return Array.from(new Float32Array(b.buffer, b.byteOffset, n))
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true)
  return out
}

/** A stored vector as the driver returns it: sqlite-vec keeps vectors as blobs. */
const blob = (value: unknown): Uint8Array => {
  if (value instanceof Uint8Array) return value
  throw new Error("a stored vector is not a blob")
}

// One decode per row (recall reads rows on its hot path): the shared columns with SQLite's own.
const decodeStored = Schema.decodeUnknownSync(Schema.Struct({ ...MemoryRow.fields, ...StorageColumns.fields }))
const decodeWithBlob = Schema.decodeUnknownSync(
  Schema.Struct({ ...MemoryRow.fields, embedding: Schema.Uint8ArrayFromSelf })
)

/** The names of the statements every memory operation shares. */
type StatementName =
  | "insertMemory" |
  "ownerOf" |
  "locate" |
  "insertVector" |
  "updateVector" |
  "markEmbedded" |
  "vectorOf"
  | "insertTokens" |
  "deleteVector" |
  "deleteTokens" |
  "deleteMemory" |
  "setConfidence" |
  "setVectorConfidence" |
  "byId"

/** The statements every memory operation shares; prepared once per port. */
export const statements = (conn: SqliteConnection): Record<StatementName, Database.Statement> => ({
  insertMemory: conn.db.prepare(
    `INSERT INTO memories (${memoriesTable.columnList}, has_embedding)
     VALUES (${memoriesTable.columns.map(() => "?").join(", ")}, ?) ON CONFLICT (id) DO NOTHING`
  ),
  ownerOf: conn.db.prepare(`SELECT agent_id FROM memories WHERE id = ?`).pluck(),
  locate: conn.db.prepare(`SELECT rid, has_embedding FROM memories WHERE id = ?`),
  insertVector: conn.db.prepare(
    `INSERT INTO memories_vec (rowid, agent_id, embedding, scope, source, confidence, created_at)
     VALUES (?, ?, ?, ?, ?, ?, CAST(? AS INTEGER))`
  ),
  updateVector: conn.db.prepare(`UPDATE memories_vec SET embedding = ? WHERE rowid = ?`),
  markEmbedded: conn.db.prepare(`UPDATE memories SET has_embedding = 1 WHERE rid = ?`),
  vectorOf: conn.db.prepare(`SELECT embedding FROM memories_vec WHERE rowid = ?`).pluck(),
  insertTokens: conn.db.prepare(`INSERT INTO memories_fts (rowid, tokens) VALUES (?, ?)`),
  deleteVector: conn.db.prepare(`DELETE FROM memories_vec WHERE rowid = ?`),
  deleteTokens: conn.db.prepare(`DELETE FROM memories_fts WHERE rowid = ?`),
  deleteMemory: conn.db.prepare(`DELETE FROM memories WHERE rid = ?`),
  setConfidence: conn.db.prepare(`UPDATE memories SET confidence = ? WHERE rid = ?`),
  setVectorConfidence: conn.db.prepare(`UPDATE memories_vec SET confidence = ? WHERE rowid = ?`),
  byId: conn.db.prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id = ? AND m.agent_id = ?`)
})

export type Statements = Record<StatementName, Database.Statement>

/** A row selected with `MEMORY_COLUMNS`: the memory without its vector, and where its other rows are. */
export const storedRow = (row: unknown): { readonly fields: MemoryFields; readonly at: Located } => {
  const r = decodeStored(row)
  return { fields: memoryFields(r), at: { rid: r.rid, hasEmbedding: r.has_embedding === 1 } }
}

/** The memory of a row selected with `MEMORY_COLUMNS`, its vector read from `memories_vec`. */
export const readMemory = (s: Statements, row: unknown): Memory => {
  const { at, fields } = storedRow(row)
  return withEmbedding(fields, at.hasEmbedding ? fromBlob(blob(s.vectorOf.get(BigInt(at.rid)))) : null)
}

/** The memory of a row selected with `MEMORY_COLUMNS` and its vector blob as `embedding`. */
export const memoryWithBlob = (row: unknown): Memory => {
  const r = decodeWithBlob(row)
  return withEmbedding(memoryFields(r), fromBlob(r.embedding))
}

/** Remove a memory's rows from all three tables. */
export const deleteMemory = (s: Statements, at: Located): void => {
  if (at.hasEmbedding) s.deleteVector.run(BigInt(at.rid))
  s.deleteTokens.run(at.rid)
  s.deleteMemory.run(at.rid)
}

/** Store a memory in all three tables; false when its id already exists, in which case nothing is written. */
export const storeMemory = (s: Statements, m: Memory): boolean => {
  const info = s.insertMemory.run(...memoriesTable.values(m), m.embedding === null ? 0 : 1)
  if (info.changes === 0) return false
  const rid = BigInt(info.lastInsertRowid)
  if (m.embedding !== null) {
    s.insertVector.run(rid, m.agentId, toBlob(m.embedding), m.scope, m.source, m.confidence, m.createdAt)
  }
  s.insertTokens.run(rid, tokenize(m.content).join(" "))
  return true
}

/** Give a located memory this vector (a new `memories_vec` row when it had none). */
export const setVector = (s: Statements, at: Located, row: MemoryFields, embedding: ReadonlyArray<number>): void => {
  const rid = BigInt(at.rid)
  if (at.hasEmbedding) {
    s.updateVector.run(toBlob(embedding), rid)
  } else {
    s.insertVector.run(rid, row.agentId, toBlob(embedding), row.scope, row.source, row.confidence, row.createdAt)
    s.markEmbedded.run(at.rid)
  }
}

/** Set a located memory's confidence, in `memories` and in the copy the KNN filters on. */
export const setConfidence = (s: Statements, at: Located, confidence: number): void => {
  s.setConfidence.run(confidence, at.rid)
  if (at.hasEmbedding) s.setVectorConfidence.run(confidence, BigInt(at.rid))
}
