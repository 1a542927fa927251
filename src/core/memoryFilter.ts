/**
 * What a memory filter means, defined once. A filter (the filter fields of a recall or a count) is a
 * list of conditions; a memory passes when it meets every one. `meets` is the rule; the memory
 * backend applies it directly, and every store that evaluates filters itself translates each kind
 * of condition (sqlite/memoryFilter.ts, postgres/memoryFilter.ts, qdrant/memoryFilter.ts). Those
 * translations are exhaustive switches over `FilterCondition["kind"]`, so a new kind of condition
 * does not compile until every store handles it, and the conformance suites pin that all agree.
 */
import { Effect } from "effect"
import type { InvalidInput } from "../domain/errors.js"
import { type Json, jsonEquals, type JsonObject } from "../domain/json.js"
import { type Memory, MemoryFilter, type MemorySource } from "../domain/memory.js"
import { decode } from "./decode.js"

/** A decoded filter: every field optional (absent keys, never `undefined` values), all must hold. */
export interface Filter {
  readonly scope?: string
  readonly source?: MemorySource
  readonly minConfidence?: number
  readonly after?: number
  readonly before?: number
  readonly metadata?: JsonObject
}

/** One condition of a filter. */
export type FilterCondition =
  /** `scope` equals the value exactly (no prefix, no case folding). */
  | { readonly kind: "scope"; readonly value: string }
  /** `source` equals the value. */
  | { readonly kind: "source"; readonly value: MemorySource }
  /** `confidence` ≥ the value (inclusive). */
  | { readonly kind: "minConfidence"; readonly value: number }
  /** `createdAt` > the value (strict). */
  | { readonly kind: "after"; readonly value: number }
  /** `createdAt` < the value (strict). */
  | { readonly kind: "before"; readonly value: number }
  /**
   * The metadata has `key` as an own top-level key and its value equals `value` as JSON: types stay
   * distinct (1, "1" and true differ), objects compare whole whatever their key order.
   */
  | { readonly kind: "metadata"; readonly key: string; readonly value: Json }

/** The conditions of a filter, in a fixed order (scope, source, confidence, times, metadata keys). */
export const filterConditions = (f: Filter): ReadonlyArray<FilterCondition> => {
  const out: Array<FilterCondition> = []
  if (f.scope !== undefined) out.push({ kind: "scope", value: f.scope })
  if (f.source !== undefined) out.push({ kind: "source", value: f.source })
  if (f.minConfidence !== undefined) out.push({ kind: "minConfidence", value: f.minConfidence })
  if (f.after !== undefined) out.push({ kind: "after", value: f.after })
  if (f.before !== undefined) out.push({ kind: "before", value: f.before })
  for (const [key, value] of Object.entries(f.metadata ?? {})) out.push({ kind: "metadata", key, value })
  return out
}

/** What a filter reads of a memory. */
export interface Filtered {
  readonly scope: string
  readonly source: string
  readonly confidence: number
  readonly createdAt: number
  readonly metadata: Memory["metadata"]
}

/** True when `m` meets `c`: the rule every store's translation reproduces. */
export const meets = (m: Filtered, c: FilterCondition): boolean => {
  switch (c.kind) {
    case "scope":
      return m.scope === c.value
    case "source":
      return m.source === c.value
    case "minConfidence":
      return m.confidence >= c.value
    case "after":
      return m.createdAt > c.value
    case "before":
      return m.createdAt < c.value
    case "metadata":
      return Object.hasOwn(m.metadata, c.key) && jsonEquals(m.metadata[c.key]!, c.value)
  }
}

/** The predicate of a filter (its conditions are worked out once). */
export const filterPredicate = (f: Filter): (m: Memory) => boolean => {
  const conditions = filterConditions(f)
  return (m) => conditions.every((c) => meets(m, c))
}

/** Filter fields as a decoded query or filter holds them (a field may be present but undefined). */
type FilterFields = { readonly [K in keyof Filter]?: Filter[K] | undefined }

/** The filter fields of a decoded query or filter object, without absent ones. */
export const filterOf = (q: FilterFields): Filter => ({
  ...(q.scope === undefined ? {} : { scope: q.scope }),
  ...(q.source === undefined ? {} : { source: q.source }),
  ...(q.minConfidence === undefined ? {} : { minConfidence: q.minConfidence }),
  ...(q.after === undefined ? {} : { after: q.after }),
  ...(q.before === undefined ? {} : { before: q.before }),
  ...(q.metadata === undefined ? {} : { metadata: q.metadata })
})

const decodeFilter = decode(MemoryFilter, "filter")

/** Decode the filter of a count (none: every memory of the agent). */
export const prepareFilter = (filter: MemoryFilter | undefined): Effect.Effect<Filter, InvalidInput> =>
  Effect.map(decodeFilter(filter ?? {}), filterOf)
