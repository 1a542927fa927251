import { Context, type Effect } from "effect"
import type { InvalidInput, StoreFailure } from "../domain/errors.js"
import type { ConsolidationOptions, ConsolidationReport } from "../domain/memory.js"

/**
 * Decay and merge of memories (SPEC §2.8), provided by the semantic backend's layer so it runs on
 * the store that actually holds the memories.
 */
export class Consolidation extends Context.Tag("engram/Consolidation")<Consolidation, {
  readonly consolidate: (options?: ConsolidationOptions) => Effect.Effect<ConsolidationReport, InvalidInput | StoreFailure>
}>() {}
