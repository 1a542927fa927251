/**
 * Every conformance suite against PgLive on a real PostgreSQL + pgvector, each test in a fresh
 * schema, plus what is specific to PostgreSQL: migrations, the embedding space, startup failures,
 * fail-closed audit loading.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Redacted } from "effect"
import { join } from "node:path"
import * as Client from "../../src/backends/postgres/client.js"
import { layer, layerMain, layerSemantic } from "../../src/backends/postgres/index.js"
import { driver, MIGRATIONS } from "../../src/backends/postgres/migrations.js"
import { migrate } from "../../src/core/migrator.js"
import { AuditLog } from "../../src/services/AuditLog.js"
import { KnowledgeStore } from "../../src/services/KnowledgeStore.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { StructuredStore } from "../../src/services/StructuredStore.js"
import { AuditTamper } from "../../src/testing/auditTamper.js"
import {
  auditLogSuite,
  mainAdminSuite,
  mainStoreSuites,
  semanticAdminSuite,
  semanticStoreSuites
} from "../../src/testing/index.js"
import {
  auditTamper,
  createSchema,
  describePg,
  dropSchema,
  freshSchema,
  sql,
  TEST_SPACE,
  urlForSchema
} from "../support/postgres.js"
import { tempDir } from "../support/sqlite.js"

const Fresh = freshSchema((url) => layer({ url, embedding: TEST_SPACE }))

/** The store (with an audit anchor file) and a raw-SQL tamper tool over the same schema. */
const FreshWithTamper = Layer.unwrapScoped(Effect.map(tempDir, (dir) =>
  freshSchema((url, schema) =>
    Layer.merge(
      layer({ url, embedding: TEST_SPACE, auditAnchorPath: join(dir, "audit-anchor") }),
      Layer.succeed(AuditTamper, auditTamper(schema))
    )
  )))

/** The same without an anchor (the default on PostgreSQL): what the chain alone detects. */
const FreshUnanchored = freshSchema((url, schema) =>
  Layer.merge(layer({ url, embedding: TEST_SPACE }), Layer.succeed(AuditTamper, auditTamper(schema)))
)

/** Run `body` with a schema that exists for its duration. */
const withSchema = <A, E>(body: (schema: string, url: Redacted.Redacted<string>) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.promise(createSchema),
    (schema) => body(schema, Redacted.make(urlForSchema(schema))),
    (schema) => Effect.promise(() => dropSchema(schema))
  )

