/**
 * The `entities` table: one row per (agent, entity id), properties as their JSON text, and the name's
 * case-insensitive form (`name_folded`, the core's `foldName`) stored beside it so that a lookup by
 * name is an index read.
 */
import { Schema } from "effect"
import { foldName } from "../core/graph.js"
import { AgentId, EntityId } from "../domain/ids.js"
import type { JsonObject } from "../domain/json.js"
import type { Entity } from "../domain/knowledge.js"
import { table } from "./table.js"

/** A row of `entities` as the driver returns it. */
export const EntityRow = Schema.Struct({
  agent_id: AgentId,
  id: EntityId,
  type: Schema.String,
  name: Schema.String,
  name_folded: Schema.String,
  properties: Schema.String,
  created_at: Schema.Number,
  updated_at: Schema.Number
})

/** The codec of `entities`: rows ⇄ `Entity` (the folded name is derived from the name on write). */
export const entitiesTable = table({
  name: "entities",
  row: EntityRow,
  key: ["agent_id", "id"],
  fromRow: (r): Entity => ({
    agentId: r.agent_id,
    id: r.id,
    type: r.type,
    name: r.name,
    properties: JSON.parse(r.properties) as JsonObject,
    createdAt: r.created_at,
    updatedAt: r.updated_at
  }),
  toRow: (e) => ({
    agent_id: e.agentId,
    id: e.id,
    type: e.type,
    name: e.name,
    name_folded: foldName(e.name),
    properties: JSON.stringify(e.properties),
    created_at: e.createdAt,
    updated_at: e.updatedAt
  })
})
