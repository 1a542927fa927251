/** The tamper-evident, hash-chained audit log. */
import { Schema } from "effect"
import { AgentId } from "./ids.js"
import { intInRange } from "./page.js"
import { Name, Text } from "./text.js"
import { EpochMillis } from "./time.js"

/** The version of the hash input encoding; part of every hash. */
export const AUDIT_HASH_VERSION = 1

/** `prevHash` of the first entry. */
export const GENESIS_HASH = "0".repeat(64)

export const AuditInput = Schema.Struct({
  agentId: AgentId,
  action: Name,
  detail: Schema.optionalWith(Text, { default: () => "" }),
  outcome: Schema.optionalWith(Text, { default: () => "ok" })
})
export type AuditInput = typeof AuditInput.Encoded

export const AuditEntry = Schema.Struct({
  seq: Schema.Number,
  timestamp: EpochMillis,
  agentId: Schema.String,
  action: Schema.String,
  detail: Schema.String,
  outcome: Schema.String,
  prevHash: Schema.String,
  hash: Schema.String
})
export type AuditEntry = typeof AuditEntry.Type

export const AuditQuery = Schema.Struct({
  agentId: Schema.optional(AgentId),
  fromSeq: Schema.optional(Schema.Int.pipe(Schema.positive())),
  limit: intInRange(1, 10_000, 1000)
})
export type AuditQuery = typeof AuditQuery.Encoded

export const AuditHead = Schema.Struct({ seq: Schema.Number, hash: Schema.String })
export type AuditHead = typeof AuditHead.Type

export const AuditVerification = Schema.Struct({ entries: Schema.Number, headHash: Schema.String })
export type AuditVerification = typeof AuditVerification.Type
