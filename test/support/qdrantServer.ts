/**
 * A Qdrant-compatible REST server for tests: a real HTTP server on 127.0.0.1 (random port), started
 * and stopped as a scoped Effect resource, implementing the endpoints QdrantSemanticLive calls with
 * Qdrant's documented behaviour (public OpenAPI description and documentation of Qdrant 1.10+):
 *
 * - collections with one unnamed vector or named vectors (`size`, `distance`); creating an existing
 *   collection is 409, a missing one is 404; `GET /collections/{name}` reports
 *   `config.params.vectors` and `payload_schema`;
 * - points: ids are unsigned integers or UUIDs (normalised to lower-case hyphenated form); vector
 *   length is enforced (400); JSON cannot carry NaN or ±Infinity (a client serialises them as
 *   `null`), and a non-number in a vector is a 400 format error; values beyond float32 become ±Inf
 *   as in Qdrant, whose cosine then yields NaN scores that sort first (qdrant#9201);
 * - named vectors may be absent from a point; such points never match a query on that vector;
 * - cosine: vectors are normalised when stored (and returned normalised) unless their length is
 *   below ~3.45e-4 or already within 1e-6 of 1, as Qdrant 1.12 decides; scores are float32 dot
 *   products; dot, euclid and manhattan are supported too;
 * - JSON numbers are read as Qdrant 1.12 reads them (serde_json without round-trip precision: a
 *   number with a fraction may come back one unit in the last place away), unless `exactFloats`;
 * - a request body above 32 MiB is answered 400 with actix's message before any of it is parsed;
 * - upsert replaces the whole point; `set_payload` merges top-level keys (or sets at `key`);
 *   overwrite replaces the payload; update_vectors changes only the given vectors and keeps the
 *   payload (404 for a missing point); delete by ids or filter; batch operations in order;
 * - filters: must / should / must_not (single condition or list, nested filters), `match`
 *   (value: keyword / integer / bool, typed — 1 never matches "1" or true; any; text; text_any),
 *   `range`, `is_empty`, `is_null`, `has_id`, `has_vector`; keys are paths (`metadata.key`,
 *   `a[].b`, `a[0]`); a stored array matches when any element does; `match.text` on a field with a
 *   full-text index uses the index's tokenizer (whitespace / word / prefix / multilingual),
 *   `lowercase` and token-length limits and requires every query token; without an index it is a
 *   substring match;
 * - scroll in id order with `offset` / `next_page_offset`, or `order_by` (needs a range-capable
 *   payload index, refuses `offset`); query with `query` / `using` / `filter` / `limit` /
 *   `offset` / `score_threshold` / `with_payload` / `with_vector`; count; retrieve;
 * - `wait`: a write with `wait=true` is applied before the response ("completed"); without it the
 *   write is acknowledged ("acknowledged") and applied a little later, so reads made in between do
 *   not see it — as with Qdrant, where an unawaited write is only queued in the WAL;
 * - an optional API key (`api-key` header or bearer token; `/`, `/healthz`, `/livez`, `/readyz`
 *   need none).
 *
 * Anything a request asks for that is not implemented here is a 400 naming it, never a silent
 * approximation. Tests can inspect the stored points and the request log, inject failures, and
 * make the server hang (accept connections but never answer).
 */
import { Effect, type Scope } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

// ---------------------------------------------------------------- types

export type Json = null | boolean | number | string | Array<Json> | { [key: string]: Json }
type JsonObject = { [key: string]: Json }
export type PointId = string | number

export type Distance = "Cosine" | "Dot" | "Euclid" | "Manhattan"

export interface VectorParams {
  readonly size: number
  readonly distance: Distance
}

/** A payload index as created by `PUT /collections/{name}/index`. */
export interface PayloadIndex {
  readonly dataType: string
  readonly params: JsonObject | null
}

interface StoredPoint {
  readonly id: PointId
  /** Vectors by name ("" for the unnamed vector), as stored (normalised for cosine). */
  vectors: Map<string, ReadonlyArray<number>>
  payload: JsonObject
  version: number
}

interface Collection {
  readonly name: string
  /** `null` name = the unnamed default vector. */
  readonly vectors: ReadonlyMap<string, VectorParams>
  readonly unnamed: boolean
  readonly points: Map<string, StoredPoint>
  readonly indexes: Map<string, PayloadIndex>
  pending: Array<() => void>
  timer: ReturnType<typeof setTimeout> | undefined
  operationId: number
}

/** One request as received (for tests that check what the backend sent). */
export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly body: unknown
}

/** A failure to inject: the next request matching `method`/`path` gets `status` with `error`. */
export interface InjectedFailure {
  readonly method?: string
  readonly path?: RegExp
  readonly status: number
  readonly error: string
}

/** A point as stored, for inspection by tests. */
export interface PointSnapshot {
  readonly id: PointId
  readonly vectors: Readonly<Record<string, ReadonlyArray<number>>>
  readonly payload: JsonObject
}

export interface QdrantServerOptions {
  /** Require this API key on every endpoint but the health endpoints. */
  readonly apiKey?: string
  /** How long an unawaited write stays queued before it is applied (default 150 ms). */
  readonly applyDelayMs?: number
  /**
   * Parse JSON numbers exactly (default false: as Qdrant 1.12 does, where a number with a
   * fraction may come out one unit in the last place away — see `serdeNumber`).
   */
  readonly exactFloats?: boolean
  /** Reported by `GET /` (default "1.12.0"). */
  readonly version?: string
}

export interface QdrantTestServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** Every request received, in order. */
  readonly requests: ReadonlyArray<LoggedRequest>
  readonly clearRequests: () => void
  /** Failures of unawaited writes applied in the background (Qdrant would only log them). */
  readonly backgroundErrors: ReadonlyArray<string>
  /** Make the next matching request fail. */
  readonly failNext: (failure: InjectedFailure) => void
  /** While true, requests are accepted but never answered. */
  readonly setHanging: (hanging: boolean) => void
  /** The stored points of a collection, in id order (undefined when it does not exist). */
  readonly points: (collection: string) => ReadonlyArray<PointSnapshot> | undefined
  /** The payload indexes of a collection. */
  readonly indexes: (collection: string) => ReadonlyMap<string, PayloadIndex> | undefined
  /** The vector configuration of a collection. */
  readonly vectorConfig: (collection: string) => ReadonlyMap<string, VectorParams> | undefined
  /** The collection names. */
  readonly collections: () => ReadonlyArray<string>
  /** Apply every queued unawaited write now. */
  readonly flush: () => void
  /** Called with each request once it is logged, before it is answered (undefined: none). */
  readonly onRequest: (hook: ((request: LoggedRequest) => void) | undefined) => void
  /** Upsert points now, as `PUT /collections/{name}/points` with `wait=true` would (for tests that race a request). */
  readonly upsertNow: (collection: string, points: ReadonlyArray<PointSnapshot>) => void
}

