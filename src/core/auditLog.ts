/**
 * AuditLog written once: decoding, the Clock, the hash chain (core/audit.ts), loading and verifying
 * the stored chain when the layer is built, keeping the anchor (core/auditAnchor.ts) and
 * instrumentation live here; a backend provides
 * `AuditPort`, the storage primitives over decoded values. The one rule a backend must enforce itself
 * is isolation: `append` computes and stores the next entry under a lock every appender of the same
 * store (in any process) takes, so the chain stays linear.
 */
import { Clock, type Context, Effect, Option, type Scope } from "effect"
import type { AuditEntry, AuditHead } from "../domain/audit.js"
import {
  AuditIntegrityError,
  AuditLoadError,
  type BackendName,
  StorageError,
  type StoreFailure
} from "../domain/errors.js"
import type { AgentId } from "../domain/ids.js"
import { AuditLog } from "../services/AuditLog.js"
import { headOf, nextEntry, verifyChain } from "./audit.js"
import { type AuditAnchorStore, following, type FollowingAnchor } from "./auditAnchor.js"
import { auditInputs } from "./inputs.js"
import { instrumentService } from "./instrument.js"

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
  /**
   * True when an append just made is not committed yet, because it joined an application's open
   * transaction (absent: appends always commit). The anchor is not moved then: the transaction may
   * still roll back, and an anchor ahead of the log would read as a truncation.
   */
  readonly uncommitted?: Effect.Effect<boolean>
}

/** The failure of a stored audit log that cannot be read while its layer is built. */
export const auditLoadError = (e: StoreFailure): AuditLoadError =>
  new AuditLoadError({ message: `cannot read the audit log: ${e.message}`, cause: e })

/** Entries a verification holds in memory at once. */
const VERIFY_CHUNK = 1000

/** The log over a port that cannot fail, without an anchor: building it fails only on a broken chain. */
export function makeAuditLog(
  port: AuditPort<never>
): Effect.Effect<Context.Tag.Service<typeof AuditLog>, AuditIntegrityError>
/**
 * The log over a backend's port, built by loading and verifying the whole stored chain (fail closed):
 * a log that cannot be read is `AuditLoadError`, a broken chain `AuditIntegrityError`. With an
 * `anchor`, a chain that ends before the anchored head (its last entries deleted) or differs from it
 * is `AuditIntegrityError` too, at build and on `verify`; the anchor then follows the appends in the
 * background (`following`), caught up by `verify` and when the scope closes.
 */
export function makeAuditLog(
  port: AuditPort,
  anchor?: AuditAnchorStore
): Effect.Effect<Context.Tag.Service<typeof AuditLog>, AuditIntegrityError | AuditLoadError, Scope.Scope>
export function makeAuditLog(
  port: AuditPort,
  anchor?: AuditAnchorStore
): Effect.Effect<Context.Tag.Service<typeof AuditLog>, AuditIntegrityError | AuditLoadError, Scope.Scope> {
  const page = (afterSeq: number, limit: number) => port.entries({ agentId: undefined, fromSeq: afterSeq + 1, limit })
  const anchorFailure = (operation: string) => (e: { readonly message: string; readonly cause?: unknown }) =>
    new StorageError({ backend: port.backend, operation, message: e.message, cause: e.cause })
  /** The anchored head, if any (an empty option without an anchor). */
  const readAnchor: Effect.Effect<Option.Option<AuditHead>, StorageError> = anchor === undefined
    ? Effect.succeed(Option.none())
    : Effect.mapError(anchor.read, anchorFailure("read the audit anchor"))
  const verifyAgainst = (anchored: Option.Option<AuditHead>, chunk: number) =>
    verifyChain(page, { chunk, ...(Option.isSome(anchored) ? { anchor: anchored.value } : {}) })
  // The entry is stored before the anchor moves: a failure here leaves the anchor one step behind
  // (the entry is not lost, only its truncation would go unnoticed), and is reported, not hidden.
  const advance = (
    follower: FollowingAnchor | undefined,
    entry: AuditEntry
  ): Effect.Effect<AuditEntry, StorageError> =>
    follower === undefined ?
      Effect.succeed(entry) :
      Effect.flatMap(
        port.uncommitted ?? Effect.succeed(false),
        (open) =>
          open ? Effect.succeed(entry) : follower.advance({ seq: entry.seq, hash: entry.hash }).pipe(
            Effect.mapError((e) =>
              new StorageError({
                backend: port.backend,
                operation: "AuditLog.append",
                message: `audit entry ${entry.seq} was stored, but the anchor (${
                  anchor!.location
                }) could not be updated: ${e.message}`,
                cause: e.cause
              })
            ),
            Effect.as(entry)
          )
      )
  const settled = (follower: FollowingAnchor | undefined): Effect.Effect<void, StorageError> =>
    follower === undefined ? Effect.void : Effect.mapError(follower.settle, anchorFailure("AuditLog.verify"))
  const serviceWith = (follower: FollowingAnchor | undefined) =>
    instrumentService(AuditLog, port.backend)({
      append: (input) =>
        Effect.flatMap(
          auditInput(input),
          (a) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => port.append((last) => nextEntry(headOf(last), a, now)))
        ).pipe(
          Effect.flatMap((entry) => advance(follower, entry))
        ),
      entries: (query) =>
        Effect.flatMap(
          auditQuery(query),
          (q) => port.entries({ agentId: q.agentId, fromSeq: q.fromSeq ?? 1, limit: q.limit })
        ),
      head: () => Effect.map(port.last(), headOf),
      verify: () =>
        settled(follower).pipe(
          Effect.zipRight(readAnchor),
          Effect.flatMap((anchored) => verifyAgainst(anchored, VERIFY_CHUNK))
        )
    })
  return Effect.gen(function*() {
    const anchored = yield* readAnchor
    const verified = yield* verifyAgainst(anchored, 5000)
    if (anchor !== undefined) {
      if (Option.isNone(anchored) && verified.entries > 0) {
        yield* Effect.logWarning(
          `no audit anchor at ${anchor.location}: anchoring the current head (seq ${verified.entries}); ` +
            "entries deleted before now cannot be detected"
        )
      }
      yield* Effect.mapError(
        anchor.write({ seq: verified.entries, hash: verified.headHash }),
        anchorFailure("write the audit anchor")
      )
      return serviceWith(yield* following(anchor))
    }
    return serviceWith(undefined)
  }).pipe(Effect.mapError((e) => (e instanceof AuditIntegrityError ? e : auditLoadError(e))))
}
