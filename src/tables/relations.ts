/** The `relations` table: one row per relation (its id is the key), properties as their JSON text. */
import { Schema } from "effect"
import { AgentId, EntityId, RelationId } from "../domain/ids.js"
import type { JsonObject } from "../domain/json.js"
import type { Relation } from "../domain/knowledge.js"
import { table } from "./table.js"

/** A row of `relations` as the driver returns it. */
export const RelationRow = Schema.Struct({
  agent_id: AgentId,
  id: RelationId,
  source: EntityId,
  relation: Schema.String,
  target: EntityId,
  properties: Schema.String,
  confidence: Schema.Number,
  created_at: Schema.Number
})

/** The codec of `relations`: rows ⇄ `Relation`. */
export const relationsTable = table({
  name: "relations",
  row: RelationRow,
  key: ["id"],
  fromRow: (r): Relation => ({
    agentId: r.agent_id,
    id: r.id,
    source: r.source,
    relation: r.relation,
    target: r.target,
    properties: JSON.parse(r.properties) as JsonObject,
    confidence: r.confidence,
    createdAt: r.created_at
  }),
  toRow: (r) => ({
    agent_id: r.agentId,
    id: r.id,
    source: r.source,
    relation: r.relation,
    target: r.target,
    properties: JSON.stringify(r.properties),
    confidence: r.confidence,
    created_at: r.createdAt
  })
})
