/**
 * SQLite's memory rows are checked without the Schema when they plainly pass every rule of
 * `StoredRow`, and decoded by the Schema otherwise: whatever a row holds, `decodeStored` returns what
 * the Schema's decoding returns (its columns) or throws as it does.
 */
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeStored, StoredRow } from "../src/backends/sqlite/memories.js"

const columns = {
  rid: fc.oneof(fc.integer(), fc.constantFrom<unknown>("1", null, 1.5)),
  has_embedding: fc.constantFrom<unknown>(0, 1, 2, "1", null),
  embedding: fc.constantFrom<unknown>(null, new Uint8Array(8), Buffer.alloc(4), "blob", new Float32Array(2)),
  id: fc.oneof(fc.uuid(), fc.constantFrom<unknown>("not-a-uuid", "0190A000-0000-7000-8000-000000000000", 5)),
  agent_id: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom<unknown>("", "a\u0000", "\ud800", 3)),
  content: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom<unknown>(null, 1)),
  source: fc.constantFrom<unknown>("document", "system", "bogus", null),
  scope: fc.oneof(fc.string({ maxLength: 4 }), fc.constant<unknown>(7)),
  metadata: fc.constantFrom<unknown>("{}", "{\"a\":1}", null, {}),
  confidence: fc.oneof(fc.double(), fc.constant<unknown>("1")),
  created_at: fc.oneof(fc.integer(), fc.constant<unknown>(null)),
  accessed_at: fc.oneof(fc.integer(), fc.constant<unknown>(BigInt(1))),
  access_count: fc.oneof(fc.integer(), fc.constant<unknown>(undefined))
}

const good = {
  rid: 1,
  has_embedding: 1,
  embedding: new Uint8Array(8),
  id: "01900000-0000-7000-8000-000000000001",
  agent_id: "a",
  content: "c",
  source: "document",
  scope: "episodic",
  metadata: "{}",
  confidence: 1,
  created_at: 5,
  accessed_at: 5,
  access_count: 0
}

/** A good row with up to two columns replaced from their pools (most refused), sometimes an extra column. */
const row = fc.tuple(
  fc.array(fc.constantFrom(...(Object.keys(columns) as Array<keyof typeof columns>)), { maxLength: 2 }).chain((
    keys
  ) => fc.tuple(fc.constant(keys), fc.tuple(...keys.map((k) => columns[k])))),
  fc.boolean()
).map(([[keys, values], extra]) => {
  const r: Record<string, unknown> = { ...good, ...(extra ? { score: 2 } : {}) }
  keys.forEach((k, i) => (r[k] = values[i]))
  return r
})

const schemaDecode = Schema.decodeUnknownEither(StoredRow)
const pick = (r: object) =>
  Object.fromEntries(Object.keys(StoredRow.fields).map((k) => [k, (r as Record<string, unknown>)[k]]))

describe("decodeStored", () => {
  it("returns the Schema's columns for every row it decodes, and throws for every row the Schema refuses", () => {
    let refused = 0
    fc.assert(
      fc.property(row, (r) => {
        const expected = schemaDecode(r)
        if (Either.isLeft(expected)) {
          refused++
          expect(() => decodeStored(r)).toThrow()
        } else {
          expect(pick(decodeStored(r))).toEqual(pick(expected.right))
        }
      }),
      { numRuns: 3000 }
    )
    expect(refused).toBeGreaterThan(500)
  })
})
