/**
 * SqliteLive on a file over time, in one process: restart with everything intact, fail-closed audit
 * loading (tampered or unreadable log), the embedding space recorded in the file, the migration runner
 * on real SQLite (checksums, unapplied lower versions, failing statements), rows that do not decode,
 * and SQLite-specific recall behaviour (KNN filters inside sqlite-vec beyond its k limit; FTS5 over
 * the core's tokens).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Config, ConfigProvider, Context, Effect, Exit, Layer, Option, TestClock } from "effect"
import { join } from "node:path"
import { inspect } from "node:util"
import { attempt, BUSY_SLICE_MS, DEFAULT_BUSY_DEADLINE_MS, open } from "../../src/backends/sqlite/client.js"
import { layer, layerConfig, layerMain, layerSemantic } from "../../src/backends/sqlite/index.js"
import { driver, migrations } from "../../src/backends/sqlite/migrations.js"
import { connect } from "../../src/backends/sqlite/store.js"
import { checksum, migrate, type Migration } from "../../src/core/migrator.js"
import { queryTerms, textScore, tokenize } from "../../src/core/textSearch.js"
import type { EmbeddingSpace } from "../../src/domain/embedding.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import { DeviceStore } from "../../src/services/DeviceStore.js"
import type { EngramServices } from "../../src/services/index.js"
import { KnowledgeStore } from "../../src/services/KnowledgeStore.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { TaskQueue } from "../../src/services/TaskQueue.js"
import { UsageStore } from "../../src/services/UsageStore.js"
import { openRaw, tempDir, TEST_SPACE } from "../support/sqlite.js"

const D = TEST_SPACE.dimensions
const axis = (i: number): Array<number> => Array.from({ length: D }, (_, j) => (j === i % D ? 1 : 0))
const angled = (a: number): Array<number> =>
  Array.from({ length: D }, (_, j) => (j === 0 ? Math.cos(a) : j === 1 ? Math.sin(a) : 0))

/** A database path in a directory that lives as long as the test. */
const dbPath = Effect.map(tempDir, (dir) => join(dir, "engram.db"))

/** Build the full store on `path`, run `body` with its services, and close it again. */
const session = <A, E>(
  path: string,
  body: (services: Context.Context<EngramServices>) => Effect.Effect<A, E>,
  space: EmbeddingSpace = TEST_SPACE
) => Effect.scoped(Effect.flatMap(Layer.build(layer({ path, embedding: space })), body))

/** The error building the full store on `path` fails with (a successful build fails the test). */
const buildFailure = (path: string, space: EmbeddingSpace = TEST_SPACE) =>
  Effect.flip(Effect.scoped(Layer.build(layer({ path, embedding: space }))))

/** Run raw SQL on the file through a connection of its own. */
const raw = <A>(path: string, f: (db: ReturnType<typeof openRaw>) => A): A => {
  const db = openRaw(path)
  try {
    return f(db)
  } finally {
    db.close()
  }
}

const seedAudit = (path: string, n: number) =>
  session(path, (ctx) =>
    Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) =>
        Context.get(ctx, AuditLog).append({ agentId: `agent-${i % 2}`, action: `action-${i}`, detail: `detail ${i}` })
    ))

