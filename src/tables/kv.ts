/** The `kv` table: one row per (agent, key), the value as its JSON text. */
import { Schema } from "effect"
import { AgentId } from "../domain/ids.js"
import type { Json } from "../domain/json.js"
import type { KvEntry } from "../domain/structured.js"
import { table } from "./table.js"

/** A key-value entry with its owner, as exported and imported. */
export interface KvRecord extends KvEntry {
  readonly agentId: AgentId
}

export const KvRow = Schema.Struct({
  agent_id: AgentId,
  key: Schema.String,
  value: Schema.String,
  version: Schema.Number,
  updated_at: Schema.Number
})

export const kvTable = table({
  name: "kv",
  row: KvRow,
  key: ["agent_id", "key"],
  fromRow: (r): KvRecord => ({
    agentId: r.agent_id,
    key: r.key,
    value: JSON.parse(r.value) as Json,
    version: r.version,
    updatedAt: r.updated_at
  }),
  toRow: (e) => ({
    agent_id: e.agentId,
    key: e.key,
    value: JSON.stringify(e.value),
    version: e.version,
    updated_at: e.updatedAt
  })
})

/** The entry a service returns (its owner is the agent the caller named). */
export const entryOf = ({ key, updatedAt, value, version }: KvRecord): KvEntry => ({ key, value, version, updatedAt })
