/**
 * A memory on SQLite is a row of `memories` (the shared codec, tables/memories.ts, plus `rid`,
 * `has_embedding` and `embedding`, its vector as a float32 blob or NULL); its words are the FTS5 row
 * with the same rowid. This file writes, reads and removes a memory across the two. Every write to
 * `memories` is also recorded in `memory_changes` by triggers (migration 5), which is how the resident
 * vector cache (vectorCache.ts) of every process learns of it.
 * Every function is synchronous, runs inside the caller's transaction, and may throw.
 */
import type Database from "better-sqlite3"
import { Schema } from "effect"
import { tokenize } from "../../core/textSearch.js"
import type { Memory } from "../../domain/memory.js"
import type { MemoryFields } from "../../tables/memories.js"
import { isMemoryRow, memoriesTable, memoryFields, MemoryRow, withEmbedding } from "../../tables/memories.js"
import type { SqliteConnection } from "./client.js"

/** The names of a memory row's columns, in the order `MEMORY_COLUMNS` selects them. */
const MEMORY_COLUMN_NAMES: ReadonlyArray<string> = ["rid", "has_embedding", "embedding", ...memoriesTable.columns]

/** The columns of a memory row as recall, get and export select them (`m` is `memories`). */
export const MEMORY_COLUMNS = MEMORY_COLUMN_NAMES.map((c) => `m.${c}`).join(", ")

/**
 * The row (column name → value) of the values of a statement in raw mode selecting `MEMORY_COLUMNS`:
 * the driver makes an array per row faster than an object (measured ~2 µs a row less), and a row
 * made here goes through the same decoding as one it made.
 */
export const rowOfValues = (values: ReadonlyArray<unknown>): Record<string, unknown> => {
  const row: Record<string, unknown> = {}
  for (let c = 0; c < MEMORY_COLUMN_NAMES.length; c++) row[MEMORY_COLUMN_NAMES[c]!] = values[c]
  return row
}

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

/** A vector to store: float32 values, as an array or a Float32Array. */
export type Vector = ArrayLike<number>

/** A vector as stored: little-endian float32 (sqlite-vec's layout, which its SQL functions read). */
export const toBlob = (v: Vector): Buffer => {
  // A Float32Array is stored from its own bytes: no copy on the ingest path. An array is copied by
  // the constructor, which takes a fast path for arrays (`Float32Array.from` iterates: twice the cost).
  const f = v instanceof Float32Array ? v : new Float32Array(v)
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength)
}

/**
 * One float32 scratch for every row a write binds: SQLite copies a bound blob (better-sqlite3 binds
 * with SQLITE_TRANSIENT), so a vector given as an array is converted into the same memory each time
 * instead of into a fresh buffer per row (at 384 dimensions, 1.5 KB of garbage per memory stored).
 */
let scratch = new Float32Array(0)

/**
 * A vector as a blob parameter that lives only until the statement it is bound to runs: a view of a
 * Float32Array's own bytes, or of the shared scratch holding the array's values. Use `toBlob` for a
 * blob that must outlive the next call.
 */
const boundBlob = (v: Vector): Uint8Array => {
  if (v instanceof Float32Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  if (scratch.length < v.length) scratch = new Float32Array(Math.max(v.length, 2 * scratch.length))
  for (let i = 0; i < v.length; i++) scratch[i] = v[i]!
  return new Uint8Array(scratch.buffer, 0, v.length * 4)
}

/**
 * The float32 values of a stored vector. A loop into a preallocated array: `Array.from` of a typed
 * array goes through its iterator, ~9× slower (every memory a recall returns passes here).
 */
export const fromBlob = (b: Uint8Array): Array<number> => {
  const n = b.byteLength >>> 2
  const out = new Array<number>(n)
  if (b.byteOffset % 4 === 0) {
    const f = new Float32Array(b.buffer, b.byteOffset, n)
    for (let i = 0; i < n; i++) out[i] = f[i]!
    return out
  }
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true)
  return out
}

/** A row selected with `MEMORY_COLUMNS`: the shared columns with SQLite's own. */
export const StoredRow = Schema.Struct({
  ...MemoryRow.fields,
  ...StorageColumns.fields,
  embedding: Schema.NullOr(Schema.Uint8ArrayFromSelf)
})
const decodeStoredRow = Schema.decodeUnknownSync(StoredRow)

/**
 * The row, when it plainly passes every check of `StoredRow` (`isMemoryRow`, and SQLite's own
 * columns), else undefined — and then the Schema decodes it and says what is wrong. Decoding each row
 * with the Schema was ~4 % of a recall answered from memory (every hit is a row read here).
 */
const plainStored = (r: unknown): typeof StoredRow.Type | undefined => {
  if (!isMemoryRow(r)) return undefined
  const { embedding, has_embedding, rid } = r as Record<string, unknown>
  return typeof rid === "number" && (has_embedding === 0 || has_embedding === 1) &&
      (embedding === null || embedding instanceof Uint8Array)
    ? r as typeof StoredRow.Type
    : undefined
}