describe("SqliteLive restart", () => {
  it.scoped("close and reopen: every service's data and the audit chain are intact; new appends continue the chain", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      const first = yield* session(path, (ctx) =>
        Effect.gen(function*() {
          yield* Context.get(ctx, StructuredStore).set("agent-1", "color", { hue: "blue" })
          yield* Context.get(ctx, StructuredStore).saveAgent({ id: "agent-1", name: "One", tags: ["a"] })
          const memory = yield* Context.get(ctx, SemanticStore).remember({
            agentId: "agent-1",
            content: "the sky is blue",
            source: "observation",
            metadata: { topic: "sky" },
            embedding: axis(0)
          })
          const bare = yield* Context.get(ctx, SemanticStore).remember({
            agentId: "agent-1",
            content: "no vector here",
            source: "system"
          })
          const graph = Context.get(ctx, KnowledgeStore)
          yield* graph.upsertEntity({ agentId: "agent-1", id: "sky", type: "concept", name: "Sky" })
          yield* graph.upsertEntity({ agentId: "agent-1", id: "blue", type: "concept", name: "Blue" })
          yield* graph.addRelation({ agentId: "agent-1", source: "sky", relation: "related_to", target: "blue" })
          const sessions = Context.get(ctx, SessionStore)
          const s = yield* sessions.create("agent-1", "main")
          yield* sessions.appendCanonical("agent-1", [{ role: "user", content: "hello" }])
          yield* Context.get(ctx, UsageStore).record({ agentId: "agent-1", model: "m", costUsd: 0.5 })
          yield* Context.get(ctx, DeviceStore).save({
            deviceId: "phone",
            displayName: "Phone",
            platform: "ios",
            pairedAt: 1,
            lastSeen: 2
          })
          const task = yield* Context.get(ctx, TaskQueue).post({ title: "t" })
          const log = Context.get(ctx, AuditLog)
          for (const action of ["one", "two", "three"]) yield* log.append({ agentId: "agent-1", action })
          return { memory, bare, session: s.id, task, head: yield* log.head() }
        }))
      yield* session(path, (ctx) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(
            yield* Context.get(ctx, StructuredStore).get("agent-1", "color"),
            Option.some({ hue: "blue" })
          )
          assert.deepStrictEqual(
            Option.map(yield* Context.get(ctx, StructuredStore).loadAgent("agent-1"), (a) => a.tags),
            Option.some(["a"])
          )
          const semantic = Context.get(ctx, SemanticStore)
          const hits = yield* semantic.recall({ agentId: "agent-1", embedding: axis(0) })
          assert.deepStrictEqual(hits.map((h) => h.memory.id), [first.memory], "the vector survived the restart")
          assert.deepStrictEqual(hits[0]!.memory.metadata, { topic: "sky" })
          assert.deepStrictEqual(
            (yield* semantic.recall({ agentId: "agent-1", text: "vector" })).map((h) => h.memory.id),
            [first.bare]
          )
          const matches = yield* Context.get(ctx, KnowledgeStore).query({ agentId: "agent-1", source: "sky" })
          assert.deepStrictEqual(matches.map((m) => m.target.id), ["blue"])
          const sessions = Context.get(ctx, SessionStore)
          assert.isTrue(Option.isSome(yield* sessions.findByLabel("agent-1", "main")))
          assert.deepStrictEqual((yield* sessions.loadCanonical("agent-1")).messages, [{
            role: "user",
            content: "hello"
          }])
          assert.strictEqual(yield* Context.get(ctx, UsageStore).spend({ agentId: "agent-1", window: "month" }), 0.5)
          assert.isTrue(Option.isSome(yield* Context.get(ctx, DeviceStore).get("phone")))
          assert.isTrue(Option.isSome(yield* Context.get(ctx, TaskQueue).claim("agent-1")))
          const log = Context.get(ctx, AuditLog)
          assert.deepStrictEqual(yield* log.head(), first.head)
          assert.deepStrictEqual(yield* log.verify(), { entries: 3, headHash: first.head.hash })
          const next = yield* log.append({ agentId: "agent-1", action: "four" })
          assert.deepStrictEqual([next.seq, next.prevHash], [4, first.head.hash])
        }))
      // And a third time: the chain that now includes the new entry still verifies on load.
      const verified = yield* session(path, (ctx) => Context.get(ctx, AuditLog).verify())
      assert.strictEqual(verified.entries, 4)
    }))

  it.scoped("reopening with another embedding space is EmbeddingSpaceMismatch; the main store alone does not care", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      yield* session(
        path,
        (ctx) =>
          Context.get(ctx, SemanticStore).remember({ agentId: "a", content: "x", source: "system", embedding: axis(1) })
      )
      for (const other of [{ model: "another-model", dimensions: D }, { model: TEST_SPACE.model, dimensions: D * 2 }]) {
        const error = yield* buildFailure(path, other)
        assert.strictEqual(error._tag, "EmbeddingSpaceMismatch")
        if (error._tag === "EmbeddingSpaceMismatch") {
          assert.deepStrictEqual(error.expected, other)
          assert.deepStrictEqual(error.actual, TEST_SPACE)
        }
      }
      yield* Effect.scoped(Layer.build(layerMain({ path, embedding: { model: "another-model", dimensions: 3 } })))
      const count = yield* session(path, (ctx) => Context.get(ctx, SemanticStore).count("a"))
      assert.strictEqual(count, 1, "the recorded space is unchanged and still opens")
      assert.deepStrictEqual(
        raw(path, (db) => db.prepare(`SELECT key, value FROM engram_meta ORDER BY key`).all()),
        [{ key: "embedding.dimensions", value: String(D) }, { key: "embedding.model", value: TEST_SPACE.model }]
      )
    }))

  it.scoped("an invalid embedding space in the options is InvalidInput at build", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      const error = yield* buildFailure(path, { model: "m", dimensions: 0 })
      assert.strictEqual(error._tag, "InvalidInput")
      assert.strictEqual(error._tag === "InvalidInput" ? error.field : "", "options.embedding.dimensions")
    }))
})

