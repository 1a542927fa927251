/**
 * What the parent (bench/run.ts) and its children (bench/child.ts) say to each other.
 *
 * A child gets one `ChildConfig` as JSON in its first argument, reports progress on stderr as
 * `@progress <phase> <fraction>` lines, and prints its result as one `@result <json>` line on
 * stdout. In lockstep (engram and raw side by side) it prints `@await <step>` before each step
 * and waits for `go` on stdin. Task workers print `@ready`, wait for `go` (so every worker of a run
 * starts together, after all have opened their store), and then print their result.
 */
import type { Json } from "../src/domain/json.js"

export type Backend = "sqlite" | "postgres" | "http"
/**
 * engram's layer, or the raw driver doing the same work. usearch: the in-memory, non-durable peer
 * of the SQLite side (bench/drivers/usearch.ts). solo (SQLite only): engram's single-agent store,
 * in a process of its own, so the engram process's peak RSS is that of one SqliteLive store of N.
 */
export type Side = "engram" | "raw" | "usearch" | "solo"

/** How much work each phase does (full runs and quick runs differ only here). */
export interface Counts {
  /** Memories per rememberMany call / raw insert transaction. */
  readonly batch: number
  readonly queries: number
  readonly warmupQueries: number
  readonly textQueries: number
  readonly warmupOps: number
  readonly kvKeys: number
  readonly kvSets: number
  readonly kvGets: number
  readonly canonicalAppends: number
  readonly usageOps: number
  readonly taskCycles: number
  readonly auditAppends: number
  /** Entries the audit log holds when its verification is timed. */
  readonly auditVerifyEntries: number
}

/** Where the PostgreSQL stores of one job live. */
export interface PgTarget {
  /** URL of the benchmark's own database (no search_path; the child adds it per store). */
  readonly url: string
  /** The schema of the main store (10 agents, and the main services). */
  readonly schema: string
  /** The schema of engram's single-agent store (recall without the agent filter). */
  readonly soloSchema: string
  /** Empty schemas for the bulk loads (`Driver.bulk`), one per kind of load. */
  readonly bulkSchemas?: Readonly<Record<BulkKind, string>> | undefined
}

/**
 * The bulk loads timed on PostgreSQL, each into an empty store of its own: one rememberMany of
 * 10,000 memories (engram's largest call), and all N memories through the path of `engram import`
 * and `engram copy`.
 */
export type BulkKind = "rememberMany" | "import"

export interface MainConfig {
  readonly role: "main"
  readonly backend: Backend
  readonly side: Side
  readonly seed: number
  readonly n: number
  readonly counts: Counts
  /** SQLite (and HTTP): the directory for the database files. */
  readonly dir?: string | undefined
  readonly pg?: PgTarget | undefined
  /**
   * Run step by step: before each step print `@await <step>` and wait for `go` on stdin, so the
   * parent can alternate the engram and raw children step by step.
   */
  readonly lockstep?: boolean | undefined
}

export interface TaskConfig {
  readonly role: "tasks"
  readonly backend: Exclude<Backend, "http">
  readonly side: Side
  readonly worker: number
  readonly cycles: number
  readonly warmup: number
  /** SQLite: the database file all workers share. */
  readonly path?: string | undefined
  readonly pg?: PgTarget | undefined
}

export type ChildConfig = MainConfig | TaskConfig

/** Named figures of one child run (keys like `vector.agent.p50Ms`) and the indices its recalls returned. */
export interface MainResult {
  readonly figures: Record<string, number>
  /** Returned item indices per query, by recall variant (`vector.agent`, `vector.all`, …). */
  readonly returned: Record<string, ReadonlyArray<ReadonlyArray<number>>>
  /** HTTP only: the same figures for SqliteLive called directly in the same process. */
  readonly baseline?: {
    readonly figures: Record<string, number>
    readonly returned: Record<string, ReadonlyArray<ReadonlyArray<number>>>
  }
  readonly maxRssKb: number
}

export interface TaskResult {
  readonly cycles: number
  readonly startNs: string
  readonly endNs: string
}

/** Per-operation timings a recall run produces: nanoseconds and returned item indices per query. */
export interface Measured {
  readonly ns: ReadonlyArray<number>
  readonly returned: ReadonlyArray<ReadonlyArray<number>>
}

