/**
 * SqliteLive inside an application's @effect/sql transactions: the store's `SqlClient` runs on the
 * store's own connection, and a unit mixing the application's rows with engram writes of every
 * service commits or rolls back as one. Also: savepoints, concurrent application transactions, other
 * fibers kept out of an open transaction, a failing COMMIT as a typed error, the audit chain and
 * budgets across a rollback, and the application's statements traced beside engram's calls.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, type Layer, Option, type Scope } from "effect"
import { join } from "node:path"
import { layerWithSqlClient } from "../src/backends/sqlite/interop.js"
import { AuditLog } from "../src/services/AuditLog.js"
import { SemanticStore } from "../src/services/SemanticStore.js"
import { StructuredStore } from "../src/services/StructuredStore.js"
import { Abort, all, budgetRolledBack, none, spansBeside, storedOf, unitOfWork, vector } from "./support/interop.js"
import { openRaw, tempDir, TEST_SPACE } from "./support/sqlite.js"

/** A fresh store file with the application's table, and its path. */
const withStore = <A, E>(
  body: (
    path: string
  ) => Effect.Effect<
    A,
    E,
    SqlClient.SqlClient | Layer.Layer.Success<ReturnType<typeof layerWithSqlClient>> | Scope.Scope
  >
) =>
  Effect.gen(function*() {
    const path = join(yield* tempDir, "app.db")
    const store = layerWithSqlClient({ path, embedding: TEST_SPACE })
    return yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE orders (id TEXT PRIMARY KEY, note TEXT NOT NULL)`
      return yield* body(path)
    }).pipe(Effect.provide(store))
  }).pipe(Effect.scoped)

describe("SqliteLive inside the application's transactions", () => {
  it.live("a unit that succeeds leaves the application's row and every engram write; the audit chain verifies", () =>
    withStore(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.withTransaction(unitOfWork("a"))
        assert.deepStrictEqual(yield* storedOf("a"), all)
        assert.strictEqual((yield* (yield* AuditLog).verify()).entries, 1)
      })
    ))

  it.live("a unit that fails leaves none of it; the next append continues the chain, which verifies", () =>
    withStore(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const log = yield* AuditLog
        const first = yield* log.append({ agentId: "x", action: "before" })
        const exit = yield* Effect.exit(sql.withTransaction(Effect.zipRight(unitOfWork("b"), Effect.fail(new Abort()))))
        assert.isTrue(Exit.isFailure(exit))
        assert.deepStrictEqual(yield* storedOf("b"), none)
        const next = yield* log.append({ agentId: "x", action: "after" })
        assert.deepStrictEqual([next.seq, next.prevHash], [2, first.hash])
        assert.deepStrictEqual(yield* log.verify(), { entries: 2, headHash: next.hash })
      })
    ))

  it.live("a budget admitted inside a rolled-back transaction is not spent", () => withStore(() => budgetRolledBack))

  it.live("nested transactions are savepoints: a failed inner one takes only its own writes back", () =>
    withStore(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const kv = yield* StructuredStore
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* kv.set("n", "outer", 1)
          yield* Effect.exit(sql.withTransaction(Effect.zipRight(unitOfWork("inner"), Effect.fail(new Abort()))))
          yield* sql.withTransaction(kv.set("n", "second", 2))
        }))
        assert.deepStrictEqual(yield* storedOf("inner"), none)
        assert.isTrue(Option.isSome(yield* kv.get("n", "outer")))
        assert.isTrue(Option.isSome(yield* kv.get("n", "second")))
      })
    ))

  it.live("two application transactions at once are serialised; both commit whole", () =>
    withStore(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const slow = (tag: string) => sql.withTransaction(Effect.zipRight(unitOfWork(tag), Effect.sleep("50 millis")))
        yield* Effect.all([slow("p"), slow("q")], { concurrency: 2 })
        assert.deepStrictEqual(yield* storedOf("p"), all)
        assert.deepStrictEqual(yield* storedOf("q"), all)
        assert.strictEqual((yield* (yield* AuditLog).verify()).entries, 2)
      })
    ))

  it.live("another fiber's engram write waits for the open transaction and survives its rollback", () =>
    withStore(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const kv = yield* StructuredStore
        const memory = yield* SemanticStore
        const app = yield* Effect.fork(Effect.exit(sql.withTransaction(Effect.gen(function*() {
          yield* kv.set("app", "k", 1)
          yield* Effect.sleep("150 millis")
          return yield* Effect.fail(new Abort())
        }))))
        yield* Effect.sleep("30 millis")
        // Not inside the transaction: it must neither join it nor see its uncommitted row.
        const seen = yield* kv.get("app", "k")
        yield* kv.set("other", "k", 2)
        yield* memory.remember({ agentId: "other", content: "outside", source: "system", embedding: vector })
        yield* Fiber.join(app)
        assert.isTrue(Option.isNone(seen), "an uncommitted row was visible outside the transaction")
        assert.isTrue(Option.isNone(yield* kv.get("app", "k")))
        assert.isTrue(Option.isSome(yield* kv.get("other", "k")))
        assert.strictEqual(yield* memory.count("other"), 1)
      })
    ))

  it.live("a COMMIT that fails is a typed SqlError, the transaction is rolled back and the store keeps working", () =>
    withStore(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE parent (id TEXT PRIMARY KEY)`
        yield* sql`CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)`
        const exit = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
          yield* (yield* StructuredStore).set("f", "k", 1)
          yield* sql`INSERT INTO child VALUES ('c', 'missing')`
        })))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          assert.isFalse(Cause.isDie(exit.cause), Cause.pretty(exit.cause))
          assert.instanceOf(Option.getOrThrow(Cause.failureOption(exit.cause)), SqlError)
        }
        assert.isTrue(Option.isNone(yield* (yield* StructuredStore).get("f", "k")))
        yield* (yield* StructuredStore).set("f", "after", 1)
        assert.isTrue(Option.isSome(yield* (yield* StructuredStore).get("f", "after")))
      })
    ))

  it.live("BEGIN waits while another process holds the write lock, then commits", () =>
    withStore((path) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const other = openRaw(path)
        yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
        other.exec("BEGIN IMMEDIATE")
        const release = setTimeout(() => other.exec("COMMIT"), 300)
        yield* sql.withTransaction(unitOfWork("w"))
        clearTimeout(release)
        assert.deepStrictEqual(yield* storedOf("w"), all)
      })
    ))

  it.live("the application's statements are sql spans beside engram's, in the same trace", () =>
    withStore(() => spansBeside))
})
