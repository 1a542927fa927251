/**
 * How vectors cross between the gateway's main thread and its store thread (storeThread.ts). A
 * message is copied by the structured clone algorithm, which copies a plain array element by
 * element (~29 µs for 384 numbers each way) but a typed array as one block of bytes (~1 µs). So at
 * the places of a call's arguments and of its result where a vector sits, a plain array of numbers is
 * sent as a Float64Array (exact for every number, NaN and infinities included) and turned back into a
 * plain array on arrival; everything else crosses as it is. Which places those are is fixed by the
 * method and listed beside the message (never guessed from the values), so no value a caller sends
 * can be mistaken for a packed vector: what the store receives is what the caller passed.
 */

/** A position inside a value: object keys and array indices; `"*"` in a pattern means every index. */
type Step = string | number
type Pattern = ReadonlyArray<Step | "*">

/** A vector taken out of a message: where it was, and its numbers. */
export interface PackedVector {
  readonly at: ReadonlyArray<Step>
  readonly data: Float64Array
}

/** A value with its vectors taken out. */
export interface Packed {
  readonly value: unknown
  readonly vectors: ReadonlyArray<PackedVector>
}

/** Where each method's arguments hold a vector. */
const ARGUMENT_VECTORS: Readonly<Record<string, ReadonlyArray<Pattern>>> = {
  remember: [[0, "embedding"]],
  rememberMany: [[0, "*", "embedding"]],
  recall: [[0, "embedding"]],
  recallAgents: [[1, "embedding"]],
  updateEmbedding: [[2]]
}

/** Where each method's result holds a vector (`get` answers a memory or null). */
const RESULT_VECTORS: Readonly<Record<string, ReadonlyArray<Pattern>>> = {
  recall: [["*", "memory", "embedding"]],
  recallAgents: [["*", "*", "memory", "embedding"]],
  get: [["embedding"]]
}

const isContainer = (v: unknown): v is Record<Step, unknown> => typeof v === "object" && v !== null

/** A plain array holding only numbers (a hole or any other element keeps it as it is). */
const isNumbers = (v: unknown): v is ReadonlyArray<number> => {
  if (!Array.isArray(v)) return false
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== "number") return false
  return true
}

/**
 * `value` with every vector at `pattern` (from `depth` on) replaced by null, copying each container
 * on the way once (the original is untouched), and each vector found added to `found` with where it was.
 */
const take = (
  value: unknown,
  pattern: Pattern,
  depth: number,
  at: Array<Step>,
  found: Array<{ readonly at: ReadonlyArray<Step>; readonly numbers: ReadonlyArray<number> }>
): unknown => {
  if (depth === pattern.length) {
    if (!isNumbers(value)) return value
    found.push({ at: at.slice(), numbers: value })
    return null
  }
  if (!isContainer(value)) return value
  const step = pattern[depth]!
  if (step === "*") {
    if (!Array.isArray(value)) return value
    let copy: Array<unknown> | undefined
    for (let i = 0; i < value.length; i++) {
      at.push(i)
      const item = take(value[i], pattern, depth + 1, at, found)
      at.pop()
      if (item !== value[i]) (copy ??= value.slice())[i] = item
    }
    return copy ?? value
  }
  if (!Object.hasOwn(value, step)) return value
  at.push(step)
  const item = take(value[step], pattern, depth + 1, at, found)
  at.pop()
  if (item === value[step]) return value
  if (Array.isArray(value)) {
    const copy = value.slice()
    copy[step as number] = item
    return copy
  }
  return { ...value, [step]: item }
}

const get = (value: unknown, at: ReadonlyArray<Step>): unknown =>
  at.reduce<unknown>((v, step) => (isContainer(v) ? v[step] : undefined), value)

const pack = (value: unknown, patterns: ReadonlyArray<Pattern> | undefined): Packed => {
  const found: Array<{ readonly at: ReadonlyArray<Step>; readonly numbers: ReadonlyArray<number> }> = []
  let out = value
  for (const pattern of patterns ?? []) out = take(out, pattern, 0, [], found)
  // One buffer for every vector, each a view of it: the structured clone copies a buffer once
  // however many views of it a message holds.
  let total = 0
  for (const f of found) total += f.numbers.length
  const buffer = new Float64Array(total)
  let offset = 0
  const vectors = found.map(({ at, numbers }) => {
    // `set` copies a plain array of numbers on a fast path (`Float64Array.from` iterates).
    buffer.set(numbers, offset)
    const data = buffer.subarray(offset, offset + numbers.length)
    offset += numbers.length
    return { at, data }
  })
  return { value: out, vectors }
}

/** A plain array of the numbers (a preallocated loop: several times faster than `Array.from`). */
const toArray = (data: Float64Array): Array<number> => {
  const out = new Array<number>(data.length)
  for (let i = 0; i < data.length; i++) out[i] = data[i]!
  return out
}

/** The value a `Packed` was made from (on the receiving side, which owns the copy it received). */
export const unpack = ({ value, vectors }: Packed): unknown => {
  let out = value
  for (const { at, data } of vectors) {
    if (at.length === 0) return toArray(data)
    const holder = get(out, at.slice(0, -1))
    if (isContainer(holder)) holder[at[at.length - 1]!] = toArray(data)
  }
  return out
}

/** A call's arguments with their vectors taken out. */
export const packArguments = (method: string, args: ReadonlyArray<unknown>): Packed =>
  pack(args, ARGUMENT_VECTORS[method])

/** A call's result with its vectors taken out. */
export const packResult = (method: string, value: unknown): Packed => pack(value, RESULT_VECTORS[method])