describe("SqliteLive connection and layers", () => {
  it.scoped("every connection runs WAL, synchronous FULL, foreign keys and a busy timeout, also on reopen", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      for (let i = 0; i < 2; i++) {
        const conn = yield* connect({ path })
        assert.strictEqual(conn.db.pragma("journal_mode", { simple: true }), "wal")
        assert.strictEqual(conn.db.pragma("synchronous", { simple: true }), 2, "FULL")
        assert.strictEqual(conn.db.pragma("foreign_keys", { simple: true }), 1)
        // SQLite's own busy wait blocks the thread, so it is kept short; waiting longer happens between
        // attempts (attempt in client.ts), up to the deadline.
        assert.strictEqual(conn.db.pragma("busy_timeout", { simple: true }), BUSY_SLICE_MS)
        assert.strictEqual(conn.busyDeadlineMs, DEFAULT_BUSY_DEADLINE_MS)
      }
      // Recall commits its access counters without an fsync of its own; everything after it is FULL again.
      const conn = yield* connect({ path })
      conn.immediateStatistics(() => assert.strictEqual(conn.db.pragma("synchronous", { simple: true }), 1))
      assert.strictEqual(conn.db.pragma("synchronous", { simple: true }), 2)
      assert.throws(() => conn.immediateStatistics(() => {
        throw new Error("boom")
      }))
      assert.strictEqual(conn.db.pragma("synchronous", { simple: true }), 2, "restored after a failure too")
      const relaxed = yield* connect({ path, synchronous: "NORMAL", busyTimeoutMs: 250 })
      assert.strictEqual(relaxed.db.pragma("synchronous", { simple: true }), 1)
      assert.strictEqual(relaxed.db.pragma("busy_timeout", { simple: true }), BUSY_SLICE_MS)
      assert.strictEqual(relaxed.busyDeadlineMs, 250)
      const impatient = yield* connect({ path, busyTimeoutMs: 40 })
      assert.strictEqual(impatient.db.pragma("busy_timeout", { simple: true }), 40)
    }))

  it.scoped("a write that finds the file locked waits for the lock (off the thread) and succeeds, or says the store is busy at its deadline", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      const conn = yield* connect({ path })
      const holder = openRaw(path)
      yield* Effect.addFinalizer(() => Effect.sync(() => holder.close()))
      // Another process's writer holds the lock for 400 ms: four times SQLite's own busy wait.
      holder.exec("BEGIN IMMEDIATE")
      const release = setTimeout(() => holder.exec("COMMIT"), 400)
      const started = Date.now()
      const version = yield* attempt(
        "write",
        () => conn.immediate(() => conn.run(`INSERT INTO engram_meta VALUES ('k', 'v')`).changes)
      )
      clearTimeout(release)
      assert.strictEqual(version, 1)
      assert.isAtLeast(Date.now() - started, 350)
      // Held past the deadline: a typed StorageError that says the store is busy, not a raw SQLITE_BUSY.
      holder.exec("BEGIN IMMEDIATE")
      const error = yield* Effect.flip(
        attempt("write", () => conn.run(`INSERT INTO engram_meta VALUES ('k2', 'v')`), 300)
      )
      holder.exec("COMMIT")
      assert.strictEqual(error._tag, "StorageError")
      assert.match(error.message, /the store is busy/)
      assert.strictEqual(conn.get<{ n: number }>(`SELECT count(*) AS n FROM engram_meta WHERE key = 'k2'`)?.n, 0)
    }))

  it.scoped("the main and semantic layers built side by side on one file in one process share it", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      const both = Layer.merge(
        layerMain({ path, embedding: TEST_SPACE }),
        layerSemantic({ path, embedding: TEST_SPACE })
      )
      const ctx = yield* Layer.build(both)
      yield* Context.get(ctx, StructuredStore).set("a", "k", 1)
      const id = yield* Context.get(ctx, SemanticStore).remember({
        agentId: "a",
        content: "shared file",
        source: "system",
        embedding: axis(0)
      })
      yield* Context.get(ctx, AuditLog).append({ agentId: "a", action: "x" })
      const full = yield* session(
        path,
        (c) => Effect.all([Context.get(c, StructuredStore).get("a", "k"), Context.get(c, SemanticStore).get("a", id)])
      )
      assert.deepStrictEqual(full[0], Option.some(1))
      assert.isTrue(Option.isSome(full[1]))
    }))

  it.scoped("layerConfig reads the file and the embedding space from configuration", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      const config = Config.all({
        path: Config.string("path"),
        embedding: Config.all({ model: Config.string("model"), dimensions: Config.integer("dimensions") })
      })
      const provider = ConfigProvider.fromMap(
        new Map([["path", path], ["model", TEST_SPACE.model], ["dimensions", String(D)]])
      )
      const ctx = yield* Layer.build(layerConfig(config)).pipe(Effect.withConfigProvider(provider))
      assert.deepStrictEqual(Context.get(ctx, SemanticStore).embeddingSpace, TEST_SPACE)
      yield* Context.get(ctx, StructuredStore).set("a", "k", 1)
      assert.deepStrictEqual(raw(path, (db) => db.prepare(`SELECT value FROM kv`).pluck().all()), ["1"])
    }))

  it.scoped("a path in a missing directory, or an unknown synchronous level, is BackendUnavailable", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      const error = yield* buildFailure(join(path, "no", "such", "dir.db"))
      assert.strictEqual(error._tag, "BackendUnavailable")
      const level = yield* Effect.flip(Effect.scoped(connect({ path, synchronous: "OFF; DROP TABLE kv" as "FULL" })))
      assert.strictEqual(level._tag, "BackendUnavailable")
    }))
})

