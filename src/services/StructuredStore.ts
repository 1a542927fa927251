import { Context, type Effect, type Option } from "effect"
import type { InvalidInput, StoreFailure } from "../domain/errors.js"
import type { Json } from "../domain/json.js"
import type { Page } from "../domain/page.js"
import type { AgentInput, AgentRecord, KvEntry, KvListOptions } from "../domain/structured.js"

type E = InvalidInput | StoreFailure

/** Key-value storage per agent, plus the agent registry. */
export class StructuredStore extends Context.Tag("engram/StructuredStore")<StructuredStore, {
  /** The value under `key`, if any. */
  readonly get: (agentId: string, key: string) => Effect.Effect<Option.Option<Json>, E>
  /** Upsert; returns the new version (1 on insert, +1 on each update). */
  readonly set: (agentId: string, key: string, value: Json) => Effect.Effect<number, E>
  /** True when a value was removed. */
  readonly delete: (agentId: string, key: string) => Effect.Effect<boolean, E>
  /** Entries ordered by key ascending, paginated. */
  readonly list: (agentId: string, options?: KvListOptions) => Effect.Effect<Page<KvEntry>, E>
  /** Upsert an agent; createdAt is kept on update. */
  readonly saveAgent: (agent: AgentInput) => Effect.Effect<AgentRecord, E>
  readonly loadAgent: (id: string) => Effect.Effect<Option.Option<AgentRecord>, E>
  /** Every registered agent, ordered by id. */
  readonly listAgents: () => Effect.Effect<ReadonlyArray<AgentRecord>, E>
  /** True when an agent was removed. Its other data stays; see `purgeAgent` for removing everything. */
  readonly removeAgent: (id: string) => Effect.Effect<boolean, E>
}>() {}
