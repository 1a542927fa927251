/**
 * `instrument`: a storage failure of any backend comes out as a typed StorageError whose operation
 * is the public method's name; outcomes are counted; a throwing method is a defect, still traced.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Metric, MetricLabel, Option } from "effect"
import { callsTotal, instrument } from "../src/core/instrument.js"
import { makeStructuredStore, type StructuredPort } from "../src/core/structured.js"
import { StorageError } from "../src/domain/errors.js"

const failing = new StorageError({
  backend: "sqlite",
  operation: "get",
  message: "disk I/O error",
  cause: new Error("EIO")
})

const port: StructuredPort = {
  backend: "sqlite",
  get: () => Effect.fail(failing),
  set: () => Effect.succeed(1),
  delete: () => Effect.succeed(false),
  list: () => Effect.succeed([]),
  saveAgent: () => Effect.die("not used"),
  loadAgent: () => Effect.succeed(Option.none()),
  listAgents: () => Effect.succeed([]),
  removeAgent: () => Effect.succeed(false)
}

const count = (method: string, outcome: string) =>
  Effect.map(
    Metric.value(Metric.taggedWithLabels(callsTotal, [
      MetricLabel.make("service", "Probe"),
      MetricLabel.make("method", method),
      MetricLabel.make("backend", "memory"),
      MetricLabel.make("outcome", outcome)
    ])),
    (s) => s.count
  )

describe("instrument", () => {
  it.effect("a port's StorageError is renamed to <Service>.<method> and stays a typed failure", () =>
    Effect.gen(function*() {
      const store = makeStructuredStore(port)
      const error = yield* Effect.flip(store.get("agent", "key"))
      assert.instanceOf(error, StorageError)
      assert.strictEqual(error.operation, "StructuredStore.get")
      assert.strictEqual(error.message, "disk I/O error")
      assert.strictEqual(error.backend, "sqlite")
    }))

  it.effect("outcomes are counted: success, failure, defect", () =>
    Effect.gen(function*() {
      const probe = instrument("Probe", "memory", {
        ok: () => Effect.succeed(1),
        refuse: () => Effect.fail("no"),
        crash: (): Effect.Effect<number> => {
          throw new Error("bug")
        }
      })
      const before = [yield* count("ok", "success"), yield* count("refuse", "failure"), yield* count("crash", "defect")]
      yield* probe.ok()
      yield* Effect.exit(probe.refuse())
      const crashed = yield* Effect.exit(probe.crash())
      assert.isTrue(Exit.isFailure(crashed) && Cause.isDie(crashed.cause))
      const after = [yield* count("ok", "success"), yield* count("refuse", "failure"), yield* count("crash", "defect")]
      assert.deepStrictEqual(after.map((n, i) => n - before[i]!), [1, 1, 1])
    }))
})
