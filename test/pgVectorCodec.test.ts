/**
 * pgvector's binary form as PgLive writes and reads it: `vectorBinary` is exactly int16 dimensions,
 * int16 zero, then each value rounded to float32 in big-endian order, and `decodeVector` reads the
 * float32 values back.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeVector, vectorBinary } from "../src/backends/postgres/vectorCodec.js"

/** The form written value by value, as the format defines it. */
const reference = (v: ReadonlyArray<number>): Buffer => {
  const out = Buffer.alloc(4 + 4 * v.length)
  out.writeInt16BE(v.length, 0)
  for (let i = 0; i < v.length; i++) out.writeFloatBE(v[i]!, 4 + 4 * i)
  return out
}

describe("pgvector binary form", () => {
  it("vectorBinary writes the format byte for byte; decodeVector reads back the float32 values", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true }), { minLength: 1, maxLength: 1000 }), (v) => {
        const bytes = vectorBinary(v)
        expect(bytes.equals(reference(v))).toBe(true)
        expect(decodeVector(bytes)).toEqual(v.map((x) => Math.fround(x)))
      })
    )
  })
})
