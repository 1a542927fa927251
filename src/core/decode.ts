/**
 * Boundary decoding: every service input is decoded with its Schema before a backend touches it;
 * a failure of any kind is an `InvalidInput` naming the offending field — never a defect.
 *
 * Hostile input is bounded before an error is described: Effect writes the rejected value into a
 * parse error's message, recursively, so a value nested thousands of levels deep would overflow
 * the stack while the message is being written. A rejected input is therefore measured first
 * (iteratively, with a budget) and an input nested deeper than `MAX_INPUT_DEPTH` is reported by its
 * depth, without formatting it. Anything decoding still throws is caught and reported as invalid.
 */
import { Effect, type Either, ParseResult, Schema } from "effect"
import { InvalidInput } from "../domain/errors.js"
import { MAX_JSON_DEPTH } from "../domain/json.js"

const options = { errors: "first", onExcessProperty: "error" } as const

/**
 * Deepest nesting of an input that is described in full when it is rejected. Inputs carry JSON
 * values (at most `MAX_JSON_DEPTH` deep) a few levels down, so any valid input is far shallower.
 */
export const MAX_INPUT_DEPTH = MAX_JSON_DEPTH + 64

/** Most objects and arrays the depth check looks at (shared references count each time). */
const DEPTH_CHECK_BUDGET = 1_000_000

/**
 * The path to the first point of `input` nested deeper than `limit` (or where the budget ran out,
 * which only a value with shared or cyclic references can reach), or `undefined`. Iterative: it
 * cannot overflow the stack itself.
 */
export const tooDeep = (input: unknown, limit = MAX_INPUT_DEPTH): ReadonlyArray<string> | undefined => {
  const stack: Array<{ readonly value: object; readonly path: ReadonlyArray<string> }> = []
  if (typeof input === "object" && input !== null) stack.push({ value: input, path: [] })
  let budget = DEPTH_CHECK_BUDGET
  while (stack.length > 0) {
    const { path, value } = stack.pop()!
    if (path.length > limit || --budget < 0) return path
    if (ArrayBuffer.isView(value)) continue
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === "object" && v !== null) stack.push({ value: v, path: [...path, k] })
    }
  }
  return undefined
}

const fieldName = (root: string, path: ReadonlyArray<unknown>): string => {
  const field = [root, ...path.map(String)].filter((p) => p !== "").join(".")
  return field === "" ? "input" : field
}

/**
 * The path of the first issue, read from the issue tree without formatting anything (formatting
 * would describe the rejected value).
 */
const issuePath = (issue: ParseResult.ParseIssue): ReadonlyArray<PropertyKey> => {
  const path: Array<PropertyKey> = []
  let at: ParseResult.ParseIssue | undefined = issue
  while (at !== undefined) {
    switch (at._tag) {
      case "Pointer":
        path.push(...(Array.isArray(at.path) ? at.path : [at.path]))
        at = at.issue
        break
      case "Composite":
        at = Array.isArray(at.issues) ? at.issues[0] : at.issues
        break
      case "Refinement":
      case "Transformation":
        at = at.issue
        break
      default:
        at = undefined
    }
  }
  return path
}

/** The InvalidInput for a rejected `input`, described without ever formatting a hostile value. */
const toInvalidInput = (root: string, input: unknown, error: ParseResult.ParseError): InvalidInput => {
  if (tooDeep(input) !== undefined) {
    return new InvalidInput({
      field: fieldName(root, issuePath(error.issue)),
      message: `nested deeper than ${MAX_INPUT_DEPTH} levels, or built from too many shared references`
    })
  }
  try {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
    return new InvalidInput({ field: fieldName(root, issue?.path ?? []), message: issue?.message ?? "is not valid" })
  } catch (cause) {
    return new InvalidInput({ field: fieldName(root, []), message: `cannot be described: ${String(cause)}` })
  }
}

/** Run a decoder, turning anything it throws into an InvalidInput for `root`. */
const guarded =
  <A>(
    root: string,
    run: (input: unknown) => Either.Either<A, ParseResult.ParseError>
  ) =>
  (input: unknown): A | InvalidInput => {
    try {
      const result = run(input)
      return result._tag === "Right" ? result.right : toInvalidInput(root, input, result.left)
    } catch (cause) {
      // Only a defect of a schema can throw here; the input is named, never described.
      return new InvalidInput({
        field: fieldName(root, []),
        message: cause instanceof RangeError ? `nested too deeply to be checked` : "cannot be decoded"
      })
    }
  }

/** Decode `input` with `schema`; `field` prefixes the reported path (e.g. "query"). */
export const decode = <A, I>(schema: Schema.Schema<A, I, never>, field = "") => {
  // The Either decoder: every domain schema is synchronous, and it is several times cheaper than the
  // Effect decoder on hot paths (a key-value get decodes two ids; a batch decodes every item).
  const run = guarded(field, Schema.decodeUnknownEither(schema, options))
  return (input: unknown): Effect.Effect<A, InvalidInput> =>
    Effect.suspend(() => {
      const result = run(input)
      return result instanceof InvalidInput ? Effect.fail(result) : Effect.succeed(result)
    })
}

/** Synchronous variant for pure code paths; returns the error instead of throwing. */
export const decodeSync = <A, I>(
  schema: Schema.Schema<A, I, never>,
  field = ""
): (input: unknown) => A | InvalidInput => guarded(field, Schema.decodeUnknownEither(schema, options))

/** An `InvalidInput` for `field`. */
export const invalid = (field: string, message: string): InvalidInput => new InvalidInput({ field, message })
