/** The connection settings of a PostgreSQL store (no driver types: this file is part of the public surface). */
import type { Redacted } from "effect"

/** Connection settings of a PostgreSQL store. */
export interface PgOptions {
  /** `postgres://user:password@host:port/database[?options=…]`; the password never leaves the driver. */
  readonly url: Redacted.Redacted<string>
  /** Most connections the pool opens (default 10). */
  readonly poolSize?: number
  /** How long opening one connection may take (default 5,000 ms). */
  readonly connectTimeoutMs?: number
  /** How long a call may wait for a pooled connection, including opening it (default 10,000 ms). */
  readonly acquireTimeoutMs?: number
  /** Idle connections are closed after this long (default 10,000 ms). */
  readonly idleTimeoutMs?: number
  /** Server-side `statement_timeout` of every connection (default: none). */
  readonly statementTimeoutMs?: number
  /** `application_name` reported to the server (default "engram"). */
  readonly applicationName?: string
  /**
   * A file for the audit anchor (the last audit head, kept outside the database so that deleting the
   * last audit entries is detected); default none. An `AuditAnchor` in the layer's context takes
   * precedence. Every process using the database should point at the same anchor.
   */
  readonly auditAnchorPath?: string
}
