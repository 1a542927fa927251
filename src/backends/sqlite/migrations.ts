/**
 * The SQLite schema: the SQL of each migration version (a version number means the same change as
 * on PostgreSQL; a version whose change SQLite's schema does not need is absent here) and the
 * `MigrationDriver` that runs them for src/core/migrator.ts under `BEGIN IMMEDIATE`, plus the
 * embedding-space bootstrap that runs after them.
 *
 * Conventions of the schema: timestamps are INTEGER epoch milliseconds from the Effect Clock; JSON is
 * TEXT; strings compare with SQLite's BINARY collation, which is code point order on UTF-8.
 */
import { Cause, Effect, Exit } from "effect"
import {
  type AppliedMigration,
  type Migration,
  type MigrationDriver,
  type MigrationSession
} from "../../core/migrator.js"
import { describe } from "../../core/storage.js"
import type { EmbeddingSpace } from "../../domain/embedding.js"
import { EmbeddingSpaceMismatch, MigrationError, type StorageError } from "../../domain/errors.js"
import { attempt, type SqliteConnection } from "./client.js"

/** Where applied migrations are recorded. */
const MIGRATIONS_TABLE = "engram_migrations"

/**
 * Version 1 creates every table of the nine services and `engram_meta`. Never edit an applied
 * migration (its checksum is verified on every start); add a new version instead.
 */
