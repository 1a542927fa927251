/**
 * Audit hashing and verification. The hash input is the canonical JSON array
 * [version, seq, timestamp, agentId, action, detail, outcome, prevHash] — unambiguous, unlike plain
 * concatenation — and verification is a fold over entries in seq order, so it can stream in chunks.
 */
import { Effect, Option } from "effect"
import { createHash } from "node:crypto"
import { AUDIT_HASH_VERSION, type AuditEntry, type AuditVerification, GENESIS_HASH } from "../domain/audit.js"
import { AuditIntegrityError } from "../domain/errors.js"

type Unhashed = Omit<AuditEntry, "hash">

/** Hex SHA-256 of the canonical encoding of an entry's fields. */
export const hashEntry = (e: Unhashed): string =>
  createHash("sha256")
    .update(
      JSON.stringify([AUDIT_HASH_VERSION, e.seq, e.timestamp, e.agentId, e.action, e.detail, e.outcome, e.prevHash])
    )
    .digest("hex")

/** The entry that follows `head` (seq 0 / genesis hash when the log is empty). */
export const nextEntry = (
  head: { readonly seq: number; readonly hash: string },
  input: { readonly agentId: string; readonly action: string; readonly detail: string; readonly outcome: string },
  timestamp: number
): AuditEntry => {
  const unhashed: Unhashed = {
    seq: head.seq + 1,
    timestamp,
    agentId: input.agentId,
    action: input.action,
    detail: input.detail,
    outcome: input.outcome,
    prevHash: head.hash
  }
  return { ...unhashed, hash: hashEntry(unhashed) }
}

/** Where a verification walk stands: the next expected seq and the previous hash. */
export interface VerifyState {
  readonly nextSeq: number
  readonly prevHash: string
}

const initialVerifyState: VerifyState = { nextSeq: 1, prevHash: GENESIS_HASH }

const HEX64 = /^[0-9a-f]{64}$/

/** Check one entry against the state; returns the new state or the integrity error. */
export const verifyStep = (state: VerifyState, e: AuditEntry): VerifyState | AuditIntegrityError => {
  if (e.seq !== state.nextSeq) {
    const reason = e.seq < state.nextSeq
      ? `seq ${e.seq} repeats or goes backwards (expected ${state.nextSeq})`
      : `seq gap: expected ${state.nextSeq}, found ${e.seq} (entries deleted)`
    return new AuditIntegrityError({ seq: state.nextSeq, reason })
  }
  if (e.prevHash !== state.prevHash) {
    const reason = state.nextSeq === 1
      ? `first entry does not start from the genesis hash`
      : `prevHash does not match the hash of entry ${e.seq - 1}`
    return new AuditIntegrityError({ seq: e.seq, reason })
  }
  if (!HEX64.test(e.hash) || hashEntry(e) !== e.hash) {
    return new AuditIntegrityError({ seq: e.seq, reason: "hash does not match the entry's contents" })
  }
  return { nextSeq: e.seq + 1, prevHash: e.hash }
}

/**
 * Verify the whole chain by reading pages of up to `chunk` entries after a given seq, so memory
 * stays flat. An optional `anchor` (a seq and hash recorded outside the table) detects truncation
 * and wholesale rewrites of the verified prefix.
 */
export const verifyChain = <E>(
  page: (afterSeq: number, limit: number) => Effect.Effect<ReadonlyArray<AuditEntry>, E>,
  options: { readonly chunk?: number; readonly anchor?: { readonly seq: number; readonly hash: string } } = {}
): Effect.Effect<AuditVerification, E | AuditIntegrityError> =>
  Effect.gen(function*() {
    const chunk = options.chunk ?? 5000
    let state = initialVerifyState
    let anchorSeen = options.anchor === undefined || options.anchor.seq === 0
    for (;;) {
      const rows = yield* page(state.nextSeq - 1, chunk)
      for (const row of rows) {
        const next = verifyStep(state, row)
        if (next instanceof AuditIntegrityError) return yield* next
        if (options.anchor !== undefined && row.seq === options.anchor.seq) {
          if (row.hash !== options.anchor.hash) {
            return yield* new AuditIntegrityError({ seq: row.seq, reason: "entry differs from the recorded anchor" })
          }
          anchorSeen = true
        }
        state = next
      }
      if (rows.length < chunk) break
    }
    if (!anchorSeen) {
      return yield* new AuditIntegrityError({
        seq: state.nextSeq,
        reason: `log ends before the recorded anchor at seq ${options.anchor!.seq} (truncated)`
      })
    }
    return { entries: state.nextSeq - 1, headHash: state.prevHash }
  })

/** The head of a log given its last entry. */
export const headOf = (last: Option.Option<AuditEntry>) =>
  Option.match(last, {
    onNone: () => ({ seq: 0, hash: GENESIS_HASH }),
    onSome: (e) => ({ seq: e.seq, hash: e.hash })
  })
