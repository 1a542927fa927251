/**
 * KnowledgeStore written once: decoding, the Clock, id minting, the typed refusal of a relation to
 * an unknown entity, name folding and graph traversal (graph.ts) live here; a backend provides
 * `KnowledgePort`, the storage primitives over decoded values.
 */
import { Clock, type Context, Effect, Option } from "effect"
import { type BackendName, EntityNotFound, type StoreFailure } from "../domain/errors.js"
import { type AgentId, type EntityId, mintEntityId, mintRelationId } from "../domain/ids.js"
import type { Entity, Relation } from "../domain/knowledge.js"
import { KnowledgeStore } from "../services/KnowledgeStore.js"
import { foldName, type GraphLookups, traverse } from "./graph.js"
import { knowledgeInputs } from "./inputs.js"
import { instrumentService } from "./instrument.js"

const { agentId, entityId, entityInput, graphQuery, relationInput } = knowledgeInputs

/** An entity as `upsertEntity` stores it: decoded, its id given or minted, timestamps still to set. */
export type EntityFields = Omit<Entity, "createdAt" | "updatedAt">

/** The lookups one graph query makes, over one agent's graph. */
export interface GraphView extends GraphLookups<StoreFailure> {
  /** The agent's entities whose id is `ref` or whose folded name (`foldName`) is `folded`. */
  readonly named: (ref: string, folded: string) => Effect.Effect<ReadonlyArray<Entity>, StoreFailure>
}

/** The storage primitives of KnowledgeStore. Every argument is already decoded. */
export interface KnowledgePort {
  readonly backend: BackendName
  /** Insert, or replace type, name and properties keeping createdAt; updatedAt = now. */
  readonly upsertEntity: (entity: EntityFields, now: number) => Effect.Effect<void, StoreFailure>
  readonly getEntity: (agentId: AgentId, id: EntityId) => Effect.Effect<Option.Option<Entity>, StoreFailure>
  /** Remove the entity and every relation touching it, atomically; true when it existed. */
  readonly deleteEntity: (agentId: AgentId, id: EntityId) => Effect.Effect<boolean, StoreFailure>
  /**
   * Store the relation when both its ends are entities of its agent, atomically with that check;
   * otherwise store nothing and return the missing end (the source when both are missing).
   */
  readonly addRelation: (relation: Relation) => Effect.Effect<Option.Option<EntityId>, StoreFailure>
  /**
   * Run `read` over a view of the agent's graph whose `outgoing` keeps only relations of type
   * `relation` (every type when undefined). `read` must do nothing but call the view's lookups: a
   * backend may run it synchronously inside one read transaction, so that it sees one snapshot.
   */
  readonly readGraph: <A, E>(
    agentId: AgentId,
    relation: string | undefined,
    read: (view: GraphView) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | StoreFailure>
}

/** KnowledgeStore over a backend's port. */
export const makeKnowledgeStore = (port: KnowledgePort): Context.Tag.Service<typeof KnowledgeStore> =>
  instrumentService(KnowledgeStore, port.backend, { getEntity: 0, deleteEntity: 0 })({
    upsertEntity: (input) =>
      Effect.gen(function*() {
        const e = yield* entityInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = e.id ?? (yield* mintEntityId)
        yield* port.upsertEntity(
          { agentId: e.agentId, id, type: e.type, name: e.name, properties: e.properties },
          now
        )
        return id
      }),
    getEntity: (a, i) =>
      Effect.flatMap(agentId(a), (agent) => Effect.flatMap(entityId(i), (id) => port.getEntity(agent, id))),
    deleteEntity: (a, i) =>
      Effect.flatMap(agentId(a), (agent) => Effect.flatMap(entityId(i), (id) => port.deleteEntity(agent, id))),
    addRelation: (input) =>
      Effect.gen(function*() {
        const r = yield* relationInput(input)
        const createdAt = yield* Clock.currentTimeMillis
        const id = yield* mintRelationId
        const missing = yield* port.addRelation({ ...r, id, createdAt })
        if (Option.isSome(missing)) return yield* new EntityNotFound({ agentId: r.agentId, entityId: missing.value })
        return id
      }),
    query: (input) =>
      Effect.flatMap(graphQuery(input), (q) =>
        port.readGraph(q.agentId, q.relation, (view) =>
          Effect.flatMap(
            q.source === undefined ? Effect.succeed(null) : view.named(q.source, foldName(q.source)),
            (starts) => traverse(q, view, starts)
          )))
  })
