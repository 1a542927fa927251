/**
 * The `sessions` table: one row per conversation, its messages as JSON text and their count beside
 * them, so a listing never has to read or parse the messages.
 */
import { Schema } from "effect"
import { AgentId, SessionId } from "../domain/ids.js"
import type { Message, Session, SessionSummary } from "../domain/session.js"
import { table } from "./table.js"

export const SessionRow = Schema.Struct({
  id: SessionId,
  agent_id: AgentId,
  label: Schema.NullOr(Schema.String),
  messages: Schema.String,
  message_count: Schema.Number,
  created_at: Schema.Number,
  updated_at: Schema.Number
})

export const sessionsTable = table({
  name: "sessions",
  row: SessionRow,
  key: ["id"],
  fromRow: (r): Session => ({
    id: r.id,
    agentId: r.agent_id,
    label: r.label,
    // Written by this library from decoded messages.
    messages: JSON.parse(r.messages) as ReadonlyArray<Message>,
    createdAt: r.created_at,
    updatedAt: r.updated_at
  }),
  toRow: (s) => ({
    id: s.id,
    agent_id: s.agentId,
    label: s.label,
    messages: JSON.stringify(s.messages),
    message_count: s.messages.length,
    created_at: s.createdAt,
    updated_at: s.updatedAt
  })
})

const SummaryRow = SessionRow.omit("messages")
const decodeSummaryRow = Schema.decodeUnknownSync(SummaryRow)

/** The columns of a session listing: every column but the messages. */
export const summaryColumns = Object.keys(SummaryRow.fields).join(", ")

/** A listing row as a `SessionSummary` (throws when the row does not match its Schema). */
export const decodeSummary = (row: unknown): SessionSummary => {
  const r = decodeSummaryRow(row)
  return {
    id: r.id,
    agentId: r.agent_id,
    label: r.label,
    messageCount: r.message_count,
    createdAt: r.created_at,
    updatedAt: r.updated_at
  }
}

const OwnerRow = SessionRow.pick("agent_id", "created_at")

/** The columns that stay with a session when it is saved again: its agent and its creation time. */
export const ownerColumns = Object.keys(OwnerRow.fields).join(", ")

/** An owner row (throws when the row does not match its Schema). */
export const decodeOwner = Schema.decodeUnknownSync(OwnerRow)
