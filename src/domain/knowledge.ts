/** The knowledge graph: entities and relations owned by an agent. */
import { Schema } from "effect"
import { AgentId, EntityId, RelationId } from "./ids.js"
import { JsonObject, JsonObjectOrEmpty } from "./json.js"
import { intInRange } from "./page.js"
import { Name } from "./text.js"
import { EpochMillis } from "./time.js"

/** Entity types the system knows; any other non-empty name is a custom type. */
export const KnownEntityTypes = [
  "person",
  "organization",
  "project",
  "concept",
  "event",
  "location",
  "document",
  "tool"
] as const
/** Relation types the system knows; any other non-empty name is a custom type. */
export const KnownRelationTypes = [
  "works_at",
  "knows_about",
  "related_to",
  "depends_on",
  "owned_by",
  "created_by",
  "located_in",
  "part_of",
  "uses",
  "produces"
] as const

export const Entity = Schema.Struct({
  agentId: AgentId,
  id: EntityId,
  type: Schema.String,
  name: Schema.String,
  properties: JsonObject,
  createdAt: EpochMillis,
  updatedAt: EpochMillis
})
export type Entity = typeof Entity.Type

export const EntityInput = Schema.Struct({
  agentId: AgentId,
  id: Schema.optional(EntityId),
  type: Name,
  name: Name,
  properties: JsonObjectOrEmpty
})
export type EntityInput = typeof EntityInput.Encoded

export const Relation = Schema.Struct({
  agentId: AgentId,
  id: RelationId,
  source: EntityId,
  relation: Schema.String,
  target: EntityId,
  properties: JsonObject,
  confidence: Schema.Number,
  createdAt: EpochMillis
})
export type Relation = typeof Relation.Type

export const RelationInput = Schema.Struct({
  agentId: AgentId,
  source: EntityId,
  relation: Name,
  target: EntityId,
  properties: JsonObjectOrEmpty,
  confidence: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 1 })
})
export type RelationInput = typeof RelationInput.Encoded

export const MAX_GRAPH_DEPTH = 5

export const GraphQuery = Schema.Struct({
  agentId: AgentId,
  /** an entity id, or an entity name compared case-insensitively */
  source: Schema.optional(Name),
  relation: Schema.optional(Name),
  /** an entity id, or an entity name compared case-insensitively */
  target: Schema.optional(Name),
  maxDepth: intInRange(1, MAX_GRAPH_DEPTH, 1),
  limit: intInRange(1, 1000, 100)
})
export type GraphQuery = typeof GraphQuery.Encoded

/**
 * A path of `depth` relations from `source` to `target`. For depth 1 it is a single relation;
 * `relation` is the last hop and `path` lists every hop in order.
 */
export const GraphMatch = Schema.Struct({
  source: Entity,
  relation: Relation,
  target: Entity,
  depth: Schema.Number,
  path: Schema.Array(Relation)
})
export type GraphMatch = typeof GraphMatch.Type
