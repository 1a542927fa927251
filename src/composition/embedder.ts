/**
 * The embedder a configuration selects: an OpenAI-compatible endpoint when the `embedder` section is
 * given, the hash embedder for its own default space, and none for any other space (the caller brings
 * its vectors). Either is checked against the store's embedding space when the layer is built.
 */
import { Effect, Layer, Option } from "effect"
import type { MemoryConfig } from "../config.js"
import { ConfigError, type EmbeddingSpaceMismatch } from "../domain/errors.js"
import { type Embedder, EmbedderChecked, HashEmbedderLive, hashModelName } from "../embedder.js"
import type { SemanticStore } from "../services/SemanticStore.js"

/** The configured embedder's layer, or None when the configuration has none. */
export const embedderLayerFromConfig = (
  c: MemoryConfig
): Option.Option<Layer.Layer<Embedder, ConfigError | EmbeddingSpaceMismatch, SemanticStore>> => {
  const embedder = c.embedder
  if (embedder !== undefined) {
    if (c.embedding.model === hashModelName) {
      return Option.some(Layer.fail(new ConfigError({
        path: "embedding.model",
        message: `an embedder URL is configured: set embedding.model to the model it serves (not ${hashModelName})`
      })))
    }
    // Loaded only when configured: the OpenAI client is large and most processes never need it.
    const remote = Layer.unwrapEffect(Effect.map(
      Effect.promise(() => import("../openAiEmbedder.js")),
      (m) =>
        m.OpenAiEmbedderLive({
          url: embedder.url,
          model: c.embedding.model,
          dimensions: c.embedding.dimensions,
          apiKey: embedder.apiKey,
          timeoutMs: embedder.timeoutMs,
          retries: embedder.retries,
          batchSize: embedder.batchSize,
          requestDimensions: embedder.requestDimensions
        })
    ))
    return Option.some(EmbedderChecked(remote))
  }
  if (c.embedding.model === hashModelName) return Option.some(EmbedderChecked(HashEmbedderLive(c.embedding.dimensions)))
  return Option.none()
}