describe("SqliteLive audit loading fails closed", () => {
  const changes: ReadonlyArray<readonly [string, string]> = [
    ["timestamp", "timestamp = timestamp + 1"],
    ["agent_id", "agent_id = agent_id || '-intruder'"],
    ["action", "action = 'forged'"],
    ["detail", "detail = detail || ' '"],
    ["outcome", "outcome = 'denied'"],
    ["prev_hash", "prev_hash = (SELECT hash FROM audit_log WHERE seq = 1)"],
    ["hash", "hash = (SELECT hash FROM audit_log WHERE seq = 5)"],
    ["seq", "seq = 1000"]
  ]
  for (const [field, set] of changes) {
    it.scoped(`a ${field} changed with raw SQL: building the layer fails with AuditIntegrityError at that entry`, () =>
      Effect.gen(function*() {
        const path = yield* dbPath
        yield* seedAudit(path, 6)
        raw(path, (db) => assert.strictEqual(db.prepare(`UPDATE audit_log SET ${set} WHERE seq = 3`).run().changes, 1))
        const error = yield* buildFailure(path)
        assert.strictEqual(error._tag, "AuditIntegrityError")
        assert.strictEqual(error._tag === "AuditIntegrityError" ? error.seq : 0, 3)
        // The main store alone refuses too: the audit log is part of it.
        const main = yield* Effect.flip(Effect.scoped(Layer.build(layerMain({ path, embedding: TEST_SPACE }))))
        assert.strictEqual(main._tag, "AuditIntegrityError")
      }))
  }

  it.scoped("a deleted entry: AuditIntegrityError at the missing seq", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      yield* seedAudit(path, 4)
      raw(path, (db) => db.prepare(`DELETE FROM audit_log WHERE seq = 2`).run())
      const error = yield* buildFailure(path)
      assert.strictEqual(error._tag === "AuditIntegrityError" ? error.seq : error._tag, 2)
    }))

  it.scoped("an unreadable audit table: AuditLoadError", () =>
    Effect.gen(function*() {
      for (const damage of ["DROP TABLE audit_log", "ALTER TABLE audit_log RENAME COLUMN hash TO digest"]) {
        const path = yield* dbPath
        yield* seedAudit(path, 2)
        raw(path, (db) => db.exec(damage))
        const error = yield* buildFailure(path)
        assert.strictEqual(error._tag, "AuditLoadError", damage)
      }
    }))

  it.scoped("an untouched log builds and verifies, every time", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      yield* seedAudit(path, 6)
      yield* seedAudit(path, 6)
      const verified = yield* session(path, (ctx) => Context.get(ctx, AuditLog).verify())
      assert.strictEqual(verified.entries, 12)
    }))
})

