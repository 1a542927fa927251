/**
 * Test helpers for the SQLite backend: a fresh database file per layer build (removed with the
 * layer's scope), raw access to the same file for tampering, and child processes that open the same
 * file for the multi-process tests.
 */
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as SqliteVec from "sqlite-vec"
import type { AuditEntry } from "../../src/domain/audit.js"
import type { EmbeddingSpace } from "../../src/domain/embedding.js"
import { AuditTamper } from "../../src/testing/auditTamper.js"

/** The embedding space of the SQLite test stores. */
export const TEST_SPACE: EmbeddingSpace = { model: "conformance", dimensions: 8 }

/** A new empty directory under the OS temp dir (synchronous; the caller removes it). */
export const makeTempDir = (): string => mkdtempSync(join(tmpdir(), "engram-sqlite-"))

/** Remove a directory made by `makeTempDir`. */
export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true })

/** A temp directory that lives as long as the current scope. */
export const tempDir = Effect.acquireRelease(Effect.sync(makeTempDir), (dir) => Effect.sync(() => removeDir(dir)))

/**
 * A layer that builds `make(path)` on a new database file each time it is built. The directory is
 * acquired first, so it is released last: after the store has closed its connection.
 */
export const freshFile = <ROut, E>(make: (path: string) => Layer.Layer<ROut, E>): Layer.Layer<ROut, E> =>
  Layer.unwrapScoped(Effect.map(tempDir, (dir) => make(join(dir, "engram.db"))))

/** A raw better-sqlite3 connection to `path` with sqlite-vec loaded (for inspection and tampering). */
export const openRaw = (path: string, options: Database.Options = {}): Database.Database => {
  const db = new Database(path, { timeout: 10_000, ...options })
  SqliteVec.load(db)
  return db
}

const AUDIT_COLUMN: Record<keyof AuditEntry, string> = {
  seq: "seq",
  timestamp: "timestamp",
  agentId: "agent_id",
  action: "action",
  detail: "detail",
  outcome: "outcome",
  prevHash: "prev_hash",
  hash: "hash"
}

/** A tamper that silently hits nothing would make a detection test pass for the wrong reason. */
const mustHit = (changes: number, seq: number): void => {
  if (changes !== 1) throw new Error(`no audit row with seq ${seq}`)
}

/** AuditTamper by raw SQL on the file at `path`, through a connection of its own. */
export const auditTamper = (path: string): Layer.Layer<AuditTamper> =>
  Layer.scoped(
    AuditTamper,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => openRaw(path)), (db) => Effect.sync(() => db.close())),
      (db) =>
        AuditTamper.of({
          update: (seq, patch) =>
            Effect.try(() => {
              const keys = (Object.keys(patch) as Array<keyof AuditEntry>).filter((k) => patch[k] !== undefined)
              if (keys.length === 0) return
              const set = keys.map((k) => `${AUDIT_COLUMN[k]} = ?`).join(", ")
              const changed = db.prepare(`UPDATE audit_log SET ${set} WHERE seq = ?`).run(
                ...keys.map((k) => patch[k]),
                seq
              )
              mustHit(changed.changes, seq)
            }),
          remove: (seq) =>
            Effect.try(() => mustHit(db.prepare(`DELETE FROM audit_log WHERE seq = ?`).run(seq).changes, seq)),
          insert: (e) =>
            Effect.try(() =>
              void db.prepare(
                `INSERT INTO audit_log (seq, timestamp, agent_id, action, detail, outcome, prev_hash, hash)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
              ).run(e.seq, e.timestamp, e.agentId, e.action, e.detail, e.outcome, e.prevHash, e.hash)
            )
        })
    )
  )

// ---------------------------------------------------------------------------------------------
// Child processes

const here = dirname(fileURLToPath(import.meta.url))

/**
 * Bundle a child script (TypeScript under test/support) into one ES module with esbuild, which tsx
 * itself is built on: a bundled child starts in about a tenth of the time `node --import tsx` needs
 * to load the same modules, and the multi-process tests start over a hundred children. The native
 * drivers stay external and are imported from their installed location.
 */
export const bundleChild = async (script: string, outDir: string): Promise<string> => {
  const esbuild = await import("esbuild")
  const { createRequire } = await import("node:module")
  const require = createRequire(import.meta.url)
  const outfile = join(outDir, script.replace(/\.ts$/, ".mjs"))
  await esbuild.build({
    entryPoints: [join(here, script)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "error",
    plugins: [{
      name: "native-drivers",
      setup(build) {
        build.onResolve({ filter: /^(better-sqlite3|sqlite-vec)$/ }, (args) => ({
          path: require.resolve(args.path),
          external: true
        }))
      }
    }]
  })
  return outfile
}

/** A running child: its process, every stdout line so far, and its exit. */
export interface Child {
  readonly process: ChildProcess
  readonly lines: Array<string>
  readonly stderr: Array<string>
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Resolves when a stdout line satisfies `predicate`. */
  readonly waitFor: (predicate: (line: string) => boolean) => Promise<string>
}

/** Start `node <bundle> ...args`; stdout is collected line by line. */
export const startChild = (bundle: string, args: ReadonlyArray<string>): Child => {
  const child = spawn(process.execPath, [bundle, ...args], { stdio: ["pipe", "pipe", "pipe"] })
  const lines: Array<string> = []
  const stderr: Array<string> = []
  const waiters: Array<{ predicate: (line: string) => boolean; resolve: (line: string) => void }> = []
  let partial = ""
  child.stdout!.setEncoding("utf8")
  child.stdout!.on("data", (chunk: string) => {
    partial += chunk
    const parts = partial.split("\n")
    partial = parts.pop()!
    for (const line of parts) {
      lines.push(line)
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.predicate(line)) waiters.splice(i, 1)[0]!.resolve(line)
      }
    }
  })
  child.stderr!.setEncoding("utf8")
  child.stderr!.on("data", (chunk: string) => stderr.push(chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => {
      // A last line without a trailing newline still counts.
      if (partial !== "") lines.push(partial)
      partial = ""
      resolve({ code, signal })
    })
  )
  const waitFor = (predicate: (line: string) => boolean) => {
    const found = lines.find(predicate)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise<string>((resolve, reject) => {
      waiters.push({ predicate, resolve })
      void exited.then(({ code, signal }) =>
        reject(new Error(`child exited (code ${code}, signal ${signal}) before the awaited line: ${stderr.join("")}`))
      )
    })
  }
  return { process: child, lines, stderr, exited, waitFor }
}

/** Run a child to completion; rejects when it exits non-zero. */
export const runChild = async (bundle: string, args: ReadonlyArray<string>): Promise<Array<string>> => {
  const child = startChild(bundle, args)
  const { code, signal } = await child.exited
  if (code !== 0) {
    throw new Error(`child ${args.join(" ")} failed (code ${code}, signal ${signal}): ${child.stderr.join("")}`)
  }
  return child.lines
}