/**
 * Recall variants. `full` is the operation engram performs (rank, return the whole memory with its
 * vector, update the access counters of what is returned); `knn` is the raw driver's ranking query
 * alone (same rows returned, no counter update).
 */
export type RecallVariant = "full" | "knn"

/**
 * A memory as both sides receive it: plain JSON-like data with the vector as an array of numbers
 * (what an embedding API returns), prepared before any timing starts.
 */
export interface MemoryInput {
  readonly id: string
  readonly agentId: string
  readonly content: string
  readonly metadata: { readonly n: number; readonly cluster: number }
  readonly embedding: ReadonlyArray<number>
}

/** A vector recall as both sides receive it. */
export interface VectorRecall {
  readonly agentId: string
  readonly embedding: ReadonlyArray<number>
}

/** A text recall as both sides receive it. */
export interface TextRecall {
  readonly agentId: string
  readonly text: string
}

/** A kv operation: agent, key and (for set) the value. */
export interface KvOp {
  readonly agent: string
  readonly key: string
  readonly value: Json
}

/**
 * One implementation of the measured work (engram over a layer, or a raw driver). Each method runs
 * a whole loop of operations and times it itself, in its own style (an Effect loop for engram,
 * plain synchronous or async code for the raw drivers), so no harness overhead sits in between.
 */
export interface Driver {
  /** Store one batch of the 10-agent workload; nanoseconds (absent: the child holds no such store). */
  readonly insert?: (batch: ReadonlyArray<MemoryInput>) => Promise<number>
  /**
   * Store one batch in the single-agent store, when the implementation needs one to recall
   * without an agent filter (engram always names an agent; the raw drivers just omit the WHERE).
   */
  readonly insertSolo?: (batch: ReadonlyArray<MemoryInput>) => Promise<number>
  /**
   * Untimed step after the load, before any recall: PostgreSQL runs ANALYZE (autovacuum would within
   * a minute; doing it explicitly, on both sides, keeps the plans the same from run to run).
   */
  readonly afterLoad?: () => Promise<void>
  /** The recall filters this implementation measures (default both). */
  readonly filters?: ReadonlyArray<"agent" | "all">
  /** Vector recall of each query, with its agent filter or over all memories. */
  readonly vector: (
    queries: ReadonlyArray<VectorRecall>,
    filter: "agent" | "all",
    variant: RecallVariant
  ) => Promise<Measured>
  /** Absent for an implementation without text search (the usearch peer). */
  readonly text?: (queries: ReadonlyArray<TextRecall>, variant: RecallVariant) => Promise<Measured>
  /** Which recall variants this implementation has. */
  readonly variants: ReadonlyArray<RecallVariant>
  /**
   * Load `inputs` into an empty store in bulk (PostgreSQL); nanoseconds, the vector index valid
   * and in use afterwards. The raw driver inserts without the HNSW index and builds it after, in
   * one transaction — the textbook way to bulk-load pgvector.
   */
  readonly bulk?: (kind: BulkKind, inputs: ReadonlyArray<MemoryInput>) => Promise<number>
  readonly main?: MainDriver
  readonly close: () => Promise<void>
}

/** The non-semantic work (SQLite and PostgreSQL only). Each returns total nanoseconds. */
export interface MainDriver {
  readonly kvSet: (ops: ReadonlyArray<KvOp>) => Promise<number>
  readonly kvGet: (ops: ReadonlyArray<KvOp>) => Promise<number>
  /** Append one message to the canonical session of `agents[i]`, for each i. */
  readonly canonicalAppend: (agents: ReadonlyArray<string>, text: (i: number) => string) => Promise<number>
  /** Record one usage event for `agents[i]`, then read that agent's spend over the last hour. */
  readonly usage: (agents: ReadonlyArray<string>) => Promise<number>
  readonly auditAppend: (count: number) => Promise<number>
  /** Extend the log with valid entries (untimed setup) until it holds `total`. */
  readonly auditFill: (total: number) => Promise<void>
  /** Verify the whole chain; entries seen and nanoseconds. */
  readonly auditVerify: () => Promise<{ readonly entries: number; readonly ns: number }>
}

/** The task work of one worker process. */
export interface TaskDriver {
  /** `count` cycles of post → claim → complete as `worker`; nanoseconds. */
  readonly cycles: (worker: string, count: number) => Promise<number>
  readonly close: () => Promise<void>
}
