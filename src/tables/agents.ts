/** The `agents` table: the agent registry, JSON fields as their text. */
import { AgentRecord } from "../domain/structured.js"
import { recordTable } from "./table.js"

export const agentsTable = recordTable({
  name: "agents",
  fields: AgentRecord.fields,
  key: ["id"],
  json: ["manifest", "tags", "metadata"]
})
