/**
 * A child process for the lazy-loading test: build the composed layer from the configuration in
 * argv[2] (JSON), run one remember and recall, and print "ok".
 */
import { Effect, Layer } from "effect"
import { layerFromInput } from "../../src/index.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"

const config: unknown = JSON.parse(process.argv[2]!)
const program = Effect.gen(function*() {
  const store = yield* SemanticStore
  yield* store.remember({ agentId: "a", content: "lazy loading works", source: "system" })
  const hits = yield* store.recall({ agentId: "a", text: "lazy" })
  if (hits.length !== 1) return yield* Effect.die(`expected one hit, got ${hits.length}`)
  console.log("ok")
})
Effect.runPromise(
  Effect.scoped(Effect.flatMap(Layer.build(layerFromInput(config)), (ctx) => Effect.provide(program, ctx)))
).catch((e) => {
  console.error(e)
  process.exit(1)
})