// ---------------------------------------------------------------- errors

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

const formatError = (what: string) => new HttpError(400, `Format error in JSON body: ${what}`)
const wrongInput = (what: string) => new HttpError(400, `Wrong input: ${what}`)
const badRequest = (what: string) => new HttpError(400, `Bad request: ${what}`)
const notFound = (what: string) => new HttpError(404, `Not found: ${what}`)
const unsupported = (what: string) =>
  new HttpError(400, `Bad request: the engram Qdrant test server does not implement ${what}`)

// ---------------------------------------------------------------- JSON helpers

const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

const objectAt = (u: unknown, what: string): JsonObject => {
  if (!isObject(u)) throw formatError(`${what}: expected an object`)
  return u
}

const optional = <A>(o: JsonObject, key: string, read: (u: unknown, what: string) => A): A | undefined =>
  o[key] === undefined || o[key] === null ? undefined : read(o[key], key)

const stringAt = (u: unknown, what: string): string => {
  if (typeof u !== "string") throw formatError(`${what}: invalid type, expected a string`)
  return u
}

const boolAt = (u: unknown, what: string): boolean => {
  if (typeof u !== "boolean") throw formatError(`${what}: invalid type, expected a boolean`)
  return u
}

const uintAt = (u: unknown, what: string): number => {
  if (typeof u !== "number" || !Number.isSafeInteger(u) || u < 0) {
    throw formatError(`${what}: expected an unsigned integer`)
  }
  return u
}

const numberAt = (u: unknown, what: string): number => {
  if (typeof u !== "number") throw formatError(`${what}: invalid type: ${u === null ? "null" : typeof u}, expected f64`)
  return u
}

const arrayAt = (u: unknown, what: string): ReadonlyArray<unknown> => {
  if (!Array.isArray(u)) throw formatError(`${what}: expected a sequence`)
  return u
}

const clone = <A extends Json>(j: A): A => structuredClone(j)

// ---------------------------------------------------------------- JSON numbers as Qdrant parses them

/** The powers of ten serde_json multiplies or divides by (each a correctly rounded double). */
const POW10: ReadonlyArray<number> = Array.from({ length: 309 }, (_, i) => Number(`1e${i}`))

/**
 * A JSON number as Qdrant 1.12 reads it: serde_json without `float_roundtrip` takes the decimal
 * digits as an integer, converts it to a double and then multiplies or divides by a power of ten
 * — two roundings, so about one value in ten comes out one unit in the last place away from the
 * number sent (integers without a fraction or exponent are exact). The sender is a JavaScript
 * client, whose JSON text of a number is `String(x)`.
 */
export const serdeNumber = (x: number): number => {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x))
  if (m === null || (m[3] === undefined && m[4] === undefined)) return x
  const digits = `${m[2]!}${m[3] ?? ""}`
  let exponent = Number(m[4] ?? 0) - (m[3]?.length ?? 0)
  let f = Number(BigInt(digits))
  for (;;) {
    const pow = POW10[Math.abs(exponent)]
    if (pow !== undefined) {
      f = exponent >= 0 ? f * pow : f / pow
      break
    }
    if (f === 0) break
    f /= 1e308
    exponent += 308
  }
  return m[1] === "-" ? -f : f
}

// ---------------------------------------------------------------- point ids

const UUID_HYPHENATED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const UUID_SIMPLE = /^[0-9a-f]{32}$/i

