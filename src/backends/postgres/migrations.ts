/**
 * PostgreSQL schema: the migration versions, the `MigrationDriver` for src/core/migrator.ts, and the
 * embedding-space DDL that runs once the space is first recorded. A version number names the same
 * schema change on SQLite and PostgreSQL; a change one backend does not need (a column renamed to the
 * name it already has there) is simply absent from that backend's list.
 *
 * Conventions: ids are TEXT, timestamps BIGINT epoch milliseconds from the Effect Clock, strings that
 * are ordered or compared use `COLLATE "C"` (code point order, like src/core/order.ts), and JSON is
 * stored as TEXT exactly as serialised (key order and number spelling round-trip unchanged).
 */
import { Effect } from "effect"
import { migrate, type Migration, type MigrationDriver } from "../../core/migrator.js"
import type { EmbeddingSpace } from "../../domain/embedding.js"
import { EmbeddingSpaceMismatch, MigrationError } from "../../domain/errors.js"
import { lockKey, type PgClient, type Queryable } from "./client.js"

/**
 * One key for the whole database: migrations of every engram schema in it serialise, which also
 * covers `CREATE EXTENSION` (an extension is per database, not per schema).
 */
const MIGRATION_LOCK = lockKey("migrations")

/** Longest wait for another process's migration before giving up with a typed error. */
const MIGRATION_LOCK_TIMEOUT = "120s"

