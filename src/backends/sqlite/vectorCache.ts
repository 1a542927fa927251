/**
 * The resident vector cache of a SQLite store (specific to this backend: the other stores search
 * inside their server). SQLite stays the source of truth; the cache holds, per agent, the vectors and
 * filter fields of its memories in a `VectorIndex` (core/vectors: int16 rows as two byte planes,
 * scanned by WebAssembly SIMD kernels, every candidate re-scored exactly), so a vector recall costs
 * one scan of the agent's rows in memory instead of one of its pages in the file.
 *
 * Coherence, across transactions and processes: triggers on `memories` append one row per change of
 * a memory with a vector to `memory_changes` (migration 5), in the writer's transaction, so the log
 * holds exactly the committed changes, in commit order. Every use of the cache runs inside the
 * recall's own (read) transaction: it first applies the log past its position (re-reading
 * each changed row as it now is), so what it serves is the snapshot that transaction reads — never a
 * rolled-back write (its log rows vanish with it), never a stale one. An agent is loaded lazily, on
 * its first vector recall, and stays resident; an agent of more than `LOAD_SLICE` rows is loaded a
 * slice per recall, in rowid order, while SQL answers for the rows not yet held. When the log was
 * pruned past the cache's position, or a catch-up would be larger than a reload, the agents held are
 * dropped and reload on their next recall.
 *
 * Every function is synchronous and runs inside the caller's transaction; any may throw.
 */
import type Database from "better-sqlite3"
import { type Filter, filterConditions, type Filtered, meets } from "../../core/memoryFilter.js"
import { cosine } from "../../core/vector.js"
import { type RowFields, type RowView, type Scored, VectorIndex } from "../../core/vectors/vectorIndex.js"
import type { SqliteConnection } from "./client.js"
import { MEMORY_COLUMNS, rowOfValues } from "./memories.js"

/** Log rows kept when pruning: a cache further behind than this reloads instead of catching up. */
export const LOG_KEEP = 65_536

/** Changes applied one by one at most; beyond this, reloading the agents is cheaper. */
const CATCH_UP_LIMIT = 20_000

/** Where the newest pruned log position is recorded (`engram_meta`). */
const PRUNED_KEY = "memory_changes.pruned_through"

/** Code of a scope or source the cache has no code for (compared exactly at re-scoring). */
const UNLISTED = 255

/** A row of the store as the cache reads it. */
interface CacheRow {
  readonly rid: number
  readonly embedding: Uint8Array | null
  readonly scope: string
  readonly source: string
  readonly confidence: number
  readonly created_at: number
}

/**
 * Rows of an agent one recall loads at most (see `VectorCache.hold`): an agent of this size loads in
 * ~0.1–0.2 s here; a larger one is loaded over several recalls while SQL answers for the rest.
 */
export const LOAD_SLICE = 32_768

/**
 * Rows of an agent read per window when loading it: a window's memories with a vector, by rowid
 * (rowid lookups in ascending order, so neighbouring rows share pages).
 */
const LOAD_WINDOW = 256

/**
 * One window of an agent's rows (`agentWindow`): the vectors concatenated (null: no row), JSON arrays
 * of rid, created_at, confidence, scope and source, and 1 when every vector is a blob of the
 * store's length.
 */
type WindowRow = readonly [Uint8Array | null, string, string, string, string, string, number | null]

/** A change in the log joined with the row as it is now (`owner` null: deleted). */
interface ChangeRow extends Omit<CacheRow, "embedding"> {
  readonly agent: string
  readonly owner: string | null
  readonly embedding: Uint8Array | null
}

/** A re-scored candidate: the exact score and what the result order breaks ties on. */
interface Exact extends Scored {
  readonly createdAt: number
  readonly id: string
}

const byIdDesc = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0)

/** The result order of core/recall.ts (score desc, createdAt desc, id desc). */
const exactOrder = (a: Exact, b: Exact): number =>
  b.score - a.score || b.createdAt - a.createdAt || byIdDesc(a.id, b.id)

