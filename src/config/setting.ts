/**
 * What a setting is. Each setting is declared once, in the table of settings.ts: its Schema, its
 * `ENGRAM_*` environment variable, its key in the modelled system's `[memory]` table (if any), its
 * default and a description. The config Schemas, the environment reader, the TOML reader, the
 * backends' options and the README's tables of variables are all derived from those declarations.
 */
import { Redacted, Schema } from "effect"
import { ConfigError } from "../domain/errors.js"

/** How an environment variable spells a value: as it is, a number, a secret, a comma-separated list, or true/false. */
export type EnvForm = "text" | "number" | "secret" | "list" | "boolean"

/** The type of a setting: the Schema of its value and how an environment variable spells it. */
export interface Kind<S extends Schema.Schema.AnyNoContext> {
  readonly schema: S
  readonly form: EnvForm
  /** The values allowed, when the setting is a choice among literals (a ConfigError lists them). */
  readonly literals?: ReadonlyArray<string>
}

/** A setting's type from its Schema. */
export const kind = <S extends Schema.Schema.AnyNoContext>(schema: S, form: EnvForm): Kind<S> => ({ schema, form })

/** A choice among the given strings. */
export const oneOf = <const L extends readonly [string, ...Array<string>]>(
  ...literals: L
): Kind<Schema.Literal<[...L]>> => ({
  schema: Schema.Literal(...literals),
  form: "text",
  literals
})

/** Everything said about a setting besides its type and presence. */
export interface Declaration {
  /** The `ENGRAM_*` environment variable that sets it. */
  readonly env: string
  /** One line for the documentation. */
  readonly description: string
  /** The key of the modelled system's flat `[memory]` table that holds the value itself. */
  readonly legacy?: string
  /** The key of that table that names the environment variable holding the value (a secret). */
  readonly legacyEnv?: string
  /** The default as documented, when it is not one fixed value (it follows another setting, or is computed). */
  readonly defaultNote?: string
}

/** One setting: its declaration, its type, and the Struct field it becomes (with its presence and default). */
export interface Setting<
  S extends Schema.Schema.AnyNoContext = Schema.Schema.AnyNoContext,
  F extends Schema.Struct.Field = Schema.Struct.Field
> extends Declaration {
  readonly _tag: "Setting"
  readonly kind: Kind<S>
  readonly field: F
  /** The value used when the setting is not given; absent for required and optional settings. */
  readonly default?: Schema.Schema.Type<S>
}

/** A setting with a default value: it is always present once validated. */
export function setting<S extends Schema.Schema.AnyNoContext>(
  kind: Kind<S>,
  declaration: Declaration & { readonly default: Schema.Schema.Type<S> }
): Setting<S, Schema.optionalWith<S, { default: () => Schema.Schema.Type<S> }>> & {
  readonly default: Schema.Schema.Type<S>
}
/** A setting that must be given whenever its section is. */
export function setting<S extends Schema.Schema.AnyNoContext>(
  kind: Kind<S>,
  declaration: Declaration & { readonly required: true }
): Setting<S, S>
/** A setting that may be left out (and stays absent). */
export function setting<S extends Schema.Schema.AnyNoContext>(
  kind: Kind<S>,
  declaration: Declaration
): Setting<S, Schema.optional<S>>
export function setting<S extends Schema.Schema.AnyNoContext>(
  kind: Kind<S>,
  declaration: Declaration & { readonly default?: Schema.Schema.Type<S>; readonly required?: true }
): Setting<S> {
  const { default: value, required, ...rest } = declaration
  if (value !== undefined) {
    return {
      ...rest,
      _tag: "Setting",
      kind,
      default: value,
      field: Schema.optionalWith(kind.schema, { default: () => value })
    }
  }
  return { ...rest, _tag: "Setting", kind, field: required === true ? kind.schema : Schema.optional(kind.schema) }
}

/** The Struct fields of a table of settings. */
export type FieldsOf<T extends Readonly<Record<string, { readonly field: Schema.Struct.Field }>>> = {
  readonly [K in keyof T]: T[K]["field"]
}

