/** The `canonical_sessions` table: one row per agent, its recent messages as JSON text and its summary. */
import { Schema } from "effect"
import { AgentId } from "../domain/ids.js"
import type { CanonicalSession, Message } from "../domain/session.js"
import { table } from "./table.js"

export const CanonicalRow = Schema.Struct({
  agent_id: AgentId,
  messages: Schema.String,
  summary: Schema.NullOr(Schema.String),
  updated_at: Schema.Number
})

export const canonicalSessionsTable = table({
  name: "canonical_sessions",
  row: CanonicalRow,
  key: ["agent_id"],
  fromRow: (r): CanonicalSession => ({
    agentId: r.agent_id,
    // Written by this library from decoded messages.
    messages: JSON.parse(r.messages) as ReadonlyArray<Message>,
    summary: r.summary,
    updatedAt: r.updated_at
  }),
  toRow: (c) => ({
    agent_id: c.agentId,
    messages: JSON.stringify(c.messages),
    summary: c.summary,
    updated_at: c.updatedAt
  })
})