/** String → small code, up to 254 codes; later strings are UNLISTED. */
class Codes {
  private readonly codes = new Map<string, number>()
  of(value: string): number {
    let c = this.codes.get(value)
    if (c === undefined) {
      if (this.codes.size >= UNLISTED) return UNLISTED
      c = this.codes.size
      this.codes.set(value, c)
    }
    return c
  }
  /** The code of a value, without assigning one. */
  peek(value: string): number | undefined {
    return this.codes.get(value)
  }
}

/** The float32 values of a stored vector blob, without a copy when it is aligned. */
const floats = (b: Uint8Array): Float32Array =>
  b.byteOffset % 4 === 0
    ? new Float32Array(b.buffer, b.byteOffset, b.byteLength >>> 2)
    : new Float32Array(b.slice().buffer)

export class VectorCache {
  private readonly index: VectorIndex
  /** The log position every held agent reflects; -1 before the first sync. */
  private position = -1
  /** Agents whose stored rows the cache cannot hold (a vector of another length, say): SQL serves them. */
  private readonly refused = new Set<string>()
  /** Agents partly loaded, with the rowid through which their rows are held (in rowid order). */
  private readonly loading = new Map<string, number>()
  private readonly scopes = new Codes()
  private readonly sources = new Codes()
  private readonly newest: Database.Statement
  private readonly pruned: Database.Statement
  private readonly changes: Database.Statement
  private readonly agentRids: Database.Statement
  private readonly agentWindow: Database.Statement
  private readonly utf8: boolean
  private readonly candidates: Database.Statement

  /**
   * @param slice the most rows one `hold` loads: a larger agent is loaded over several recalls, each
   *   answering the rows not yet held by SQL.
   */
  constructor(conn: SqliteConnection, readonly dimensions: number, private readonly slice = LOAD_SLICE) {
    this.index = new VectorIndex(dimensions)
    const db = conn.db
    this.newest = db.prepare(`SELECT coalesce(max(seq), 0) FROM memory_changes`).pluck()
    this.pruned = db.prepare(`SELECT value FROM engram_meta WHERE key = '${PRUNED_KEY}'`).pluck()
    this.changes = db.prepare(
      `SELECT c.rid AS rid, c.agent_id AS agent, m.agent_id AS owner, m.embedding AS embedding, m.scope AS scope,
         m.source AS source, m.confidence AS confidence, m.created_at AS created_at
       FROM memory_changes c LEFT JOIN memories m ON m.rid = c.rid WHERE c.seq > ? AND c.seq <= ? ORDER BY c.seq`
    )
    this.agentRids = db.prepare(`SELECT json_group_array(rid) FROM memories WHERE agent_id = ? AND rid > ?`).pluck()
    // group_concat reads each blob as text; in a UTF-8 database that is its bytes unchanged (in a
    // UTF-16 one they would be converted, so such a store is served by SQL). Every aggregate of one
    // row steps in the same order, so the i-th element of each array belongs to the i-th blob.
    this.agentWindow = db.prepare(
      `SELECT CAST(group_concat(embedding, '') AS BLOB), json_group_array(rid), json_group_array(created_at),
         json_group_array(confidence), json_group_array(scope), json_group_array(source),
         min(typeof(embedding) = 'blob' AND length(embedding) = ?)
       FROM memories WHERE rid IN (SELECT value FROM json_each(?)) AND +agent_id = ? AND embedding IS NOT NULL`
    ).raw(true)
    this.utf8 = db.pragma("encoding", { simple: true }) === "UTF-8"
    // Whole rows: the winners among them are the recall's answer, so they are read only once.
    this.candidates = db.prepare(
      `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.rid IN (SELECT value FROM json_each(?))`
    ).raw(true)
  }

  /** Bytes of vector memory held. */
  get bytes(): number {
    return this.index.bytes
  }

  /** Apply the committed changes past the cache's position (inside the caller's transaction). */
  sync(): void {
    const newest = Number(this.newest.get())
    if (newest === this.position) return
    const held = [...this.index.sizes().keys()]
    const pruned = Number(this.pruned.get() ?? 0)
    // A log that went backwards means the cache read a write that was then rolled back (it is only
    // ever read in the recall's own transaction, so this is a defence, not an expected path).
    if (
      held.length === 0 || this.position < pruned || newest < this.position ||
      newest - this.position > CATCH_UP_LIMIT
    ) {
      this.dropAll()
      this.position = newest
      return
    }
    for (const raw of this.changes.iterate(this.position, newest)) {
      const c = raw as ChangeRow
      // Rows past what a partly loaded agent holds are read later, as they are then.
      if (!this.index.has(c.agent) || c.rid > (this.loading.get(c.agent) ?? Number.POSITIVE_INFINITY)) continue
      if (c.owner === c.agent && c.embedding !== null) {
        this.put(c.agent, c)
      } else {
        this.index.remove(c.agent, c.rid)
      }
    }
    this.position = newest
  }

