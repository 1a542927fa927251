/**
 * One codec per table, shared by the SQLite and PostgreSQL backends (their tables have the same
 * columns): the row Schema, its column list, the conversion between a row and the domain value,
 * and the SQL that reads and writes rows — the verbatim upsert used by import as well as by the
 * services. A row read from the database is decoded with its Schema, never cast; a row that does not
 * decode is a driver failure (the backend's `attempt` turns the thrown error into a `StorageError`).
 */
import { Schema, SchemaAST } from "effect"

/** The SQL dialects engram writes. */
export type Dialect = "sqlite" | "postgres"

/** The n-th (1-based) statement parameter. */
export const param = (dialect: Dialect, n: number): string => (dialect === "sqlite" ? "?" : `$${n}`)

/** `count` parameters from `from` on, comma-separated. */
export const params = (dialect: Dialect, count: number, from = 1): string =>
  Array.from({ length: count }, (_, i) => param(dialect, from + i)).join(", ")

/** A table: its name, columns (in row order), primary key, and the row ⇄ domain conversions. */
export interface Table<Row, A> {
  readonly name: string
  readonly columns: ReadonlyArray<keyof Row & string>
  readonly key: ReadonlyArray<keyof Row & string>
  /** `a, b, c`: the column list of every select and insert. */
  readonly columnList: string
  /** Decode a row as the driver returned it (throws when it does not match the row Schema). */
  readonly decode: (row: unknown) => A
  /** The statement values of `a`, in column order. */
  readonly values: (a: A) => ReadonlyArray<unknown>
}

/**
 * Define a table from its row Schema (a struct whose fields are the columns, in order), its primary
 * key, and the two conversions.
 */
export const table = <Row extends object, I, A>(options: {
  readonly name: string
  readonly row: Schema.Schema<Row, I, never> & { readonly fields: { readonly [K in keyof Row]: unknown } }
  readonly key: ReadonlyArray<keyof Row & string>
  readonly fromRow: (row: Row) => A
  readonly toRow: (a: A) => Row
}): Table<Row, A> => {
  const columns = Object.keys(options.row.fields) as Array<keyof Row & string>
  const decodeRow = Schema.decodeUnknownSync(options.row)
  return {
    name: options.name,
    columns,
    key: options.key,
    columnList: columns.join(", "),
    decode: (row) => options.fromRow(decodeRow(row)),
    values: (a) => {
      const row = options.toRow(a)
      return columns.map((c) => row[c])
    }
  }
}

/** `SELECT <columns> FROM <table>` (add the WHERE clause and order yourself). */
export const selectFrom = <Row, A>(t: Table<Row, A>): string => `SELECT ${t.columnList} FROM ${t.name}`

/** `INSERT INTO <table> (<columns>) VALUES (…)`. */
export const insertInto = <Row, A>(t: Table<Row, A>, dialect: Dialect): string =>
  `INSERT INTO ${t.name} (${t.columnList}) VALUES (${params(dialect, t.columns.length)})`

/**
 * An upsert on the primary key that sets `update` (default: every column but the key) from the
 * inserted row. With the default it is the verbatim upsert of import: the stored row becomes
 * exactly the given one.
 */
export const upsertInto = <Row, A>(
  t: Table<Row, A>,
  dialect: Dialect,
  update: ReadonlyArray<keyof Row & string> = t.columns.filter((c) => !t.key.includes(c))
): string =>
  `${insertInto(t, dialect)} ON CONFLICT (${t.key.join(", ")}) DO UPDATE SET ` +
  update.map((c) => `${c} = excluded.${c}`).join(", ")

/**
 * One page of `t` in primary-key order, `LIMIT` as the last parameter: the first page (`after`
 * false) or the page after a key (`after` true: the key's values are the first parameters), so a
 * table of any size is read with flat memory.
 */
export const selectPage = <Row, A>(t: Table<Row, A>, dialect: Dialect, after: boolean): string => {
  const order = t.key.join(", ")
  const where = after ? ` WHERE (${order}) > (${params(dialect, t.key.length)})` : ""
  return `${selectFrom(t)}${where} ORDER BY ${order} LIMIT ${param(dialect, after ? t.key.length + 1 : 1)}`
}

