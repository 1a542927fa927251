/**
 * The `sessions` table: one row per conversation, its messages as JSON text and their count beside
 * them, so a listing never has to read or parse the messages.
 */
import { Schema } from "effect"
import { Session, SessionSummary } from "../domain/session.js"
import { recordTable } from "./table.js"

export const sessionsTable = recordTable({
  name: "sessions",
  fields: Session.fields,
  key: ["id"],
  json: ["messages"],
  computed: { message_count: { after: "messages", schema: Schema.Number, write: (s) => s.messages.length } }
})

/** A listing: every column but the messages, as a `SessionSummary`. */
const summaries = recordTable({ name: "sessions", fields: SessionSummary.fields, key: ["id"] })

/** The columns of a session listing: every column but the messages. */
export const summaryColumns = summaries.columnList

/** A listing row as a `SessionSummary` (throws when the row does not match its Schema). */
export const decodeSummary = summaries.decode

/** What stays with a session when it is saved again: its agent and its creation time. */
const owners = recordTable({ name: "sessions", fields: Session.pick("agentId", "createdAt").fields, key: [] })

/** The columns that stay with a session when it is saved again: `agent_id, created_at`. */
export const ownerColumns = owners.columnList

/** An owner row as `{ agentId, createdAt }` (throws when the row does not match its Schema). */
export const decodeOwner = owners.decode
