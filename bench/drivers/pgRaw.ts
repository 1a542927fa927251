/**
 * The raw PostgreSQL side: node-postgres + pgvector with the schema a competent engineer would
 * write, and nothing from engram.
 *
 * - Memories in one table: HNSW cosine index on the vector, a b-tree on the agent, a generated
 *   tsvector with a GIN index, and free space on each page (fillfactor 80, as engram's table has) so
 *   the access-counter updates are HOT: without it every counter update re-inserts the row's vector
 *   into the HNSW graph (measured: ~2.5 ms per recall at N = 10,000). Every connection runs with
 *   `hnsw.iterative_scan = relaxed_order`, so a filtered KNN keeps scanning the index until it has k
 *   rows of the agent.
 * - Server defaults for durability (synchronous_commit on), except the access-counter update of a
 *   recall, which runs on its own small pool with `synchronous_commit = off` — the durability engram
 *   gives that write.
 * - Hot statements are named (prepared once per connection); vectors are read in pgvector's binary
 *   form, the fastest way to get them.
 * - A recall returns what engram's returns (the memory row with its vector and parsed metadata) and,
 *   in the `full` variant, then updates the access counters of what it returned.
 */
import { randomUUID } from "node:crypto"
import pg from "pg"
import type {
  BulkKind,
  Driver,
  KvOp,
  MainDriver,
  Measured,
  MemoryInput,
  RecallVariant,
  TaskDriver,
  TextRecall,
  VectorRecall
} from "../protocol.js"
import { now, since } from "../stats.js"
import { DIMENSIONS, indexOfId, TOP_K } from "../workload.js"
import { auditHash, compact, GENESIS } from "./sqliteRaw.js"

/** A pool whose connections use `schema` (then public, where the vector extension lives). */
export const rawPool = (url: string, schema: string, settings: string, max: number): pg.Pool => {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    options: `-c search_path=${schema},public ${settings}`.trim()
  })
  // A connection dropped by the server must fail the next query, not crash the process.
  pool.on("error", () => {})
  return pool
}

/** pgvector's binary form: int16 dimensions, int16 unused, big-endian float32 values. */
const decodeVector = (b: Buffer): Float32Array => {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const d = view.getInt16(0)
  const out = new Float32Array(d)
  for (let i = 0; i < d; i++) out[i] = view.getFloat32(4 + 4 * i)
  return out
}

interface Row {
  readonly id: string
  readonly agent_id: string
  readonly content: string
  readonly metadata: unknown
  readonly created_at: string
  readonly accessed_at: string
  readonly access_count: number
  readonly embedding: Buffer
}

const toMemory = (r: Row) => ({
  id: r.id,
  agentId: r.agent_id,
  content: r.content,
  metadata: r.metadata,
  createdAt: Number(r.created_at),
  accessedAt: Number(r.accessed_at),
  accessCount: r.access_count,
  embedding: decodeVector(r.embedding)
})

const COLUMNS =
  "id, agent_id, content, metadata, created_at, accessed_at, access_count, vector_send(embedding) AS embedding"
const TASK_COLUMNS =
  "id, title, description, status, priority, assigned_to, created_by, claimed_by, attempt, lease_expires_at, result, error, created_at, updated_at, completed_at"

const SCHEMA_TASKS = `
  CREATE TABLE IF NOT EXISTS tasks (
    id text PRIMARY KEY, title text NOT NULL, description text NOT NULL, status text NOT NULL,
    priority integer NOT NULL, assigned_to text, created_by text, claimed_by text, attempt integer NOT NULL,
    lease_expires_at bigint, result text, error text, created_at bigint NOT NULL, updated_at bigint NOT NULL,
    completed_at bigint
  );
  CREATE INDEX IF NOT EXISTS tasks_open ON tasks (priority DESC, created_at, id) WHERE status IN ('pending', 'in_progress')
`

const withClient = async <A>(pool: pg.Pool, f: (c: pg.PoolClient) => Promise<A>): Promise<A> => {
  const c = await pool.connect()
  try {
    return await f(c)
  } finally {
    c.release()
  }
}

