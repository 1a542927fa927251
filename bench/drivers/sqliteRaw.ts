/**
 * The raw SQLite side: better-sqlite3 + sqlite-vec with the schema a competent engineer would write
 * for the same features, and nothing from engram.
 *
 * - Same durability as engram's default: WAL, `synchronous = FULL`, a busy timeout. During the
 *   recall phases the connection runs with `synchronous = NORMAL`, which is the durability engram
 *   gives its access-counter commits (there are no other writes then), so raw recall never waits
 *   for an fsync that engram's would not.
 * - Memories: a rowid table; vectors in a vec0 table with the agent as partition key (a filtered KNN
 *   reads one agent's chunks only), cosine distance; text in an FTS5 table over the memories' content.
 * - A recall returns what engram's returns (the memory row, its vector and metadata parsed) and, in
 *   the `full` variant, updates the access counters of what it returns in the same transaction.
 */
import Database from "better-sqlite3"
import { createHash, randomUUID } from "node:crypto"
import * as SqliteVec from "sqlite-vec"
import type {
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

/** Open a raw connection: WAL, fsync on every commit, sqlite-vec loaded. */
export const openRaw = (path: string): Database.Database => {
  const db = new Database(path, { timeout: 10_000 })
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = FULL")
  SqliteVec.load(db)
  return db
}

const blob = (v: ReadonlyArray<number>): Buffer => {
  const f = Float32Array.from(v)
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength)
}

/** A stored float32 vector as a Float32Array (copied when the buffer is not 4-byte aligned). */
const floats = (b: Buffer): Float32Array =>
  b.byteOffset % 4 === 0
    ? new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4)
    : new Float32Array(Uint8Array.prototype.slice.call(b).buffer)

interface Row {
  readonly rid: number
  readonly id: string
  readonly agent_id: string
  readonly content: string
  readonly metadata: string
  readonly created_at: number
  readonly accessed_at: number
  readonly access_count: number
}

const toMemory = (r: Row, embedding: Buffer) => ({
  id: r.id,
  agentId: r.agent_id,
  content: r.content,
  metadata: JSON.parse(r.metadata) as unknown,
  createdAt: r.created_at,
  accessedAt: r.accessed_at,
  accessCount: r.access_count,
  embedding: floats(embedding)
})

const TASK_COLUMNS =
  "id, title, description, status, priority, assigned_to, created_by, claimed_by, attempt, lease_expires_at, result, error, created_at, updated_at, completed_at"

const SCHEMA_MAIN = `
  CREATE TABLE IF NOT EXISTS kv (
    agent_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, key)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS canonical_sessions (
    agent_id TEXT PRIMARY KEY, messages TEXT NOT NULL, summary TEXT, updated_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS usage_events (
    id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, model TEXT NOT NULL, input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, tool_calls INTEGER NOT NULL, timestamp INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS usage_by_agent ON usage_events (agent_id, timestamp);
  CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY, timestamp INTEGER NOT NULL, agent_id TEXT NOT NULL, action TEXT NOT NULL,
    detail TEXT NOT NULL, outcome TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
  );
`

const SCHEMA_TASKS = `
  CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL, status TEXT NOT NULL,
    priority INTEGER NOT NULL, assigned_to TEXT, created_by TEXT, claimed_by TEXT, attempt INTEGER NOT NULL,
    lease_expires_at INTEGER, result TEXT, error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    completed_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS tasks_open ON tasks (priority DESC, created_at, id) WHERE status IN ('pending', 'in_progress');
`

export const GENESIS = "0".repeat(64)

/** The audit hash: SHA-256 of the entry's fields as a JSON array (unambiguous, like engram's). */
export const auditHash = (
  seq: number,
  timestamp: number,
  agentId: string,
  action: string,
  detail: string,
  outcome: string,
  prevHash: string
): string =>
  createHash("sha256").update(JSON.stringify([1, seq, timestamp, agentId, action, detail, outcome, prevHash])).digest(
    "hex"
  )

/** The compaction engram's canonical sessions also perform: past 100 messages keep the newest 50. */
export const compact = (
  messages: Array<{ role: string; content: string }>,
  summary: string | null
): { messages: Array<{ role: string; content: string }>; summary: string | null } => {
  if (messages.length <= 100) return { messages, summary }
  const folded = messages.slice(0, messages.length - 50)
  const lines = folded.map((m) => `${m.role}: ${m.content.length > 200 ? `${m.content.slice(0, 200)}...` : m.content}`)
  const text = [...(summary === null ? [] : [summary]), ...lines].join("\n")
  return {
    messages: messages.slice(messages.length - 50),
    summary: text.length > 4000 ? text.slice(text.length - 4000) : text
  }
}

