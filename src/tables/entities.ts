/**
 * The `entities` table: one row per (agent, entity id), properties as their JSON text, and the name's
 * case-insensitive form (`name_folded`, the core's `foldName`) stored beside it so that a lookup by
 * name is an index read.
 */
import { Schema } from "effect"
import { foldName } from "../core/graph.js"
import { Entity } from "../domain/knowledge.js"
import { recordTable } from "./table.js"

/** The codec of `entities`: rows ⇄ `Entity` (the folded name is derived from the name on write). */
export const entitiesTable = recordTable({
  name: "entities",
  fields: Entity.fields,
  key: ["agent_id", "id"],
  json: ["properties"],
  computed: { name_folded: { after: "name", schema: Schema.String, write: (e) => foldName(e.name) } }
})
