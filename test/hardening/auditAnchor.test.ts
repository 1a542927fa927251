/**
 * The audit anchor: deleting the last audit entries (which leaves a chain that verifies) is detected
 * when the layer is built and by `verify`, on SQLite (anchor file beside the database, the default)
 * and on PostgreSQL (with `auditAnchorPath`); an application can keep the anchor itself (`AuditAnchor`).
 * The truncation is done with raw SQL, as someone with write access to the table would.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted, Ref } from "effect"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { layer as pgLayer } from "../../src/backends/postgres/index.js"
import { layer as sqliteLayer } from "../../src/backends/sqlite/index.js"
import { layerWithSqlClient } from "../../src/backends/sqlite/interop.js"
import { AuditAnchor, AuditAnchorError, fileAnchor } from "../../src/core/auditAnchor.js"
import type { AuditHead } from "../../src/domain/audit.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import { createSchema, describePg, dropSchema, sql, urlForSchema } from "../support/postgres.js"
import { openRaw, tempDir, TEST_SPACE } from "../support/sqlite.js"

const appendN = (n: number) =>
  Effect.gen(function*() {
    const log = yield* AuditLog
    for (let i = 0; i < n; i++) yield* log.append({ agentId: "agent-1", action: "anchor.test", detail: `n${i}` })
    return yield* log.head()
  })

/** Build `layer` and run `body` with its AuditLog; the exit of the whole (build included). */
const withLog = <A, E, L, S>(layer: Layer.Layer<S, L>, body: Effect.Effect<A, E, NoInfer<S>>) =>
  Effect.exit(Effect.scoped(Effect.flatMap(Layer.build(layer), (ctx) => Effect.provide(body, ctx))))

const integrityError = <A, E>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  if (Exit.isSuccess(exit)) return { seq: -1, reason: "" }
  assert.isFalse(Cause.isDie(exit.cause), Cause.pretty(exit.cause))
  const failure = Cause.failureOption(exit.cause)
  assert.isTrue(Option.isSome(failure))
  const error = Option.getOrThrow(failure) as { _tag: string; seq: number; reason: string }
  assert.strictEqual(error._tag, "AuditIntegrityError", JSON.stringify(error))
  return error
}

