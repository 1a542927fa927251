/**
 * The worker side of `storeThread.ts`: opens the gateway's SQLite semantic store on a connection of
 * its own and answers the main thread's SemanticStore calls, one message each, in the order they
 * arrive (each worker is sent only writes or only reads).
 */
import { Cause, Context, Effect, Exit, Layer, Option, Scope } from "effect"
import { parentPort, workerData } from "node:worker_threads"
import { layerSemantic, type SqliteStoreOptions } from "../backends/sqlite/index.js"
import { SemanticStore } from "../services/SemanticStore.js"
import type { StoreCall, StoreFailure, StoreReply } from "./storeThread.js"
import { packResult, unpack } from "./threadWire.js"

const port = parentPort!

const options = workerData as SqliteStoreOptions

/** A failure as it crosses to the main thread: the error's own fields (its cause stays here, in the log). */
const failureOf = (cause: Cause.Cause<unknown>): StoreFailure => {
  const error = Cause.failureOption(cause)
  if (Option.isSome(error) && typeof error.value === "object" && error.value !== null && "_tag" in error.value) {
    const { cause: _, ...fields } = error.value as Record<string, unknown>
    return { typed: { ...fields, message: (error.value as { message?: unknown }).message } }
  }
  return { defect: Cause.pretty(cause) }
}

const main = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const built = yield* Effect.exit(Layer.buildWithScope(layerSemantic(options), scope))
  if (Exit.isFailure(built)) {
    port.postMessage({ ready: false, failure: failureOf(built.cause) })
    return
  }
  const store = Context.get(built.value, SemanticStore)
  port.postMessage({ ready: true, embeddingSpace: store.embeddingSpace })
  const answer = (call: StoreCall) => {
    const run = (store[call.method] as (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>)(
      ...(unpack(call.args) as ReadonlyArray<unknown>)
    )
    Effect.runCallback(run, {
      onExit: (exit) => {
        const reply: StoreReply = Exit.isSuccess(exit)
          ? {
            id: call.id,
            value: packResult(call.method, Option.isOption(exit.value) ? Option.getOrNull(exit.value) : exit.value)
          }
          : { id: call.id, failure: failureOf(exit.cause) }
        port.postMessage(reply)
      }
    })
  }
  port.on("message", (call: StoreCall | "close") => {
    if (call === "close") {
      Effect.runFork(Effect.andThen(Scope.close(scope, Exit.void), () => port.close()))
      return
    }
    answer(call)
  })
})

Effect.runFork(main)
