/**
 * A recall query is checked without the Schema when it plainly passes every rule, and sent through
 * the Schema otherwise: whatever a query holds, the quick check either declines it or gives exactly
 * what the Schema's decoding gives — so a bad query always gets the Schema's own error.
 */
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { plainQuery } from "../src/core/recall.js"
import { RecallQuery } from "../src/domain/memory.js"
import { withOverrides } from "./support/overrides.js"

/** A value for each field: valid ones, and ones each rule of the field refuses. */
const fields = {
  agentId: fc.oneof(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.constantFrom("", "a".repeat(257), "a\u0000", "\ud800", "\u{1F600}"),
    fc.integer()
  ),
  text: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("", "x\u0000", "\udc00", 4, null)),
  embedding: fc.oneof(
    fc.array(fc.double(), { maxLength: 5 }),
    fc.float32Array({ maxLength: 5 }),
    fc.constantFrom<unknown>([1, "a"], new Float64Array(3), "v", [1, null], {})
  ),
  limit: fc.oneof(
    fc.integer({ min: -3, max: 1003 }),
    fc.constantFrom<unknown>(1.5, Number.NaN, Infinity, "10", 2 ** 60, -0, null)
  ),
  mode: fc.constantFrom<unknown>("vector", "text", "hybrid", "newest", "", 1),
  scope: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom<unknown>("", "a\u0001", "b".repeat(257), 7)),
  source: fc.constantFrom<unknown>("system", "document", "conversation", "bogus", 3),
  minConfidence: fc.oneof(fc.double(), fc.constantFrom<unknown>(0, 1, -0, "0.5", null)),
  after: fc.oneof(
    fc.integer({ min: -5, max: 2 ** 40 }),
    fc.constantFrom<unknown>(1.5, 8_640_000_000_000_000, 8_640_000_000_000_001, Number.NaN, "1")
  ),
  before: fc.oneof(fc.integer({ min: -5, max: 2 ** 40 }), fc.constantFrom<unknown>(0.5, -1, Infinity)),
  metadata: fc.oneof(
    fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    fc.constantFrom<unknown>({ a: Number.NaN }, [], "x", null),
    fc.constant(Object.create({ inherited: 1 }) as unknown)
  )
}

/** A query: a valid one with up to three fields set to any value of their pool, or to `undefined`, and sometimes an extra key. */
const query = fc.tuple(
  fc.record(
    {
      agentId: fc.constant("agent"),
      embedding: fc.constant([0.5, 1, 0]),
      limit: fc.constant(5),
      text: fc.constant("hi")
    },
    { requiredKeys: ["agentId"] }
  ),
  fc.array(fc.constantFrom(...(Object.keys(fields) as Array<keyof typeof fields>)), { maxLength: 3 }).chain((keys) =>
    fc.tuple(fc.constant(keys), fc.tuple(...keys.map((k) => fc.option(fields[k], { freq: 8 }))))
  ),
  fc.constantFrom(null, null, null, null, null, null, null, null, "extra", "__proto__")
).map(withOverrides)

const decodeQuery = Schema.decodeUnknownEither(RecallQuery)

describe("the recall query's quick check", () => {
  it("declines every query the Schema refuses, and gives the Schema's value for every one it takes", () => {
    let taken = 0
    let refused = 0
    fc.assert(
      fc.property(query, (q) => {
        const quick = plainQuery(q)
        const decoded = decodeQuery(q)
        if (Either.isLeft(decoded)) {
          refused++
          expect(quick).toBeUndefined()
        } else if (quick !== undefined) {
          taken++
          expect(quick).toEqual(decoded.right)
          // The vector itself, not a copy.
          expect(quick.embedding).toBe(decoded.right.embedding)
        }
      }),
      { numRuns: 4000 }
    )
    // The generator reaches both ends.
    expect(refused).toBeGreaterThan(800)
    expect(taken).toBeGreaterThan(800)
  })

  it("takes the common query: an agent, a vector and a limit", () => {
    const q = { agentId: "a", embedding: new Float32Array([1, 0]), limit: 10 }
    expect(plainQuery(q)).toEqual({ agentId: "a", embedding: q.embedding, limit: 10 })
    expect(plainQuery({ agentId: "a", text: "x" })).toEqual({ agentId: "a", text: "x", limit: 10 })
  })
})
