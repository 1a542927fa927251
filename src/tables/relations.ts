/** The `relations` table: one row per relation (its id is the key), properties as their JSON text. */
import { Relation } from "../domain/knowledge.js"
import { recordTable } from "./table.js"

/** The codec of `relations`: rows ⇄ `Relation`. */
export const relationsTable = recordTable({
  name: "relations",
  fields: Relation.fields,
  key: ["id"],
  json: ["properties"]
})
