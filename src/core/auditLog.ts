/**
 * AuditLog written once: decoding, the Clock, the hash chain (core/audit.ts), loading and verifying
 * the stored chain when the layer is built, and instrumentation live here; a backend provides
 * `AuditPort`, the storage primitives over decoded values. The one rule a backend must enforce itself
 * is isolation: `append` computes and stores the next entry under a lock every appender of the same
 * store (in any process) takes, so the chain stays linear.
 */
import { Clock, type Context, Effect, type Option } from "effect"
import type { AuditEntry } from "../domain/audit.js"
import { AuditIntegrityError, AuditLoadError, type BackendName, type StoreFailure } from "../domain/errors.js"
import type { AgentId } from "../domain/ids.js"
import { AuditLog } from "../services/AuditLog.js"
import { headOf, nextEntry, verifyChain } from "./audit.js"
import { auditInputs } from "./inputs.js"
import { instrument } from "./instrument.js"

const { auditInput, auditQuery } = auditInputs

/** Which entries `entries` reads: seq ≥ `fromSeq`, of one agent when `agentId` is set, at most `limit`. */
export interface AuditRange {
  readonly agentId: AgentId | undefined
  readonly fromSeq: number
  readonly limit: number
}

/**
 * The storage primitives of AuditLog. `E` is how they fail: `never` in memory, where nothing can go
 * wrong, so that building that log can only fail on a broken chain.
 */
export interface AuditPort<E = StoreFailure> {
  readonly backend: BackendName
  /**
   * Under the store's append lock: read the last entry (None when the log is empty), store
   * `next(last)` and return it. Exactly the returned entry is stored.
   */
  readonly append: (next: (last: Option.Option<AuditEntry>) => AuditEntry) => Effect.Effect<AuditEntry, E>
  /** Entries in the range, ascending by seq, exactly as stored. */
  readonly entries: (range: AuditRange) => Effect.Effect<ReadonlyArray<AuditEntry>, E>
  /** The entry with the highest seq. */
  readonly last: () => Effect.Effect<Option.Option<AuditEntry>, E>
}

/** The failure of a stored audit log that cannot be read while its layer is built. */
export const auditLoadError = (e: StoreFailure): AuditLoadError =>
  new AuditLoadError({ message: `cannot read the audit log: ${e.message}`, cause: e })

/** Entries a verification holds in memory at once. */
const VERIFY_CHUNK = 1000

/** The log over a port that cannot fail: building it fails only on a broken chain. */
export function makeAuditLog(
  port: AuditPort<never>
): Effect.Effect<Context.Tag.Service<typeof AuditLog>, AuditIntegrityError>
/**
 * The log over a backend's port, built by loading and verifying the whole stored chain (fail closed):
 * a log that cannot be read is `AuditLoadError`, a broken chain `AuditIntegrityError`.
 */
export function makeAuditLog(
  port: AuditPort
): Effect.Effect<Context.Tag.Service<typeof AuditLog>, AuditIntegrityError | AuditLoadError>
export function makeAuditLog(
  port: AuditPort
): Effect.Effect<Context.Tag.Service<typeof AuditLog>, AuditIntegrityError | AuditLoadError> {
  const page = (afterSeq: number, limit: number) => port.entries({ agentId: undefined, fromSeq: afterSeq + 1, limit })
  const service = instrument(
    "AuditLog",
    port.backend,
    AuditLog.of({
      append: (input) =>
        Effect.flatMap(auditInput(input), (a) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => port.append((last) => nextEntry(headOf(last), a, now)))),
      entries: (query) =>
        Effect.flatMap(auditQuery(query), (q) => port.entries({ agentId: q.agentId, fromSeq: q.fromSeq ?? 1, limit: q.limit })),
      head: () => Effect.map(port.last(), headOf),
      verify: () => verifyChain(page, { chunk: VERIFY_CHUNK })
    })
  )
  return verifyChain(page).pipe(
    Effect.mapError((e) => (e instanceof AuditIntegrityError ? e : auditLoadError(e))),
    Effect.as(service)
  )
}
