import { Context, type Effect } from "effect"
import type { InvalidInput, StoreFailure } from "../domain/errors.js"
import type { ConsolidationOptions, ConsolidationReport } from "../domain/memory.js"

/**
 * Decay and merge of memories, provided by the semantic backend's layer so it runs on
 * the store that actually holds the memories.
 */
export class Consolidation extends Context.Tag("engram/Consolidation")<Consolidation, {
  /**
   * Decay, then merge. A run that names no `decayRate` applies the store's (its options'
   * `decayRate`, from configuration), 0.1 when the store has none.
   */
  readonly consolidate: (
    options?: ConsolidationOptions
  ) => Effect.Effect<ConsolidationReport, InvalidInput | StoreFailure>
}>() {}