describe("SQLite migrations", () => {
  /** Run the runner with `code` on the file at `path`, with the SQLite driver. */
  const run = (path: string, code: ReadonlyArray<Migration>) =>
    Effect.scoped(Effect.flatMap(open({ path }), (conn) => migrate(driver(conn), code, 42)))

  const schemaOf = (path: string) =>
    raw(path, (db) => db.prepare(`SELECT type, name, sql FROM sqlite_master ORDER BY name`).all())

  const extra = (version: number, statements: ReadonlyArray<string>): Migration => ({
    version,
    name: `extra_${version}`,
    statements
  })

  it.scoped("a fresh file gets every migration once; a second run applies nothing", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      assert.deepStrictEqual(yield* run(path, migrations), [1, 5])
      assert.deepStrictEqual(yield* run(path, migrations), [])
      assert.deepStrictEqual(
        raw(path, (db) => db.prepare(`SELECT version, name, checksum FROM engram_migrations ORDER BY version`).all()),
        migrations.map((m) => ({ version: m.version, name: m.name, checksum: checksum(m) }))
      )
    }))

  it.scoped("an edited applied migration refuses to start with MigrationError", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      yield* run(path, [...migrations, extra(2, ["CREATE TABLE extra (a)"])])
      const error = yield* Effect.flip(run(path, [...migrations, extra(2, ["CREATE TABLE extra (a, b)"])]))
      assert.strictEqual(error._tag, "MigrationError")
      assert.strictEqual(error._tag === "MigrationError" ? error.version : 0, 2)
      assert.match(error.message, /changed after it was applied/)
      // The layer refuses the same way when the recorded checksum of its own migration differs.
      raw(path, (db) => db.prepare(`UPDATE engram_migrations SET checksum = 'edited' WHERE version = 1`).run())
      const built = yield* buildFailure(path)
      assert.strictEqual(built._tag, "MigrationError")
      assert.strictEqual(built._tag === "MigrationError" ? built.version : 0, 1)
    }))

  it.scoped("an unapplied lower version refuses to start with MigrationError and is not applied", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      yield* run(path, [...migrations, extra(3, ["CREATE TABLE three (a)"])])
      const error = yield* Effect.flip(
        run(path, [...migrations, extra(2, ["CREATE TABLE two (a)"]), extra(3, ["CREATE TABLE three (a)"])])
      )
      assert.strictEqual(error._tag, "MigrationError")
      assert.strictEqual(error._tag === "MigrationError" ? error.version : 0, 2)
      assert.isFalse(schemaOf(path).some((t) => (t as { name: string }).name === "two"))
    }))

  it.scoped("a database written by a newer version (an unknown applied version) refuses to start", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      yield* run(path, [...migrations, extra(7, ["CREATE TABLE seven (a)"])])
      const error = yield* buildFailure(path)
      assert.strictEqual(error._tag, "MigrationError")
      assert.strictEqual(error._tag === "MigrationError" ? error.version : 0, 7)
    }))

  it.scoped("a failing statement is a typed MigrationError (not a defect) and leaves the schema unchanged", () =>
    Effect.gen(function*() {
      // On a fresh file, with the good migration in the same run: nothing at all remains.
      const fresh = yield* dbPath
      const bad = extra(2, ["CREATE TABLE half_done (a)", "CREATE TABLE ("])
      const exit = yield* Effect.exit(run(fresh, [...migrations, bad]))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.isFalse(Cause.isDie(exit.cause), "not a defect")
        const error = Cause.failureOption(exit.cause)
        assert.isTrue(Option.isSome(error))
        if (Option.isSome(error)) {
          assert.strictEqual(error.value._tag, "MigrationError")
          assert.strictEqual(error.value._tag === "MigrationError" ? error.value.version : 0, 2)
        }
      }
      assert.deepStrictEqual(schemaOf(fresh), [], "the whole run was rolled back, migrations table included")
      // On a migrated file: the schema and the history are exactly as before.
      const applied = yield* dbPath
      yield* run(applied, migrations)
      const before = schemaOf(applied)
      const error = yield* Effect.flip(run(applied, [...migrations, bad]))
      assert.strictEqual(error._tag, "MigrationError")
      assert.deepStrictEqual(schemaOf(applied), before)
      assert.deepStrictEqual(
        raw(applied, (db) => db.prepare(`SELECT version FROM engram_migrations ORDER BY version`).pluck().all()),
        [1, 5]
      )
      // The store still opens and works.
      yield* session(applied, (ctx) => Context.get(ctx, StructuredStore).set("a", "k", 1))
    }))

  it.scoped("connect migrates before anything else is served: a second connection sees the finished schema", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      const conn = yield* connect({ path })
      const tables = conn.all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
        .map((t) => t.name)
      for (const t of [
        "agents",
        "audit_log",
        "canonical_sessions",
        "devices",
        "engram_meta",
        "engram_migrations",
        "entities",
        "kv",
        "memories",
        "relations",
        "sessions",
        "tasks",
        "usage_events"
      ]) {
        assert.include(tables, t)
      }
    }))
})

