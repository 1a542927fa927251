import { Context, type Effect, type Option } from "effect"
import type { EntityNotFound, InvalidInput, StoreFailure } from "../domain/errors.js"
import type { EntityId, RelationId } from "../domain/ids.js"
import type { Entity, EntityInput, GraphMatch, GraphQuery, RelationInput } from "../domain/knowledge.js"

type E = InvalidInput | StoreFailure

/**
 * A graph of entities and relations owned by an agent. `source`/`target` in a query match an entity
 * id or its name (case-insensitively); `maxDepth > 1` follows outgoing relations as cycle-free paths.
 */
export class KnowledgeStore extends Context.Tag("engram/KnowledgeStore")<KnowledgeStore, {
  /** Insert, or update type, name and properties of an existing entity; returns its id. */
  readonly upsertEntity: (input: EntityInput) => Effect.Effect<EntityId, E>
  readonly getEntity: (agentId: string, id: string) => Effect.Effect<Option.Option<Entity>, E>
  /** Removes the entity and every relation touching it; true when it existed. */
  readonly deleteEntity: (agentId: string, id: string) => Effect.Effect<boolean, E>
  /** Both ends must be existing entity ids of the agent. */
  readonly addRelation: (input: RelationInput) => Effect.Effect<RelationId, E | EntityNotFound>
  /** Paths of 1..maxDepth outgoing relations, ordered by depth, then relation creation, then id. */
  readonly query: (query: GraphQuery) => Effect.Effect<ReadonlyArray<GraphMatch>, E>
}>() {}
