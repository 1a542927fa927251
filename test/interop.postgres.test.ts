/**
 * PgLive inside an application's @effect/sql-pg transactions: engram on the application's pool
 * (`layerFromPool`, one pool, the application's lifecycle) or on its own pool (`PgLive`) beside the
 * standard `PgClient.layer`; in both, a unit mixing the application's rows with engram writes of every
 * service commits or rolls back as one. Also: savepoints, concurrent application transactions,
 * engram refusals that do not abort the application's transaction, a typed deadline on an exhausted
 * shared pool, and the application's statements traced beside engram's calls.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Redacted, type Scope } from "effect"
import pg from "pg"
import { layer as pgLayer, layerFromPool, PgPool } from "../src/backends/postgres/index.js"
import { AuditLog } from "../src/services/AuditLog.js"
import { SessionStore } from "../src/services/SessionStore.js"
import { StructuredStore } from "../src/services/StructuredStore.js"
import { Abort, all, budgetRolledBack, none, spansBeside, storedOf, unitOfWork } from "./support/interop.js"
import { describePg, freshSchemaScoped, TEST_SPACE, urlForSchema } from "./support/postgres.js"

type Services = Layer.Layer.Success<ReturnType<typeof pgLayer>> | SqlClient.SqlClient | PgClient.PgClient

/** A fresh schema with the application's table; engram and the application share one pool. */
const sharedPool = <A, E>(body: (pool: pg.Pool) => Effect.Effect<A, E, Services | Scope.Scope>, max = 10) =>
  Effect.gen(function*() {
    const url = urlForSchema(yield* freshSchemaScoped)
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => new pg.Pool({ connectionString: url, max })),
      (p) => Effect.promise(() => p.end())
    )
    const app = PgClient.layerFromPool({ acquire: Effect.succeed(pool) })
    const engram = layerFromPool({ embedding: TEST_SPACE, acquireTimeoutMs: 500 }).pipe(
      Layer.provide(Layer.succeed(PgPool, pool))
    )
    return yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE orders (id TEXT PRIMARY KEY, note TEXT NOT NULL)`
      return yield* body(pool)
    }).pipe(Effect.provide(Layer.merge(app, engram)))
  }).pipe(Effect.scoped)

/** The same with the standard `PgClient.layer` and engram's own pool on the same database. */
const ownPools = <A, E>(body: Effect.Effect<A, E, Services | Scope.Scope>) =>
  Effect.gen(function*() {
    const url = urlForSchema(yield* freshSchemaScoped)
    const app = PgClient.layer({ url: Redacted.make(url) })
    const engram = pgLayer({ url: Redacted.make(url), embedding: TEST_SPACE })
    return yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE orders (id TEXT PRIMARY KEY, note TEXT NOT NULL)`
      return yield* body
    }).pipe(Effect.provide(Layer.merge(app, engram)))
  }).pipe(Effect.scoped)

describePg("PgLive inside the application's transactions", () => {
  for (
    const [setup, run] of [
      ["on the application's pool", (b: Effect.Effect<void, unknown, Services | Scope.Scope>) => sharedPool(() => b)],
      ["on its own pool beside PgClient.layer", ownPools]
    ] as const
  ) {
    it.live(`${setup}: a unit that succeeds leaves everything, one that fails nothing; the chain continues and verifies`, () =>
      run(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const log = yield* AuditLog
        yield* sql.withTransaction(unitOfWork("a"))
        assert.deepStrictEqual(yield* storedOf("a"), all)
        const exit = yield* Effect.exit(sql.withTransaction(Effect.zipRight(unitOfWork("b"), Effect.fail(new Abort()))))
        assert.isTrue(Exit.isFailure(exit))
        assert.deepStrictEqual(yield* storedOf("b"), none)
        const next = yield* log.append({ agentId: "x", action: "after" })
        assert.strictEqual(next.seq, 2)
        assert.deepStrictEqual(yield* log.verify(), { entries: 2, headHash: next.hash })
      })))
  }

  it.live("a budget admitted inside a rolled-back transaction is not spent", () => sharedPool(() => budgetRolledBack))

  it.live("nested transactions are savepoints; an engram refusal inside does not abort the application's transaction", () =>
    sharedPool(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const kv = yield* StructuredStore
        const sessions = yield* SessionStore
        yield* sessions.create("n", "taken")
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* kv.set("n", "outer", 1)
          yield* Effect.exit(sql.withTransaction(Effect.zipRight(unitOfWork("inner"), Effect.fail(new Abort()))))
          // A refused write (the label is taken): typed, and the transaction goes on.
          const refused = yield* Effect.flip(sessions.create("n", "taken"))
          assert.strictEqual(refused._tag, "DuplicateLabel")
          yield* kv.set("n", "after refusal", 2)
        }))
        assert.deepStrictEqual(yield* storedOf("inner"), none)
        assert.isTrue(Option.isSome(yield* kv.get("n", "outer")))
        assert.isTrue(Option.isSome(yield* kv.get("n", "after refusal")))
      })
    ))

  it.live("two application transactions at once each get their own engram writes; the chain stays one", () =>
    sharedPool(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const slow = (tag: string, fail: boolean) =>
          Effect.exit(sql.withTransaction(Effect.gen(function*() {
            yield* unitOfWork(tag)
            yield* Effect.sleep("50 millis")
            if (fail) return yield* Effect.fail(new Abort())
          })))
        yield* Effect.all([slow("p", false), slow("q", true)], { concurrency: 2 })
        assert.deepStrictEqual(yield* storedOf("p"), all)
        assert.deepStrictEqual(yield* storedOf("q"), none)
        assert.strictEqual((yield* (yield* AuditLog).verify()).entries, 1)
      })
    ))

  it.live("outside a transaction engram uses its own connection: a write of another fiber outlives the rollback", () =>
    sharedPool(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const kv = yield* StructuredStore
        const app = yield* Effect.fork(Effect.exit(sql.withTransaction(Effect.gen(function*() {
          yield* kv.set("app", "k", 1)
          yield* Effect.sleep("150 millis")
          return yield* Effect.fail(new Abort())
        }))))
        yield* Effect.sleep("30 millis")
        assert.isTrue(
          Option.isNone(yield* kv.get("app", "k")),
          "an uncommitted row was visible outside the transaction"
        )
        yield* kv.set("other", "k", 2)
        yield* Fiber.join(app)
        assert.isTrue(Option.isNone(yield* kv.get("app", "k")))
        assert.isTrue(Option.isSome(yield* kv.get("other", "k")))
      })
    ))

  it.live("an exhausted shared pool ends engram's call with a typed BackendUnavailable at its deadline", () =>
    sharedPool(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const kv = yield* StructuredStore
        // The application holds the only connection in a transaction; a call of another fiber waits.
        const app = yield* Effect.fork(sql.withTransaction(Effect.zipRight(sql`SELECT 1`, Effect.sleep("1500 millis"))))
        yield* Effect.sleep("100 millis")
        const started = Date.now()
        const error = yield* Effect.flip(kv.get("x", "k"))
        yield* Fiber.join(app)
        assert.strictEqual(error._tag, "BackendUnavailable")
        assert.isAtLeast(Date.now() - started, 400)
      }), 1))

  it.live("the application's statements are sql spans beside engram's, in the same trace", () =>
    sharedPool(() => spansBeside))
})