describe("SQLite rows are decoded, not cast", () => {
  it.scoped("a devices row that does not decode is a StorageError naming the column, never showing the push token", () =>
    Effect.gen(function*() {
      const path = yield* dbPath
      const token = "apns-secret-token-in-a-blob"
      yield* session(
        path,
        (ctx) =>
          Context.get(ctx, DeviceStore).save({
            deviceId: "phone",
            displayName: "Phone",
            platform: "ios",
            pairedAt: 1,
            lastSeen: 2,
            pushToken: token
          })
      )
      // SQLite keeps whatever type is written: a BLOB token comes back as a Buffer, not text.
      raw(
        path,
        (db) => db.prepare(`UPDATE devices SET push_token = ? WHERE device_id = 'phone'`).run(Buffer.from(token))
      )
      const errors = yield* session(path, (ctx) =>
        Effect.all([
          Effect.flip(Context.get(ctx, DeviceStore).get("phone")),
          Effect.flip(Context.get(ctx, DeviceStore).list()),
          Effect.flip(Context.get(ctx, DeviceStore).touch("phone"))
        ]))
      for (const error of errors) {
        assert.strictEqual(error._tag, "StorageError")
        assert.match(error.message, /push_token/)
        for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10 }), error.message]) {
          assert.notInclude(text, token)
          assert.notInclude(text, Buffer.from(token).toString("hex").slice(0, 16))
        }
      }
    }))
})

