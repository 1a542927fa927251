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

/** A listing: every column but the messages, read as a `SessionSummary`. */
export const sessionSummaries = recordTable({ name: "sessions", fields: SessionSummary.fields, key: ["id"] })

/**
 * What stays with a session when it is saved again: its agent and its creation time
 * (`agent_id, created_at`), read as `{ agentId, createdAt }`.
 */
export const sessionOwners = recordTable({
  name: "sessions",
  fields: Session.pick("agentId", "createdAt").fields,
  key: []
})
