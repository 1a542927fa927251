/**
 * HttpSemanticLive: SemanticStore, Consolidation and SemanticStoreAdmin served by an engram gateway
 * (`engram serve`) over HTTP. Building the layer asks the gateway for its info and checks the embedding
 * space; it fails with BackendUnavailable when the gateway cannot be reached within the deadline,
 * EmbeddingSpaceMismatch for another space, ConfigError for bad options or a refused token.
 */
import { Config, type Context, Effect, Layer } from "effect"
import { semanticServices } from "../../composition/storeLayers.js"
import type { BackendUnavailable, ConfigError, EmbeddingSpaceMismatch } from "../../domain/errors.js"
import type { SemanticStoreAdmin } from "../../services/Admin.js"
import type { SemanticServices } from "../../services/index.js"
import * as Admin from "./admin.js"
import { connect, HttpClientLive, type HttpSemanticOptions } from "./client.js"
import * as Consolidate from "./consolidation.js"
import * as Semantic from "./semantic.js"

export { DEFAULT_CONSOLIDATION_TIMEOUT_MS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, type HttpSemanticOptions } from "./client.js"

export { EXPORT_PAGE_SIZE } from "./admin.js"

/** Every way building the layer can fail. */
export type HttpSemanticError = ConfigError | BackendUnavailable | EmbeddingSpaceMismatch

/** What HttpSemanticLive provides: the semantic services and their administration. */
export type HttpSemanticServices = SemanticServices | SemanticStoreAdmin

/** The three services over one connection (needs an HttpClient; `layer` provides the platform's fetch). */
export const make = (options: HttpSemanticOptions) =>
  Effect.map(connect(options), (connection): Context.Context<HttpSemanticServices> =>
    semanticServices(
      { semantic: Semantic.port(connection), consolidation: Consolidate.port(connection), admin: Admin.port(connection) },
      connection.limits,
      options
    ))

/** SemanticStore + Consolidation + SemanticStoreAdmin of the gateway at `options.url`. */
export const layer = (options: HttpSemanticOptions): Layer.Layer<HttpSemanticServices, HttpSemanticError> =>
  Layer.effectContext(make(options)).pipe(Layer.provide(HttpClientLive))

/** The same, over options read from configuration. */
export const layerConfig = (config: Config.Config<HttpSemanticOptions>) =>
  Layer.unwrapEffect(Effect.map(config, layer))

/**
 * The options from `ENGRAM_HTTP_URL`, `ENGRAM_HTTP_TOKEN` (secret), `ENGRAM_HTTP_TIMEOUT_MS`,
 * `ENGRAM_HTTP_RETRIES`, `ENGRAM_EMBEDDING_MODEL` and `ENGRAM_EMBEDDING_DIMENSIONS`.
 */
export const config: Config.Config<HttpSemanticOptions> = Config.all({
  url: Config.string("ENGRAM_HTTP_URL"),
  token: Config.option(Config.redacted("ENGRAM_HTTP_TOKEN")),
  timeoutMs: Config.option(Config.integer("ENGRAM_HTTP_TIMEOUT_MS")),
  retries: Config.option(Config.integer("ENGRAM_HTTP_RETRIES")),
  model: Config.string("ENGRAM_EMBEDDING_MODEL"),
  dimensions: Config.integer("ENGRAM_EMBEDDING_DIMENSIONS")
}).pipe(Config.map((c): HttpSemanticOptions => ({
  url: c.url,
  embedding: { model: c.model, dimensions: c.dimensions },
  ...(c.token._tag === "Some" ? { token: c.token.value } : {}),
  ...(c.timeoutMs._tag === "Some" ? { timeoutMs: c.timeoutMs.value } : {}),
  ...(c.retries._tag === "Some" ? { retries: c.retries.value } : {})
})))

/** The named layer, as the README lists the layers. */
export const HttpSemanticLive = layer
