/** The `canonical_sessions` table: one row per agent, its recent messages as JSON text and its summary. */
import { CanonicalSession } from "../domain/session.js"
import { recordTable } from "./table.js"

export const canonicalSessionsTable = recordTable({
  name: "canonical_sessions",
  fields: CanonicalSession.fields,
  key: ["agent_id"],
  json: ["messages"]
})