  /**
   * Hold the agent (after `sync`, in the same transaction), loading up to `slice` more of its rows:
   * the rowid through which its rows are held — Infinity once all are, so that the caller reads
   * the rest (its rows with a greater rowid) by SQL — or undefined when the cache cannot hold it.
   */
  hold(agent: string): number | undefined {
    if (this.refused.has(agent)) return undefined
    const through = this.index.has(agent) ? this.loading.get(agent) : Number.NEGATIVE_INFINITY
    if (through === undefined) return Number.POSITIVE_INFINITY
    // The concatenated blobs of a window are the stored bytes only in a UTF-8 database (see below).
    if (!this.utf8) return this.refuse(agent)
    // The agent's rowids past what is held, from its index; then the next `slice` of them, a window
    // at a time in rowid order: one aggregate row per window (the blobs concatenated, the fields as
    // JSON arrays), so the driver makes a few values per window instead of an array and a buffer per
    // row, and the loader copies each window's bytes into the kernel's staging area a chunk at a time.
    const rids = Float64Array.from(JSON.parse(this.agentRids.get(agent, through) as string) as Array<number>).sort()
    const taken = rids.subarray(0, this.slice)
    const loader = this.index.load(agent)
    for (let first = 0; first < taken.length; first += LOAD_WINDOW) {
      const window = taken.subarray(first, first + LOAD_WINDOW)
      const [blob, keys, createdAt, confidence, scopes, sources, whole] = this.agentWindow.get(
        this.dimensions * 4,
        `[${window.join(",")}]`,
        agent
      ) as WindowRow
      // A window whose rows all lack a vector.
      if (blob === null) continue
      // `whole` is 1 when every row's vector is a blob of the store's length, so that the i-th row's
      // bytes are exactly the i-th slice of the concatenation.
      const ok = whole === 1 && loader.add({
        keys: JSON.parse(keys) as Array<number>,
        blob,
        createdAt: JSON.parse(createdAt) as Array<number>,
        confidence: JSON.parse(confidence) as Array<number>,
        scope: (JSON.parse(scopes) as Array<string>).map((v) => this.scopes.of(v)),
        source: (JSON.parse(sources) as Array<string>).map((v) => this.sources.of(v))
      })
      if (!ok) return this.refuse(agent)
    }
    if (!loader.end()) return this.refuse(agent)
    if (taken.length === rids.length) {
      this.loading.delete(agent)
      return Number.POSITIVE_INFINITY
    }
    const last = taken[taken.length - 1]!
    this.loading.set(agent, last)
    return last
  }

  /** Serve `agent` by SQL from now on (a stored vector the cache cannot hold). */
  private refuse(agent: string): undefined {
    this.index.drop(agent)
    this.loading.delete(agent)
    this.refused.add(agent)
    return undefined
  }

  /** Forget every agent (they reload on their next recall). */
  dropAll(): void {
    for (const agent of [...this.index.sizes().keys()]) this.index.drop(agent)
    this.loading.clear()
    this.refused.clear()
  }

  /**
   * The rows (as selected with `MEMORY_COLUMNS`) of the agent's exact top `limit` memories with a
   * vector that pass `filter` (which must have no metadata condition), best first, ties in result
   * order; the agent must be held.
   */
  nearest(agent: string, query: ReadonlyArray<number>, limit: number, filter: Filter): Array<unknown> {
    const accept = this.acceptor(filter)
    const read = new Map<number, unknown>()
    const rescore = (keys: ReadonlyArray<number>): Array<Exact> => {
      const out: Array<Exact> = []
      for (const values of this.candidates.all(JSON.stringify(keys)) as Array<ReadonlyArray<unknown>>) {
        const raw = rowOfValues(values)
        const r = raw as unknown as CacheRow & { readonly id: string; readonly agent_id: string }
        if (r.embedding === null || r.agent_id !== agent || !passes(r, filter)) continue
        read.set(r.rid, raw)
        out.push({ key: r.rid, score: cosine(query, floats(r.embedding)), createdAt: r.created_at, id: r.id })
      }
      return out
    }
    return this.index.search(agent, query, limit, rescore, exactOrder, accept).map((s) => read.get(s.key))
  }

