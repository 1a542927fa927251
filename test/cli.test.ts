/**
 * The `engram` command, run as users run it (bin/engram.js in a child process): doctor, migrate,
 * audit verify (also on a tampered chain), export → import round trip, copy, and `serve` answering the
 * README's curl example (store, then search) with the token it wrote.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { execFile, spawn } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { promisify } from "node:util"
import { migrations as sqliteMigrations } from "../src/backends/sqlite/migrations.js"
import { layerFromConfig } from "../src/composition/layer.js"
import { memoryConfig } from "../src/config.js"
import { MainStoreAdmin, SemanticStoreAdmin } from "../src/services/Admin.js"
import { AuditLog } from "../src/services/AuditLog.js"
import { SemanticStore } from "../src/services/SemanticStore.js"
import { StructuredStore } from "../src/services/StructuredStore.js"
import { openRaw, tempDir } from "./support/sqlite.js"

const ENGRAM = resolve("bin/engram.js")
const exec = promisify(execFile)

/** Run `engram args…` in `cwd`; never throws, returns the exit code and output. */
const engram = (cwd: string, args: ReadonlyArray<string>) =>
  Effect.promise(() =>
    exec(process.execPath, [ENGRAM, ...args], { cwd, env: { ...process.env, NO_COLOR: "1" } }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr })
    )
  )

const tomlFor = (dir: string, name: string) => {
  const file = join(dir, `${name}.toml`)
  writeFileSync(
    file,
    `[memory]\nsqlite_path = "${join(dir, `${name}.db`)}"\n[memory.embedding]\nmodel = "cli"\ndimensions = 4\n`
  )
  return file
}

const withStore = <A, E>(
  dir: string,
  name: string,
  body: Effect.Effect<A, E, StructuredStore | SemanticStore | AuditLog | MainStoreAdmin | SemanticStoreAdmin>
) =>
  Effect.flatMap(
    memoryConfig({ sqlite: { path: join(dir, `${name}.db`) }, embedding: { model: "cli", dimensions: 4 } }),
    (c) => Effect.scoped(Effect.flatMap(Layer.build(layerFromConfig(c)), (ctx) => Effect.provide(body, ctx)))
  )

const populate = Effect.gen(function*() {
  yield* (yield* StructuredStore).set("agent-1", "k", { v: 1 })
  const memory = yield* SemanticStore
  yield* memory.remember({ agentId: "agent-1", content: "cli memory one", source: "system", embedding: [1, 0, 0, 0] })
  yield* memory.remember({ agentId: "agent-2", content: "cli memory two", source: "system" })
  const audit = yield* AuditLog
  for (let i = 0; i < 5; i++) yield* audit.append({ agentId: "agent-1", action: "cli.test", detail: `n${i}` })
})

const everything = Effect.gen(function*() {
  const main = yield* Stream.runCollect((yield* MainStoreAdmin).export())
  const memories = yield* Stream.runCollect((yield* SemanticStoreAdmin).export())
  return JSON.stringify([...main, ...memories])
})