/** `createdAt` → `created_at`: the column of a domain field. */
export type Snake<S extends string> = S extends `${infer H}${infer T}`
  ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${Snake<T>}`
  : S

/** `createdAt` → `created_at`: the column of a domain field. */
export const snake = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/**
 * How a field is stored when it is not stored as itself: the column's Schema and the two
 * conversions. A field whose `read` gives `undefined` is left out of the record (an optional field).
 */
export interface ColumnCodec<T> {
  readonly schema: Schema.Schema.AnyNoContext
  readonly read: (stored: unknown) => T | undefined
  readonly write: (value: T) => unknown
}

/** A column codec from the column's Schema and the two conversions. */
export const columnCodec = <S, I, T>(
  schema: Schema.Schema<S, I, never>,
  read: (stored: S) => T,
  write: (value: T) => S
): ColumnCodec<T> => ({
  schema,
  // The row was decoded with `schema` before `read` sees the column.
  read: read as (stored: unknown) => T,
  write
})

/** A field stored as its JSON text (written by this library from a decoded value). */
const jsonCodec: ColumnCodec<unknown> = columnCodec(
  Schema.String,
  (s) => JSON.parse(s) as unknown,
  (v) => JSON.stringify(v)
)

/**
 * The Schema a column is read with: the field's Schema without its refinements. What a column holds
 * was checked against the field's rules when it was written; reading it back checks its type (and
 * literals, nulls) but does not run those rules again — they cost several times the rest of a row's
 * decode, on every row of every read. Brands are refinements that check nothing, so the decoded
 * value is the branded one.
 */
const storedAst = (ast: SchemaAST.AST): SchemaAST.AST =>
  SchemaAST.isRefinement(ast)
    ? storedAst(ast.from)
    : SchemaAST.isUnion(ast)
    ? SchemaAST.Union.make(ast.types.map(storedAst))
    : ast

/** A column computed from the record on write (e.g. a folded name, a count) and not read back. */
export interface ComputedColumn<A> {
  /** The field whose column it follows. */
  readonly after: keyof A & string
  readonly schema: Schema.Schema.AnyNoContext
  readonly write: (a: A) => unknown
}

/** The row of a record table: one column per field (`snake`), plus the computed columns. */
export type RecordRow<F, X extends string> =
  & { readonly [K in keyof F & string as Snake<K>]: unknown }
  & { readonly [K in X]: unknown }

interface Column {
  readonly column: string
  readonly schema: Schema.Schema.AnyNoContext
  /** The domain field it is read into; undefined for a computed column. */
  readonly field: string | undefined
  readonly read: ((stored: unknown) => unknown) | undefined
  readonly write: (a: Record<string, unknown>) => unknown
}

/**
 * A table whose row is a domain record, declared once: each field of `fields` (the domain Struct's
 * fields, in column order) is the column of its `snake` name, read with its Schema without
 * refinements and stored as itself — or as its JSON text when it is listed in `json`, or by its
 * own `codecs` entry. `computed` columns are written from the record and not read back. Adding a
 * field to the record adds its column here: no edit in tables/.
 *
 * The field list is built once; a row is decoded by the row Schema and then mapped by a plain loop.
 */
export const recordTable = <
  F extends Schema.Struct.Fields,
  const X extends string = never
>(options: {
  readonly name: string
  readonly fields: F
  readonly key: ReadonlyArray<Snake<keyof F & string> | NoInfer<X>>
  readonly json?: ReadonlyArray<keyof F & string>
  readonly codecs?: { readonly [K in keyof Schema.Struct.Type<F>]?: ColumnCodec<Schema.Struct.Type<F>[K]> }
  readonly computed?: { readonly [C in X]: ComputedColumn<Schema.Struct.Type<F>> }
}): Table<RecordRow<F, X>, Schema.Struct.Type<F>> => {
  type A = Schema.Struct.Type<F>
  const codecs: Partial<Record<string, ColumnCodec<unknown>>> = { ...options.codecs }
  for (const field of options.json ?? []) codecs[field] = jsonCodec
  const computed: Partial<Record<string, ComputedColumn<A>>> = { ...options.computed }
  const all: Array<Column> = []
  for (const [field, declared] of Object.entries(options.fields)) {
    const codec = codecs[field]
    if (codec !== undefined) {
      all.push({
        column: snake(field),
        schema: codec.schema,
        field,
        read: codec.read,
        write: (a) => codec.write(a[field])
      })
    } else if (Schema.isSchema(declared)) {
      all.push({
        column: snake(field),
        schema: Schema.make(storedAst(declared.ast)),
        field,
        read: undefined,
        write: (a) => a[field]
      })
    } else {
      throw new Error(`table ${options.name}: field ${field} is a property signature; give it a codec`)
    }
    for (const [column, c] of Object.entries(computed)) {
      if (c !== undefined && c.after === field) {
        all.push({ column, schema: c.schema, field: undefined, read: undefined, write: (a) => c.write(a as A) })
      }
    }
  }
  const rowSchema = Schema.Struct(Object.fromEntries(all.map((c) => [c.column, c.schema])))
  const decodeRow = Schema.decodeUnknownSync(rowSchema) as (row: unknown) => Readonly<Record<string, unknown>>
  const readers = all.filter((c) => c.field !== undefined)
  const writers = all.map((c) => c.write)
  const columns = all.map((c) => c.column) as Array<keyof RecordRow<F, X> & string>
  return {
    name: options.name,
    columns,
    key: options.key as ReadonlyArray<keyof RecordRow<F, X> & string>,
    columnList: columns.join(", "),
    decode: (row) => {
      const r = decodeRow(row)
      const a: Record<string, unknown> = {}
      for (const c of readers) {
        const stored = r[c.column]
        if (c.read === undefined) a[c.field!] = stored
        else {
          const value = c.read(stored)
          if (value !== undefined) a[c.field!] = value
        }
      }
      // Every field was read from a column its Schema decoded.
      return a as A
    },
    values: (a) => {
      const record = a as Readonly<Record<string, unknown>>
      const values = new Array<unknown>(writers.length)
      for (let i = 0; i < writers.length; i++) values[i] = writers[i]!(record)
      return values
    }
  }
}
