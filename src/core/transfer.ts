/** Rules of export/import shared by every backend (src/services/Admin.ts). */
import { Effect } from "effect"
import type { AuditEntry, AuditHead } from "../domain/audit.js"
import type { EmbeddingSpace } from "../domain/embedding.js"
import { AuditIntegrityError, type InvalidInput } from "../domain/errors.js"
import type { MainRecord, MemoryRecord } from "../domain/transfer.js"
import { hashEntry, verifyStep } from "./audit.js"
import { invalid } from "./decode.js"
import { embeddingProblem } from "./vector.js"

/** The order in which main-store kinds are exported and must be imported (dependencies first). */
export const MAIN_KIND_ORDER: ReadonlyArray<MainRecord["kind"]> = [
  "agent",
  "kv",
  "entity",
  "relation",
  "session",
  "canonical",
  "usage",
  "device",
  "task",
  "audit"
]

/** Page size of export streams. */
export const EXPORT_PAGE = 1000

/**
 * What to do with an imported audit entry given the target's head: append it when it continues the
 * chain, skip it when the target already holds exactly this entry, refuse anything else.
 */
const auditImportAction = (
  head: AuditHead,
  entry: AuditEntry,
  storedHashAtSeq: (seq: number) => string | undefined
): "append" | "skip" | AuditIntegrityError => {
  if (entry.seq <= head.seq) {
    // Same hash as the stored entry and a hash that matches its own fields: the very same entry.
    return storedHashAtSeq(entry.seq) === entry.hash && hashEntry(entry) === entry.hash
      ? "skip"
      : new AuditIntegrityError({ seq: entry.seq, reason: "imported entry differs from the entry already stored" })
  }
  const step = verifyStep({ nextSeq: head.seq + 1, prevHash: head.hash }, entry)
  return step instanceof AuditIntegrityError ? step : "append"
}

/**
 * The audit records of an import batch that continue the target's chain from `head`, in batch
 * order (entries the target already holds are skipped), or the error for the first record that
 * does neither. Backends check this before writing anything, so a refused import writes nothing.
 */
export const auditAppends = (
  head: AuditHead,
  records: ReadonlyArray<MainRecord>,
  storedHashAtSeq: (seq: number) => string | undefined
): ReadonlyArray<Extract<MainRecord, { readonly kind: "audit" }>> | AuditIntegrityError => {
  let at = head
  const appends: Array<Extract<MainRecord, { readonly kind: "audit" }>> = []
  for (const r of records) {
    if (r.kind !== "audit") continue
    const action = auditImportAction(at, r, storedHashAtSeq)
    if (action instanceof AuditIntegrityError) return action
    if (action === "append") {
      appends.push(r)
      at = { seq: r.seq, hash: r.hash }
    }
  }
  return appends
}

/** Check imported memories against the target's embedding space. */
export const checkMemoryRecords = (
  records: ReadonlyArray<MemoryRecord>,
  space: EmbeddingSpace
): Effect.Effect<void, InvalidInput> =>
  Effect.suspend(() => {
    for (const [i, r] of records.entries()) {
      if (r.embedding === null) continue
      const problem = embeddingProblem(r.embedding, space)
      if (typeof problem === "string") return Effect.fail(invalid(`records[${i}].embedding`, problem))
    }
    return Effect.void
  })