/** Parse an id the way Qdrant does: an unsigned integer, or a UUID in any of the usual forms. */
const parseId = (u: unknown): PointId => {
  if (typeof u === "number") {
    if (!Number.isSafeInteger(u) || u < 0) throw formatError(`point id ${u}: expected an unsigned integer or a UUID`)
    return u
  }
  if (typeof u !== "string") throw formatError("data did not match any variant of untagged enum ExtendedPointId")
  let s = u.toLowerCase()
  if (s.startsWith("urn:uuid:")) s = s.slice(9)
  if (s.startsWith("{") && s.endsWith("}")) s = s.slice(1, -1)
  if (UUID_SIMPLE.test(s)) s = `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
  if (!UUID_HYPHENATED.test(s)) throw formatError(`Unable to parse UUID: ${u}`)
  return s
}

const keyOf = (id: PointId): string => (typeof id === "number" ? `#${id}` : id)

/** Qdrant orders integer ids before UUIDs, integers by value, UUIDs as 128-bit numbers. */
const compareIds = (a: PointId, b: PointId): number => {
  if (typeof a === "number" && typeof b === "number") return a - b
  if (typeof a === "number") return -1
  if (typeof b === "number") return 1
  return a < b ? -1 : a > b ? 1 : 0
}

// ---------------------------------------------------------------- vectors

const DISTANCES: ReadonlyArray<Distance> = ["Cosine", "Dot", "Euclid", "Manhattan"]

const parseVectorParams = (u: unknown, what: string): VectorParams => {
  const o = objectAt(u, what)
  const size = uintAt(o["size"], `${what}.size`)
  if (size === 0) throw wrongInput(`${what}.size: must be at least 1`)
  const distance = stringAt(o["distance"], `${what}.distance`)
  if (!DISTANCES.includes(distance as Distance)) {
    throw formatError(`${what}.distance: unknown variant \`${distance}\`, expected one of ${DISTANCES.join(", ")}`)
  }
  return { size, distance: distance as Distance }
}

/** `f32::EPSILON`: Qdrant leaves a cosine vector as is when its squared length is below it. */
const F32_EPSILON = 2 ** -23

/**
 * float32 values, normalised for cosine as Qdrant 1.12 does (`cosine_preprocess`): the squared
 * length is summed in float32, and a vector whose squared length is below `f32::EPSILON` (length
 * below ~3.45e-4) or within 1e-6 of 1 is kept as is — only the others are divided by their length.
 */
const storedVector = (values: ReadonlyArray<number>, distance: Distance): ReadonlyArray<number> => {
  const f = values.map(Math.fround)
  if (distance !== "Cosine") return f
  let squared = 0
  for (const x of f) squared = Math.fround(squared + Math.fround(x * x))
  if (squared < F32_EPSILON || Math.abs(squared - 1) <= 1e-6) return f
  const length = Math.fround(Math.sqrt(squared))
  return f.map((x) => Math.fround(x / length))
}

const parseValues = (u: unknown, name: string, params: VectorParams): ReadonlyArray<number> => {
  const a = arrayAt(u, `vector ${JSON.stringify(name)}`)
  a.forEach((x, i) => {
    // JSON has no NaN/Infinity: a client that serialises one sends null, which Qdrant rejects.
    if (typeof x !== "number") {
      throw formatError(`vector[${i}]: invalid type: ${x === null ? "null" : typeof x}, expected f32`)
    }
  })
  if (a.length !== params.size) {
    throw wrongInput(`Vector dimension error: expected dim: ${params.size}, got ${a.length}`)
  }
  return a as ReadonlyArray<number>
}

/** Parse a point's `vector` field against the collection's vectors. */
const parseVectorStruct = (c: Collection, u: unknown): Map<string, ReadonlyArray<number>> => {
  const out = new Map<string, ReadonlyArray<number>>()
  const entries: Array<readonly [string, unknown]> = Array.isArray(u)
    ? [["", u]]
    : Object.entries(objectAt(u, "vector"))
  for (const [name, values] of entries) {
    const params = c.vectors.get(name)
    if (params === undefined) throw wrongInput(`Not existing vector name error: ${name}`)
    out.set(name, storedVector(parseValues(values, name, params), params.distance))
  }
  return out
}

const score = (distance: Distance, query: ReadonlyArray<number>, stored: ReadonlyArray<number>): number => {
  let s = 0
  for (let i = 0; i < query.length; i++) {
    const q = query[i]!
    const v = stored[i]!
    if (distance === "Euclid") s += (q - v) * (q - v)
    else if (distance === "Manhattan") s += Math.abs(q - v)
    else s += q * v
  }
  return Math.fround(distance === "Euclid" ? Math.sqrt(s) : s)
}

/** Best first: larger is better for cosine/dot, smaller for distances; NaN sorts first (as in Qdrant). */
const better = (distance: Distance) => (a: number, b: number): number => {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1
  return distance === "Euclid" || distance === "Manhattan" ? a - b : b - a
}

// ---------------------------------------------------------------- payload paths

type Segment = { readonly key: string; readonly index: "all" | number | undefined }

/** Parse a payload key: `a.b`, `a[].b`, `a[0]`, `"quoted.key"`. */
const parsePath = (path: string): ReadonlyArray<Segment> => {
  const out: Array<Segment> = []
  let i = 0
  while (i < path.length) {
    let key = ""
    if (path[i] === "\"") {
      const end = path.indexOf("\"", i + 1)
      if (end < 0) throw badRequest(`invalid payload key ${path}`)
      key = path.slice(i + 1, end)
      i = end + 1
    } else {
      while (i < path.length && path[i] !== "." && path[i] !== "[") key += path[i++]
    }
    if (key === "") throw badRequest(`invalid payload key ${path}`)
    let index: Segment["index"]
    if (path[i] === "[") {
      const end = path.indexOf("]", i)
      if (end < 0) throw badRequest(`invalid payload key ${path}`)
      const inner = path.slice(i + 1, end)
      if (inner === "") index = "all"
      else if (/^\d+$/.test(inner)) index = Number(inner)
      else throw badRequest(`invalid payload key ${path}`)
      i = end + 1
    }
    out.push({ key, index })
    if (i < path.length) {
      if (path[i] !== ".") throw badRequest(`invalid payload key ${path}`)
      i++
    }
  }
  return out
}

/** The values at a path (a key on an array only descends with `[]` or `[n]`, as in Qdrant). */
const valuesAt = (payload: JsonObject, path: string): ReadonlyArray<Json> => {
  let current: Array<Json> = [payload]
  for (const seg of parsePath(path)) {
    const next: Array<Json> = []
    for (const v of current) {
      if (!isObject(v) || !Object.hasOwn(v, seg.key)) continue
      const x = v[seg.key]!
      if (seg.index === undefined) next.push(x)
      else if (Array.isArray(x)) {
        if (seg.index === "all") next.push(...x)
        else if (seg.index < x.length) next.push(x[seg.index]!)
      }
    }
    current = next
  }
  return current
}

/** Leaf values for matching: a stored array matches when any of its elements does. */
const leaves = (values: ReadonlyArray<Json>): ReadonlyArray<Json> => values.flatMap((v) => (Array.isArray(v) ? v : [v]))

// ---------------------------------------------------------------- full-text

const TOKENIZERS = ["whitespace", "word", "prefix", "multilingual"] as const

const tokenizeWith = (index: PayloadIndex | undefined, text: string, forQuery: boolean): ReadonlyArray<string> => {
  const p = index?.params ?? {}
  const tokenizer = typeof p["tokenizer"] === "string" ? p["tokenizer"] : "word"
  const lowercase = p["lowercase"] !== false
  const min = typeof p["min_token_len"] === "number" ? p["min_token_len"] : 0
  const max = typeof p["max_token_len"] === "number" ? p["max_token_len"] : Number.POSITIVE_INFINITY
  const source = lowercase ? text.toLowerCase() : text
  const raw = tokenizer === "whitespace" ? source.split(/\s+/u) : source.split(/[^\p{L}\p{N}]+/u)
  const tokens = raw.filter((t) => t !== "" && [...t].length >= min && [...t].length <= max)
  if (tokenizer !== "prefix" || forQuery) return tokens
  return tokens.flatMap((t) => {
    const chars = [...t]
    return chars.map((_, i) => chars.slice(0, i + 1).join("")).filter((x) => [...x].length >= Math.max(min, 1))
  })
}

// ---------------------------------------------------------------- filters

type Predicate = (p: StoredPoint) => boolean

const conditionList = (u: unknown, what: string): ReadonlyArray<unknown> =>
  u === undefined || u === null ? [] : Array.isArray(u) ? u : [objectAt(u, what)]

/** Compile a filter; unknown or unimplemented clauses are a 400. */
const compileFilter = (c: Collection, u: unknown): Predicate => {
  if (u === undefined || u === null) return () => true
  const f = objectAt(u, "filter")
  for (const key of Object.keys(f)) {
    if (key === "min_should") throw unsupported("filter.min_should")
    if (!["must", "should", "must_not"].includes(key)) throw formatError(`filter: unknown field \`${key}\``)
  }
  const must = conditionList(f["must"], "must").map((x) => compileCondition(c, x))
  const should = conditionList(f["should"], "should").map((x) => compileCondition(c, x))
  const mustNot = conditionList(f["must_not"], "must_not").map((x) => compileCondition(c, x))
  return (p) =>
    must.every((m) => m(p)) && (should.length === 0 || should.some((s) => s(p))) && !mustNot.some((n) => n(p))
}

const isEmptyValues = (values: ReadonlyArray<Json>): boolean =>
  values.length === 0 || values.every((v) => v === null || (Array.isArray(v) && v.length === 0))

const compileMatch = (c: Collection, key: string, u: unknown): Predicate => {
  const m = objectAt(u, "match")
  if ("value" in m) {
    const value = m["value"]
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw formatError(
        "match.value: data did not match any variant of untagged enum ValueVariants (floats are not matched; use range)"
      )
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw formatError("match.value: data did not match any variant of untagged enum ValueVariants")
    }
    // Typed comparison: a keyword never equals an integer or a bool, and an integer only an integer.
    return (p) =>
      leaves(valuesAt(p.payload, key)).some((v) =>
        typeof value === "number" ? typeof v === "number" && Number.isInteger(v) && v === value : v === value
      )
  }
  if ("any" in m) {
    const any = arrayAt(m["any"], "match.any")
    const allStrings = any.every((x) => typeof x === "string")
    const allInts = any.every((x) => typeof x === "number" && Number.isSafeInteger(x))
    if (!allStrings && !allInts) throw formatError("match.any: expected a list of strings or a list of integers")
    return (p) =>
      leaves(valuesAt(p.payload, key)).some((v) =>
        allStrings
          ? typeof v === "string" && any.includes(v)
          : typeof v === "number" && Number.isInteger(v) && any.includes(v)
      )
  }
  if ("text" in m || "text_any" in m) {
    const all = "text" in m
    const text = stringAt(all ? m["text"] : m["text_any"], all ? "match.text" : "match.text_any")
    const index = c.indexes.get(key)
    if (index === undefined || index.dataType !== "text") {
      // Without a full-text index the condition is a substring match.
      return (p) => leaves(valuesAt(p.payload, key)).some((v) => typeof v === "string" && v.includes(text))
    }
    const wanted = tokenizeWith(index, text, true)
    return (p) =>
      leaves(valuesAt(p.payload, key)).some((v) => {
        if (typeof v !== "string") return false
        const have = new Set(tokenizeWith(index, v, false))
        return wanted.length > 0 && (all ? wanted.every((t) => have.has(t)) : wanted.some((t) => have.has(t)))
      })
  }
  throw unsupported(`match ${JSON.stringify(Object.keys(m))}`)
}