/** The Struct fields of a table of settings, in the table's order. */
export const fieldsOf = <T extends Readonly<Record<string, { readonly field: Schema.Struct.Field }>>>(
  table: T
): FieldsOf<T> => {
  const fields: Record<string, Schema.Struct.Field> = {}
  for (const [name, entry] of Object.entries(table)) fields[name] = entry.field
  // Object.entries forgets which value belongs to which key; the loop keeps every key with its own field.
  return fields as FieldsOf<T>
}

/** A nested table of settings (a backend's connection, the embedding space). */
export interface Section<
  T extends Readonly<Record<string, Setting>> = Readonly<Record<string, Setting>>,
  F extends Schema.Struct.Field = Schema.Struct.Field
> {
  readonly _tag: "Section"
  readonly settings: T
  readonly field: F
}

/** A section given as a whole or not at all (a backend's connection, which needs at least its URL). */
export const optionalSection = <T extends Readonly<Record<string, Setting>>>(
  settings: T
): Section<T, Schema.optional<Schema.Struct<FieldsOf<T>>>> => ({
  _tag: "Section",
  settings,
  field: Schema.optional(Schema.Struct(fieldsOf(settings)))
})

/** A section whose every setting has a default, so it is present (with those defaults) when not given. */
export const defaultedSection = <T extends Readonly<Record<string, Setting & { readonly default: unknown }>>>(
  settings: T
): Section<T, Schema.optionalWith<Schema.Struct<FieldsOf<T>>, { default: () => Schema.Struct.Type<FieldsOf<T>> }>> => {
  const defaults: Record<string, unknown> = {}
  for (const [name, s] of Object.entries(settings)) defaults[name] = s.default
  return {
    _tag: "Section",
    settings,
    // Each value is its setting's default, of that setting's type (Object.entries forgets which is which).
    field: Schema.optionalWith(Schema.Struct(fieldsOf(settings)), {
      default: () => defaults as Schema.Struct.Type<FieldsOf<T>>
    })
  }
}

/** A table of settings: the settings and sections of one configuration. */
export type Table = Readonly<Record<string, Setting | Section>>

/** A setting of a table with where it sits (`["sqlite", "path"]`). */
export interface Entry {
  readonly path: ReadonlyArray<string>
  readonly setting: Setting
}

/** Every setting of a table, sections included, in the table's order. */
export const entriesOf = (table: Table): ReadonlyArray<Entry> =>
  Object.entries(table).flatMap(([name, entry]) =>
    entry._tag === "Setting"
      ? [{ path: [name], setting: entry }]
      : Object.entries(entry.settings).map(([key, setting]) => ({ path: [name, key], setting }))
  )

/** The names allowed at the top of a table and in each of its sections ("" is the top). */
export const namesOf = (table: Table): ReadonlyMap<string, ReadonlyArray<string>> =>
  new Map<string, ReadonlyArray<string>>([
    ["", Object.keys(table)],
    ...Object.entries(table).flatMap(([name, entry]) =>
      entry._tag === "Section" ? [[name, Object.keys(entry.settings)] as const] : []
    )
  ])

/** True for a plain table of values (not an array, not a secret). */
export const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !Redacted.isRedacted(u)

/**
 * Set `value` at `path` in a configuration input being assembled; a ConfigError when the place is
 * already taken (`source` says what set it again) or a section there is not a table.
 */
export const setIn = (
  input: Record<string, unknown>,
  path: ReadonlyArray<string>,
  value: unknown,
  source: string
): ConfigError | undefined => {
  let table = input
  for (const key of path.slice(0, -1)) {
    const next = (table[key] ??= {})
    if (!isRecord(next)) return new ConfigError({ path: key, message: `${key} must be a table of settings` })
    table = next
  }
  const leaf = path[path.length - 1]!
  if (table[leaf] !== undefined) {
    return new ConfigError({ path: path.join("."), message: `${path.join(".")} is set twice (again by ${source})` })
  }
  table[leaf] = value
  return undefined
}
