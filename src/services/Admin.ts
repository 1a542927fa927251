import { Context, type Effect, type Stream } from "effect"
import type { AuditIntegrityError, InvalidInput, StoreFailure } from "../domain/errors.js"
import type { AgentId } from "../domain/ids.js"
import type { MainRecord, MemoryRecord } from "../domain/transfer.js"

/** What purging an agent removed, by kind. */
export type PurgeCounts = Readonly<Record<string, number>>

/**
 * Administrative operations on the main store, provided by every main-store layer beside the seven
 * services: streaming export and verbatim import (for `engram export` / `import` / `copy`), and
 * removal of everything an agent owns.
 */
export class MainStoreAdmin extends Context.Tag("engram/MainStoreAdmin")<MainStoreAdmin, {
  /**
   * Every record, streamed in pages: agents, kv, entities, relations, sessions, canonical sessions,
   * usage, devices, tasks, then audit entries by seq ascending.
   */
  readonly export: () => Stream.Stream<MainRecord, StoreFailure>
  /**
   * Write records verbatim (ids, versions and timestamps kept), replacing a record with the same id.
   * Audit records must continue the target's chain (seq = head + 1 and prevHash = head hash, with a
   * valid hash); an entry already present with the same hash is skipped, anything else fails.
   * One call is one transaction.
   */
  readonly import: (
    records: ReadonlyArray<MainRecord>
  ) => Effect.Effect<void, InvalidInput | AuditIntegrityError | StoreFailure>
  /**
   * Remove everything the agent owns in the main store — key-value entries, its registry entry,
   * entities and relations, sessions and the canonical session, usage events — and return how many
   * of each. Tasks (shared work) and audit entries (the tamper-evident record) are kept.
   */
  readonly purgeAgent: (agentId: string) => Effect.Effect<PurgeCounts, InvalidInput | StoreFailure>
}>() {}

/** Administrative operations on the semantic store. */
export class SemanticStoreAdmin extends Context.Tag("engram/SemanticStoreAdmin")<SemanticStoreAdmin, {
  /** Every memory with its embedding, streamed in pages ordered by id. */
  readonly export: () => Stream.Stream<MemoryRecord, StoreFailure>
  /** Write memories verbatim (ids, counters and timestamps kept), replacing a memory with the same id. */
  readonly import: (records: ReadonlyArray<MemoryRecord>) => Effect.Effect<void, InvalidInput | StoreFailure>
  /** Forget every memory of the agent; returns how many. */
  readonly purgeAgent: (agentId: string) => Effect.Effect<number, InvalidInput | StoreFailure>
  /** The agents that hold at least one memory, in code point order. */
  readonly agents: () => Effect.Effect<ReadonlyArray<AgentId>, StoreFailure>
}>() {}