describePg("PgLive (PostgreSQL + pgvector)", () => {
  mainStoreSuites("postgres", Fresh, FreshWithTamper, { anchored: true })
  auditLogSuite("postgres", FreshUnanchored)
  semanticStoreSuites("postgres", Fresh)
  mainAdminSuite("postgres", Fresh)
  semanticAdminSuite("postgres", Fresh)

  describe("PostgreSQL specifics", () => {
    it.live("a fresh schema gets every migration once; reopening applies nothing and keeps the data", () =>
      withSchema((schema, url) =>
        Effect.gen(function*() {
          yield* Effect.gen(function*() {
            const kv = yield* StructuredStore
            yield* kv.set("agent-1", "k", { kept: true })
          }).pipe(Effect.provide(layer({ url, embedding: TEST_SPACE })))
          yield* Effect.gen(function*() {
            const kv = yield* StructuredStore
            assert.deepStrictEqual(yield* kv.get("agent-1", "k"), Option.some({ kept: true }))
          }).pipe(Effect.provide(layer({ url, embedding: TEST_SPACE })))
          const applied = yield* Effect.promise(() =>
            sql<{ version: number; name: string }>(
              schema,
              "SELECT version, name FROM engram_migrations ORDER BY version"
            )
          )
          assert.deepStrictEqual(applied, MIGRATIONS.map(({ name, version }) => ({ version, name })))
          const meta = yield* Effect.promise(() =>
            sql<{ key: string; value: string }>(schema, "SELECT key, value FROM engram_meta ORDER BY key")
          )
          assert.deepStrictEqual(meta, [
            { key: "embedding.dimensions", value: "8" },
            { key: "embedding.model", value: "conformance" }
          ])
        })
      ))

    it.live("a schema at version 1 is upgraded in place: entities keep their folded names under the shared column", () =>
      withSchema((schema, url) =>
        Effect.gen(function*() {
          yield* Effect.scoped(
            Effect.flatMap(Client.make({ url }), (client) => migrate(driver(client), MIGRATIONS.slice(0, 1), 0))
          )
          yield* Effect.promise(() =>
            sql(
              schema,
              `INSERT INTO entities (agent_id, id, type, name, name_fold, properties, created_at, updated_at)
               VALUES ('agent-1', 'e1', 'location', 'École', 'école', '{"a":1}', 5, 6), ('agent-1', 'e2', 'concept', 'X', 'x', '{}', 7, 7)`
            )
          )
          yield* Effect.promise(() =>
            sql(
              schema,
              `INSERT INTO relations (agent_id, id, source, relation, target, properties, confidence, created_at)
              VALUES ('agent-1', '0190f000-0000-7000-8000-000000000001', 'e1', 'part_of', 'e2', '{}', 1, 8)`
            )
          )
          yield* Effect.gen(function*() {
            const graph = yield* KnowledgeStore
            const stored = Option.getOrThrow(yield* graph.getEntity("agent-1", "e1"))
            assert.deepStrictEqual(
              [stored.name, stored.properties, stored.createdAt, stored.updatedAt],
              ["École", { a: 1 }, 5, 6]
            )
            const matches = yield* graph.query({ agentId: "agent-1", source: "ÉCOLE" })
            assert.deepStrictEqual(matches.map((m) => [m.source.id, m.relation.relation, m.target.id]), [[
              "e1",
              "part_of",
              "e2"
            ]])
          }).pipe(Effect.provide(layer({ url, embedding: TEST_SPACE })))
          const columns = yield* Effect.promise(() =>
            sql<{ column_name: string }>(
              schema,
              `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'entities' AND column_name LIKE 'name%' ORDER BY column_name`
            )
          )
          assert.deepStrictEqual(columns.map((c) => c.column_name), ["name", "name_folded"])
        })
      ))

    it.live("migration 4 renames audit_log.at of a version-1 schema: the stored chain still verifies and grows", () =>
      withSchema((schema, url) =>
        Effect.gen(function*() {
          const main = layerMain({ url, embedding: TEST_SPACE })
          const appended = yield* Effect.scoped(Effect.flatMap(Layer.build(main), (ctx) => {
            const log = Context.get(ctx, AuditLog)
            return Effect.zipRight(
              log.append({ agentId: "a", action: "one" }),
              log.append({ agentId: "b", action: "two" })
            )
          }))
          // Back to the schema as version 1 left it.
          yield* Effect.promise(() => sql(schema, "ALTER TABLE audit_log RENAME COLUMN timestamp TO at"))
          yield* Effect.promise(() => sql(schema, "DELETE FROM engram_migrations WHERE version = 4"))
          const { head, next, verified } = yield* Effect.scoped(Effect.flatMap(Layer.build(main), (ctx) => {
            const log = Context.get(ctx, AuditLog)
            return Effect.all({
              verified: log.verify(),
              head: log.head(),
              next: log.append({ agentId: "c", action: "three" })
            })
          }))
          assert.deepStrictEqual(verified, { entries: 2, headHash: appended.hash })
          assert.deepStrictEqual(head, { seq: 2, hash: appended.hash })
          assert.deepStrictEqual([next.seq, next.prevHash], [3, appended.hash])
          const stored = yield* Effect.promise(() =>
            sql<{ seq: number; t: number }>(
              schema,
              "SELECT seq::int AS seq, timestamp::float8 AS t FROM audit_log ORDER BY seq"
            )
          )
          assert.deepStrictEqual(stored.map((r) => r.seq), [1, 2, 3])
          assert.deepStrictEqual([stored[1]!.t, stored[2]!.t], [appended.timestamp, next.timestamp])
        })
      ))

    it.live("an edited applied migration refuses to start with a typed MigrationError", () =>
      withSchema((schema, url) =>
        Effect.gen(function*() {
          yield* Effect.scoped(Layer.build(layerMain({ url, embedding: TEST_SPACE })))
          yield* Effect.promise(() => sql(schema, "UPDATE engram_migrations SET checksum = 'edited' WHERE version = 1"))
          const exit = yield* Effect.exit(Effect.scoped(Layer.build(layerMain({ url, embedding: TEST_SPACE }))))
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) {
            const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
            assert.strictEqual(error?._tag, "MigrationError")
            assert.match(error?.message ?? "", /checksum/)
          }
        })
      ))

    it.live("another embedding space is EmbeddingSpaceMismatch; the main store alone does not care", () =>
      withSchema((_schema, url) =>
        Effect.gen(function*() {
          yield* Effect.scoped(Layer.build(layerSemantic({ url, embedding: TEST_SPACE })))
          const other = { model: "other-model", dimensions: 8 }
          const exit = yield* Effect.exit(Effect.scoped(Layer.build(layerSemantic({ url, embedding: other }))))
          const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.strictEqual(error?._tag, "EmbeddingSpaceMismatch")
          const wider = yield* Effect.exit(
            Effect.scoped(Layer.build(layer({ url, embedding: { model: "conformance", dimensions: 9 } })))
          )
          assert.strictEqual(
            Exit.isFailure(wider) && wider.cause._tag === "Fail" ? wider.cause.error._tag : "built",
            "EmbeddingSpaceMismatch"
          )
          yield* Effect.scoped(Layer.build(layerMain({ url, embedding: other })))
        })
      ))

    it.live("an unreachable server is BackendUnavailable within the connect timeout, without the password", () =>
      Effect.gen(function*() {
        const started = Date.now()
        const url = Redacted.make("postgres://engram:s3cret-password@127.0.0.1:1/none")
        const exit = yield* Effect.exit(
          Effect.scoped(Layer.build(layer({ url, embedding: TEST_SPACE, connectTimeoutMs: 2_000 })))
        )
        assert.isBelow(Date.now() - started, 2_500)
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "BackendUnavailable")
        assert.notInclude(JSON.stringify(error), "s3cret-password")
        assert.notInclude(error?.message ?? "", "s3cret-password")
      }))

    it.live("a blackholed connect ends at connectTimeoutMs with BackendUnavailable", () =>
      Effect.gen(function*() {
        // 10.255.255.1 is unroutable here: the SYN is never answered.
        const started = Date.now()
        const url = Redacted.make("postgres://postgres@10.255.255.1:5432/none")
        const exit = yield* Effect.exit(
          Effect.scoped(Layer.build(layerMain({ url, embedding: TEST_SPACE, connectTimeoutMs: 500 })))
        )
        const elapsed = Date.now() - started
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "BackendUnavailable")
        assert.isBelow(elapsed, 2_000)
      }))

    it.live("a malformed URL is BackendUnavailable that does not echo the URL", () =>
      Effect.gen(function*() {
        const url = Redacted.make("postgres://user:pa ss@[bad")
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer({ url, embedding: TEST_SPACE }))))
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "BackendUnavailable")
        assert.notInclude(JSON.stringify(error), "pa ss")
      }))

    it.live("a tampered audit chain makes the next layer build fail closed with AuditIntegrityError", () =>
      withSchema((schema, url) =>
        Effect.gen(function*() {
          yield* Effect.gen(function*() {
            const log = yield* AuditLog
            for (let i = 0; i < 5; i++) yield* log.append({ agentId: "agent-1", action: `a${i}` })
          }).pipe(Effect.provide(layerMain({ url, embedding: TEST_SPACE })))
          yield* auditTamper(schema).update(3, { detail: "forged" })
          const exit = yield* Effect.exit(Effect.scoped(Layer.build(layerMain({ url, embedding: TEST_SPACE }))))
          const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.strictEqual(error?._tag, "AuditIntegrityError")
          assert.strictEqual(error?._tag === "AuditIntegrityError" ? error.seq : -1, 3)
        })
      ))

    it.live("text and vector columns: tsvector + GIN and vector(D) + HNSW cosine exist", () =>
      withSchema((schema, url) =>
        Effect.gen(function*() {
          yield* Effect.scoped(Layer.build(layer({ url, embedding: TEST_SPACE })))
          const indexes = yield* Effect.promise(() =>
            sql<{ indexdef: string }>(
              schema,
              "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'memories'",
              [schema]
            )
          )
          const defs = indexes.map((i) => i.indexdef).join("\n")
          assert.match(defs, /USING hnsw \(embedding vector_cosine_ops\)/)
          assert.match(defs, /USING gin \(tsv\)/)
          const type = yield* Effect.promise(() =>
            sql<{ t: string }>(
              schema,
              "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'memories'::regclass AND attname = 'embedding'"
            )
          )
          assert.deepStrictEqual(type, [{ t: "vector(8)" }])
        })
      ))

    it.live("a document whose words do not fit a tsvector (1 MB) is still matched exactly, through its term counts", () =>
      withSchema((schema, url) =>
        Effect.gen(function*() {
          // 128,000 distinct 7-letter words: 1,024,000 bytes of content, more distinct lexeme bytes
          // than a tsvector holds.
          const words = Array.from({ length: 128_000 }, (_, i) => `w${i.toString(36).padStart(6, "0")}`)
          const id = yield* Effect.gen(function*() {
            const store = yield* SemanticStore
            const big = yield* store.remember({ agentId: "agent-1", content: words.join(" "), source: "document" })
            yield* store.remember({ agentId: "agent-1", content: `${words[5]} only`, source: "document" })
            const hits = yield* store.recall({ agentId: "agent-1", text: `${words[127_999]} ${words[64_000]}` })
            assert.deepStrictEqual(hits.map((h) => h.memory.id), [big])
            const both = yield* store.recall({ agentId: "agent-1", text: words[5]! })
            assert.strictEqual(both.length, 2)
            assert.deepStrictEqual(yield* store.recall({ agentId: "agent-1", text: "w_absent" }), [])
            return big
          }).pipe(Effect.provide(layerSemantic({ url, embedding: TEST_SPACE })))
          const rows = yield* Effect.promise(() =>
            sql<{ untexted: boolean }>(schema, "SELECT tsv IS NULL AS untexted FROM memories WHERE id = $1", [id])
          )
          assert.deepStrictEqual(rows, [{ untexted: true }], "the fallback path was exercised")
        })
      ))

    it.live("a long text token (over the tsvector lexeme limit) is still matched exactly", () =>
      withSchema((_schema, url) =>
        Effect.gen(function*() {
          yield* Effect.gen(function*() {
            const store = yield* SemanticStore
            const long = "x".repeat(5_000)
            const id = yield* store.remember({ agentId: "agent-1", content: `short ${long} word`, source: "document" })
            yield* store.remember({ agentId: "agent-1", content: `short ${long}y word`, source: "document" })
            const hits = yield* store.recall({ agentId: "agent-1", text: long })
            assert.deepStrictEqual(hits.map((h) => h.memory.id), [id])
          }).pipe(Effect.provide(layerSemantic({ url, embedding: TEST_SPACE })))
        })
      ))
  })
})
