/**
 * Group commit of the gateway's single stores (src/gateway/groupCommit.ts): concurrent stores share
 * one rememberMany, an input refused inside a batch fails only its own request (with the answer a
 * lone remember gives), a store failure fails the whole batch with its typed error, and every
 * acknowledged store survives a SIGKILL of `engram serve` right after the acknowledgements.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Either, Layer, Option } from "effect"
import { join } from "node:path"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import { layerSemantic as sqliteSemantic } from "../src/backends/sqlite/index.js"
import type { EmbeddingSpace } from "../src/domain/embedding.js"
import { InvalidInput, StorageError } from "../src/domain/errors.js"
import type { RememberInput } from "../src/domain/memory.js"
import { makeGroupCommit } from "../src/gateway/groupCommit.js"
import { SemanticStore } from "../src/services/SemanticStore.js"
import { startServe } from "./support/serve.js"
import { tempDir } from "./support/sqlite.js"

const embedding: EmbeddingSpace = { model: "group-commit-test", dimensions: 4 }

/** The memory store, with its rememberMany and remember calls counted. */
const countedStore = Effect.gen(function*() {
  const store = Context.get(yield* Layer.build(memoryLayer({ embedding })), SemanticStore)
  const calls = { remember: 0, rememberMany: [] as Array<number> }
  const counted: SemanticStore["Type"] = {
    ...store,
    remember: (input) => Effect.suspend(() => (calls.remember++, store.remember(input))),
    rememberMany: (inputs) => Effect.suspend(() => (calls.rememberMany.push(inputs.length), store.rememberMany(inputs)))
  }
  return { store, counted, calls }
})

const note = (agentId: string, content: string, extra: Partial<RememberInput> = {}): RememberInput => ({
  agentId,
  content,
  source: "system",
  ...extra
})

describe("gateway group commit", () => {
  it.scoped("concurrent stores are written by one rememberMany; each gets its own id", () =>
    Effect.gen(function*() {
      const { store, counted, calls } = yield* countedStore
      const grouped = makeGroupCommit(counted)
      const inputs = Array.from({ length: 20 }, (_, i) => note(`agent-${i % 3}`, `memory ${i}`))
      const ids = yield* Effect.forEach(inputs, grouped.remember, { concurrency: "unbounded" })
      assert.deepStrictEqual(calls.rememberMany, [20])
      assert.strictEqual(calls.remember, 0)
      assert.strictEqual(new Set(ids).size, 20)
      for (const [i, id] of ids.entries()) {
        const m = yield* store.get(inputs[i]!.agentId, id)
        assert.strictEqual(Option.getOrThrow(m).content, inputs[i]!.content)
      }
      // A lone store, later, is a batch of one: a plain remember.
      yield* grouped.remember(note("agent-0", "alone"))
      assert.strictEqual(calls.remember, 1)
    }))

  it.scoped("an input refused inside a batch fails only its own request, as a lone remember would", () =>
    Effect.gen(function*() {
      const { store, counted, calls } = yield* countedStore
      const grouped = makeGroupCommit(counted)
      const taken = yield* store.remember(note("owner", "someone else's id"))
      const inputs = [
        note("agent-1", "fine 1"),
        note("agent-1", "bad source", { source: "bogus" as never }),
        note("agent-2", "fine 2"),
        note("agent-2", "id of another agent", { id: taken }),
        note("agent-3", "nul \u0000 inside"),
        note("agent-3", "fine 3")
      ]
      const results = yield* Effect.forEach(inputs, (i) => Effect.either(grouped.remember(i)), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(calls.rememberMany, [6], "tried together first")
      assert.strictEqual(calls.remember, 6, "then each on its own")
      for (const [i, result] of results.entries()) {
        const input = inputs[i]!
        if (Either.isRight(result)) {
          const m = yield* store.get(input.agentId, result.right)
          assert.strictEqual(Option.getOrThrow(m).content, input.content)
        } else {
          // The refusal is the one a lone remember of that input gets (same error, same field).
          const alone = yield* Effect.flip(store.remember(input))
          assert.instanceOf(result.left, InvalidInput, input.content)
          assert.instanceOf(alone, InvalidInput, input.content)
          assert.strictEqual((result.left as InvalidInput).field, (alone as InvalidInput).field, input.content)
        }
      }
      assert.deepStrictEqual(results.map(Either.isRight), [true, false, true, false, false, true])
      assert.strictEqual(yield* store.count("agent-1"), 1)
      assert.strictEqual(yield* store.count("agent-2"), 1)
      assert.strictEqual(yield* store.count("agent-3"), 1)
      assert.strictEqual(yield* store.count("owner"), 1)
    }))

  it.scoped("a store failure fails every request of the batch with that typed error; the next batch is written", () =>
    Effect.gen(function*() {
      const { store, counted } = yield* countedStore
      let broken = true
      const failing: SemanticStore["Type"] = {
        ...counted,
        rememberMany: (inputs) =>
          broken
            ? Effect.fail(new StorageError({ backend: "memory", operation: "rememberMany", message: "disk full" }))
            : counted.rememberMany(inputs)
      }
      const grouped = makeGroupCommit(failing)
      const inputs = Array.from({ length: 5 }, (_, i) => note("agent-1", `memory ${i}`))
      const results = yield* Effect.forEach(inputs, (i) => Effect.either(grouped.remember(i)), {
        concurrency: "unbounded"
      })
      for (const r of results) assert.isTrue(Either.isLeft(r) && r.left instanceof StorageError)
      assert.strictEqual(yield* store.count("agent-1"), 0)
      broken = false
      const ids = yield* Effect.forEach(inputs, grouped.remember, { concurrency: "unbounded" })
      assert.strictEqual(ids.length, 5)
      assert.strictEqual(yield* store.count("agent-1"), 5)
    }))
})

describe("gateway group commit durability", () => {
  it.scoped(
    "every store acknowledged before a SIGKILL of the server is in the SQLite file afterwards",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const { child, token, url } = yield* startServe(dir, embedding)
        const acked: Array<{ id: string; agentId: string; content: string }> = []
        const exited = new Promise<void>((ok) => child.once("exit", () => ok()))
        // 40 clients store as fast as they can; the server is killed as soon as 200 stores are acknowledged.
        const KILL_AFTER = 200
        const client = async (c: number) => {
          for (let k = 0; acked.length < KILL_AFTER; k++) {
            const body = { agentId: `agent-${c % 5}`, content: `client ${c} store ${k}`, source: "system" }
            const response = await fetch(`${url}/memory/store`, {
              method: "POST",
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              body: JSON.stringify(body)
            }).catch(() => undefined)
            if (response === undefined) return
            if (response.status !== 200) return
            const { id } = await response.json() as { id: string }
            acked.push({ id, agentId: body.agentId, content: body.content })
            if (acked.length >= KILL_AFTER && child.exitCode === null) child.kill("SIGKILL")
          }
        }
        yield* Effect.promise(() => Promise.all(Array.from({ length: 40 }, (_, c) => client(c))))
        yield* Effect.promise(() => exited)
        assert.isAtLeast(acked.length, KILL_AFTER)
        const store = Context.get(
          yield* Layer.build(sqliteSemantic({ path: join(dir, "engram.db"), embedding })),
          SemanticStore
        )
        for (const a of acked) {
          const m = yield* store.get(a.agentId, a.id)
          assert.isTrue(Option.isSome(m), `acknowledged ${a.id} is stored`)
          assert.strictEqual(Option.getOrThrow(m).content, a.content)
        }
      }),
    60_000
  )
})
