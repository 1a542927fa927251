/**
 * QdrantSemanticLive: semantic memory and its consolidation on Qdrant over REST. Building the layer
 * checks Qdrant's health and creates or verifies the collection, its embedding space and its payload
 * indexes; the layer's error type lists every way that can fail. The Qdrant client
 * (`@qdrant/js-client-rest`) is an optional peer dependency, loaded when a layer is built.
 */
import { type Config, type ConfigError as EffectConfigError, type Context, Effect, Layer } from "effect"
import { loadBackend } from "../../core/loadBackend.js"
import type { BackendUnavailable, ConfigError, EmbeddingSpaceMismatch, StorageError } from "../../domain/errors.js"
import type { SemanticStoreAdmin } from "../../services/Admin.js"
import type { SemanticServices } from "../../services/index.js"
import type { QdrantOptions } from "./options.js"

export { DEFAULT_TIMEOUT_MS, type QdrantOptions } from "./options.js"

/** Why building a Qdrant store can fail (a `ConfigError` when the Qdrant client package is missing). */
export type QdrantBuildError = BackendUnavailable | EmbeddingSpaceMismatch | StorageError | ConfigError

/** What the layer provides: the semantic services and their admin operations (export / import / purge). */
export type QdrantServices = SemanticServices | SemanticStoreAdmin

/** SemanticStore, Consolidation and SemanticStoreAdmin over one Qdrant collection. */
export const make = (options: QdrantOptions): Effect.Effect<Context.Context<QdrantServices>, QdrantBuildError> =>
  Effect.flatMap(
    loadBackend("qdrant", "@qdrant/js-client-rest", () => import("./store.js")),
    (store) => store.make(options)
  )

/** The semantic services on the collection named in `options` (created on first use). */
export const layer = (options: QdrantOptions): Layer.Layer<QdrantServices, QdrantBuildError> =>
  Layer.effectContext(make(options))

/** The options read from configuration. */
export const layerConfig = (
  config: Config.Config<QdrantOptions>
): Layer.Layer<QdrantServices, QdrantBuildError | EffectConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))

/** The named layer: `QdrantSemanticLive(options)`. */
export const QdrantSemanticLive = layer
