/**
 * JSON values that can be stored on every backend: finite numbers, well-formed strings without NUL,
 * plain arrays and objects, bounded depth. Checked iteratively so hostile nesting cannot overflow
 * the stack.
 */
import { Schema } from "effect"
import { textProblem } from "./text.js"

/** A JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** A JSON object (the shape of metadata and properties). */
export type JsonObject = { readonly [key: string]: Json }

/** Deepest nesting accepted in a JSON value. */
export const MAX_JSON_DEPTH = 64

/** True for an object made by `{}` or `Object.create(null)`: the only objects JSON values may be. */
export const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/** Most arrays and objects one value may hold (shared references count each time they are reached). */
export const MAX_JSON_CONTAINERS = 1_000_000

/** Why a non-container value is not storable JSON, or `undefined` when it is. */
const scalarProblem = (value: unknown): string | undefined => {
  if (value === null || typeof value === "boolean") return undefined
  if (typeof value === "number") return Number.isFinite(value) ? undefined : "non-finite number"
  if (typeof value === "string") {
    const p = textProblem(value)
    return p === undefined ? undefined : `string ${p}`
  }
  return `not a JSON value (${typeof value})`
}

/**
 * Why `u` is not a storable JSON value (with a path), or `undefined` when it is. Iterative, and
 * bounded by depth and by a container budget, so neither deep nesting nor a value built from shared
 * references (which would be exponentially large as a tree) can exhaust the stack or the clock.
 */
export const jsonProblem = (u: unknown): string | undefined => {
  const isContainer = (v: unknown): v is object => typeof v === "object" && v !== null
  if (!isContainer(u)) return scalarProblem(u)
  const stack: Array<{ value: object; path: string; depth: number }> = [{ value: u, path: "", depth: 0 }]
  let budget = MAX_JSON_CONTAINERS
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!
    const at = path === "" ? "" : ` at ${path}`
    if (depth > MAX_JSON_DEPTH) return `nesting deeper than ${MAX_JSON_DEPTH}${at}`
    if (--budget < 0) return `more than ${MAX_JSON_CONTAINERS} arrays and objects${at}`
    const entries: ReadonlyArray<readonly [string, unknown]> = Array.isArray(value)
      ? value.map((v, i) => [`[${i}]`, v] as const)
      : isPlainObject(value)
      ? Object.entries(value)
      : []
    if (!Array.isArray(value) && !isPlainObject(value)) return `not a JSON value (${typeof value})${at}`
    for (const [k, v] of entries) {
      if (!Array.isArray(value)) {
        const p = textProblem(k)
        if (p !== undefined) return `key ${p}${at}`
      }
      const childPath = Array.isArray(value) ? `${path}${k}` : path === "" ? k : `${path}.${k}`
      if (isContainer(v)) {
        stack.push({ value: v, path: childPath, depth: depth + 1 })
      } else if (depth + 1 > MAX_JSON_DEPTH) {
        return `nesting deeper than ${MAX_JSON_DEPTH} at ${childPath}`
      } else {
        const p = scalarProblem(v)
        if (p !== undefined) return `${p} at ${childPath}`
      }
    }
  }
  return undefined
}

/** Schema of a storable JSON value. */
export const Json: Schema.Schema<Json> = Schema.declare(
  (u: unknown): u is Json => jsonProblem(u) === undefined,
  {
    identifier: "Json",
    // Any JSON value; the checks above go beyond what JSON Schema can say (documents, OpenAPI).
    jsonSchema: {},
    message: (issue) => jsonProblem(issue.actual) ?? "not a JSON value"
  }
)

/** True when `u` is what `JsonObject` accepts (the predicate the Schema itself applies). */
export const isJsonObject = (u: unknown): u is JsonObject => isPlainObject(u) && jsonProblem(u) === undefined

/** Schema of a storable JSON object. */
export const JsonObject: Schema.Schema<JsonObject> = Schema.declare(
  isJsonObject,
  {
    identifier: "JsonObject",
    jsonSchema: { type: "object" },
    message: (issue) =>
      isPlainObject(issue.actual) ? jsonProblem(issue.actual) ?? "not a JSON object" : "must be a JSON object"
  }
)

/** An optional JSON object field that decodes to `{}` when absent. */
export const JsonObjectOrEmpty = Schema.optionalWith(JsonObject, { default: () => ({}) })

/**
 * Canonical JSON text: keys sorted by UTF-16 code units, no whitespace (RFC 8785 for the values
 * accepted above). Two equal values always give the same text, so it can be compared and hashed.
 */
export const canonicalJson = (value: Json): string => {
  if (value === null || typeof value !== "object") return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  const obj = value as JsonObject
  const keys = Object.keys(obj).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k]!)}`).join(",")}}`
}

/** Structural equality of two JSON values. */
export const jsonEquals = (a: Json, b: Json): boolean => canonicalJson(a) === canonicalJson(b)