describe("engram CLI", () => {
  it.scoped("doctor reports each check on one line and exits 0 on a healthy store", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const config = tomlFor(dir, "a")
      yield* withStore(dir, "a", populate)
      const r = yield* engram(dir, ["doctor", "--config", config])
      assert.strictEqual(r.code, 0, r.stderr)
      const lines = r.stdout.trim().split("\n")
      assert.strictEqual(lines.length, 6)
      assert.isTrue(lines.every((l) => l.startsWith("ok")))
      assert.include(r.stdout, "audit chain: 5 entries verified")
      assert.include(r.stdout, "embedding space: cli/4, 2 agents hold memories")
    }), 60_000)

  it.scoped(
    "a tampered audit row makes doctor and audit verify fail with exit code 1 and name the seq",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const config = tomlFor(dir, "a")
        yield* withStore(dir, "a", populate)
        const db = openRaw(join(dir, "a.db"))
        db.prepare("UPDATE audit_log SET detail = 'forged' WHERE seq = 3").run()
        db.close()
        const verify = yield* engram(dir, ["audit", "verify", "--config", config])
        assert.strictEqual(verify.code, 1)
        assert.include(verify.stderr, "AuditIntegrityError")
        assert.include(verify.stderr, "seq 3")
        const doctor = yield* engram(dir, ["doctor", "--config", config])
        assert.strictEqual(doctor.code, 1)
        assert.match(doctor.stdout, /FAIL\s+main audit chain: AuditIntegrityError/)
        assert.match(doctor.stdout, /ok\s+main connectivity/)
      }),
    60_000
  )

  it.scoped(
    "deleting the last audit rows makes audit verify and doctor fail (the anchor beside the file)",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const config = tomlFor(dir, "a")
        yield* withStore(dir, "a", populate)
        assert.isTrue(existsSync(join(dir, "a.db.audit-anchor")), "the anchor file is written beside the database")
        const db = openRaw(join(dir, "a.db"))
        db.prepare("DELETE FROM audit_log WHERE seq >= 4").run()
        db.close()
        const verify = yield* engram(dir, ["audit", "verify", "--config", config])
        assert.strictEqual(verify.code, 1)
        assert.include(verify.stderr, "AuditIntegrityError")
        assert.include(verify.stderr, "truncated")
        const doctor = yield* engram(dir, ["doctor", "--config", config])
        assert.strictEqual(doctor.code, 1)
        assert.match(doctor.stdout, /FAIL\s+main audit chain: AuditIntegrityError/)
      }),
    60_000
  )

  it.scoped("migrate brings a fresh store up to date; audit verify counts the entries", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const config = tomlFor(dir, "fresh")
      const migrate = yield* engram(dir, ["migrate", "--config", config])
      assert.strictEqual(migrate.code, 0, migrate.stderr)
      assert.include(migrate.stdout, "schema up to date")
      const applied = openRaw(join(dir, "fresh.db")).prepare("SELECT version FROM engram_migrations ORDER BY version")
        .all() as Array<{ version: number }>
      assert.deepStrictEqual(applied.map((r) => r.version), sqliteMigrations.map((m) => m.version))
      yield* withStore(dir, "fresh", populate)
      const verify = yield* engram(dir, ["audit", "verify", "--config", config])
      assert.strictEqual(verify.code, 0)
      assert.include(verify.stdout, "5 entries")
    }), 60_000)

  it.scoped(
    "export → import into another store gives the same records; a mismatched embedding space is refused",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const a = tomlFor(dir, "a")
        const b = tomlFor(dir, "b")
        yield* withStore(dir, "a", populate)
        const out = join(dir, "dump.ndjson")
        const exported = yield* engram(dir, ["export", "--config", a, "--output", out])
        assert.strictEqual(exported.code, 0, exported.stderr)
        const lines = readFileSync(out, "utf8").trim().split("\n")
        assert.strictEqual(JSON.parse(lines[0]!).kind, "engram-export")
        assert.strictEqual(JSON.parse(lines[0]!).formatVersion, 1)
        const imported = yield* engram(dir, ["import", "--config", b, "--input", out])
        assert.strictEqual(imported.code, 0, imported.stderr)
        assert.strictEqual(yield* withStore(dir, "b", everything), yield* withStore(dir, "a", everything))

        const other = join(dir, "other.toml")
        writeFileSync(
          other,
          `[memory]\nsqlite_path = "${join(dir, "other.db")}"\n[memory.embedding]\nmodel = "cli"\ndimensions = 8\n`
        )
        const refused = yield* engram(dir, ["import", "--config", other, "--input", out])
        assert.strictEqual(refused.code, 1)
        assert.include(refused.stderr, "EmbeddingSpaceMismatch")
        const bad = join(dir, "bad.ndjson")
        writeFileSync(bad, `${lines[0]}\n{"kind":"kv","agentId":""}\n`)
        const invalid = yield* engram(dir, ["import", "--config", b, "--input", bad])
        assert.strictEqual(invalid.code, 1)
        assert.include(invalid.stderr, "line 2")
      }),
    90_000
  )

  it.scoped("copy streams one configuration into another and prints its progress", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* withStore(dir, "a", populate)
      const r = yield* engram(dir, ["copy", "--from", tomlFor(dir, "a"), "--to", tomlFor(dir, "b")])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stderr, /copy: \d+ records copied/)
      assert.strictEqual(yield* withStore(dir, "b", everything), yield* withStore(dir, "a", everything))
    }), 60_000)

  it.scoped(
    "serve answers the README's store-then-search example with the token it wrote",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const child = spawn(process.execPath, [ENGRAM, "serve", "--port", "0"], {
          cwd: dir,
          env: { ...process.env, NO_COLOR: "1", ENGRAM_EMBEDDING_DIMENSIONS: "16" }
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGTERM")))
        const url = yield* Effect.promise(() =>
          new Promise<string>((ok, fail) => {
            let out = ""
            child.stdout.on("data", (d: Buffer) => {
              out += d.toString()
              const m = /listening on (http:\/\/[^\s;]+)/.exec(out)
              if (m) ok(m[1]!)
            })
            child.on("exit", (code) => fail(new Error(`serve exited with ${code}`)))
          })
        )
        const token = readFileSync(join(dir, ".engram", "gateway-token"), "utf8").trim()
        const post = (path: string, body: unknown) =>
          Effect.promise(() =>
            fetch(`${url}${path}`, {
              method: "POST",
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              body: JSON.stringify(body)
            }).then(async (r) => ({ status: r.status, json: await r.json() as Record<string, unknown> }))
          )
        const stored = yield* post("/memory/store", {
          content: "The user prefers dark mode",
          category: "episodic",
          agentId: "agent-1",
          source: "user_provided",
          importance: 7
        })
        assert.strictEqual(stored.status, 200)
        const found = yield* post("/memory/search", { query: "dark mode", limit: 5 })
        assert.strictEqual(found.status, 200)
        const results = found.json["results"] as ReadonlyArray<Record<string, unknown>>
        assert.strictEqual(results.length, 1)
        assert.strictEqual(results[0]!["id"], stored.json["id"])
        assert.strictEqual(results[0]!["agentId"], "agent-1")
        const unauthorized = yield* Effect.promise(() => fetch(`${url}/memory/search`, { method: "POST", body: "{}" }))
        assert.strictEqual(unauthorized.status, 401)
      }),
    60_000
  )
})
