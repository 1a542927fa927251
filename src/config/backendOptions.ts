/**
 * A backend's options from a validated configuration: the settings every store takes plus the
 * backend's own section, whose names are the backend's option names (the compiler checks them
 * where composition/layer.ts hands them to each backend).
 */
import { Effect } from "effect"
import { ConfigError } from "../domain/errors.js"
import type { MemoryConfig } from "./schema.js"
import { storeSettingNames } from "./settings.js"

/** `T` without `undefined` values: an unset optional setting is absent, as options expect. */
export type Defined<T> = { readonly [K in keyof T]: Exclude<T[K], undefined> }

/** The settings every store takes. */
export type StoreSettings = Defined<Pick<MemoryConfig, (typeof storeSettingNames)[number]>>

/** The backends that have a section of their own. */
export type BackendSection = "sqlite" | "postgres" | "qdrant" | "http"

/** A backend's own section as options (absent settings left out). */
export type SectionOptions<K extends BackendSection> = Defined<
  Pick<NonNullable<MemoryConfig[K]>, Extract<keyof NonNullable<MemoryConfig[K]>, string>>
>

/** The entries of `values` named in `names` whose value is not `undefined`. */
const pickDefined = <T extends object, K extends keyof T>(values: T, names: ReadonlyArray<K>): Defined<Pick<T, K>> => {
  const result: Partial<Record<K, unknown>> = {}
  for (const name of names) if (values[name] !== undefined) result[name] = values[name]
  // Every entry kept is the one of `values` under the same name; only undefined ones were left out.
  return result as Defined<Pick<T, K>>
}

/** The entries of `values` whose value is not `undefined`. */
const defined = <T extends object>(values: T): Defined<Pick<T, Extract<keyof T, string>>> => {
  const names: ReadonlyArray<string> = Object.keys(values)
  return pickDefined(values, names.filter((name): name is Extract<keyof T, string> => name in values))
}

/** The settings every store takes. */
export const storeOptions = (c: MemoryConfig): StoreSettings => pickDefined(c, storeSettingNames)

/**
 * The options of the backend `name`. Its section is present in every configuration `memoryConfig`
 * accepts for that backend; a configuration built another way without it is a ConfigError.
 */
export const backendOptions = <K extends BackendSection>(
  c: MemoryConfig,
  name: K
): Effect.Effect<StoreSettings & SectionOptions<K>, ConfigError> => {
  const section: MemoryConfig[K] = c[name]
  return section === undefined
    ? Effect.fail(new ConfigError({ path: `${name}.url`, message: `the ${name} backend needs ${name}.url` }))
    : Effect.succeed({ ...storeOptions(c), ...defined(section) })
}
