/**
 * `rememberMany` checks a plainly valid item without the Schema and sends every other item through
 * it: whatever an item holds, a batch of that one item must end exactly as `remember` of it ends —
 * the same memory, or the same typed error (tag, message, and field, `inputs[0]` for `input`). And
 * the ids minted for memories without one are UUIDv7 that only grow.
 */
import { Effect, Either } from "effect"
import * as fc from "fast-check"
import { validate, version } from "uuid"
import { describe, expect, it } from "vitest"
import { prepareRemember, prepareRememberMany } from "../src/core/memoryInputs.js"
import { isUuidV7, newUuid } from "../src/domain/ids.js"
import type { RememberInput } from "../src/domain/memory.js"
import { withOverrides } from "./support/overrides.js"

const limits = { space: { model: "m", dimensions: 4 }, maxContentBytes: 64 }

/** A value for each field: valid ones, and ones each rule of the field refuses. */
const fields = {
  agentId: fc.oneof(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.constantFrom("", "a".repeat(257), "a\u0000", "a\u0007", "\ud800", "\u{1F600}"),
    fc.integer()
  ),
  content: fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom("", "x\u0000", "\udc00", "é".repeat(40), "a".repeat(65)),
    fc.constant(null)
  ),
  source: fc.constantFrom("system", "document", "bogus", 3, null),
  scope: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom("", "a\u0001", "b".repeat(257), 7)),
  metadata: fc.oneof(
    fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    fc.constantFrom<unknown>({ a: Number.NaN }, [], "x", { "\ud800": 1 }, { a: { b: Infinity } }, null),
    fc.constant(Object.create({ inherited: 1 }) as unknown)
  ),
  embedding: fc.oneof(
    fc.array(fc.double({ noNaN: true, min: -10, max: 10 }), { minLength: 4, maxLength: 4 }),
    fc.array(fc.double(), { maxLength: 6 }),
    fc.float32Array({ minLength: 3, maxLength: 5 }),
    fc.constantFrom<unknown>([1, "a", 2, 3], [0, 0, 0, 0], [1e39, 0, 0, 1], new Float64Array(4), "v", [1, 2, 3, null])
  ),
  id: fc.oneof(fc.uuid(), fc.constantFrom("not-a-uuid", "0190A000-0000-7000-8000-000000000000", 5))
}

/** A valid item of some shape: each optional field present or not. */
const valid = fc.record(
  {
    agentId: fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s)),
    content: fc.string({ minLength: 1, maxLength: 20 }),
    source: fc.constant("document"),
    scope: fc.constant("semantic"),
    metadata: fc.constant({ n: 1 }),
    embedding: fc.constant([0.5, 1, 0, -2]),
    id: fc.uuid()
  },
  { requiredKeys: ["agentId", "content", "source"] }
)

/**
 * An item: a valid one with up to two fields replaced by any value of their pool (most refused), or
 * set to `undefined`, and sometimes an extra key — so that each rule is met alone, as it must be
 * for the quick check to be the one deciding.
 */
const item = fc.tuple(
  valid,
  fc.array(fc.constantFrom(...(Object.keys(fields) as Array<keyof typeof fields>)), { maxLength: 2 }).chain((keys) =>
    fc.tuple(
      fc.constant(keys),
      fc.tuple(...keys.map((k) => fc.option(fields[k], { freq: 6 }) /* undefined one time in six */))
    )
  ),
  fc.constantFrom(null, null, null, null, null, null, null, null, null, "extra", "__proto__", "Embedding")
).map(withOverrides)

/** What a call ended with, comparable across the two paths. */
const outcome = (
  result: Either.Either<{ readonly memories: ReadonlyArray<unknown>; readonly minted: boolean }, unknown>,
  field: (f: string) => string
) =>
  Either.match(result, {
    onLeft: (e) => {
      const error = e as { readonly _tag: string; readonly message: string; readonly field?: string }
      return {
        error: error._tag,
        message: error.message,
        field: error.field === undefined ? undefined : field(error.field)
      }
    },
    onRight: ({ memories, minted }) => {
      // The id (minted when absent) and the instants (the Clock was read twice) differ by design.
      const { accessedAt: _a, createdAt: _c, id, ...rest } = memories[0] as Record<string, unknown>
      return { memory: rest, id: minted ? "minted" : id }
    }
  })

describe("rememberMany's item checks", () => {
  it("end every item exactly as remember's Schema decoding does", () => {
    let failures = 0
    fc.assert(
      fc.property(item, (input) => {
        const one = outcome(
          Effect.runSync(Effect.either(prepareRemember(input as RememberInput, limits))),
          (f) => f
        )
        const many = outcome(
          Effect.runSync(Effect.either(prepareRememberMany([input as RememberInput], limits))),
          (f) => f.replace(/^inputs\[0\]/, "input")
        )
        if ("error" in one) failures++
        expect(many).toEqual(one)
      }),
      { numRuns: 3000 }
    )
    // The generator reaches both ends: refused items and stored ones.
    expect(failures).toBeGreaterThan(600)
    expect(failures).toBeLessThan(2400)
  })

  it("a batch fails on its first bad item, named by its position", () => {
    const good = { agentId: "a", content: "x", source: "system", embedding: [1, 0, 0, 0] } as const
    const result = Effect.runSync(
      Effect.either(prepareRememberMany([good, good, { ...good, source: "bogus" } as unknown as RememberInput], limits))
    )
    expect(Either.isLeft(result) && (result.left as { field: string }).field).toBe("inputs[2].source")
  })
})

describe("minted ids", () => {
  it("are UUIDv7 of the current millisecond and only grow", () => {
    const before = Date.now()
    const ids = Array.from({ length: 50_000 }, newUuid)
    const after = Date.now()
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      expect(validate(id) && version(id) === 7 && isUuidV7(id)).toBe(true)
      if (i > 0) expect(id > ids[i - 1]!).toBe(true)
    }
    const ms = (id: string) => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
    expect(ms(ids[0]!)).toBeGreaterThanOrEqual(before)
    // Never behind the clock; ahead of it only by what the counter borrowed (50,000 ids need none).
    expect(ms(ids[ids.length - 1]!)).toBeLessThanOrEqual(after)
    expect(new Set(ids).size).toBe(ids.length)
  })
})
