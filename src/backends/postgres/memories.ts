/**
 * A memory on PostgreSQL is one row of `memories`: the shared columns (tables/memories.ts), the
 * pgvector column `embedding`, and the text-index columns (textIndex.ts). This file reads rows into
 * memories and writes memories as rows, many per statement (`unnest` of one array per column).
 */
import { Schema } from "effect"
import type { Memory } from "../../domain/memory.js"
import { isMemoryRow, memoriesTable, memoryFields, MemoryRow, withEmbedding } from "../../tables/memories.js"
import { textIndex, tsvectorOf } from "./textIndex.js"
import { decodeVector, vectorText } from "./vectorCodec.js"

/** The columns of a memory row as selected: the vector in pgvector's binary form. */
export const MEMORY_COLUMNS = `${memoriesTable.columnList}, vector_send(embedding) AS embedding`

// One decode per row (recall reads rows on its hot path): the shared columns and the vector, plus
// the distance or the text score a ranking query adds.
const StoredRow = { ...MemoryRow.fields, embedding: Schema.NullOr(Schema.Uint8ArrayFromSelf) }
const Stored = Schema.Struct(StoredRow)

/** True when `r` passes exactly the checks of `Stored`'s fields: `isMemoryRow`, and its vector's. */
const isStored = (r: unknown): r is typeof Stored.Type => {
  if (!isMemoryRow(r)) return false
  const embedding: unknown = (r as Record<string, unknown>)["embedding"]
  return embedding === null || embedding instanceof Uint8Array
}

/** `decode`, except that a row passing `isStored` and `extraOk` (the extra columns' checks) is taken as it is. */
const rowDecoder =
  <A>(decode: (row: unknown) => A, extraOk: (row: Record<string, unknown>) => boolean) =>
  // A row that passed the same checks as `decode`'s Schema is what `decode` would return (its fields).
  (row: unknown): A => isStored(row) && extraOk(row as Record<string, unknown>) ? row as unknown as A : decode(row)

const decodeStored = rowDecoder(Schema.decodeUnknownSync(Stored), () => true)
const decodeDistanced = rowDecoder(
  Schema.decodeUnknownSync(Schema.Struct({ ...StoredRow, d: Schema.Number })),
  (r) => typeof r.d === "number"
)
const decodeSettled = rowDecoder(
  Schema.decodeUnknownSync(Schema.Struct({ ...StoredRow, d: Schema.Number, settled: Schema.Boolean })),
  (r) => typeof r.d === "number" && typeof r.settled === "boolean"
)
const decodeScored = rowDecoder(
  Schema.decodeUnknownSync(Schema.Struct({ ...StoredRow, score: Schema.Number })),
  (r) => typeof r.score === "number"
)
const memoryOfRow = (r: typeof Stored.Type): Memory =>
  withEmbedding(memoryFields(r), r.embedding === null ? null : decodeVector(r.embedding))

/** The memory of a row selected with `MEMORY_COLUMNS` (throws when it does not decode). */
export const memoryOf = (row: unknown): Memory => memoryOfRow(decodeStored(row))

/** The memory of a row selected with `MEMORY_COLUMNS` and its pgvector distance `d`. */
export const distancedMemory = (row: unknown): { readonly memory: Memory; readonly d: number } => {
  const r = decodeDistanced(row)
  return { memory: memoryOfRow(r), d: r.d }
}

/** The memory of a row selected with `MEMORY_COLUMNS`, its distance `d` and a recall's verdict `settled`. */
export const settledMemory = (
  row: unknown
): { readonly memory: Memory; readonly d: number; readonly settled: boolean } => {
  const r = decodeSettled(row)
  return { memory: memoryOfRow(r), d: r.d, settled: r.settled }
}

/** The memory of a row selected with `MEMORY_COLUMNS` and its text `score`. */
export const scoredMemory = (row: unknown): { readonly memory: Memory; readonly score: number } => {
  const r = decodeScored(row)
  return { memory: memoryOfRow(r), score: r.score }
}

/** The array type of each shared column, for `unnest`. */
const ARRAY_TYPES: { readonly [K in keyof typeof MemoryRow.Type]: string } = {
  id: "text[]",
  agent_id: "text[]",
  content: "text[]",
  source: "text[]",
  scope: "text[]",
  metadata: "text[]",
  confidence: "float8[]",
  created_at: "bigint[]",
  accessed_at: "bigint[]",
  access_count: "bigint[]"
}

/** The columns `unnest` yields: the shared ones, then the vector's text form and the text index. */
const INPUT_COLUMNS = [...memoriesTable.columns, "embedding", "lexemes", "tf", "len_norm"]
const INPUT_TYPES = [...memoriesTable.columns.map((c) => ARRAY_TYPES[c]), "text[]", "text[]", "text[]", "float8[]"]

/** `unnest(…)`: the rows of a batch, from the parameters of `inputValues`. */
export const INPUT_ROWS = `unnest(${INPUT_TYPES.map((t, i) => `$${i + 1}::${t}`).join(", ")})`

/** The names of the columns of `INPUT_ROWS`, for an alias such as `AS i(…)`. */
export const INPUT_NAMES = INPUT_COLUMNS.join(", ")

/** The columns an insert writes. */
const STORED_COLUMNS = [...memoriesTable.columns, "embedding", "tsv", "tf", "len_norm"]

/** `INSERT INTO memories (…) SELECT … ` from input rows aliased `alias` (add the FROM clause). */
export const insertFrom = (alias: string): string => `INSERT INTO memories (${STORED_COLUMNS.join(", ")})
   SELECT ${memoriesTable.columns.map((c) => `${alias}.${c}`).join(", ")}, ${alias}.embedding::vector,
          ${tsvectorOf(`${alias}.lexemes`)}, ${alias}.tf::jsonb, ${alias}.len_norm`

/** `ON CONFLICT (id) DO UPDATE SET …`: the stored row becomes exactly the inserted one. */
export const REPLACE_ON_CONFLICT = `ON CONFLICT (id) DO UPDATE SET ${
  STORED_COLUMNS.filter((c) => c !== "id").map((c) => `${c} = excluded.${c}`).join(", ")
}`

/** The parameters of `INPUT_ROWS` for a batch: one array per column. */
export const inputValues = (batch: ReadonlyArray<Memory>): ReadonlyArray<unknown> => {
  const rows = batch.map((m) => memoriesTable.values(m))
  const text = batch.map((m) => textIndex(m.content))
  return [
    ...memoriesTable.columns.map((_, c) => rows.map((r) => r[c])),
    batch.map((m) => (m.embedding === null ? null : vectorText(m.embedding))),
    text.map((t) => t.lexemes),
    text.map((t) => t.tf),
    text.map((t) => t.lenNorm)
  ]
}

/** Largest number of memories one statement carries. */
export const INSERT_CHUNK = 1000

/** `items` in chunks of at most `INSERT_CHUNK`. */
export const chunks = <A>(items: ReadonlyArray<A>): ReadonlyArray<ReadonlyArray<A>> =>
  Array.from(
    { length: Math.ceil(items.length / INSERT_CHUNK) },
    (_, i) => items.slice(i * INSERT_CHUNK, (i + 1) * INSERT_CHUNK)
  )
