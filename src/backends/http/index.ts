/**
 * HttpSemanticLive: SemanticStore, Consolidation and SemanticStoreAdmin served by an engram gateway
 * (`engram serve`) over HTTP. Building the layer asks the gateway for its info and checks the embedding
 * space; it fails with BackendUnavailable when the gateway cannot be reached within the deadline,
 * EmbeddingSpaceMismatch for another space, ConfigError for bad options or a refused token.
 */
import { Config, type Context, Effect, Layer } from "effect"
import { semanticServices } from "../../core/storeLayers.js"
import type { BackendUnavailable, ConfigError, EmbeddingSpaceMismatch } from "../../domain/errors.js"
import type { SemanticStoreAdmin } from "../../services/Admin.js"
import type { SemanticServices } from "../../services/index.js"
import * as Admin from "./admin.js"
import { connect, HttpClientLive, type HttpSemanticOptions } from "./client.js"
import * as Consolidate from "./consolidation.js"
import * as Semantic from "./semantic.js"

export {
  DEFAULT_CONSOLIDATION_TIMEOUT_MS,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  type HttpSemanticOptions
} from "./client.js"

export { EXPORT_PAGE_SIZE } from "./admin.js"

/** Every way building the layer can fail. */
export type HttpSemanticError = ConfigError | BackendUnavailable | EmbeddingSpaceMismatch

/** What HttpSemanticLive provides: the semantic services and their administration. */
export type HttpSemanticServices = SemanticServices | SemanticStoreAdmin

/** The three services over one connection (needs an HttpClient; `layer` provides the platform's fetch). */
export const make = (options: HttpSemanticOptions) =>
  Effect.map(connect(options), (connection): Context.Context<HttpSemanticServices> =>
    semanticServices(
      {
        semantic: Semantic.port(connection),
        consolidation: Consolidate.port(connection),
        admin: Admin.port(connection)
      },
      connection.limits,
      options
    ))

/** SemanticStore + Consolidation + SemanticStoreAdmin of the gateway at `options.url`. */
export const layer = (options: HttpSemanticOptions): Layer.Layer<HttpSemanticServices, HttpSemanticError> =>
  Layer.effectContext(make(options)).pipe(Layer.provide(HttpClientLive))

/** The same, over options from the caller's `Config` (engram's `ENGRAM_*` variables are read by `engram`'s `layerConfig`). */
export const layerConfig = (config: Config.Config<HttpSemanticOptions>) => Layer.unwrapEffect(Effect.map(config, layer))

/** The named layer. */
export const HttpSemanticLive = layer