export const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    name: "initial_schema",
    statements: [
      `CREATE TABLE engram_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,

      `CREATE TABLE kv (
        agent_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        version INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (agent_id, key)
      ) WITHOUT ROWID`,
      `CREATE TABLE agents (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL, manifest TEXT NOT NULL,
        tags TEXT NOT NULL, parent TEXT, metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
      )`,

      // rid links a memory to its vector (sqlite-vec rowid) and its text index entry (FTS5 rowid).
      `CREATE TABLE memories (
        rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, agent_id TEXT NOT NULL,
        content TEXT NOT NULL, source TEXT NOT NULL, scope TEXT NOT NULL, metadata TEXT NOT NULL,
        confidence REAL NOT NULL, created_at INTEGER NOT NULL, accessed_at INTEGER NOT NULL,
        access_count INTEGER NOT NULL, has_embedding INTEGER NOT NULL
      )`,
      `CREATE INDEX memories_by_agent ON memories (agent_id, created_at, id)`,
      // The core's tokens joined by spaces. The ascii tokenizer splits only on ASCII non-alphanumerics
      // and keeps every non-ASCII character inside its token, so each core token is exactly one FTS
      // token: the match set is the core's, for every script. Contentless: the text lives in memories.
      `CREATE VIRTUAL TABLE memories_fts USING fts5(tokens, content='', contentless_delete=1, tokenize='ascii')`,

      `CREATE TABLE entities (
        agent_id TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,
        name_folded TEXT NOT NULL, properties TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (agent_id, id)
      )`,
      `CREATE INDEX entities_by_name ON entities (agent_id, name_folded)`,
      `CREATE TABLE relations (
        id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, source TEXT NOT NULL, relation TEXT NOT NULL,
        target TEXT NOT NULL, properties TEXT NOT NULL, confidence REAL NOT NULL, created_at INTEGER NOT NULL,
        FOREIGN KEY (agent_id, source) REFERENCES entities (agent_id, id) ON DELETE CASCADE,
        FOREIGN KEY (agent_id, target) REFERENCES entities (agent_id, id) ON DELETE CASCADE
      )`,
      `CREATE INDEX relations_by_source ON relations (agent_id, source, created_at, id)`,
      `CREATE INDEX relations_by_target ON relations (agent_id, target)`,

      `CREATE TABLE sessions (
        id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, label TEXT, messages TEXT NOT NULL,
        message_count INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
      )`,
      `CREATE UNIQUE INDEX sessions_by_label ON sessions (agent_id, label) WHERE label IS NOT NULL`,
      `CREATE INDEX sessions_by_update ON sessions (updated_at, id)`,
      `CREATE INDEX sessions_by_agent ON sessions (agent_id, updated_at, id)`,
      `CREATE TABLE canonical_sessions (
        agent_id TEXT PRIMARY KEY, messages TEXT NOT NULL, summary TEXT, updated_at INTEGER NOT NULL
      )`,

      `CREATE TABLE usage_events (
        id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
        tool_calls INTEGER NOT NULL, timestamp INTEGER NOT NULL
      )`,
      `CREATE INDEX usage_by_time ON usage_events (timestamp)`,
      `CREATE INDEX usage_by_agent ON usage_events (agent_id, timestamp)`,

      `CREATE TABLE devices (
        device_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, platform TEXT NOT NULL,
        paired_at INTEGER NOT NULL, last_seen INTEGER NOT NULL, push_token TEXT
      )`,

      `CREATE TABLE tasks (
        id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL, status TEXT NOT NULL,
        priority INTEGER NOT NULL, assigned_to TEXT, created_by TEXT, claimed_by TEXT,
        attempt INTEGER NOT NULL, lease_expires_at INTEGER, result TEXT, error TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, completed_at INTEGER
      )`,
      // Only open tasks, in claim order: a claim reads the first claimable row of this index instead
      // of scanning every finished task.
      `CREATE INDEX tasks_claimable ON tasks (priority DESC, created_at, id) WHERE status IN ('pending', 'in_progress')`,
      `CREATE INDEX tasks_by_creation ON tasks (created_at, id)`,

      // seq is unique (the primary key): two appenders can never both write seq n. The hashes are
      // deliberately not unique, so a tampered duplicate is stored and then reported by verification.
      `CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, agent_id TEXT NOT NULL, action TEXT NOT NULL,
        detail TEXT NOT NULL, outcome TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
      )`,
      `CREATE INDEX audit_by_agent ON audit_log (agent_id, seq)`
    ]
  },
  {
    // Vectors move from the sqlite-vec table into `memories` (the resident cache, vectorCache.ts, does
    // the nearest-neighbour search; SQL scans a column with sqlite-vec's distance functions when it
    // cannot), and every change to a memory is logged for the caches of all processes. A store made
    // before this version has `memories_vec`; a fresh one gets an empty one to copy from, so one
    // plain-SQL migration serves both.
    version: 5,
    name: "memories_embedding_column_and_change_log",
    statements: [
      `CREATE VIRTUAL TABLE IF NOT EXISTS memories_vec USING vec0(embedding float[1])`,
      `ALTER TABLE memories ADD COLUMN embedding BLOB`,
      `UPDATE memories SET embedding = (SELECT v.embedding FROM memories_vec v WHERE v.rowid = memories.rid)
       WHERE has_embedding = 1`,
      `DROP TABLE memories_vec`,
      // One row per change of a memory that a vector cache holds or may hold: the memory's rowid and
      // agent. seq only grows (AUTOINCREMENT never reuses a pruned number), so a cache's position in
      // the log is a single number; rows below the newest are pruned (see vectorCache.ts).
      `CREATE TABLE memory_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, rid INTEGER NOT NULL, agent_id TEXT NOT NULL)`,
      `CREATE TRIGGER memories_logged_insert AFTER INSERT ON memories WHEN NEW.embedding IS NOT NULL BEGIN
        INSERT INTO memory_changes (rid, agent_id) VALUES (NEW.rid, NEW.agent_id);
      END`,
      `CREATE TRIGGER memories_logged_delete AFTER DELETE ON memories WHEN OLD.embedding IS NOT NULL BEGIN
        INSERT INTO memory_changes (rid, agent_id) VALUES (OLD.rid, OLD.agent_id);
      END`,
      // The access counters (accessed_at, access_count) are not listed: a recall's own write is not a
      // change any cache holds.
      `CREATE TRIGGER memories_logged_update
        AFTER UPDATE OF rid, agent_id, embedding, scope, source, confidence, created_at ON memories BEGIN
        INSERT INTO memory_changes (rid, agent_id) SELECT OLD.rid, OLD.agent_id
          WHERE OLD.rid IS NOT NEW.rid OR OLD.agent_id IS NOT NEW.agent_id;
        INSERT INTO memory_changes (rid, agent_id) VALUES (NEW.rid, NEW.agent_id);
      END`
    ]
  }
]

/** The session of one locked migration run; every call is synchronous SQL on the connection. */
const session = (conn: SqliteConnection): MigrationSession => {
  const sync = <A>(fn: () => A) => Effect.try({ try: fn, catch: (cause) => cause })
  return {
    ensureTable: sync(() =>
      conn.exec(
        `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL
        )`
      )
    ),
    applied: sync(() =>
      conn.all<AppliedMigration>(`SELECT version, name, checksum FROM ${MIGRATIONS_TABLE} ORDER BY version`)
    ),
    exec: (statement) => sync(() => conn.exec(statement)),
    record: (m, appliedAt) =>
      sync(() => {
        conn.run(
          `INSERT INTO ${MIGRATIONS_TABLE} (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)`,
          [m.version, m.name, m.checksum, appliedAt]
        )
      })
  }
}

const migrationError = (message: string) => (cause: unknown) =>
  new MigrationError({ backend: "sqlite", message: `${message}: ${describe(cause)}`, cause })

/**
 * The SQLite migration driver: the whole run is one `BEGIN IMMEDIATE` transaction. The write lock is
 * taken before the history is read, so a process that starts while another migrates waits on the
 * busy timeout and then sees the finished schema (never a half-built one, never "already running"),
 * and a failure anywhere rolls every statement of the run back.
 *
 * The body runs to completion synchronously inside the transaction (its steps are synchronous SQL):
 * no other fiber of this process can run while the lock is held, so two layers opening the same file
 * in one process cannot wait on each other's lock.
 */
export const driver = (conn: SqliteConnection): MigrationDriver => ({
  backend: "sqlite",
  locked: <A>(body: (s: MigrationSession) => Effect.Effect<A, MigrationError>) =>
    // Taking the lock waits out other writers like every write does (see `attempt`).
    attempt("take the migration lock", () => conn.exec("BEGIN IMMEDIATE"), conn.busyDeadlineMs).pipe(
      Effect.mapError((e) => migrationError("cannot take the migration lock")(e.cause ?? e)),
      Effect.zipRight(Effect.suspend((): Effect.Effect<A, MigrationError> => {
        const exit = Effect.runSyncExit(body(session(conn)))
        if (Exit.isSuccess(exit)) {
          try {
            conn.exec("COMMIT")
            return Effect.succeed(exit.value)
          } catch (cause) {
            return Effect.zipRight(rollback(conn), Effect.fail(migrationError("cannot commit the migrations")(cause)))
          }
        }
        // A defect in the run (a bug, never a SQL error: those are typed) is still a typed failure here.
        const failure = Cause.failureOrCause(exit.cause)
        return Effect.zipRight(
          rollback(conn),
          failure._tag === "Left"
            ? Effect.fail(failure.left)
            : Effect.fail(migrationError("the migration run failed")(Cause.squash(failure.right)))
        )
      }))
    )
})

/** Undo the run; a failure to do so is reported instead of the failure that caused it. */
const rollback = (conn: SqliteConnection): Effect.Effect<void, MigrationError> =>
  Effect.try({
    // A failed COMMIT may already have ended the transaction; there is nothing left to undo then.
    try: () => {
      if (conn.db.inTransaction) conn.exec("ROLLBACK")
    },
    catch: migrationError("cannot roll the failed migrations back")
  })

/** Keys of the embedding space in `engram_meta`. */
const MODEL_KEY = "embedding.model"
const DIMENSIONS_KEY = "embedding.dimensions"

/**
 * Record the store's embedding space on first use; on every
 * later open, check that the configured space is the recorded one (a store has one space). Runs
 * under `BEGIN IMMEDIATE` like the migrations, so two processes initialising one file agree on it.
 */
export const ensureEmbeddingSpace = (
  conn: SqliteConnection,
  space: EmbeddingSpace
): Effect.Effect<void, EmbeddingSpaceMismatch | StorageError> =>
  Effect.flatMap(
    attempt("record the embedding space", () =>
      conn.immediate((): EmbeddingSpaceMismatch | undefined => {
        const meta = new Map(
          conn.all<{ key: string; value: string }>(
            `SELECT key, value FROM engram_meta WHERE key IN (?, ?)`,
            [MODEL_KEY, DIMENSIONS_KEY]
          ).map((r) => [r.key, r.value])
        )
        const model = meta.get(MODEL_KEY)
        const dimensions = meta.get(DIMENSIONS_KEY)
        if (model !== undefined && dimensions !== undefined) {
          return model === space.model && Number(dimensions) === space.dimensions
            ? undefined
            : new EmbeddingSpaceMismatch({ expected: space, actual: { model, dimensions: Number(dimensions) } })
        }
        conn.run(`INSERT INTO engram_meta (key, value) VALUES (?, ?), (?, ?)`, [
          MODEL_KEY,
          space.model,
          DIMENSIONS_KEY,
          String(space.dimensions)
        ])
        return undefined
      })),
    (mismatch) => (mismatch === undefined ? Effect.void : Effect.fail(mismatch))
  )
