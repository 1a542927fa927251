/**
 * One codec per table, shared by the SQLite and PostgreSQL backends (their tables have the same
 * columns): the row Schema, its column list, the conversion between a row and the domain value,
 * and the SQL that reads and writes rows — the verbatim upsert used by import as well as by the
 * services. A row read from the database is decoded with its Schema, never cast; a row that does not
 * decode is a driver failure (the backend's `attempt` turns the thrown error into a `StorageError`).
 */
import { Schema } from "effect"

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
 * A column holding a branded string (an id) that was checked against its rules when it was written:
 * reading it back decodes its type and brand but does not run those rules again (they cost several
 * times the rest of a row's decode, on every row of every read).
 */
export const storedBrand = <const B extends string>(brand: B) => Schema.String.pipe(Schema.brand(brand))

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
