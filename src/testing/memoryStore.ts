/**
 * MemoryTest with its audit rows open to tampering: what the audit suite needs to run against the
 * in-memory store (here and from a consumer project, through `engram/testing`).
 */
import { Effect, Layer } from "effect"
import { layerFromDb, makeDb, type MemoryServices } from "../backends/memory/index.js"
import type { AuditEntry } from "../domain/audit.js"
import type { AuditIntegrityError } from "../domain/errors.js"
import type { StoreOptions } from "../domain/options.js"
import { AuditTamper } from "./auditTamper.js"

/** Raw writes to the in-memory audit rows, as an attacker with access to the table would make them. */
const tamperOver = (rows: Array<AuditEntry>) => {
  const indexOf = (seq: number) =>
    Effect.suspend(() => {
      const i = rows.findIndex((e) => e.seq === seq)
      // A tamper that silently hits nothing would make a detection test pass for the wrong reason.
      return i < 0 ? Effect.fail(new Error(`no audit row with seq ${seq}`)) : Effect.succeed(i)
    })
  return AuditTamper.of({
    update: (seq, patch) => Effect.map(indexOf(seq), (i) => void (rows[i] = { ...rows[i]!, ...patch })),
    remove: (seq) => Effect.map(indexOf(seq), (i) => void rows.splice(i, 1)),
    insert: (entry) => Effect.sync(() => void rows.push({ ...entry }))
  })
}

/** A fresh in-memory store on every build, seen both by its services and by an `AuditTamper`. */
export const memoryStoreWithTamper = (
  options: StoreOptions
): Layer.Layer<MemoryServices | AuditTamper, AuditIntegrityError> =>
  Layer.unwrapEffect(Effect.sync(() => {
    const db = makeDb()
    return Layer.merge(layerFromDb(options, db), Layer.succeed(AuditTamper, tamperOver(db.audit)))
  }))