describe("SQLite semantic recall specifics", () => {
  const withStore = <A, E>(body: (store: SemanticStore["Type"]) => Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const path = yield* dbPath
      const ctx = yield* Layer.build(layer({ path, embedding: TEST_SPACE }))
      return yield* body(Context.get(ctx, SemanticStore))
    })

  it.scoped(
    "filters apply inside the KNN: 5,000 nearer memories excluded by a filter (more than sqlite-vec's k limit of 4,096) still leave `limit` results",
    () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* store.rememberMany(Array.from({ length: 5000 }, (_, i) => ({
            agentId: "agent-1",
            content: `near ${i}`,
            source: "conversation" as const,
            scope: "near",
            metadata: { tier: "near" },
            embedding: angled(0.0001 * i)
          })))
          const far = yield* store.rememberMany(Array.from({ length: 6 }, (_, i) => ({
            agentId: "agent-1",
            content: `far ${i}`,
            source: "document" as const,
            scope: "far",
            metadata: { tier: "far" },
            embedding: angled(1 + 0.1 * i)
          })))
          for (const filter of [{ scope: "far" }, { source: "document" as const }, { metadata: { tier: "far" } }]) {
            const hits = yield* store.recall({ agentId: "agent-1", embedding: axis(0), limit: 4, ...filter })
            assert.deepStrictEqual(hits.map((h) => h.memory.id), far.slice(0, 4), JSON.stringify(filter))
          }
          // Unfiltered, more than the k limit is not a problem either: the top of 5,006 is exact.
          const top = yield* store.recall({ agentId: "agent-1", embedding: axis(0), limit: 3 })
          assert.deepStrictEqual(top.map((h) => h.memory.content), ["near 0", "near 1", "near 2"])
        })
      ),
    60_000
  )

  it.scoped("ties across a page boundary are decided by createdAt desc, then id desc, among every tied memory", () =>
    withStore((store) =>
      Effect.gen(function*() {
        // 60 identical vectors, so any 5 are equally near. The newest createdAt must win, then the
        // greater id — whatever order the engine scans rows in (the newest were inserted first here).
        const twins = (n: number, tag: string) =>
          store.rememberMany(Array.from({ length: n }, (_, i) => ({
            agentId: "agent-1",
            content: `${tag} ${i}`,
            source: "system" as const,
            metadata: { k: 1 },
            embedding: angled(0.3)
          })))
        yield* TestClock.setTime(5_000)
        const newest = yield* twins(8, "newest")
        yield* TestClock.setTime(1_000)
        yield* twins(30, "old")
        yield* TestClock.setTime(3_000)
        const middle = yield* twins(22, "middle")
        const expected = [...[...newest].sort().reverse(), ...[...middle].sort().reverse()]
        for (const limit of [5, 8, 9, 12]) {
          const vector = yield* store.recall({ agentId: "agent-1", embedding: axis(0), limit })
          assert.deepStrictEqual(vector.map((h) => h.memory.id), expected.slice(0, limit), `knn, limit ${limit}`)
          const scanned = yield* store.recall({ agentId: "agent-1", embedding: axis(0), limit, metadata: { k: 1 } })
          assert.deepStrictEqual(
            scanned.map((h) => h.memory.id),
            expected.slice(0, limit),
            `exact scan, limit ${limit}`
          )
        }
      })
    ))

  it.scoped("FTS5 over the core's tokens matches exactly the core's reference matcher, for every script", () =>
    withStore((store) =>
      Effect.gen(function*() {
        // Words chosen to stress a tokenizer: accents composed and decomposed, ligatures, final sigma,
        // dotted capital I, titlecase digraphs, CJK, Arabic-Indic digits, combining marks, emoji,
        // apostrophes, SQL wildcards and FTS5 operators.
        const words = [
          "café",
          "cafe\u0301",
          "CAFÉ",
          "cafe",
          "ﬁle",
          "file",
          "ΚΑΛΗΜΕΡΑΣ",
          "καλημερας",
          "İstanbul",
          "istanbul",
          "ǅemal",
          "DŽEMAL",
          "東京タワー",
          "東京",
          "٣٤٥",
          "345",
          "naïve",
          "nai\u0308ve",
          "😀",
          "don't",
          "dont",
          "50%",
          "a_b",
          "AND",
          "or",
          "NEAR",
          "\"quoted\"",
          "x-y",
          "straße",
          "STRASSE",
          "Ärger",
          "ärger",
          "Ω",
          "ω"
        ]
        let seed = 7
        const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
        const pick = () => words[Math.floor(next() * words.length)]!
        const docs = Array.from(
          { length: 120 },
          () => Array.from({ length: 1 + Math.floor(next() * 6) }, pick).join(" ")
        )
        const ids = yield* store.rememberMany(
          docs.map((content) => ({ agentId: "agent-1", content, source: "document" as const }))
        )
        const queries = [...words, ...Array.from({ length: 60 }, () => `${pick()} ${pick()}`)]
        let compared = 0
        for (const q of queries) {
          const terms = queryTerms(q)
          if (terms.length === 0) continue
          const expected = ids.filter((_, i) => textScore(terms, tokenize(docs[i]!)) !== undefined).sort()
          const got = (yield* store.recall({ agentId: "agent-1", text: q, limit: 1000 })).map((h) => h.memory.id).sort()
          assert.deepStrictEqual(got, expected, `query ${JSON.stringify(q)}`)
          compared++
        }
        assert.isAbove(compared, 80)
      })
    ))
})
