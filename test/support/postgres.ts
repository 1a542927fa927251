/**
 * Test helpers for the PostgreSQL backend: whether the server is reachable (and whether it must be),
 * a fresh schema per layer build (random name, `search_path=<schema>,public`, dropped when the layer
 * is released), raw SQL in that schema for tampering and inspection, and child processes for the
 * multi-process tests.
 *
 * `ENGRAM_TEST_PG_URL` picks the server (default: the local one). When it cannot be reached the
 * PostgreSQL suites are skipped with a loud message — unless `CI=true` or `ENGRAM_REQUIRE_PG=1`,
 * where they fail instead, so CI can never pass by skipping them.
 */
import { describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import type { AuditEntry } from "../../src/domain/audit.js"
import type { EmbeddingSpace } from "../../src/domain/embedding.js"
import { AuditTamper } from "../../src/testing/auditTamper.js"

/** The server the PostgreSQL tests use. */
export const TEST_PG_URL = process.env.ENGRAM_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** True when an unreachable server must fail the run instead of skipping it. */
export const PG_REQUIRED = process.env.CI === "true" || process.env.ENGRAM_REQUIRE_PG === "1"

/** The embedding space of the PostgreSQL conformance stores (the same as the other backends'). */
export const TEST_SPACE: EmbeddingSpace = { model: "conformance", dimensions: 8 }

/** The URL without its password, for messages. */
export const printableUrl = (url: string): string => {
  try {
    const u = new URL(url)
    u.password = ""
    return u.href
  } catch {
    return "(unparseable URL)"
  }
}

let adminPool: pg.Pool | undefined
/** A small pool for schema management and raw SQL; it never keeps the process alive. */
export const admin = (): pg.Pool => {
  if (adminPool === undefined) {
    adminPool = new pg.Pool({
      connectionString: TEST_PG_URL,
      max: 4,
      allowExitOnIdle: true,
      connectionTimeoutMillis: 5_000,
      options: TEST_SESSION_OPTIONS
    })
    adminPool.on("error", () => {})
  }
  return adminPool
}

/** Check the server once: reachable, and pgvector installed (created in `public` for every test schema). */
const probe = async (): Promise<string | undefined> => {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 3_000 })
  client.on("error", () => {})
  try {
    await client.connect()
    // Created once in public, so no test schema owns the extension (dropping a schema that did
    // would take the vector type away from every other test).
    await client.query("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    return undefined
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Why the PostgreSQL suites cannot run, or undefined when they can (probed once per file). */
export const unavailable: string | undefined = await probe()

/**
 * Define PostgreSQL suites: run `body` when the server is reachable; otherwise fail (CI) or skip
 * with a loud message naming the server and the reason.
 */
export const describePg = (name: string, body: () => void): void => {
  if (unavailable === undefined) {
    describe(name, body)
    return
  }
  const where = printableUrl(TEST_PG_URL)
  if (PG_REQUIRED) {
    describe(name, () => {
      it(`PostgreSQL at ${where} is reachable (required: CI=true or ENGRAM_REQUIRE_PG=1)`, () => {
        throw new Error(`PostgreSQL at ${where} is unavailable: ${unavailable}`)
      })
    })
    return
  }
  const banner = "!".repeat(100)
  console.warn(
    `\n${banner}\n!! SKIPPED: ${name}\n!! PostgreSQL at ${where} is unavailable: ${unavailable}\n` +
      `!! Set ENGRAM_TEST_PG_URL to a PostgreSQL 15+ server with pgvector (CI=true makes this a failure).\n${banner}\n`
  )
  describe.skip(name, body)
}

/** A quoted identifier. */
export const ident = (name: string): string => `"${name.replaceAll("\"", "\"\"")}"`

/**
 * Test connections do not wait for the WAL flush at commit: the throwaway schemas need no crash
 * durability, and the hundreds of DDL-heavy store builds run several times faster. Nothing a test
 * asserts depends on it (locks, isolation and visibility are unchanged).
 */
export const TEST_SESSION_OPTIONS = "-c synchronous_commit=off"

/** `url` with `search_path=<schema>,public` for every connection. */
export const urlForSchema = (schema: string, base = TEST_PG_URL, durable = false): string => {
  const u = new URL(base)
  u.searchParams.set("options", `-c search_path=${schema},public${durable ? "" : ` ${TEST_SESSION_OPTIONS}`}`)
  return u.href
}

/** Create an empty schema with a random name and return it. */
export const createSchema = async (): Promise<string> => {
  const schema = `engram_test_${randomBytes(6).toString("hex")}`
  await admin().query(`CREATE SCHEMA ${ident(schema)}`)
  return schema
}

/** Drop a schema made by `createSchema`. */
export const dropSchema = async (schema: string): Promise<void> => {
  await admin().query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`)
}

/** A fresh schema that lives as long as the current scope. */
export const freshSchemaScoped = Effect.acquireRelease(
  Effect.promise(createSchema),
  (schema) => Effect.promise(() => dropSchema(schema).catch(() => {}))
)

/**
 * A layer that builds `make(url, schema)` in a new schema each time it is built. The schema is
 * acquired first, so it is dropped last: after the store has closed its pool.
 */
export const freshSchema = <ROut, E>(
  make: (url: Redacted.Redacted<string>, schema: string) => Layer.Layer<ROut, E>
): Layer.Layer<ROut, E> =>
  Layer.unwrapScoped(Effect.map(freshSchemaScoped, (schema) => make(Redacted.make(urlForSchema(schema)), schema)))

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
const mustHit = (result: pg.QueryResult, seq: number): void => {
  if (result.rowCount !== 1) throw new Error(`no audit row with seq ${seq}`)
}

/** AuditTamper by raw SQL on the audit rows of `schema`, through the admin pool. */
export const auditTamper = (schema: string): AuditTamper["Type"] => {
  const table = `${ident(schema)}.audit_log`
  return AuditTamper.of({
    update: (seq, patch) =>
      Effect.tryPromise(async () => {
        const keys = (Object.keys(patch) as Array<keyof AuditEntry>).filter((k) => patch[k] !== undefined)
        if (keys.length === 0) return
        const set = keys.map((k, i) => `${AUDIT_COLUMN[k]} = $${i + 2}`).join(", ")
        mustHit(
          await admin().query(`UPDATE ${table} SET ${set} WHERE seq = $1`, [seq, ...keys.map((k) => patch[k])]),
          seq
        )
      }),
    remove: (seq) =>
      Effect.tryPromise(async () => mustHit(await admin().query(`DELETE FROM ${table} WHERE seq = $1`, [seq]), seq)),
    insert: (e) =>
      Effect.tryPromise(async () => {
        await admin().query(
          `INSERT INTO ${table} (seq, timestamp, agent_id, action, detail, outcome, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [e.seq, e.timestamp, e.agentId, e.action, e.detail, e.outcome, e.prevHash, e.hash]
        )
      })
  })
}