const compileRange = (key: string, u: unknown): Predicate => {
  const r = objectAt(u, "range")
  const bound = (name: string): number | undefined => {
    const v = r[name]
    if (v === undefined || v === null) return undefined
    if (typeof v !== "number") throw unsupported(`range.${name} of type ${typeof v} (datetime ranges)`)
    return v
  }
  const [gt, gte, lt, lte] = [bound("gt"), bound("gte"), bound("lt"), bound("lte")]
  return (p) =>
    leaves(valuesAt(p.payload, key)).some((v) =>
      typeof v === "number" &&
      (gt === undefined || v > gt) && (gte === undefined || v >= gte) &&
      (lt === undefined || v < lt) && (lte === undefined || v <= lte)
    )
}

const compileCondition = (c: Collection, u: unknown): Predicate => {
  const o = objectAt(u, "condition")
  if ("must" in o || "should" in o || "must_not" in o || "min_should" in o) return compileFilter(c, o)
  if ("has_id" in o) {
    const ids = new Set(arrayAt(o["has_id"], "has_id").map((x) => keyOf(parseId(x))))
    return (p) => ids.has(keyOf(p.id))
  }
  if ("has_vector" in o) {
    const name = stringAt(o["has_vector"], "has_vector")
    return (p) => p.vectors.has(name)
  }
  if ("is_empty" in o && !("key" in o)) {
    const key = stringAt(objectAt(o["is_empty"], "is_empty")["key"], "is_empty.key")
    return (p) => isEmptyValues(valuesAt(p.payload, key))
  }
  if ("is_null" in o && !("key" in o)) {
    const key = stringAt(objectAt(o["is_null"], "is_null")["key"], "is_null.key")
    return (p) => valuesAt(p.payload, key).some((v) => v === null)
  }
  if ("nested" in o) throw unsupported("nested conditions")
  if (!("key" in o)) throw formatError("data did not match any variant of untagged enum Condition")
  const key = stringAt(o["key"], "key")
  parsePath(key)
  const parts: Array<Predicate> = []
  for (const field of Object.keys(o)) {
    if (field === "key") continue
    const value = o[field]
    if (value === null || value === undefined) continue
    if (field === "match") parts.push(compileMatch(c, key, value))
    else if (field === "range") parts.push(compileRange(key, value))
    else if (field === "is_empty") {
      const want = boolAt(value, "is_empty")
      parts.push((p) => isEmptyValues(valuesAt(p.payload, key)) === want)
    } else if (field === "is_null") {
      const want = boolAt(value, "is_null")
      parts.push((p) => valuesAt(p.payload, key).some((v) => v === null) === want)
    } else if (["geo_bounding_box", "geo_radius", "geo_polygon", "values_count"].includes(field)) {
      throw unsupported(`the ${field} condition`)
    } else throw formatError(`condition: unknown field \`${field}\``)
  }
  if (parts.length === 0) throw badRequest(`condition on ${key} has no clause`)
  return (p) => parts.every((part) => part(p))
}

// ---------------------------------------------------------------- output shaping

const payloadSelector = (u: unknown, fallback: boolean): (payload: JsonObject) => JsonObject | null => {
  const pick = (payload: JsonObject, keys: ReadonlyArray<string>): JsonObject => {
    const out: JsonObject = {}
    for (const k of keys) {
      const top = parsePath(k)[0]!.key
      if (Object.hasOwn(payload, top)) out[top] = clone(payload[top]!)
    }
    return out
  }
  if (u === undefined || u === null) return fallback ? (p) => clone(p) : () => null
  if (typeof u === "boolean") return u ? (p) => clone(p) : () => null
  if (Array.isArray(u)) {
    const keys = u.map((k) => stringAt(k, "with_payload[]"))
    return (p) => pick(p, keys)
  }
  const o = objectAt(u, "with_payload")
  if (Array.isArray(o["include"])) {
    const keys = o["include"].map((k) => stringAt(k, "with_payload.include[]"))
    return (p) => pick(p, keys)
  }
  if (Array.isArray(o["exclude"])) {
    const keys = new Set(o["exclude"].map((k) => stringAt(k, "with_payload.exclude[]")))
    return (p) => Object.fromEntries(Object.entries(clone(p)).filter(([k]) => !keys.has(k)))
  }
  throw formatError("with_payload: expected a bool, a list of keys, or include/exclude")
}

const vectorSelector = (c: Collection, u: unknown): (p: StoredPoint) => Json | undefined => {
  const shape = (p: StoredPoint, names: ReadonlyArray<string> | undefined): Json => {
    if (c.unnamed) return [...(p.vectors.get("") ?? [])]
    const out: JsonObject = {}
    for (const [name, v] of p.vectors) if (names === undefined || names.includes(name)) out[name] = [...v]
    return out
  }
  if (u === undefined || u === null || u === false) return () => undefined
  if (u === true) return (p) => shape(p, undefined)
  const names = arrayAt(u, "with_vector").map((x) => stringAt(x, "with_vector[]"))
  return (p) => shape(p, names)
}

