/**
 * QdrantSemanticLive: semantic memory and its consolidation on Qdrant over REST (SPEC R-BE-5).
 * Building the layer checks Qdrant's health and creates or verifies the collection, its embedding
 * space and its payload indexes; the layer's error type lists every way that can fail.
 */
import { type Config, type ConfigError, Context, Effect, Layer } from "effect"
import type { BackendUnavailable, EmbeddingSpaceMismatch, StorageError } from "../../domain/errors.js"
import { SemanticStoreAdmin } from "../../services/Admin.js"
import type { SemanticServices } from "../../services/index.js"
import { Consolidation } from "../../services/Consolidation.js"
import { SemanticStore } from "../../services/SemanticStore.js"
import * as Admin from "./admin.js"
import { open, type QdrantOptions } from "./client.js"
import * as Consolidate from "./consolidation.js"
import * as Semantic from "./semantic.js"

export { DEFAULT_TIMEOUT_MS, type QdrantOptions } from "./client.js"

/** Why building a Qdrant store can fail. */
export type QdrantBuildError = BackendUnavailable | EmbeddingSpaceMismatch | StorageError

/** What the layer provides: the semantic services and their admin operations (export / import / purge). */
export type QdrantServices = SemanticServices | SemanticStoreAdmin

/** SemanticStore, Consolidation and SemanticStoreAdmin over one Qdrant collection. */
export const make = (options: QdrantOptions): Effect.Effect<Context.Context<QdrantServices>, QdrantBuildError> =>
  Effect.gen(function*() {
    const conn = yield* open(options)
    const limits = {
      space: options.embedding,
      ...(options.maxContentBytes === undefined ? {} : { maxContentBytes: options.maxContentBytes })
    }
    return Context.make(SemanticStore, Semantic.make(conn, limits)).pipe(
      Context.add(Consolidation, Consolidate.make(conn)),
      Context.add(SemanticStoreAdmin, Admin.make(conn, options.embedding))
    )
  })

/** The semantic services on the collection named in `options` (created on first use). */
export const layer = (options: QdrantOptions): Layer.Layer<QdrantServices, QdrantBuildError> =>
  Layer.effectContext(make(options))

/** The options read from configuration. */
export const layerConfig = (
  config: Config.Config<QdrantOptions>
): Layer.Layer<QdrantServices, QdrantBuildError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))

/** The named layer (SPEC §0): `QdrantSemanticLive(options)`. */
export const QdrantSemanticLive = layer