/** Raw SQL in `schema` through the admin pool (for inspection in tests). */
export const sql = async <R extends pg.QueryResultRow>(
  schema: string,
  text: string,
  values: ReadonlyArray<unknown> = []
): Promise<Array<R>> => {
  const client = await admin().connect()
  try {
    await client.query(`SET search_path = ${ident(schema)}, public`)
    return (await client.query<R>(text, [...values])).rows
  } finally {
    await client.query("RESET search_path").catch(() => {})
    client.release()
  }
}

const here = dirname(fileURLToPath(import.meta.url))

/** A worker script under test/support/ run as its own Node process with tsx. */
export interface Worker {
  readonly child: ChildProcess
  /** Every line the worker printed on stdout so far. */
  readonly lines: Array<string>
  /** Resolves with the exit code (or the signal) when the process ends. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Resolves with the first stdout line at index `from` or later that satisfies `predicate`. */
  readonly waitFor: (predicate: (line: string) => boolean, from?: number) => Promise<string>
  readonly stderr: () => string
}

/**
 * Start `test/support/<script>` with the given arguments and environment. The script runs in this
 * one process through tsx's loader (`node --import tsx`), not under the `tsx` command, which would
 * put a second process in between: a SIGKILL must hit the worker itself.
 */
export const startWorker = (script: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Worker => {
  const child = spawn(process.execPath, ["--import", "tsx", join(here, script), ...args], {
    cwd: join(here, "..", ".."),
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"]
  })
  const lines: Array<string> = []
  const waiters: Array<{ predicate: (line: string) => boolean; from: number; resolve: (line: string) => void }> = []
  let buffer = ""
  let err = ""
  child.stdout!.setEncoding("utf8")
  child.stdout!.on("data", (chunk: string) => {
    buffer += chunk
    let nl = buffer.indexOf("\n")
    while (nl >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      lines.push(line)
      const index = lines.length - 1
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (index >= waiters[i]!.from && waiters[i]!.predicate(line)) {
          waiters[i]!.resolve(line)
          waiters.splice(i, 1)
        }
      }
      nl = buffer.indexOf("\n")
    }
  })
  child.stderr!.setEncoding("utf8")
  child.stderr!.on("data", (chunk: string) => {
    err += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }))
  })
  return {
    child,
    lines,
    exited,
    waitFor: (predicate, from = 0) =>
      new Promise((resolve, reject) => {
        const found = lines.slice(from).find(predicate)
        if (found !== undefined) return resolve(found)
        waiters.push({ predicate, from, resolve })
        void exited.then(({ code, signal }) =>
          reject(
            new Error(
              `worker ${script} exited (code ${code}, signal ${signal}) before printing the line; stderr: ${err}`
            )
          )
        )
      }),
    stderr: () => err
  }
}