const record = (c: Collection, withPayload: unknown, withVector: unknown, payloadDefault: boolean) => {
  const payload = payloadSelector(withPayload, payloadDefault)
  const vector = vectorSelector(c, withVector)
  return (p: StoredPoint): JsonObject => {
    const out: JsonObject = { id: p.id, payload: payload(p.payload) }
    const v = vector(p)
    if (v !== undefined) out["vector"] = v
    return out
  }
}

const sortedPoints = (c: Collection): Array<StoredPoint> =>
  [...c.points.values()].sort((a, b) => compareIds(a.id, b.id))

// ---------------------------------------------------------------- updates

/** A validated update: applied now (wait=true) or later (queued); may still fail with 404 then. */
type Update = () => void

const selectorOf = (c: Collection, o: JsonObject, what: string): (apply: (p: StoredPoint) => void) => void => {
  if (o["points"] !== undefined && o["points"] !== null) {
    const ids = arrayAt(o["points"], `${what}.points`).map(parseId)
    return (apply) => {
      for (const id of ids) {
        const p = c.points.get(keyOf(id))
        if (p === undefined) throw notFound(`No point with id ${id} found`)
        apply(p)
      }
    }
  }
  if (o["filter"] !== undefined && o["filter"] !== null) {
    const predicate = compileFilter(c, o["filter"])
    return (apply) => {
      for (const p of [...c.points.values()]) if (predicate(p)) apply(p)
    }
  }
  throw badRequest(`${what}: either a list of point ids or a filter must be provided`)
}

const setAtKey = (payload: JsonObject, key: string | undefined, values: JsonObject): void => {
  if (key === undefined) {
    Object.assign(payload, clone(values))
    return
  }
  let target: JsonObject = payload
  for (const seg of parsePath(key)) {
    if (seg.index !== undefined) throw unsupported("set_payload with an array index in key")
    const next = target[seg.key]
    if (!isObject(next)) target[seg.key] = {}
    target = target[seg.key] as JsonObject
  }
  Object.assign(target, clone(values))
}

const prepareUpsert = (c: Collection, body: JsonObject, stamp: () => number): Update => {
  const incoming: Array<{ id: PointId; vectors: Map<string, ReadonlyArray<number>>; payload: JsonObject }> = []
  if (body["points"] !== undefined) {
    for (const u of arrayAt(body["points"], "points")) {
      const o = objectAt(u, "point")
      if (!("vector" in o)) throw formatError("missing field `vector`")
      const payload = o["payload"] === undefined || o["payload"] === null ? {} : objectAt(o["payload"], "payload")
      incoming.push({ id: parseId(o["id"]), vectors: parseVectorStruct(c, o["vector"]), payload: clone(payload) })
    }
  } else if (body["batch"] !== undefined) {
    const b = objectAt(body["batch"], "batch")
    const ids = arrayAt(b["ids"], "batch.ids")
    const vectors = b["vectors"]
    const payloads = b["payloads"] === undefined || b["payloads"] === null
      ? undefined
      : arrayAt(b["payloads"], "batch.payloads")
    ids.forEach((id, i) => {
      const v = Array.isArray(vectors)
        ? vectors[i]
        : Object.fromEntries(
          Object.entries(objectAt(vectors, "batch.vectors")).map(([n, vs]) => [n, arrayAt(vs, n)[i]])
        )
      const payload = payloads?.[i]
      incoming.push({
        id: parseId(id),
        vectors: parseVectorStruct(c, v),
        payload: payload === undefined || payload === null ? {} : clone(objectAt(payload, "payload"))
      })
    })
  } else throw formatError("expected `points` or `batch`")
  return () => {
    const version = stamp()
    // Upsert replaces the whole point: vectors not given are gone, the payload is the new one.
    for (const p of incoming) c.points.set(keyOf(p.id), { id: p.id, vectors: p.vectors, payload: p.payload, version })
  }
}

const prepareDelete = (c: Collection, body: JsonObject): Update => {
  if (body["points"] !== undefined) {
    const ids = arrayAt(body["points"], "points").map(parseId)
    return () => ids.forEach((id) => c.points.delete(keyOf(id)))
  }
  if (body["filter"] !== undefined) {
    const predicate = compileFilter(c, body["filter"])
    return () => {
      for (const [k, p] of [...c.points]) if (predicate(p)) c.points.delete(k)
    }
  }
  throw formatError("expected `points` or `filter`")
}

const prepareSetPayload = (c: Collection, body: JsonObject, overwrite: boolean, stamp: () => number): Update => {
  const payload = objectAt(body["payload"], "payload")
  const key = optional(body, "key", stringAt)
  if (overwrite && key !== undefined) throw unsupported("overwrite_payload with a key")
  const select = selectorOf(c, body, overwrite ? "overwrite_payload" : "set_payload")
  return () => {
    const version = stamp()
    select((p) => {
      if (overwrite) p.payload = clone(payload)
      else setAtKey(p.payload, key, payload)
      p.version = version
    })
  }
}

const prepareDeletePayload = (c: Collection, body: JsonObject, stamp: () => number): Update => {
  const keys = arrayAt(body["keys"], "keys").map((k) => stringAt(k, "keys[]"))
  const select = selectorOf(c, body, "delete_payload")
  return () => {
    const version = stamp()
    select((p) => {
      for (const k of keys) delete p.payload[parsePath(k)[0]!.key]
      p.version = version
    })
  }
}

const prepareClearPayload = (c: Collection, body: JsonObject, stamp: () => number): Update => {
  const select = selectorOf(c, body, "clear_payload")
  return () => {
    const version = stamp()
    select((p) => {
      p.payload = {}
      p.version = version
    })
  }
}

const prepareUpdateVectors = (c: Collection, body: JsonObject, stamp: () => number): Update => {
  const updates = arrayAt(body["points"], "points").map((u) => {
    const o = objectAt(u, "point")
    return { id: parseId(o["id"]), vectors: parseVectorStruct(c, o["vector"]) }
  })
  return () => {
    for (const u of updates) {
      if (!c.points.has(keyOf(u.id))) throw notFound(`No point with id ${u.id} found`)
    }
    const version = stamp()
    for (const u of updates) {
      const p = c.points.get(keyOf(u.id))!
      // Only the given vectors change; other vectors and the payload are kept.
      for (const [name, v] of u.vectors) p.vectors.set(name, v)
      p.version = version
    }
  }
}

const prepareDeleteVectors = (c: Collection, body: JsonObject, stamp: () => number): Update => {
  const names = arrayAt(body["vector"], "vector").map((n) => stringAt(n, "vector[]"))
  for (const n of names) if (!c.vectors.has(n)) throw wrongInput(`Not existing vector name error: ${n}`)
  const select = selectorOf(c, body, "delete_vectors")
  return () => {
    const version = stamp()
    select((p) => {
      for (const n of names) p.vectors.delete(n)
      p.version = version
    })
  }
}

const RANGE_INDEXES = new Set(["integer", "float", "datetime"])

