/** Keyset pagination shared by every list operation. */
import { Schema } from "effect"

/** One page of results; `nextCursor` is null on the last page. Cursors are opaque strings. */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor: string | null
}

/** Schema of a page of `item`. */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ items: Schema.Array(item), nextCursor: Schema.NullOr(Schema.String) })

/** Largest page a list call returns. */
export const MAX_PAGE_SIZE = 1000

export const PageLimit = Schema.Int.pipe(Schema.between(1, MAX_PAGE_SIZE))

/** An optional integer field in `min..max` that decodes to `fallback` when absent. */
export const intInRange = (min: number, max: number, fallback: number) =>
  Schema.optionalWith(Schema.Int.pipe(Schema.between(min, max)), { default: () => fallback })
