/** The `agents` table: the agent registry, JSON fields as their text. */
import { Schema } from "effect"
import { AgentId } from "../domain/ids.js"
import type { Json, JsonObject } from "../domain/json.js"
import { type AgentRecord, AgentState } from "../domain/structured.js"
import { table } from "./table.js"

export const AgentRow = Schema.Struct({
  id: AgentId,
  name: Schema.String,
  state: AgentState,
  manifest: Schema.String,
  tags: Schema.String,
  parent: Schema.NullOr(AgentId),
  metadata: Schema.String,
  created_at: Schema.Number,
  updated_at: Schema.Number
})

export const agentsTable = table({
  name: "agents",
  row: AgentRow,
  key: ["id"],
  fromRow: (r): AgentRecord => ({
    id: r.id,
    name: r.name,
    state: r.state,
    manifest: JSON.parse(r.manifest) as Json,
    tags: JSON.parse(r.tags) as ReadonlyArray<string>,
    parent: r.parent,
    metadata: JSON.parse(r.metadata) as JsonObject,
    createdAt: r.created_at,
    updatedAt: r.updated_at
  }),
  toRow: (a) => ({
    id: a.id,
    name: a.name,
    state: a.state,
    manifest: JSON.stringify(a.manifest),
    tags: JSON.stringify(a.tags),
    parent: a.parent,
    metadata: JSON.stringify(a.metadata),
    created_at: a.createdAt,
    updated_at: a.updatedAt
  })
})