/** Decode a row selected with `MEMORY_COLUMNS` (throws, with the Schema's message, when it does not decode). */
export const decodeStored = (row: unknown): typeof StoredRow.Type => plainStored(row) ?? decodeStoredRow(row)

/** The names of the statements every memory operation shares. */
type StatementName =
  | "insertMemory"
  | "ownerOf"
  | "locate"
  | "updateVector"
  | "insertTokens"
  | "deleteTokens"
  | "deleteMemory"
  | "setConfidence"
  | "byId"

/** The statements every memory operation shares; prepared once per port. */
export const statements = (conn: SqliteConnection): Record<StatementName, Database.Statement> => ({
  insertMemory: conn.db.prepare(
    `INSERT INTO memories (${memoriesTable.columnList}, has_embedding, embedding)
     VALUES (${memoriesTable.columns.map(() => "?").join(", ")}, ?, ?) ON CONFLICT (id) DO NOTHING`
  ),
  ownerOf: conn.db.prepare(`SELECT agent_id FROM memories WHERE id = ?`).pluck(),
  locate: conn.db.prepare(`SELECT rid, has_embedding FROM memories WHERE id = ?`),
  updateVector: conn.db.prepare(`UPDATE memories SET embedding = ?, has_embedding = 1 WHERE rid = ?`),
  insertTokens: conn.db.prepare(`INSERT INTO memories_fts (rowid, tokens) VALUES (?, ?)`),
  deleteTokens: conn.db.prepare(`DELETE FROM memories_fts WHERE rowid = ?`),
  deleteMemory: conn.db.prepare(`DELETE FROM memories WHERE rid = ?`),
  setConfidence: conn.db.prepare(`UPDATE memories SET confidence = ? WHERE rid = ?`),
  byId: conn.db.prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id = ? AND m.agent_id = ?`)
})

export type Statements = Record<StatementName, Database.Statement>

/** A row selected with `MEMORY_COLUMNS`: the memory without its vector, and where its other rows are. */
export const storedRow = (row: unknown): { readonly fields: MemoryFields; readonly at: Located } => {
  const r = decodeStored(row)
  return { fields: memoryFields(r), at: { rid: r.rid, hasEmbedding: r.has_embedding === 1 } }
}

/** The memory of a row selected with `MEMORY_COLUMNS`. */
export const readMemory = (row: unknown): Memory => {
  const r = decodeStored(row)
  return withEmbedding(memoryFields(r), r.embedding === null ? null : fromBlob(r.embedding))
}

/** The memory of a row selected with `MEMORY_COLUMNS`, and its rowid. */
export const readMemoryAt = (row: unknown): { readonly memory: Memory; readonly rid: number } => {
  const r = decodeStored(row)
  return {
    memory: withEmbedding(memoryFields(r), r.embedding === null ? null : fromBlob(r.embedding)),
    rid: r.rid
  }
}

/** Remove a memory's rows from both tables. */
export const deleteMemory = (s: Statements, at: Located): void => {
  s.deleteTokens.run(at.rid)
  s.deleteMemory.run(at.rid)
}

/** Store a memory in both tables; false when its id already exists, in which case nothing is written. */
export const storeMemory = (s: Statements, m: Memory): boolean => {
  let taken = false
  storeMemories(s, [m], () => (taken = true))
  return !taken
}

/**
 * Store memories in both tables: every row of `memories` first, then every FTS5 row. A memory whose
 * id already exists is not written; `onTaken(i)` is called for it (and may throw, to abort the
 * caller's transaction). Why two passes: a write to `memories` fires the change-log triggers, so it
 * runs in a statement transaction, and FTS5 writes its pending terms to disk at every statement
 * savepoint once this transaction has given it any. Interleaved, each memory flushed its own FTS5
 * segment (measured: ~15 µs of SQLite's ~37 µs per row); this way the whole batch's terms go to disk
 * once, at commit.
 */
export const storeMemories = (s: Statements, ms: ReadonlyArray<Memory>, onTaken: (index: number) => void): void => {
  const rids = new Array<number | bigint | undefined>(ms.length)
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i]!
    const info = s.insertMemory.run(
      ...memoriesTable.values(m),
      m.embedding === null ? 0 : 1,
      m.embedding === null ? null : boundBlob(m.embedding)
    )
    if (info.changes === 0) onTaken(i)
    else rids[i] = info.lastInsertRowid
  }
  for (let i = 0; i < ms.length; i++) {
    const rid = rids[i]
    if (rid !== undefined) s.insertTokens.run(rid, tokenize(ms[i]!.content).join(" "))
  }
}

/** Give a located memory this vector (replacing the one it had, if any). */
export const setVector = (s: Statements, at: Located, embedding: Vector): void => {
  s.updateVector.run(boundBlob(embedding), at.rid)
}

/** Set a located memory's confidence. */
export const setConfidence = (s: Statements, at: Located, confidence: number): void => {
  s.setConfidence.run(confidence, at.rid)
}
