/** The `kv` table: one row per (agent, key), the value as its JSON text. */
import { AgentId } from "../domain/ids.js"
import { KvEntry } from "../domain/structured.js"
import { recordTable } from "./table.js"

/** A key-value entry with its owner, as exported and imported. */
export interface KvRecord extends KvEntry {
  readonly agentId: AgentId
}

export const kvTable = recordTable({
  name: "kv",
  fields: { agentId: AgentId, ...KvEntry.fields },
  key: ["agent_id", "key"],
  json: ["value"]
})

/** The entry a service returns (its owner is the agent the caller named). */
export const entryOf = ({ key, updatedAt, value, version }: KvRecord): KvEntry => ({ key, value, version, updatedAt })
