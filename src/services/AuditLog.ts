import { Context, type Effect } from "effect"
import type { AuditEntry, AuditHead, AuditInput, AuditQuery, AuditVerification } from "../domain/audit.js"
import type { AuditIntegrityError, InvalidInput, StoreFailure } from "../domain/errors.js"

type E = InvalidInput | StoreFailure

/**
 * The tamper-evident audit log, hash-chained. Its layer loads and verifies the chain while building
 * and does not build when the chain is broken.
 */
export class AuditLog extends Context.Tag("engram/AuditLog")<AuditLog, {
  /** Append one entry; seq, timestamp, prevHash and hash are computed inside the storing transaction. */
  readonly append: (input: AuditInput) => Effect.Effect<AuditEntry, E>
  /** Entries by seq ascending. */
  readonly entries: (query?: AuditQuery) => Effect.Effect<ReadonlyArray<AuditEntry>, E>
  /** The last entry's seq and hash; seq 0 and the genesis hash when empty. */
  readonly head: () => Effect.Effect<AuditHead, E>
  /** Walk the whole chain in chunks; memory does not grow with the log. */
  readonly verify: () => Effect.Effect<AuditVerification, E | AuditIntegrityError>
}>() {}
