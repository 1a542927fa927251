/**
 * The composition code has no static import of any backend. A process configured for SQLite
 * only never loads `pg`, the PostgreSQL backend or the Qdrant client; configured for PostgreSQL it
 * does load `pg` (so the tracking is seen to work).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { describePg, freshSchemaScoped, urlForSchema } from "../support/postgres.js"
import { tempDir } from "../support/sqlite.js"

const run = promisify(execFile)

/** The module URLs a child process loaded while building a store from `config`. */
const loadedBy = (config: unknown, dir: string) =>
  Effect.promise(async () => {
    const log = join(dir, "imports.log")
    const { stdout } = await run(process.execPath, [
      "--import",
      "tsx",
      "--import",
      "./test/support/trackImports.mjs",
      "test/support/buildFromConfig.ts",
      JSON.stringify(config)
    ], { env: { ...process.env, ENGRAM_TRACK_IMPORTS: log }, cwd: process.cwd() })
    assert.strictEqual(stdout.trim(), "ok")
    return readFileSync(log, "utf8").split("\n").filter((l) => l !== "")
  })

const loads = (urls: ReadonlyArray<string>, fragment: string) => urls.some((u) => u.includes(fragment))

describe("backends are loaded only when selected", () => {
  it.scoped(
    "a SQLite-only process never loads @effect/sql, pg, the PostgreSQL backend or the Qdrant client",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const urls = yield* loadedBy({ sqlite: { path: join(dir, "lazy.db") } }, dir)
        assert.isTrue(loads(urls, "/src/backends/sqlite/"), "the SQLite backend was loaded")
        assert.isTrue(loads(urls, "/node_modules/better-sqlite3/"), "its driver was loaded")
        for (const fragment of [
          "/node_modules/@effect/sql/",
          "/node_modules/pg/",
          "/node_modules/pg-pool/",
          "/src/backends/postgres/",
          "/node_modules/@qdrant/",
          "/src/backends/qdrant/",
          "/src/backends/http/"
        ]) {
          assert.isFalse(loads(urls, fragment), `${fragment} must not be loaded`)
        }
      }),
    60_000
  )
})

describePg("the tracking sees a selected backend", () => {
  it.scoped(
    "a PostgreSQL process loads pg and not the SQLite driver or the Qdrant client",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const schema = yield* freshSchemaScoped
        const urls = yield* loadedBy({ backend: "postgres", postgres: { url: urlForSchema(schema) } }, dir)
        assert.isTrue(loads(urls, "/node_modules/pg/"), "pg was loaded")
        assert.isFalse(loads(urls, "/node_modules/better-sqlite3/"))
        assert.isFalse(loads(urls, "/node_modules/@qdrant/"))
      }),
    60_000
  )
})
