/** Opaque keyset cursors: base64url of a JSON array of the sort key of the last item returned. */
import { Effect } from "effect"
import type { InvalidInput } from "../domain/errors.js"
import { invalid } from "./decode.js"

/** Encode a sort key (strings and numbers) as an opaque cursor. */
const encodeCursor = (key: ReadonlyArray<string | number>): string =>
  Buffer.from(JSON.stringify(key), "utf8").toString("base64url")

/** Decode a cursor made by `encodeCursor` whose key has the given shape. */
export const decodeCursor = <const T extends ReadonlyArray<"string" | "number">>(
  cursor: string,
  shape: T
): Effect.Effect<{ -readonly [K in keyof T]: T[K] extends "string" ? string : number }, InvalidInput> =>
  Effect.suspend(() => {
    let parsed: unknown
    try {
      parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"))
    } catch {
      return Effect.fail(invalid("cursor", "is not a cursor returned by this store"))
    }
    if (
      !Array.isArray(parsed) || parsed.length !== shape.length ||
      !parsed.every((v, i) => typeof v === shape[i])
    ) {
      return Effect.fail(invalid("cursor", "is not a cursor returned by this store"))
    }
    return Effect.succeed(parsed as never)
  })

/**
 * A page from `rows` read with one row more than `limit` (the extra row only tells that another
 * page follows): the first `limit` items, and a cursor on the sort key of the last of them when
 * more follow.
 */
export const pageOf = <A>(
  rows: ReadonlyArray<A>,
  limit: number,
  key: (last: A) => ReadonlyArray<string | number>
): { readonly items: ReadonlyArray<A>; readonly nextCursor: string | null } => {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null }
}
