/**
 * Raw access to a backend's stored audit rows, so the audit suite can tamper with them the way an
 * attacker with write access to the table would. Each backend's test file provides it over the
 * same storage as the AuditLog it builds.
 */
import { Context, type Effect } from "effect"
import type { AuditEntry } from "../domain/audit.js"

export class AuditTamper extends Context.Tag("engram/testing/AuditTamper")<AuditTamper, {
  /** Overwrite stored fields of the row with this seq (seq itself may be changed too). */
  readonly update: (seq: number, patch: Partial<AuditEntry>) => Effect.Effect<void, unknown>
  /** Delete the row with this seq. */
  readonly remove: (seq: number) => Effect.Effect<void, unknown>
  /** Insert a raw row as given. */
  readonly insert: (entry: AuditEntry) => Effect.Effect<void, unknown>
}>() {}
