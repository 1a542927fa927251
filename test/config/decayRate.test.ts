/**
 * `decayRate` from configuration is the decay rate consolidation applies when a run names none, on
 * every semantic backend the configuration can choose (and in MemoryTest's options); a rate named by
 * the run still wins, and an out-of-range rate in a store's options is refused when it builds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Redacted } from "effect"
import { join } from "node:path"
import * as Memory from "../../src/backends/memory/index.js"
import * as Sqlite from "../../src/backends/sqlite/index.js"
import { layerFromConfig } from "../../src/composition/layer.js"
import { memoryConfig, type MemoryConfigInput } from "../../src/config.js"
import { serve } from "../../src/gateway/server.js"
import { Consolidation } from "../../src/services/Consolidation.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { describePg, freshSchemaScoped, urlForSchema } from "../support/postgres.js"
import { startQdrantServer } from "../support/qdrantServer.js"
import { tempDir } from "../support/sqlite.js"

const SPACE = { model: "decay-rate", dimensions: 4 }
const TOKEN = "decay-rate-token"
const TOL = 1e-6

/** Runs that decay every memory not accessed in this very millisecond, and merge nothing. */
const DECAY_NOW = { staleAfterMs: 0, mergeThreshold: 1 } as const

/**
 * Store a memory, then consolidate twice: with no rate (the configured one applies), then with a
 * rate of its own (which wins). Real time: every memory must be older than the run.
 */
const decaysBy = (configured: number) =>
  Effect.gen(function*() {
    const store = yield* SemanticStore
    const consolidation = yield* Consolidation
    const id = yield* store.remember({
      agentId: "agent-d",
      content: "fading",
      source: "observation",
      embedding: [1, 0, 0, 0]
    })
    const confidence = Effect.map(store.get("agent-d", id), (m) => Option.getOrThrow(m).confidence)
    yield* Effect.sleep("5 millis")
    assert.strictEqual((yield* consolidation.consolidate(DECAY_NOW)).decayed, 1)
    assert.closeTo(yield* confidence, 1 - configured, TOL, "the configured rate applies")
    yield* Effect.sleep("5 millis")
    yield* consolidation.consolidate({ ...DECAY_NOW, decayRate: 0.5 })
    assert.closeTo(yield* confidence, (1 - configured) * 0.5, TOL, "a rate named by the run wins")
  })

/** The configuration of a SQLite main store with the semantic store `semantic`. */
const configured = (semantic: MemoryConfigInput["semanticBackend"], extra: Partial<MemoryConfigInput>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    return yield* memoryConfig({
      backend: "sqlite",
      semanticBackend: semantic,
      sqlite: { path: join(dir, "main.db") },
      embedding: SPACE,
      decayRate: 0.3,
      ...extra
    })
  })

describe("decayRate from configuration", () => {
  it.live("MemoryTest: the decayRate option is the default rate", () =>
    decaysBy(0.3).pipe(Effect.provide(Memory.layer({ embedding: SPACE, decayRate: 0.3 }))))

  it.live("without the option, the rate is 0.1", () =>
    decaysBy(0.1).pipe(Effect.provide(Memory.layer({ embedding: SPACE }))))

  it.live("sqlite", () =>
    Effect.gen(function*() {
      const config = yield* configured("sqlite", {})
      yield* decaysBy(0.3).pipe(Effect.provide(layerFromConfig(config)))
    }).pipe(Effect.scoped))

  it.live("qdrant", () =>
    Effect.gen(function*() {
      const server = yield* startQdrantServer()
      const config = yield* configured("qdrant", { qdrant: { url: server.url, collection: "decay" } })
      yield* decaysBy(0.3).pipe(Effect.provide(layerFromConfig(config)))
    }).pipe(Effect.scoped))

  it.live("http: the client's configured rate is sent to the gateway, whose own default is 0.1", () =>
    Effect.gen(function*() {
      const store = yield* Layer.build(Memory.layer({ embedding: SPACE }))
      const gateway = yield* serve({ port: 0, tokens: [{ token: Redacted.make(TOKEN) }] }).pipe(Effect.provide(store))
      const config = yield* configured("http", { http: { url: gateway.url, token: TOKEN } })
      yield* decaysBy(0.3).pipe(Effect.provide(layerFromConfig(config)))
    }).pipe(Effect.scoped))

  it.live("an out-of-range rate in a store's options is InvalidInput when the layer builds", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const exit = yield* Effect.exit(
        Layer.build(Sqlite.layerSemantic({ path: join(dir, "s.db"), embedding: SPACE, decayRate: 1.5 }))
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        assert.strictEqual(exit.cause.error._tag, "InvalidInput")
        assert.strictEqual(exit.cause.error._tag === "InvalidInput" ? exit.cause.error.field : "", "options.decayRate")
      }
    }).pipe(Effect.scoped))
})

describePg("decayRate from configuration on PostgreSQL", () => {
  it.live("postgres", () =>
    Effect.gen(function*() {
      const schema = yield* freshSchemaScoped
      const config = yield* configured("postgres", { backend: "postgres", postgres: { url: urlForSchema(schema) } })
      yield* decaysBy(0.3).pipe(Effect.provide(layerFromConfig(config)))
    }).pipe(Effect.scoped))
})