describe("audit anchor on SQLite", () => {
  const store = (path: string, extra: { readonly auditAnchorPath?: string | false } = {}) =>
    sqliteLayer({ path, embedding: TEST_SPACE, ...extra })

  it.scoped("deleting the last entries: the layer does not build (AuditIntegrityError, truncated)", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "engram.db")
      const head = yield* Effect.flatten(withLog(store(path), appendN(5)))
      assert.deepStrictEqual(JSON.parse(readFileSync(`${path}.audit-anchor`, "utf8")), head)
      const db = openRaw(path)
      db.prepare("DELETE FROM audit_log WHERE seq >= 4").run()
      db.close()
      const error = integrityError(yield* withLog(store(path), Effect.void))
      assert.strictEqual(error.seq, 4)
      assert.include(error.reason, "truncated")
    }))

  it.scoped("deleting the last entries while the layer lives: verify reports it", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "engram.db")
      const exit = yield* withLog(
        store(path),
        Effect.gen(function*() {
          yield* appendN(3)
          const db = openRaw(path)
          db.prepare("DELETE FROM audit_log WHERE seq = 3").run()
          db.close()
          return yield* (yield* AuditLog).verify()
        })
      )
      assert.include(integrityError(exit).reason, "truncated")
    }))

  it.scoped("deleting every entry is detected too", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "engram.db")
      yield* Effect.flatten(withLog(store(path), appendN(2)))
      const db = openRaw(path)
      db.prepare("DELETE FROM audit_log").run()
      db.close()
      assert.include(integrityError(yield* withLog(store(path), Effect.void)).reason, "truncated")
    }))

  it.scoped("without the anchor file (deleted, or a store from before anchors) the layer builds and re-anchors", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "engram.db")
      const head = yield* Effect.flatten(withLog(store(path), appendN(3)))
      rmSync(`${path}.audit-anchor`)
      const verified = yield* Effect.flatten(withLog(store(path), Effect.flatMap(AuditLog, (log) => log.verify())))
      assert.strictEqual(verified.entries, 3)
      assert.deepStrictEqual(JSON.parse(readFileSync(`${path}.audit-anchor`, "utf8")), head)
    }))

  it.scoped("a corrupt anchor file fails the build with AuditLoadError (fail closed)", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "engram.db")
      yield* Effect.flatten(withLog(store(path), appendN(1)))
      writeFileSync(`${path}.audit-anchor`, "{ not json")
      const exit = yield* withLog(store(path), Effect.void)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const failure = Cause.failureOption(exit.cause)
        assert.strictEqual(Option.isSome(failure) ? (failure.value as { _tag: string })._tag : "none", "AuditLoadError")
      }
    }))

  it.scoped("auditAnchorPath: another file, or false for none (then a truncation is not detected)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = join(dir, "engram.db")
      const elsewhere = join(dir, "anchor.json")
      yield* Effect.flatten(withLog(store(path, { auditAnchorPath: elsewhere }), appendN(3)))
      assert.isTrue(existsSync(elsewhere))
      assert.isFalse(existsSync(`${path}.audit-anchor`))
      const db = openRaw(path)
      db.prepare("DELETE FROM audit_log WHERE seq = 3").run()
      db.close()
      integrityError(yield* withLog(store(path, { auditAnchorPath: elsewhere }), Effect.void))
      const unanchored = yield* withLog(
        store(path, { auditAnchorPath: false }),
        Effect.flatMap(AuditLog, (log) => log.verify())
      )
      assert.isTrue(
        Exit.isSuccess(unanchored),
        "without an anchor the shortened chain verifies: what the anchor is for"
      )
    }))

  it.scoped("an application's AuditAnchor replaces the file and follows every append", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "engram.db")
      const kept = yield* Ref.make(Option.none<AuditHead>())
      const anchor = Layer.succeed(AuditAnchor, {
        location: "a test Ref",
        read: Ref.get(kept),
        write: (head: AuditHead) => Ref.set(kept, Option.some(head))
      })
      const head = yield* Effect.flatten(withLog(store(path).pipe(Layer.provide(anchor)), appendN(4)))
      assert.deepStrictEqual(yield* Ref.get(kept), Option.some(head))
      assert.isFalse(existsSync(`${path}.audit-anchor`))
      yield* Ref.set(kept, Option.some({ seq: 9, hash: head.hash }))
      assert.include(
        integrityError(yield* withLog(store(path).pipe(Layer.provide(anchor)), Effect.void)).reason,
        "truncated"
      )
    }))

  it.scopedLive("the anchor follows appends in the background: writes are folded, verify and close catch it up", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "engram.db")
      const kept = yield* Ref.make(Option.none<AuditHead>())
      const writes = yield* Ref.make<Array<number>>([])
      // A slow anchor (each write takes a few milliseconds, like a file with two fsyncs).
      const anchor = Layer.succeed(AuditAnchor, {
        location: "a slow test Ref",
        read: Ref.get(kept),
        write: (head: AuditHead) =>
          Effect.sleep("3 millis").pipe(
            Effect.zipRight(Ref.set(kept, Option.some(head))),
            Effect.zipRight(Ref.update(writes, (w) => [...w, head.seq]))
          )
      })
      const exit = yield* withLog(
        store(path).pipe(Layer.provide(anchor)),
        Effect.gen(function*() {
          const log = yield* AuditLog
          // 40 appends at once: they commit one after another while the anchor is being written.
          yield* Effect.forEach(
            Array.from({ length: 40 }, (_, i) => i),
            (i) => log.append({ agentId: "agent-1", action: "anchor.test", detail: `c${i}` }),
            { concurrency: "unbounded", discard: true }
          )
          const head = yield* log.head()
          yield* log.verify()
          // verify waited for the anchor: it holds the head now.
          assert.deepStrictEqual(yield* Ref.get(kept), Option.some(head))
          return head
        })
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      const seqs = yield* Ref.get(writes)
      // The build anchors seq 0; the appends' writes were folded into far fewer than 40, in order.
      assert.isBelow(seqs.length, 30, `anchor writes: ${seqs.join(",")}`)
      assert.deepStrictEqual(seqs, [...seqs].sort((a, b) => a - b), "the anchor never moves back")
      assert.strictEqual(seqs.at(-1), 40)
    }))

  it.scoped("a background anchor write that fails is reported by the next append (typed), never lost", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "engram.db")
      const kept = yield* Ref.make(Option.none<AuditHead>())
      const broken = yield* Ref.make(false)
      const anchor = Layer.succeed(AuditAnchor, {
        location: "a test Ref",
        read: Ref.get(kept),
        write: (head: AuditHead) =>
          Effect.flatMap(
            Ref.get(broken),
            (b) => b ? Effect.fail(new AuditAnchorError({ message: "disk full" })) : Ref.set(kept, Option.some(head))
          )
      })
      const exit = yield* withLog(
        store(path).pipe(Layer.provide(anchor)),
        Effect.gen(function*() {
          const log = yield* AuditLog
          yield* log.append({ agentId: "agent-1", action: "a", detail: "1" })
          yield* Ref.set(broken, true)
          yield* log.append({ agentId: "agent-1", action: "a", detail: "2" })
          // The failed write surfaces on the next call that touches the anchor.
          const reported = yield* Effect.flip(log.verify())
          assert.strictEqual(reported._tag, "StorageError")
          assert.include(reported.message, "disk full")
          yield* Ref.set(broken, false)
          // Reported once; the entries stay stored and the next append moves the anchor again.
          yield* log.append({ agentId: "agent-1", action: "a", detail: "3" })
          yield* log.verify()
          return yield* log.head()
        })
      )
      assert.isTrue(Exit.isSuccess(exit), String(exit))
      if (Exit.isSuccess(exit)) {
        assert.strictEqual(exit.value.seq, 3)
        assert.deepStrictEqual(yield* Ref.get(kept), Option.some(exit.value))
      }
    }))

  it.scoped("an append in an application's transaction that rolls back leaves the anchor where it was", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "engram.db")
      const layer = layerWithSqlClient({ path, embedding: TEST_SPACE })
      const head = yield* Effect.flatten(withLog(layer, appendN(2)))
      const rolledBack = yield* withLog(
        layer,
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql.withTransaction(Effect.zipRight(appendN(1), Effect.fail("roll back" as const)))
        })
      )
      assert.isTrue(Exit.isFailure(rolledBack))
      assert.deepStrictEqual(JSON.parse(readFileSync(`${path}.audit-anchor`, "utf8")), head)
      const verified = yield* Effect.flatten(withLog(layer, Effect.flatMap(AuditLog, (log) => log.verify())))
      assert.strictEqual(verified.entries, 2)
    }))

  it.scoped("a file anchor never moves back", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const anchorPath = join(dir, "a.json")
      const anchor = fileAnchor(anchorPath)
      assert.isTrue(Option.isNone(yield* anchor.read))
      yield* anchor.write({ seq: 2, hash: "a".repeat(64) })
      yield* anchor.write({ seq: 1, hash: "b".repeat(64) })
      assert.deepStrictEqual(
        yield* anchor.read,
        Option.some({ seq: 2, hash: "a".repeat(64) }),
        "an older head never moves it back"
      )
    }))
})

describePg("audit anchor on PostgreSQL (auditAnchorPath)", () => {
  it.scoped(
    "deleting the last entries: the layer does not build; without the option it would",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const anchorPath = join(dir, "pg.audit-anchor")
        const schema = yield* Effect.acquireRelease(
          Effect.promise(createSchema),
          (s) => Effect.promise(() => dropSchema(s))
        )
        const url = Redacted.make(urlForSchema(schema))
        const store = (withAnchor: boolean) =>
          pgLayer({ url, embedding: TEST_SPACE, ...(withAnchor ? { auditAnchorPath: anchorPath } : {}) })
        const head = yield* Effect.flatten(withLog(store(true), appendN(5)))
        assert.deepStrictEqual(JSON.parse(readFileSync(anchorPath, "utf8")), head)
        yield* Effect.promise(() => sql(schema, "DELETE FROM audit_log WHERE seq >= 4"))
        const error = integrityError(yield* withLog(store(true), Effect.void))
        assert.strictEqual(error.seq, 4)
        assert.include(error.reason, "truncated")
        assert.isTrue(Exit.isSuccess(yield* withLog(store(false), Effect.void)), "the chain alone does not show it")
      }),
    60_000
  )
})
