/**
 * Hostile shapes of input end as a typed InvalidInput naming the field, never as a defect, a thrown
 * exception or a hang: values nested thousands of levels deep (Effect would overflow the stack while
 * describing them), cyclic values, and values built from shared references that are exponentially
 * large as trees.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { layer as memoryLayer } from "../../src/backends/memory/index.js"
import { decode, MAX_INPUT_DEPTH, tooDeep } from "../../src/core/decode.js"
import { Json, jsonProblem } from "../../src/domain/json.js"
import { AgentInput } from "../../src/domain/structured.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { cyclic, doubling, nested } from "../support/hostile.js"

const invalidField = <A, E>(exit: Exit.Exit<A, E>): string => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  if (Exit.isSuccess(exit)) return ""
  assert.isFalse(Cause.isDie(exit.cause), `a defect: ${Cause.pretty(exit.cause)}`)
  const failure = Cause.failureOption(exit.cause)
  assert.isTrue(failure._tag === "Some")
  const error = (failure as { value: { _tag: string; field: string } }).value
  assert.strictEqual(error._tag, "InvalidInput")
  return error.field
}

describe("decoding hostile input", () => {
  it("tooDeep finds the first branch deeper than the limit, iteratively", () => {
    assert.isUndefined(tooDeep(nested(MAX_INPUT_DEPTH - 1)))
    assert.isDefined(tooDeep(nested(100_000)))
    assert.deepStrictEqual(tooDeep({ ok: 1, deep: nested(MAX_INPUT_DEPTH + 5) })?.[0], "deep")
  })

  it("jsonProblem is bounded on shared references and cycles", () => {
    const started = Date.now()
    assert.match(jsonProblem(doubling(60)) ?? "", /more than|nesting/)
    assert.match(jsonProblem(cyclic()) ?? "", /more than|nesting/)
    assert.isBelow(Date.now() - started, 10_000)
  })

  for (
    const [name, value] of [
      ["100,000 levels deep", nested(100_000)],
      ["3,001 levels deep", nested(3_001)],
      ["cyclic", cyclic()],
      ["2^60 leaves from shared references", doubling(60)]
    ] as const
  ) {
    it.effect(`a JSON field ${name} is InvalidInput naming the field`, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(decode(Json, "value")(value))
        assert.strictEqual(invalidField(exit), "value")
      }))

    it.effect(`a struct field ${name} is InvalidInput naming the field`, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(decode(AgentInput, "agent")({ id: "a", name: value }))
        assert.strictEqual(invalidField(exit), "agent.name")
      }))

    it.effect(`StructuredStore.set with a value ${name} fails with InvalidInput`, () =>
      Effect.gen(function*() {
        const kv = yield* StructuredStore
        const exit = yield* Effect.exit(kv.set("agent", "key", value as never))
        assert.strictEqual(invalidField(exit), "value")
      }).pipe(Effect.provide(memoryLayer({ embedding: { model: "m", dimensions: 8 } }))))
  }
})
