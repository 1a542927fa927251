/**
 * The `audit_log` table: one row per entry of the hash chain. A row becomes an entry exactly as it is
 * stored (no branded or range-checked fields): verification must see what was written, tampering
 * included, and report it as a broken chain.
 */
import { Schema } from "effect"
import type { AuditEntry } from "../domain/audit.js"
import { selectFrom, table } from "./table.js"

export const AuditRow = Schema.Struct({
  seq: Schema.Number,
  timestamp: Schema.Number,
  agent_id: Schema.String,
  action: Schema.String,
  detail: Schema.String,
  outcome: Schema.String,
  prev_hash: Schema.String,
  hash: Schema.String
})

export const auditLogTable = table({
  name: "audit_log",
  row: AuditRow,
  key: ["seq"],
  fromRow: (r): AuditEntry => ({
    seq: r.seq,
    timestamp: r.timestamp,
    agentId: r.agent_id,
    action: r.action,
    detail: r.detail,
    outcome: r.outcome,
    prevHash: r.prev_hash,
    hash: r.hash
  }),
  toRow: (e) => ({
    seq: e.seq,
    timestamp: e.timestamp,
    agent_id: e.agentId,
    action: e.action,
    detail: e.detail,
    outcome: e.outcome,
    prev_hash: e.prevHash,
    hash: e.hash
  })
})

/** The entry with the highest seq (the same SQL in both dialects: it has no parameters). */
export const selectLastEntry = `${selectFrom(auditLogTable)} ORDER BY seq DESC LIMIT 1`