  /** Store the row in the index; the agent is refused when its vector cannot be held. */
  private put(agent: string, r: CacheRow): void {
    const v = floats(r.embedding!)
    const fields: RowFields = {
      createdAt: r.created_at,
      confidence: r.confidence,
      scope: this.scopes.of(r.scope),
      source: this.sources.of(r.source)
    }
    if (v.length !== this.dimensions || !this.index.put(agent, r.rid, v, fields)) this.refuse(agent)
  }

  /**
   * A cheap pre-test of the filter on the held fields that never rejects a passing row (an unlisted
   * code or a float32-rounded confidence may let a failing one through; re-scoring checks exactly).
   */
  private acceptor(filter: Filter): ((i: number, view: RowView) => boolean) | undefined {
    const tests: Array<(i: number, view: RowView) => boolean> = []
    for (const c of filterConditions(filter)) {
      switch (c.kind) {
        case "scope":
        case "source": {
          const code = (c.kind === "scope" ? this.scopes : this.sources).peek(c.value)
          const column = c.kind
          tests.push((i, v) => {
            const held = v[column][i]!
            return held === UNLISTED || held === code
          })
          break
        }
        case "minConfidence": {
          // float32 rounding moves a value by less than one part in 2^23.
          const floor = c.value - Math.abs(c.value) * 2 ** -22
          tests.push((i, v) => v.confidence[i]! >= floor)
          break
        }
        case "after":
          tests.push((i, v) => v.createdAt[i]! > c.value)
          break
        case "before":
          tests.push((i, v) => v.createdAt[i]! < c.value)
          break
        case "metadata":
          throw new Error("a metadata filter is answered in SQL, not by the vector cache")
      }
    }
    if (tests.length === 0) return undefined
    return (i, v) => tests.every((t) => t(i, v))
  }
}

/** No metadata: the cache never answers a metadata condition (see `nearest`), so none is met. */
const NO_METADATA: Filtered["metadata"] = {}

/** The exact filter test on a stored row, by the core's rule. */
const passes = (r: CacheRow, filter: Filter): boolean => {
  const row: Filtered = {
    scope: r.scope,
    source: r.source,
    confidence: r.confidence,
    createdAt: r.created_at,
    metadata: NO_METADATA
  }
  return filterConditions(filter).every((c) => meets(row, c))
}

/** True when the cache can answer this filter (a metadata condition needs the stored JSON). */
export const cacheable = (filter: Filter): boolean => filterConditions(filter).every((c) => c.kind !== "metadata")

/**
 * The first and last positions of the log. Two subqueries: SQLite answers a lone min() or max() from
 * an end of the key, but a query with both scans the whole log (~8 ms at 100,000 log rows, run by
 * every write).
 */
export const LOG_BOUNDS =
  `SELECT (SELECT min(seq) FROM memory_changes) AS low, (SELECT max(seq) FROM memory_changes) AS high`

/**
 * Keep the change log short: past twice `LOG_KEEP` rows, delete all but the newest `LOG_KEEP` and
 * record where the deletion stopped, so a cache positioned before it reloads (inside the caller's
 * write transaction).
 */
export const pruneLog = (conn: SqliteConnection): void => {
  const bounds = conn.get<{ low: number | null; high: number | null }>(LOG_BOUNDS)
  if (bounds?.low == null || bounds.high == null || bounds.high - bounds.low < 2 * LOG_KEEP) return
  const through = bounds.high - LOG_KEEP
  conn.run(`DELETE FROM memory_changes WHERE seq <= ?`, [through])
  conn.run(
    `INSERT INTO engram_meta (key, value) VALUES ('${PRUNED_KEY}', ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    [String(through)]
  )
}
