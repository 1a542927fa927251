/** The connection settings of a SQLite store (no driver types: this file is part of the public surface). */

/** `PRAGMA synchronous` levels a store may run at. */
export type Synchronous = "FULL" | "NORMAL" | "EXTRA"

/** Where the SQLite file is and how writes reach it. */
export interface SqliteOptions {
  /** A file path, or ":memory:" for a private in-memory database. */
  readonly path: string
  /** `FULL` (default) survives power loss in WAL mode; `NORMAL` is faster and survives process crashes. */
  readonly synchronous?: Synchronous
  /** How long a writer waits for another process's lock before failing (default 5000 ms). */
  readonly busyTimeoutMs?: number
  /**
   * Where the audit anchor (the last audit head, kept outside the database so that deleting the last
   * audit entries is detected) is written: default `<path>.audit-anchor`; `false` for none. An
   * `AuditAnchor` in the layer's context takes precedence. ":memory:" databases have none.
   */
  readonly auditAnchorPath?: string | false
}
