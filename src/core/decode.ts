/**
 * Boundary decoding (SPEC R-DOM-1): every service input is decoded with its Schema before a backend
 * touches it; a failure is an `InvalidInput` naming the offending field.
 */
import { Effect, ParseResult, Schema } from "effect"
import { InvalidInput } from "../domain/errors.js"

const options = { errors: "first", onExcessProperty: "error" } as const

const toInvalidInput = (root: string) => (error: ParseResult.ParseError): InvalidInput => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = issue === undefined ? [] : issue.path.map(String)
  const field = [root, ...path].filter((p) => p !== "").join(".")
  return new InvalidInput({ field: field === "" ? "input" : field, message: issue?.message ?? error.message })
}

/** Decode `input` with `schema`; `field` prefixes the reported path (e.g. "query"). */
export const decode = <A, I>(schema: Schema.Schema<A, I, never>, field = "") => {
  // The Either decoder: every domain schema is synchronous, and it is several times cheaper than the
  // Effect decoder on hot paths (a key-value get decodes two ids; a batch decodes every item).
  const run = Schema.decodeUnknownEither(schema, options)
  const fail = toInvalidInput(field)
  return (input: unknown): Effect.Effect<A, InvalidInput> =>
    Effect.suspend(() => {
      const result = run(input)
      return result._tag === "Right" ? Effect.succeed(result.right) : Effect.fail(fail(result.left))
    })
}

/** Synchronous variant for pure code paths; returns the error instead of throwing. */
export const decodeSync = <A, I>(schema: Schema.Schema<A, I, never>, field = "") => {
  const run = Schema.decodeUnknownEither(schema, options)
  return (input: unknown): A | InvalidInput => {
    const result = run(input)
    return result._tag === "Right" ? result.right : toInvalidInput(field)(result.left)
  }
}

/** An `InvalidInput` for `field`. */
export const invalid = (field: string, message: string): InvalidInput => new InvalidInput({ field, message })