const mainDriver = (db: Database.Database): MainDriver => {
  db.exec(SCHEMA_MAIN)
  const kvGet = db.prepare(`SELECT value FROM kv WHERE agent_id = ? AND key = ?`).pluck()
  const kvSet = db.prepare(
    `INSERT INTO kv (agent_id, key, value, version, updated_at) VALUES (?, ?, ?, 1, ?)
     ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value, version = kv.version + 1, updated_at = excluded.updated_at
     RETURNING version`
  ).pluck()
  const canonicalRead = db.prepare(`SELECT messages, summary FROM canonical_sessions WHERE agent_id = ?`)
  const canonicalWrite = db.prepare(
    `INSERT INTO canonical_sessions (agent_id, messages, summary, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (agent_id) DO UPDATE SET messages = excluded.messages, summary = excluded.summary, updated_at = excluded.updated_at`
  )
  const append = db.transaction((agent: string, text: string) => {
    const row = canonicalRead.get(agent) as { messages: string; summary: string | null } | undefined
    const messages = row === undefined ? [] : (JSON.parse(row.messages) as Array<{ role: string; content: string }>)
    messages.push({ role: "user", content: text })
    const next = compact(messages, row?.summary ?? null)
    canonicalWrite.run(agent, JSON.stringify(next.messages), next.summary, Date.now())
  })
  const usageInsert = db.prepare(
    `INSERT INTO usage_events (id, agent_id, model, input_tokens, output_tokens, cost_usd, tool_calls, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
  )
  const usageSpend = db.prepare(`SELECT total(cost_usd) FROM usage_events WHERE agent_id = ? AND timestamp >= ?`)
    .pluck()
  const auditLast = db.prepare(`SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`)
  const auditInsert = db.prepare(
    `INSERT INTO audit_log (seq, timestamp, agent_id, action, detail, outcome, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
  )
  const auditAppend = db.transaction((agent: string, action: string, detail: string, outcome: string) => {
    const last = auditLast.get() as { seq: number; hash: string } | undefined
    const seq = (last?.seq ?? 0) + 1
    const prev = last?.hash ?? GENESIS
    const ts = Date.now()
    auditInsert.run(
      seq,
      ts,
      agent,
      action,
      detail,
      outcome,
      prev,
      auditHash(seq, ts, agent, action, detail, outcome, prev)
    )
  })
  return {
    kvSet: async (ops: ReadonlyArray<KvOp>) => {
      const start = now()
      for (const op of ops) kvSet.get(op.agent, op.key, JSON.stringify(op.value), Date.now())
      return since(start)
    },
    kvGet: async (ops: ReadonlyArray<KvOp>) => {
      const start = now()
      for (const op of ops) {
        const text = kvGet.get(op.agent, op.key) as string | undefined
        if (text === undefined) throw new Error(`kv get found no value for ${op.key}`)
        JSON.parse(text)
      }
      return since(start)
    },
    canonicalAppend: async (agents, text) => {
      const start = now()
      for (let i = 0; i < agents.length; i++) append.immediate(agents[i]!, text(i))
      return since(start)
    },
    usage: async (agents) => {
      const start = now()
      for (const agent of agents) {
        const at = Date.now()
        usageInsert.run(randomUUID(), agent, "bench-model", 1200, 300, 0.0042, 1, at)
        usageSpend.get(agent, at - 3_600_000)
      }
      return since(start)
    },
    auditAppend: async (count) => {
      const start = now()
      for (let i = 0; i < count; i++) {
        auditAppend.immediate(`agent-${i % 10}`, "tool.call", `called tool ${i % 37} with 3 arguments`, "ok")
      }
      return since(start)
    },
    auditFill: async (total) => {
      const fill = db.transaction(() => {
        const last = auditLast.get() as { seq: number; hash: string } | undefined
        let seq = last?.seq ?? 0
        let prev = last?.hash ?? GENESIS
        const ts = Date.now()
        while (seq < total) {
          const i = seq
          seq++
          const [agent, detail] = [`agent-${i % 10}`, `called tool ${i % 37} with 3 arguments`]
          const hash = auditHash(seq, ts, agent, "tool.call", detail, "ok", prev)
          auditInsert.run(seq, ts, agent, "tool.call", detail, "ok", prev, hash)
          prev = hash
        }
      })
      fill.immediate()
    },
    auditVerify: async () => {
      const start = now()
      // One streaming read in seq order: rows are checked as they come, memory stays flat.
      const rows = db.prepare(
        `SELECT seq, timestamp, agent_id, action, detail, outcome, prev_hash, hash FROM audit_log ORDER BY seq`
      )
        .raw()
        .iterate() as IterableIterator<[number, number, string, string, string, string, string, string]>
      let expected = 1
      let prev = GENESIS
      for (const [seq, ts, agent, action, detail, outcome, prevHash, hash] of rows) {
        if (
          seq !== expected || prevHash !== prev || auditHash(seq, ts, agent, action, detail, outcome, prevHash) !== hash
        ) {
          throw new Error(`audit chain broken at seq ${seq}`)
        }
        expected++
        prev = hash
      }
      return { entries: expected - 1, ns: since(start) }
    }
  }
}

/** The raw SQLite driver on the file `path` (created empty). */
export const sqliteRawDriver = (path: string): Driver => {
  const db = openRaw(path)
  db.exec(`
    CREATE TABLE memories (
      rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, agent_id TEXT NOT NULL, content TEXT NOT NULL,
      metadata TEXT NOT NULL, created_at INTEGER NOT NULL, accessed_at INTEGER NOT NULL, access_count INTEGER NOT NULL
    );
    CREATE INDEX memories_by_agent ON memories (agent_id, created_at);
    CREATE VIRTUAL TABLE memories_vec USING vec0(agent_id text partition key, embedding float[${DIMENSIONS}] distance_metric=cosine);
    CREATE VIRTUAL TABLE memories_fts USING fts5(content, content='memories', content_rowid='rid');
  `)
  const insertMemory = db.prepare(
    `INSERT INTO memories (id, agent_id, content, metadata, created_at, accessed_at, access_count) VALUES (?, ?, ?, ?, ?, ?, 0)`
  )
  const insertVector = db.prepare(`INSERT INTO memories_vec (rowid, agent_id, embedding) VALUES (?, ?, ?)`)
  const insertText = db.prepare(`INSERT INTO memories_fts (rowid, content) VALUES (?, ?)`)
  const insertAll = db.transaction((batch: ReadonlyArray<MemoryInput>) => {
    const at = Date.now()
    for (const m of batch) {
      const rid = insertMemory.run(m.id, m.agentId, m.content, JSON.stringify(m.metadata), at, at).lastInsertRowid
      insertVector.run(BigInt(rid), m.agentId, blob(m.embedding))
      insertText.run(rid, m.content)
    }
  })

  const knn = (filtered: boolean) =>
    db.prepare(
      `WITH knn AS (
         SELECT rowid, distance, embedding FROM memories_vec
         WHERE embedding MATCH ? AND k = ?${filtered ? " AND agent_id = ?" : ""}
       )
       SELECT m.rid, m.id, m.agent_id, m.content, m.metadata, m.created_at, m.accessed_at, m.access_count,
              knn.distance, knn.embedding
       FROM knn JOIN memories m ON m.rid = knn.rowid ORDER BY knn.distance`
    )
  const knnAgent = knn(true)
  const knnAll = knn(false)
  const textSearch = db.prepare(
    `SELECT m.rid, m.id, m.agent_id, m.content, m.metadata, m.created_at, m.accessed_at, m.access_count, bm25(memories_fts) AS score
     FROM memories_fts JOIN memories m ON m.rid = memories_fts.rowid
     WHERE memories_fts MATCH ? AND m.agent_id = ? ORDER BY score LIMIT ?`
  )
  const vectorOf = db.prepare(`SELECT embedding FROM memories_vec WHERE rowid = ?`).pluck()
  const touchStatements = new Map<number, Database.Statement>()
  const touch = (rids: ReadonlyArray<number>, at: number) => {
    if (rids.length === 0) return
    let s = touchStatements.get(rids.length)
    if (s === undefined) {
      s = db.prepare(
        `UPDATE memories SET accessed_at = ?, access_count = access_count + 1 WHERE rid IN (${
          rids.map(() => "?").join(", ")
        })`
      )
      touchStatements.set(rids.length, s)
    }
    s.run(at, ...rids)
  }

  type VecRow = Row & { distance: number; embedding: Buffer }
  const vectorOnce = db.transaction((q: Buffer, agent: string | undefined, counters: boolean) => {
    const rows = (agent === undefined ? knnAll.all(q, TOP_K) : knnAgent.all(q, TOP_K, agent)) as Array<VecRow>
    const memories = rows.map((r) => toMemory(r, r.embedding))
    if (counters) touch(rows.map((r) => r.rid), Date.now())
    return memories
  })
  const textOnce = db.transaction((match: string, agent: string, counters: boolean) => {
    const rows = textSearch.all(match, agent, TOP_K) as Array<Row & { score: number }>
    const memories = rows.map((r) => toMemory(r, vectorOf.get(BigInt(r.rid)) as Buffer))
    if (counters) touch(rows.map((r) => r.rid), Date.now())
    return memories
  })

  /** Run recalls with the commit durability engram gives access counters (see the header). */
  const recallPhase = <Q>(
    queries: ReadonlyArray<Q>,
    one: (q: Q) => ReadonlyArray<{ readonly id: string }>
  ): Measured => {
    db.pragma("synchronous = NORMAL")
    try {
      const ns: Array<number> = []
      const returned: Array<ReadonlyArray<number>> = []
      for (const q of queries) {
        const start = now()
        const memories = one(q)
        ns.push(since(start))
        returned.push(memories.map((m) => indexOfId(m.id)))
      }
      return { ns, returned }
    } finally {
      db.pragma("synchronous = FULL")
    }
  }

  return {
    insert: async (batch) => {
      const start = now()
      insertAll(batch)
      return since(start)
    },
    vector: async (queries: ReadonlyArray<VectorRecall>, filter, variant: RecallVariant) => {
      // The counter update writes, so that transaction takes the write lock up front (as engram's does).
      const tx = variant === "full" ? vectorOnce.immediate : vectorOnce.deferred
      return recallPhase(
        queries,
        (q) => tx(blob(q.embedding), filter === "agent" ? q.agentId : undefined, variant === "full")
      )
    },
    text: async (queries: ReadonlyArray<TextRecall>, variant: RecallVariant) => {
      const tx = variant === "full" ? textOnce.immediate : textOnce.deferred
      // Every word quoted: implicitly AND-ed, never read as an FTS5 operator.
      const match = (text: string) =>
        text.toLowerCase().split(/\s+/).filter((w) => w !== "").map((w) => `"${w}"`).join(" ")
      return recallPhase(queries, (q) => tx(match(q.text), q.agentId, variant === "full"))
    },
    variants: ["knn", "full"],
    main: mainDriver(db),
    close: async () => {
      db.close()
    }
  }
}

/** Raw task cycles on the shared file `path`: post, claim (one UPDATE … RETURNING), complete. */
export const sqliteRawTaskDriver = (path: string): TaskDriver => {
  const db = openRaw(path)
  db.exec(SCHEMA_TASKS)
  const post = db.prepare(
    `INSERT INTO tasks (${TASK_COLUMNS}) VALUES (?, ?, ?, 'pending', ?, NULL, NULL, NULL, 0, NULL, NULL, NULL, ?, ?, NULL)`
  )
  const claim = db.prepare(
    `UPDATE tasks SET status = 'in_progress', claimed_by = @worker, attempt = attempt + 1,
       lease_expires_at = @now + 300000, updated_at = @now
     WHERE id = (
       SELECT id FROM tasks
       WHERE status IN ('pending', 'in_progress') AND (assigned_to IS NULL OR assigned_to = @worker)
         AND (status = 'pending' OR lease_expires_at <= @now)
       ORDER BY priority DESC, created_at, id LIMIT 1
     )
     RETURNING ${TASK_COLUMNS}`
  )
  const complete = db.prepare(
    `UPDATE tasks SET status = 'completed', result = @result, lease_expires_at = NULL, updated_at = @now, completed_at = @now
     WHERE id = @id AND status = 'in_progress' AND claimed_by = @worker AND attempt = @attempt
     RETURNING ${TASK_COLUMNS}`
  )
  return {
    cycles: async (worker, count) => {
      const start = now()
      for (let i = 0; i < count; i++) {
        const at = Date.now()
        post.run(randomUUID(), `task ${worker} ${i}`, "summarise the last conversation", i % 3, at, at)
        let task: { id: string; attempt: number } | undefined
        // Another worker may have taken the task just posted; there is always one more to take.
        for (let tries = 0; task === undefined; tries++) {
          if (tries === 1000) throw new Error("claim found no task 1000 times in a row")
          task = claim.get({ worker, now: Date.now() }) as { id: string; attempt: number } | undefined
        }
        const done = complete.get({ result: "done", id: task.id, worker, now: Date.now(), attempt: task.attempt })
        if (done === undefined) throw new Error(`complete of ${task.id} was fenced off`)
      }
      return since(start)
    },
    close: async () => {
      db.close()
    }
  }
}