/** Run `f` in a transaction on one connection. */
const transaction = <A>(pool: pg.Pool, f: (c: pg.PoolClient) => Promise<A>): Promise<A> =>
  withClient(pool, async (c) => {
    await c.query("BEGIN")
    try {
      const a = await f(c)
      await c.query("COMMIT")
      return a
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {})
      throw e
    }
  })

const mainDriver = async (pool: pg.Pool): Promise<MainDriver> => {
  await pool.query(`
    CREATE TABLE kv (agent_id text NOT NULL, key text NOT NULL, value text NOT NULL, version integer NOT NULL,
      updated_at bigint NOT NULL, PRIMARY KEY (agent_id, key));
    CREATE TABLE canonical_sessions (agent_id text PRIMARY KEY, messages text NOT NULL, summary text, updated_at bigint NOT NULL);
    CREATE TABLE usage_events (id text PRIMARY KEY, agent_id text NOT NULL, model text NOT NULL, input_tokens bigint NOT NULL,
      output_tokens bigint NOT NULL, cost_usd float8 NOT NULL, tool_calls integer NOT NULL, at bigint NOT NULL);
    CREATE INDEX usage_by_agent ON usage_events (agent_id, at);
    CREATE TABLE audit_log (seq bigint PRIMARY KEY, at bigint NOT NULL, agent_id text NOT NULL, action text NOT NULL,
      detail text NOT NULL, outcome text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL);
  `)
  const appendAudit = (c: pg.PoolClient, agent: string, action: string, detail: string, outcome: string) =>
    (async () => {
      await c.query("BEGIN")
      try {
        // Appenders in any process are serialised by the lock; the head is read after it is held.
        await c.query({ name: "audit_lock", text: "SELECT pg_advisory_xact_lock(7215)" })
        const last = await c.query<{ seq: string; hash: string }>({
          name: "audit_last",
          text: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        })
        const seq = Number(last.rows[0]?.seq ?? 0) + 1
        const prev = last.rows[0]?.hash ?? GENESIS
        const at = Date.now()
        await c.query({
          name: "audit_insert",
          text:
            "INSERT INTO audit_log (seq, at, agent_id, action, detail, outcome, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
          values: [
            seq,
            at,
            agent,
            action,
            detail,
            outcome,
            prev,
            auditHash(seq, at, agent, action, detail, outcome, prev)
          ]
        })
        await c.query("COMMIT")
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {})
        throw e
      }
    })()
  return {
    kvSet: async (ops: ReadonlyArray<KvOp>) => {
      const start = now()
      for (const op of ops) {
        await pool.query({
          name: "kv_set",
          text: `INSERT INTO kv (agent_id, key, value, version, updated_at) VALUES ($1, $2, $3, 1, $4)
                 ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value, version = kv.version + 1, updated_at = excluded.updated_at
                 RETURNING version`,
          values: [op.agent, op.key, JSON.stringify(op.value), Date.now()]
        })
      }
      return since(start)
    },
    kvGet: async (ops: ReadonlyArray<KvOp>) => {
      const start = now()
      for (const op of ops) {
        const r = await pool.query<{ value: string }>({
          name: "kv_get",
          text: "SELECT value FROM kv WHERE agent_id = $1 AND key = $2",
          values: [op.agent, op.key]
        })
        if (r.rows[0] === undefined) throw new Error(`kv get found no value for ${op.key}`)
        JSON.parse(r.rows[0].value)
      }
      return since(start)
    },
    canonicalAppend: async (agents, text) => {
      // Each agent's row exists before the run, so the append can lock it with FOR UPDATE.
      await pool.query(
        `INSERT INTO canonical_sessions (agent_id, messages, summary, updated_at)
         SELECT a, '[]', NULL, 0 FROM unnest($1::text[]) a ON CONFLICT DO NOTHING`,
        [[...new Set(agents)]]
      )
      const start = now()
      for (let i = 0; i < agents.length; i++) {
        const agent = agents[i]!
        await transaction(pool, async (c) => {
          const r = await c.query<{ messages: string; summary: string | null }>({
            name: "canonical_read",
            text: "SELECT messages, summary FROM canonical_sessions WHERE agent_id = $1 FOR UPDATE",
            values: [agent]
          })
          const messages = JSON.parse(r.rows[0]!.messages) as Array<{ role: string; content: string }>
          messages.push({ role: "user", content: text(i) })
          const next = compact(messages, r.rows[0]!.summary)
          await c.query({
            name: "canonical_write",
            text: "UPDATE canonical_sessions SET messages = $2, summary = $3, updated_at = $4 WHERE agent_id = $1",
            values: [agent, JSON.stringify(next.messages), next.summary, Date.now()]
          })
        })
      }
      return since(start)
    },
    usage: async (agents) => {
      const start = now()
      for (const agent of agents) {
        const at = Date.now()
        await pool.query({
          name: "usage_insert",
          text: `INSERT INTO usage_events (id, agent_id, model, input_tokens, output_tokens, cost_usd, tool_calls, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          values: [randomUUID(), agent, "bench-model", 1200, 300, 0.0042, 1, at]
        })
        await pool.query({
          name: "usage_spend",
          text: "SELECT coalesce(sum(cost_usd), 0) AS spent FROM usage_events WHERE agent_id = $1 AND at >= $2",
          values: [agent, at - 3_600_000]
        })
      }
      return since(start)
    },
    auditAppend: async (count) => {
      const start = now()
      await withClient(pool, async (c) => {
        for (let i = 0; i < count; i++) {
          await appendAudit(c, `agent-${i % 10}`, "tool.call", `called tool ${i % 37} with 3 arguments`, "ok")
        }
      })
      return since(start)
    },
    auditFill: async (total) => {
      const last = await pool.query<{ seq: string; hash: string }>(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
      )
      let seq = Number(last.rows[0]?.seq ?? 0)
      let prev = last.rows[0]?.hash ?? GENESIS
      const at = Date.now()
      while (seq < total) {
        const cols: Array<Array<unknown>> = [[], [], [], [], [], []]
        for (let k = 0; k < 5000 && seq < total; k++) {
          const i = seq
          seq++
          const [agent, detail] = [`agent-${i % 10}`, `called tool ${i % 37} with 3 arguments`]
          const hash = auditHash(seq, at, agent, "tool.call", detail, "ok", prev)
          cols[0]!.push(seq)
          cols[1]!.push(agent)
          cols[2]!.push(detail)
          cols[3]!.push(prev)
          cols[4]!.push(hash)
          prev = hash
        }
        await pool.query(
          `INSERT INTO audit_log (seq, at, agent_id, action, detail, outcome, prev_hash, hash)
           SELECT s, $6, a, 'tool.call', d, 'ok', p, h FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(s, a, d, p, h)`,
          [cols[0], cols[1], cols[2], cols[3], cols[4], at]
        )
      }
    },
    auditVerify: async () => {
      const start = now()
      let expected = 1
      let prev = GENESIS
      // Keyset pages in seq order: memory stays flat whatever the log's length.
      for (;;) {
        const page = await pool.query<{
          seq: string
          at: string
          agent_id: string
          action: string
          detail: string
          outcome: string
          prev_hash: string
          hash: string
        }>({
          name: "audit_page",
          text:
            "SELECT seq, at, agent_id, action, detail, outcome, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
          values: [expected - 1]
        })
        for (const r of page.rows) {
          const seq = Number(r.seq)
          if (
            seq !== expected || r.prev_hash !== prev ||
            auditHash(seq, Number(r.at), r.agent_id, r.action, r.detail, r.outcome, r.prev_hash) !== r.hash
          ) throw new Error(`audit chain broken at seq ${seq}`)
          expected++
          prev = r.hash
        }
        if (page.rows.length < 5000) break
      }
      return { entries: expected - 1, ns: since(start) }
    }
  }
}

const MEMORIES_TABLE = `
  CREATE TABLE memories (
    id text PRIMARY KEY, agent_id text NOT NULL, content text NOT NULL, metadata jsonb NOT NULL,
    created_at bigint NOT NULL, accessed_at bigint NOT NULL, access_count integer NOT NULL DEFAULT 0,
    embedding vector(${DIMENSIONS}) NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED
  ) WITH (fillfactor = 80);
  CREATE INDEX memories_agent ON memories (agent_id);
  CREATE INDEX memories_tsv ON memories USING gin (tsv);
`
const EMBEDDING_INDEX = "CREATE INDEX memories_embedding ON memories USING hnsw (embedding vector_cosine_ops)"

/** One multi-row INSERT of `batch` (arrays per column through unnest), created and accessed at `at`. */
const insertRows = (batch: ReadonlyArray<MemoryInput>, at: number): pg.QueryConfig => ({
  name: "memories_insert",
  text: `INSERT INTO memories (id, agent_id, content, metadata, created_at, accessed_at, embedding)
         SELECT id, a, c, m::jsonb, $5, $5, e::vector FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $6::text[]) AS u(id, a, c, m, e)`,
  values: [
    batch.map((m) => m.id),
    batch.map((m) => m.agentId),
    batch.map((m) => m.content),
    batch.map((m) => JSON.stringify(m.metadata)),
    at,
    batch.map((m) => JSON.stringify(m.embedding))
  ]
})

/**
 * The textbook bulk load into an empty pgvector table: the rows in multi-row INSERTs of 5,000
 * without the HNSW index, then the index built once over them (with 1 GB of maintenance_work_mem,
 * engram's setting for its builds), in one transaction.
 */
const rawBulk =
  (url: string, bulkSchemas: Readonly<Record<BulkKind, string>>) =>
  async (kind: BulkKind, inputs: ReadonlyArray<MemoryInput>): Promise<number> => {
    const pool = rawPool(url, bulkSchemas[kind], "", 1)
    try {
      await pool.query(MEMORIES_TABLE)
      const start = now()
      await transaction(pool, async (c) => {
        const at = Date.now()
        for (let i = 0; i < inputs.length; i += 5000) await c.query(insertRows(inputs.slice(i, i + 5000), at))
        await c.query("SET LOCAL maintenance_work_mem = '1GB'")
        await c.query(EMBEDDING_INDEX)
      })
      return since(start)
    } finally {
      await pool.end()
    }
  }

/** The raw PostgreSQL driver in the (empty) schema `schema` of the database at `url`. */
export const pgRawDriver = async (
  url: string,
  schema: string,
  bulkSchemas?: Readonly<Record<BulkKind, string>>
): Promise<Driver> => {
  const pool = rawPool(url, schema, "-c hnsw.iterative_scan=relaxed_order", 10)
  const counterPool = rawPool(url, schema, "-c synchronous_commit=off", 2)
  await pool.query(`${MEMORIES_TABLE}; ${EMBEDDING_INDEX}`)
  const touch = async (ids: ReadonlyArray<string>) => {
    if (ids.length === 0) return
    await counterPool.query({
      name: "memories_touch",
      text: "UPDATE memories SET accessed_at = $2, access_count = access_count + 1 WHERE id = ANY($1::text[])",
      values: [ids, Date.now()]
    })
  }
  const recallEach = async <Q>(
    queries: ReadonlyArray<Q>,
    variant: RecallVariant,
    statement: (q: Q) => pg.QueryConfig
  ): Promise<Measured> => {
    const ns: Array<number> = []
    const returned: Array<ReadonlyArray<number>> = []
    for (const q of queries) {
      const start = now()
      const r = await pool.query<Row>(statement(q))
      const memories = r.rows.map(toMemory)
      if (variant === "full") await touch(memories.map((m) => m.id))
      ns.push(since(start))
      returned.push(memories.map((m) => indexOfId(m.id)))
    }
    return { ns, returned }
  }
  const main = await mainDriver(pool)
  return {
    insert: async (batch: ReadonlyArray<MemoryInput>) => {
      const start = now()
      await pool.query(insertRows(batch, Date.now()))
      return since(start)
    },
    afterLoad: async () => {
      await pool.query("ANALYZE memories")
    },
    vector: (queries: ReadonlyArray<VectorRecall>, filter, variant) =>
      recallEach(queries, variant, (q) =>
        filter === "agent"
          ? {
            name: "knn_agent",
            text:
              `SELECT ${COLUMNS} FROM memories WHERE agent_id = $2 ORDER BY embedding <=> $1::vector LIMIT ${TOP_K}`,
            values: [JSON.stringify(q.embedding), q.agentId]
          }
          : {
            name: "knn_all",
            text: `SELECT ${COLUMNS} FROM memories ORDER BY embedding <=> $1::vector LIMIT ${TOP_K}`,
            values: [JSON.stringify(q.embedding)]
          }),
    text: (queries: ReadonlyArray<TextRecall>, variant) =>
      recallEach(queries, variant, (q) => ({
        name: "text_agent",
        text: `SELECT ${COLUMNS}, ts_rank(tsv, query) AS score
               FROM memories, plainto_tsquery('simple', $2) AS query
               WHERE agent_id = $1 AND tsv @@ query ORDER BY score DESC LIMIT ${TOP_K}`,
        values: [q.agentId, q.text]
      })),
    variants: ["knn", "full"],
    ...(bulkSchemas === undefined ? {} : { bulk: rawBulk(url, bulkSchemas) }),
    main,
    close: async () => {
      await pool.end()
      await counterPool.end()
    }
  }
}

/** Raw task cycles in `schema`: post, claim (UPDATE … FOR UPDATE SKIP LOCKED … RETURNING), complete. */
export const pgRawTaskDriver = async (url: string, schema: string): Promise<TaskDriver> => {
  const pool = rawPool(url, schema, "", 2)
  // Workers start together: one at a time creates the table.
  await transaction(pool, async (c) => {
    await c.query("SELECT pg_advisory_xact_lock(7216)")
    await c.query(SCHEMA_TASKS)
  })
  return {
    cycles: async (worker, count) => {
      const start = now()
      for (let i = 0; i < count; i++) {
        const at = Date.now()
        await pool.query({
          name: "task_post",
          text:
            `INSERT INTO tasks (${TASK_COLUMNS}) VALUES ($1, $2, $3, 'pending', $4, NULL, NULL, NULL, 0, NULL, NULL, NULL, $5, $5, NULL)`,
          values: [randomUUID(), `task ${worker} ${i}`, "summarise the last conversation", i % 3, at]
        })
        let task: { id: string; attempt: number } | undefined
        // Another worker may hold the task just posted (SKIP LOCKED); there is always one more to take.
        for (let tries = 0; task === undefined; tries++) {
          if (tries === 1000) throw new Error("claim found no task 1000 times in a row")
          const claimed = await pool.query<{ id: string; attempt: number }>({
            name: "task_claim",
            text: `UPDATE tasks SET status = 'in_progress', claimed_by = $1, attempt = attempt + 1,
                     lease_expires_at = $2::bigint + 300000, updated_at = $2
                   WHERE id = (
                     SELECT id FROM tasks
                     WHERE status IN ('pending', 'in_progress') AND (assigned_to IS NULL OR assigned_to = $1)
                       AND (status = 'pending' OR lease_expires_at <= $2)
                     ORDER BY priority DESC, created_at, id LIMIT 1
                     FOR UPDATE SKIP LOCKED
                   )
                   RETURNING ${TASK_COLUMNS}`,
            values: [worker, Date.now()]
          })
          task = claimed.rows[0]
        }
        const done = await pool.query({
          name: "task_complete",
          text:
            `UPDATE tasks SET status = 'completed', result = $4, lease_expires_at = NULL, updated_at = $5, completed_at = $5
                 WHERE id = $1 AND status = 'in_progress' AND claimed_by = $2 AND attempt = $3
                 RETURNING ${TASK_COLUMNS}`,
          values: [task.id, worker, task.attempt, "done", Date.now()]
        })
        if (done.rows.length !== 1) throw new Error(`complete of ${task.id} was fenced off`)
      }
      return since(start)
    },
    close: () => pool.end()
  }
}
