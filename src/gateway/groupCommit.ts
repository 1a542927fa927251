/**
 * Group commit of the gateway's single stores: `remember` requests that arrive together are written
 * by one `rememberMany` — one transaction and one commit (one fsync on SQLite) for all of them —
 * instead of one commit each.
 *
 * What an acknowledgement means does not change: a request is answered only after the commit that
 * holds its memory has returned. A batch is all or none, so when the batch is refused for an input
 * (InvalidInput or InvalidEmbedding: nothing of it was stored) each of its requests is written again
 * on its own, and gets exactly the answer a lone `remember` gives (its own id, its own refusal with
 * the field named as for one input). When the store itself fails (StorageError,
 * BackendUnavailable), every request of the batch gets that typed error: none was acknowledged.
 *
 * There is no timer: the first request of an idle moment waits only until the event loop has taken
 * in the requests that arrived with it; while a batch is being written, newcomers queue and form the
 * next one. A quiet gateway therefore answers a lone request as fast as before.
 */
import { Cause, Context, Deferred, Effect, Exit, Option } from "effect"
import { InvalidEmbedding, InvalidInput } from "../domain/errors.js"
import type { MemoryId } from "../domain/ids.js"
import type { RememberInput } from "../domain/memory.js"
import type { SemanticStore } from "../services/SemanticStore.js"

type Store = SemanticStore["Type"]
type Failure = Effect.Effect.Error<ReturnType<Store["remember"]>>

/** Most requests written by one commit (a batch larger than this is split). */
export const MAX_GROUP = 256

interface Pending {
  readonly input: RememberInput
  readonly done: Deferred.Deferred<MemoryId, Failure>
}

/** Let the event loop take in the requests that arrived together (their handlers queue here). */
const afterPendingIo = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

const isInputRefusal = (e: unknown): boolean => e instanceof InvalidInput || e instanceof InvalidEmbedding

/** The store's `remember`, with concurrent calls grouped into shared commits. */
export const makeGroupCommit = (store: Store) => {
  const queue: Array<Pending> = []
  let writing = false

  const writeOne = (p: Pending) =>
    Effect.flatMap(Effect.exit(store.remember(p.input)), (exit) => Deferred.done(p.done, exit))

  const writeBatch = (batch: ReadonlyArray<Pending>): Effect.Effect<void> =>
    batch.length === 1
      ? writeOne(batch[0]!)
      : Effect.flatMap(Effect.exit(store.rememberMany(batch.map((p) => p.input))), (exit) => {
        if (Exit.isSuccess(exit)) {
          return Effect.forEach(batch, (p, i) => Deferred.succeed(p.done, exit.value[i]!), { discard: true })
        }
        const failure = Cause.failureOption(exit.cause)
        return Option.isSome(failure) && isInputRefusal(failure.value)
          ? Effect.forEach(batch, writeOne, { discard: true })
          : Effect.forEach(batch, (p) => Deferred.failCause(p.done, exit.cause), { discard: true })
      })

  /** The next batch; when there is none the writer stops, in the same step, so no request is left behind. */
  const take = Effect.sync(() => {
    const batch = queue.splice(0, MAX_GROUP)
    if (batch.length === 0) writing = false
    return batch
  })

  // Runs detached from any request, so a client that goes away mid-batch cannot stop the others' writes.
  const drain: Effect.Effect<void> = Effect.gen(function*() {
    yield* afterPendingIo
    for (let batch = yield* take; batch.length > 0; batch = yield* take) yield* writeBatch(batch)
  })

  /** Remember `input` in the next shared commit; succeeds once that commit has returned. */
  const remember = (input: RememberInput): Effect.Effect<MemoryId, Failure> =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<MemoryId, Failure>()
      queue.push({ input, done })
      if (!writing) {
        writing = true
        yield* Effect.forkDaemon(drain)
      }
      return yield* Deferred.await(done)
    })

  return { remember }
}

/** The gateway's grouped `remember`, shared by every route that stores one memory. */
export class GroupCommit extends Context.Tag("engram/gateway/GroupCommit")<
  GroupCommit,
  ReturnType<typeof makeGroupCommit>
>() {}