export const MIGRATIONS: ReadonlyArray<Migration> = [
  {
    version: 1,
    name: "initial_schema",
    statements: [
      `CREATE EXTENSION IF NOT EXISTS vector`,
      `CREATE TABLE engram_meta (
        key TEXT COLLATE "C" PRIMARY KEY,
        value TEXT NOT NULL
      )`,
      // StructuredStore
      `CREATE TABLE kv (
        agent_id TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        value TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (agent_id, key)
      )`,
      `CREATE TABLE agents (
        id TEXT COLLATE "C" PRIMARY KEY,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        manifest TEXT NOT NULL,
        tags TEXT NOT NULL,
        parent TEXT COLLATE "C",
        metadata TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      // SemanticStore. The vector column and its HNSW index depend on the embedding space and are
      // added by `ensureEmbeddingSpace`. `tsv` holds the core tokens (src/core/textSearch.ts) for
      // matching; `tf` (token → count) and `len_norm` give the core relevance score exactly. A
      // document whose tokens do not fit a tsvector (1 MB) has `tsv` NULL and is matched through `tf`.
      // fillfactor leaves room on each page so recall's access-counter updates stay HOT (no index writes).
      `CREATE TABLE memories (
        id TEXT COLLATE "C" PRIMARY KEY,
        agent_id TEXT COLLATE "C" NOT NULL,
        content TEXT NOT NULL,
        source TEXT NOT NULL,
        scope TEXT COLLATE "C" NOT NULL,
        metadata TEXT NOT NULL,
        confidence DOUBLE PRECISION NOT NULL,
        created_at BIGINT NOT NULL,
        accessed_at BIGINT NOT NULL,
        access_count BIGINT NOT NULL,
        tsv TSVECTOR,
        tf JSONB NOT NULL,
        len_norm DOUBLE PRECISION NOT NULL
      ) WITH (fillfactor = 80)`,
      `CREATE INDEX memories_agent_recent ON memories (agent_id, created_at DESC, id DESC)`,
      `CREATE INDEX memories_text ON memories USING gin (tsv)`,
      `CREATE INDEX memories_untexted ON memories (agent_id) WHERE tsv IS NULL`,
      // KnowledgeStore
      `CREATE TABLE entities (
        agent_id TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        name_fold TEXT COLLATE "C" NOT NULL,
        properties TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (agent_id, id)
      )`,
      `CREATE INDEX entities_name ON entities (agent_id, name_fold)`,
      `CREATE TABLE relations (
        id TEXT COLLATE "C" PRIMARY KEY,
        agent_id TEXT COLLATE "C" NOT NULL,
        source TEXT COLLATE "C" NOT NULL,
        relation TEXT COLLATE "C" NOT NULL,
        target TEXT COLLATE "C" NOT NULL,
        properties TEXT NOT NULL,
        confidence DOUBLE PRECISION NOT NULL,
        created_at BIGINT NOT NULL,
        CONSTRAINT relations_source_fk FOREIGN KEY (agent_id, source) REFERENCES entities (agent_id, id) ON DELETE CASCADE,
        CONSTRAINT relations_target_fk FOREIGN KEY (agent_id, target) REFERENCES entities (agent_id, id) ON DELETE CASCADE
      )`,
      `CREATE INDEX relations_source ON relations (agent_id, source)`,
      `CREATE INDEX relations_target ON relations (agent_id, target)`,
      // SessionStore
      `CREATE TABLE sessions (
        id TEXT COLLATE "C" PRIMARY KEY,
        agent_id TEXT COLLATE "C" NOT NULL,
        label TEXT COLLATE "C",
        messages TEXT NOT NULL,
        message_count INTEGER NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      `CREATE UNIQUE INDEX sessions_label ON sessions (agent_id, label) WHERE label IS NOT NULL`,
      `CREATE INDEX sessions_agent_recent ON sessions (agent_id, updated_at DESC, id DESC)`,
      `CREATE INDEX sessions_recent ON sessions (updated_at DESC, id DESC)`,
      `CREATE TABLE canonical_sessions (
        agent_id TEXT COLLATE "C" PRIMARY KEY,
        messages TEXT NOT NULL,
        summary TEXT,
        updated_at BIGINT NOT NULL
      )`,
      // UsageStore: `seq` keeps insertion order, the order sums are taken in.
      `CREATE TABLE usage_events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        id TEXT COLLATE "C" PRIMARY KEY,
        agent_id TEXT COLLATE "C" NOT NULL,
        model TEXT COLLATE "C" NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        tool_calls BIGINT NOT NULL,
        at BIGINT NOT NULL
      )`,
      `CREATE INDEX usage_agent_at ON usage_events (agent_id, at)`,
      `CREATE INDEX usage_at ON usage_events (at)`,
      // DeviceStore
      `CREATE TABLE devices (
        device_id TEXT COLLATE "C" PRIMARY KEY,
        display_name TEXT NOT NULL,
        platform TEXT NOT NULL,
        paired_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        push_token TEXT
      )`,
      // TaskQueue
      `CREATE TABLE tasks (
        id TEXT COLLATE "C" PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        status TEXT NOT NULL,
        priority INTEGER NOT NULL,
        assigned_to TEXT COLLATE "C",
        created_by TEXT COLLATE "C",
        claimed_by TEXT COLLATE "C",
        attempt INTEGER NOT NULL,
        lease_expires_at BIGINT,
        result TEXT,
        error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        completed_at BIGINT
      )`,
      `CREATE INDEX tasks_claimable ON tasks (priority DESC, created_at, id) WHERE status IN ('pending', 'in_progress')`,
      `CREATE INDEX tasks_recent ON tasks (created_at DESC, id DESC)`,
      // AuditLog: seq is assigned under an advisory lock; the primary key is the backstop that turns
      // a missed lock into an error instead of a fork.
      `CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
        agent_id TEXT COLLATE "C" NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        outcome TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`,
      `CREATE INDEX audit_agent ON audit_log (agent_id, seq)`
    ]
  },
  {
    // The folded-name column takes SQLite's name, so one table codec serves both backends.
    version: 2,
    name: "entities_name_folded",
    statements: [`ALTER TABLE entities RENAME COLUMN name_fold TO name_folded`]
  },
  {
    // SQLite names the time of a usage event `timestamp`; with the same name here one codec
    // (src/tables/usageEvents.ts) serves both. The indexes take SQLite's names too.
    version: 3,
    name: "usage_events_timestamp",
    statements: [
      `ALTER TABLE usage_events RENAME COLUMN at TO timestamp`,
      `ALTER INDEX usage_agent_at RENAME TO usage_by_agent`,
      `ALTER INDEX usage_at RENAME TO usage_by_time`
    ]
  },
  {
    // The audit table's columns become SQLite's, so one codec (src/tables/auditLog.ts) serves both.
    // SQLite needs no version 4: its table already has these names.
    version: 4,
    name: "audit_log_timestamp_column",
    statements: [`ALTER TABLE audit_log RENAME COLUMN at TO timestamp`]
  }
]

/** Start a transaction's migration work: wait (bounded) for the database-wide migration lock. */
const takeLock = (q: Queryable) =>
  Effect.gen(function*() {
    yield* q.execute(`SET LOCAL lock_timeout = '${MIGRATION_LOCK_TIMEOUT}'`)
    yield* q.execute({ text: "SELECT pg_advisory_xact_lock($1::bigint)", values: [MIGRATION_LOCK] })
    yield* q.execute("SET LOCAL lock_timeout = 0")
  })

/** The MigrationDriver: one transaction holding `pg_advisory_xact_lock`, the table created inside it. */
export const driver = (client: PgClient): MigrationDriver => ({
  backend: "postgres",
  locked: (body) =>
    client.transaction("migrate", (q) =>
      Effect.gen(function*() {
        yield* takeLock(q)
        return yield* body({
          ensureTable: q.execute(`CREATE TABLE IF NOT EXISTS engram_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at BIGINT NOT NULL
          )`),
          applied: q.query<{ version: number; name: string; checksum: string }>(
            "SELECT version, name, checksum FROM engram_migrations ORDER BY version"
          ),
          exec: (statement) => q.execute(statement),
          record: (m, appliedAt) =>
            q.execute({
              text: "INSERT INTO engram_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
              values: [m.version, m.name, m.checksum, appliedAt]
            })
        })
      })).pipe(
        Effect.catchAll((e) =>
          e instanceof MigrationError
            ? Effect.fail(e)
            : Effect.fail(
              new MigrationError({ backend: "postgres", message: `migration failed: ${e.message}`, cause: e })
            )
        )
      )
})

/** Apply every pending migration; returns the versions this call applied. */
export const runMigrations = (client: PgClient, now: number) => migrate(driver(client), MIGRATIONS, now)

/** The HNSW cosine index of the memories' vectors (dropped and rebuilt around bulk loads: bulkLoad.ts). */
export const EMBEDDING_INDEX = "CREATE INDEX memories_embedding ON memories USING hnsw (embedding vector_cosine_ops)"

/** pgvector's HNSW index accepts `vector` columns of at most 2,000 dimensions. */
const HNSW_MAX_DIMENSIONS = 2000

const META_MODEL = "embedding.model"
const META_DIMENSIONS = "embedding.dimensions"

/**
 * Record the store's embedding space on first use, adding the `vector(D)` column and its HNSW
 * cosine index, under the migration lock; an existing store with another space is an
 * `EmbeddingSpaceMismatch`. Above 2,000 dimensions there is no HNSW index and recall is exact.
 */
export const ensureEmbeddingSpace = (client: PgClient, space: EmbeddingSpace) =>
  client.transaction("embedding space", (q) =>
    Effect.gen(function*() {
      yield* takeLock(q)
      const rows = yield* q.query<{ key: string; value: string }>({
        text: "SELECT key, value FROM engram_meta WHERE key = ANY($1::text[])",
        values: [[META_MODEL, META_DIMENSIONS]]
      })
      const model = rows.find((r) => r.key === META_MODEL)?.value
      const dimensions = rows.find((r) => r.key === META_DIMENSIONS)?.value
      if (model === undefined && dimensions === undefined) {
        const d = space.dimensions
        yield* q.execute(`ALTER TABLE memories ADD COLUMN embedding vector(${d})`)
        if (d <= HNSW_MAX_DIMENSIONS) {
          yield* q.execute(EMBEDDING_INDEX)
        }
        yield* q.execute({
          text: "INSERT INTO engram_meta (key, value) VALUES ($1, $2), ($3, $4)",
          values: [META_MODEL, space.model, META_DIMENSIONS, String(d)]
        })
        return
      }
      if (model === undefined || dimensions === undefined || !/^\d+$/.test(dimensions)) {
        return yield* new MigrationError({
          backend: "postgres",
          message: "engram_meta holds an incomplete embedding space record"
        })
      }
      const actual = { model, dimensions: Number(dimensions) }
      if (actual.model !== space.model || actual.dimensions !== space.dimensions) {
        return yield* new EmbeddingSpaceMismatch({ expected: { ...space }, actual })
      }
    }))