const prepareCreateIndex = (c: Collection, body: JsonObject): Update => {
  const field = stringAt(body["field_name"], "field_name")
  parsePath(field)
  const schema = body["field_schema"]
  const types = ["keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid"]
  let index: PayloadIndex
  if (typeof schema === "string") {
    if (!types.includes(schema)) throw formatError(`field_schema: unknown variant \`${schema}\``)
    index = { dataType: schema, params: null }
  } else {
    const o = objectAt(schema, "field_schema")
    const type = stringAt(o["type"], "field_schema.type")
    if (!types.includes(type)) throw formatError(`field_schema.type: unknown variant \`${type}\``)
    if (
      type === "text" && o["tokenizer"] !== undefined &&
      !TOKENIZERS.includes(o["tokenizer"] as typeof TOKENIZERS[number])
    ) {
      throw formatError(`field_schema.tokenizer: unknown variant \`${String(o["tokenizer"])}\``)
    }
    index = { dataType: type, params: clone(o) }
  }
  return () => {
    c.indexes.set(field, index)
  }
}

// ---------------------------------------------------------------- the server

/** Start a server on a random loopback port; it stops (and drops every collection) with the scope. */
export const startQdrantServer = (
  options: QdrantServerOptions = {}
): Effect.Effect<QdrantTestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: http.Server; api: QdrantTestServer; stop: () => void }>((resume) => {
      const collections = new Map<string, Collection>()
      const requests: Array<LoggedRequest> = []
      const backgroundErrors: Array<string> = []
      const failures: Array<InjectedFailure> = []
      let hanging = false
      let hook: ((request: LoggedRequest) => void) | undefined
      const applyDelayMs = options.applyDelayMs ?? 150

      const flushCollection = (c: Collection) => {
        if (c.timer !== undefined) clearTimeout(c.timer)
        c.timer = undefined
        const queued = c.pending
        c.pending = []
        for (const apply of queued) {
          try {
            apply()
          } catch (e) {
            backgroundErrors.push(e instanceof Error ? e.message : String(e))
          }
        }
      }

      const getCollection = (name: string): Collection => {
        const c = collections.get(name)
        if (c === undefined) throw notFound(`Collection \`${name}\` doesn't exist!`)
        return c
      }

      /** Apply now (after everything queued before, so order is kept) or queue. */
      const write = (c: Collection, updates: ReadonlyArray<Update>, wait: boolean): Array<JsonObject> => {
        const results = updates.map(() => ({
          operation_id: ++c.operationId,
          status: wait ? "completed" : "acknowledged"
        }))
        if (wait) {
          flushCollection(c)
          for (const u of updates) u()
        } else {
          c.pending.push(...updates)
          if (c.timer === undefined) {
            c.timer = setTimeout(() => flushCollection(c), applyDelayMs)
            c.timer.unref()
          }
        }
        return results
      }

      const stampOf = (c: Collection) => () => c.operationId

      const parseWait = (query: Record<string, string>): boolean => {
        const w = query["wait"]
        if (w === undefined || w === "false") return false
        if (w === "true") return true
        throw badRequest(`Query deserialize error: wait: provided string was not \`true\` or \`false\``)
      }

      const collectionInfo = (c: Collection): JsonObject => {
        const vectors: JsonObject = {}
        for (const [name, v] of c.vectors) vectors[name] = { size: v.size, distance: v.distance }
        const payloadSchema: JsonObject = {}
        for (const [field, index] of c.indexes) {
          payloadSchema[field] = {
            data_type: index.dataType,
            ...(index.params === null ? {} : { params: clone(index.params) }),
            points: [...c.points.values()].filter((p) => !isEmptyValues(valuesAt(p.payload, field))).length
          }
        }
        return {
          status: "green",
          optimizer_status: "ok",
          indexed_vectors_count: 0,
          points_count: c.points.size,
          segments_count: 1,
          config: {
            params: {
              vectors: c.unnamed ? vectors[""]! : vectors,
              shard_number: 1,
              replication_factor: 1,
              write_consistency_factor: 1,
              on_disk_payload: true
            },
            hnsw_config: {
              m: 16,
              ef_construct: 100,
              full_scan_threshold: 10000,
              max_indexing_threads: 0,
              on_disk: false
            },
            optimizer_config: {
              deleted_threshold: 0.2,
              vacuum_min_vector_number: 1000,
              default_segment_number: 0,
              max_segment_size: null,
              memmap_threshold: null,
              indexing_threshold: 20000,
              flush_interval_sec: 5,
              max_optimization_threads: null
            },
            wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
            quantization_config: null
          },
          payload_schema: payloadSchema
        }
      }

      const createCollection = (name: string, body: JsonObject): boolean => {
        if (!/^[A-Za-z0-9_\-.]{1,255}$/.test(name)) {
          throw new HttpError(422, `Validation error in path parameters: [name: collection name ${name} is invalid]`)
        }
        if (collections.has(name)) throw new HttpError(409, `Wrong input: Collection \`${name}\` already exists!`)
        for (const key of ["sparse_vectors", "quantization_config", "sharding_method"]) {
          if (body[key] !== undefined && body[key] !== null) throw unsupported(`collection option ${key}`)
        }
        const v = objectAt(body["vectors"], "vectors")
        const vectors = new Map<string, VectorParams>()
        const unnamed = "size" in v
        if (unnamed) vectors.set("", parseVectorParams(v, "vectors"))
        else for (const [n, params] of Object.entries(v)) vectors.set(n, parseVectorParams(params, `vectors.${n}`))
        collections.set(name, {
          name,
          vectors,
          unnamed,
          points: new Map(),
          indexes: new Map(),
          pending: [],
          timer: undefined,
          operationId: 0
        })
        return true
      }

      const scroll = (c: Collection, body: JsonObject): JsonObject => {
        const limit = optional(body, "limit", uintAt) ?? 10
        if (limit === 0) throw badRequest("limit: must be at least 1")
        const predicate = compileFilter(c, body["filter"])
        const shape = record(c, body["with_payload"], body["with_vector"], true)
        const orderBy = body["order_by"]
        if (orderBy !== undefined && orderBy !== null) {
          const o = typeof orderBy === "string" ? { key: orderBy } : objectAt(orderBy, "order_by")
          const key = stringAt(o["key"], "order_by.key")
          const direction = o["direction"] === undefined || o["direction"] === null
            ? "asc"
            : stringAt(o["direction"], "order_by.direction")
          if (direction !== "asc" && direction !== "desc") {
            throw formatError(`order_by.direction: unknown variant \`${direction}\``)
          }
          const index = c.indexes.get(key)
          const rangeCapable = index !== undefined && RANGE_INDEXES.has(index.dataType) &&
            index.params?.["range"] !== false
          if (!rangeCapable) {
            throw badRequest(`No range index for \`order_by\` key: \`${key}\`. Please create one to use \`order_by\`.`)
          }
          if (body["offset"] !== undefined && body["offset"] !== null) {
            throw badRequest("Cannot use an `offset` when using `order_by`")
          }
          const startFrom = o["start_from"] === undefined || o["start_from"] === null
            ? undefined
            : numberAt(o["start_from"], "start_from")
          const rows: Array<{ p: StoredPoint; value: number }> = []
          for (const p of sortedPoints(c)) {
            if (!predicate(p)) continue
            // A point appears once per numeric value at the key (arrays give several).
            for (const v of leaves(valuesAt(p.payload, key))) {
              if (typeof v !== "number") continue
              if (startFrom !== undefined && (direction === "asc" ? v < startFrom : v > startFrom)) continue
              rows.push({ p, value: v })
            }
          }
          rows.sort((a, b) =>
            (direction === "asc" ? a.value - b.value : b.value - a.value) || compareIds(a.p.id, b.p.id)
          )
          return {
            points: rows.slice(0, limit).map(({ p, value }) => ({ ...shape(p), order_value: value })),
            next_page_offset: null
          }
        }
        const offset = body["offset"] === undefined || body["offset"] === null ? undefined : parseId(body["offset"])
        const matching = sortedPoints(c).filter((p) =>
          (offset === undefined || compareIds(p.id, offset) >= 0) && predicate(p)
        )
        const page = matching.slice(0, limit)
        const next = matching[limit]
        return { points: page.map(shape), next_page_offset: next === undefined ? null : next.id }
      }

      const query = (c: Collection, body: JsonObject): JsonObject => {
        for (const key of ["prefetch", "lookup_from", "shard_key"]) {
          if (body[key] !== undefined && body[key] !== null) throw unsupported(`query.${key}`)
        }
        const q = body["query"]
        let vector: unknown
        if (Array.isArray(q)) vector = q
        else if (isObject(q) && Array.isArray(q["nearest"])) vector = q["nearest"]
        else throw unsupported("query forms other than a dense vector or {nearest: vector}")
        const using = optional(body, "using", stringAt) ?? ""
        const params = c.vectors.get(using)
        if (params === undefined) throw wrongInput(`Not existing vector name error: ${using}`)
        const queryVector = storedVector(parseValues(vector, using, params), params.distance)
        const limit = optional(body, "limit", uintAt) ?? 10
        const offset = optional(body, "offset", uintAt) ?? 0
        const threshold = optional(body, "score_threshold", numberAt)
        const predicate = compileFilter(c, body["filter"])
        const shape = record(c, body["with_payload"], body["with_vector"], false)
        const order = better(params.distance)
        const scored: Array<{ p: StoredPoint; score: number }> = []
        for (const p of sortedPoints(c)) {
          const stored = p.vectors.get(using)
          if (stored === undefined || !predicate(p)) continue
          const s = score(params.distance, queryVector, stored)
          if (threshold !== undefined && !Number.isNaN(s) && order(s, threshold) > 0) continue
          scored.push({ p, score: s })
        }
        scored.sort((a, b) => order(a.score, b.score) || compareIds(a.p.id, b.p.id))
        return {
          points: scored.slice(offset, offset + limit).map(({ p, score: s }) => ({
            ...shape(p),
            version: p.version,
            score: s
          }))
        }
      }

      const batch = (c: Collection, body: JsonObject): Array<Update> =>
        arrayAt(body["operations"], "operations").map((u) => {
          const o = objectAt(u, "operation")
          const keys = Object.keys(o)
          if (keys.length !== 1) throw formatError("operation: expected exactly one operation per entry")
          const kind = keys[0]!
          const inner = objectAt(o[kind], kind)
          const stamp = stampOf(c)
          switch (kind) {
            case "upsert":
              return prepareUpsert(c, inner, stamp)
            case "delete":
              return prepareDelete(c, inner)
            case "set_payload":
              return prepareSetPayload(c, inner, false, stamp)
            case "overwrite_payload":
              return prepareSetPayload(c, inner, true, stamp)
            case "delete_payload":
              return prepareDeletePayload(c, inner, stamp)
            case "clear_payload":
              return prepareClearPayload(c, inner, stamp)
            case "update_vectors":
              return prepareUpdateVectors(c, inner, stamp)
            case "delete_vectors":
              return prepareDeleteVectors(c, inner, stamp)
            default:
              throw formatError(`operation: unknown variant \`${kind}\``)
          }
        })

      /** Route a request; returns the `result` (or a raw body for `/`). */
      const route = (
        method: string,
        path: string,
        queryParams: Record<string, string>,
        body: unknown
      ): { raw?: Json; result?: Json } => {
        if (method === "GET" && path === "/") {
          return {
            raw: { title: "qdrant - vector search engine (engram test server)", version: options.version ?? "1.12.0" }
          }
        }
        if (method === "GET" && ["/healthz", "/livez", "/readyz"].includes(path)) return { raw: "healthz check passed" }
        if (method === "GET" && path === "/collections") {
          return { result: { collections: [...collections.keys()].map((name) => ({ name })) } }
        }
        const m = /^\/collections\/([^/]+)(\/.*)?$/.exec(path)
        if (m === null) throw new HttpError(404, "Not found")
        const name = decodeURIComponent(m[1]!)
        const rest = m[2] ?? ""
        const b = (): JsonObject => objectAt(body ?? {}, "body")
        switch (`${method} ${rest}`) {
          case "GET ":
            return { result: collectionInfo(getCollection(name)) }
          case "GET /exists":
            return { result: { exists: collections.has(name) } }
          case "PUT ":
            return { result: createCollection(name, b()) }
          case "DELETE ": {
            const c = collections.get(name)
            if (c?.timer !== undefined) clearTimeout(c.timer)
            return { result: collections.delete(name) }
          }
          case "PUT /index": {
            const c = getCollection(name)
            return { result: write(c, [prepareCreateIndex(c, b())], parseWait(queryParams))[0]! }
          }
          case "PUT /points": {
            const c = getCollection(name)
            return { result: write(c, [prepareUpsert(c, b(), stampOf(c))], parseWait(queryParams))[0]! }
          }
          case "POST /points": {
            const c = getCollection(name)
            const o = b()
            const ids = arrayAt(o["ids"], "ids").map(parseId)
            const shape = record(c, o["with_payload"], o["with_vector"], true)
            const seen = new Set<string>()
            const out: Array<Json> = []
            for (const id of ids) {
              const p = c.points.get(keyOf(id))
              if (p === undefined || seen.has(keyOf(id))) continue
              seen.add(keyOf(id))
              out.push(shape(p))
            }
            return { result: out }
          }
          case "POST /points/delete": {
            const c = getCollection(name)
            return { result: write(c, [prepareDelete(c, b())], parseWait(queryParams))[0]! }
          }
          case "POST /points/payload": {
            const c = getCollection(name)
            return { result: write(c, [prepareSetPayload(c, b(), false, stampOf(c))], parseWait(queryParams))[0]! }
          }
          case "PUT /points/payload": {
            const c = getCollection(name)
            return { result: write(c, [prepareSetPayload(c, b(), true, stampOf(c))], parseWait(queryParams))[0]! }
          }
          case "POST /points/payload/delete": {
            const c = getCollection(name)
            return { result: write(c, [prepareDeletePayload(c, b(), stampOf(c))], parseWait(queryParams))[0]! }
          }
          case "POST /points/payload/clear": {
            const c = getCollection(name)
            return { result: write(c, [prepareClearPayload(c, b(), stampOf(c))], parseWait(queryParams))[0]! }
          }
          case "PUT /points/vectors": {
            const c = getCollection(name)
            return { result: write(c, [prepareUpdateVectors(c, b(), stampOf(c))], parseWait(queryParams))[0]! }
          }
          case "POST /points/vectors/delete": {
            const c = getCollection(name)
            return { result: write(c, [prepareDeleteVectors(c, b(), stampOf(c))], parseWait(queryParams))[0]! }
          }
          case "POST /points/batch": {
            const c = getCollection(name)
            return { result: write(c, batch(c, b()), parseWait(queryParams)) }
          }
          case "POST /points/scroll":
            return { result: scroll(getCollection(name), b()) }
          case "POST /points/query":
            return { result: query(getCollection(name), b()) }
          case "POST /points/count": {
            const c = getCollection(name)
            const predicate = compileFilter(c, b()["filter"])
            return { result: { count: [...c.points.values()].filter(predicate).length } }
          }
          default:
            throw new HttpError(404, `Not found: ${method} ${path}`)
        }
      }

      const send = (res: http.ServerResponse, status: number, body: Json, started: number) => {
        const time = (performance.now() - started) / 1000
        const text = typeof body === "string"
          ? body
          : JSON.stringify(status < 300 && isObject(body) ? { ...body, time } : body)
        res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json" })
        res.end(text)
      }

      const MAX_BODY = 32 * 1024 * 1024
      const OPEN_PATHS = new Set(["/", "/healthz", "/livez", "/readyz"])

      const reviver = options.exactFloats === true
        ? undefined
        : (_key: string, value: unknown) => (typeof value === "number" ? serdeNumber(value) : value)

      const server = http.createServer((req, res) => {
        const started = performance.now()
        const chunks: Array<Buffer> = []
        let size = 0
        const declared = Number(req.headers["content-length"] ?? Number.NaN)
        // Qdrant (actix) refuses a body above the limit before reading or parsing any of it: with
        // a declared length at once, otherwise as soon as the limit is crossed.
        let tooLarge: string | undefined = declared > MAX_BODY
          ? `JSON payload (${declared} bytes) is larger than allowed (limit: ${MAX_BODY} bytes).`
          : undefined
        req.on("data", (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_BODY) tooLarge ??= `JSON payload has exceeded limit (${MAX_BODY} bytes).`
          if (tooLarge === undefined) chunks.push(chunk)
        })
        req.on("end", () => {
          if (hanging) return
          const url = new URL(req.url ?? "/", "http://127.0.0.1")
          const queryParams = Object.fromEntries(url.searchParams)
          const method = req.method ?? "GET"
          if (tooLarge !== undefined) {
            requests.push({ method, path: url.pathname, query: queryParams, body: `(${size} bytes, refused)` })
            send(res, 400, { result: null, status: { error: tooLarge }, time: 0 }, started)
            return
          }
          const text = Buffer.concat(chunks).toString("utf8")
          let body: unknown
          try {
            body = text === "" ? undefined : JSON.parse(text, reviver)
          } catch (e) {
            requests.push({ method, path: url.pathname, query: queryParams, body: text })
            send(res, 400, {
              status: { error: `Format error in JSON body: ${e instanceof Error ? e.message : String(e)}` },
              time: 0
            }, started)
            return
          }
          requests.push({ method, path: url.pathname, query: queryParams, body })
          try {
            hook?.(requests[requests.length - 1]!)
            if (options.apiKey !== undefined && !OPEN_PATHS.has(url.pathname)) {
              const bearer = /^Bearer (.*)$/.exec(req.headers.authorization ?? "")?.[1]
              const key = req.headers["api-key"] ?? bearer
              if (key === undefined) {
                throw new HttpError(401, "Must provide an API key or an Authorization bearer token")
              }
              if (key !== options.apiKey) throw new HttpError(401, "Invalid API key or JWT")
            }
            const i = failures.findIndex((f) =>
              (f.method === undefined || f.method === method) && (f.path === undefined || f.path.test(url.pathname))
            )
            if (i >= 0) {
              const f = failures.splice(i, 1)[0]!
              throw new HttpError(f.status, f.error)
            }
            const out = route(method, url.pathname, queryParams, body)
            if (out.raw !== undefined) send(res, 200, out.raw, started)
            else send(res, 200, { result: out.result ?? null, status: "ok" }, started)
          } catch (e) {
            if (e instanceof HttpError) send(res, e.status, { status: { error: e.message }, time: 0 }, started)
            else {
              send(res, 500, {
                status: { error: `Service internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}` },
                time: 0
              }, started)
            }
          }
        })
      })

      const stop = () => {
        for (const c of collections.values()) if (c.timer !== undefined) clearTimeout(c.timer)
        collections.clear()
      }

      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as AddressInfo).port
        const api: QdrantTestServer = {
          url: `http://127.0.0.1:${port}`,
          port,
          requests,
          clearRequests: () => void requests.splice(0),
          backgroundErrors,
          failNext: (f) => void failures.push(f),
          setHanging: (h) => void (hanging = h),
          points: (name) => {
            const c = collections.get(name)
            return c === undefined ? undefined : sortedPoints(c).map((p) => ({
              id: p.id,
              vectors: Object.fromEntries([...p.vectors].map(([n, v]) => [n, [...v]])),
              payload: clone(p.payload)
            }))
          },
          indexes: (name) => collections.get(name)?.indexes,
          vectorConfig: (name) => collections.get(name)?.vectors,
          collections: () => [...collections.keys()],
          flush: () => {
            for (const c of collections.values()) flushCollection(c)
          },
          onRequest: (h) => void (hook = h),
          upsertNow: (name, points) => {
            const c = getCollection(name)
            const body: JsonObject = {
              points: points.map((p) => ({
                id: p.id,
                vector: clone(p.vectors as JsonObject),
                payload: clone(p.payload)
              }))
            }
            write(c, [prepareUpsert(c, body, stampOf(c))], true)
          }
        }
        resume(Effect.succeed({ server, api, stop }))
      })
    }),
    ({ server, stop }) =>
      Effect.async<void>((resume) => {
        stop()
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map(({ api }) => api))
