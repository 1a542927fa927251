/** Options every store takes. */
import type { EmbeddingSpace } from "./embedding.js"

export interface StoreOptions {
  /** The embedding space of the store's vectors; recorded on first use and checked on every open. */
  readonly embedding: EmbeddingSpace
  /** Largest memory content accepted, in UTF-8 bytes (default 1 MiB). */
  readonly maxContentBytes?: number
  /**
   * The decay rate `Consolidation.consolidate` applies when its options name none, strictly between
   * 0 and 1 (default 0.1).
   */
  readonly decayRate?: number
}
