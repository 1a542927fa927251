/**
 * An embedder for any endpoint speaking OpenAI's embeddings protocol (`POST <url>/embeddings`):
 * OpenAI, Azure, Ollama, vLLM, LM Studio, text-embeddings-inference. Built on @effect/ai-openai's
 * `OpenAiClient` and `OpenAiEmbeddingModel`, with engram's own resilience around each HTTP request:
 * a deadline per attempt, and retries of 408, 429 and 5xx answers and of timeouts — waiting at least
 * what a `Retry-After` header asks, and otherwise backing off exponentially.
 */
import * as OpenAiClient from "@effect/ai-openai/OpenAiClient"
import * as OpenAiEmbeddingModel from "@effect/ai-openai/OpenAiEmbeddingModel"
import * as EmbeddingModel from "@effect/ai/EmbeddingModel"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Duration, Effect, Layer, type Redacted } from "effect"
import { type Embedder, EmbedderFromModel } from "./embedder.js"

/** How to reach an OpenAI-compatible embeddings endpoint. */
export interface OpenAiEmbedderOptions {
  /** The API's base URL, to which `/embeddings` is appended (e.g. `http://127.0.0.1:11434/v1`). */
  readonly url: string
  /** The model to ask for; also the name of the store's embedding space. */
  readonly model: string
  /** The length of the model's vectors (a vector of another length is an EmbedderError). */
  readonly dimensions: number
  /** Sent as `Authorization: Bearer …`. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Deadline of each attempt, in ms (default 30 000). */
  readonly timeoutMs?: number | undefined
  /** Extra attempts after a 408, 429, 5xx or timeout (default 3). */
  readonly retries?: number | undefined
  /** Most texts sent in one request (default 256). */
  readonly batchSize?: number | undefined
  /** Send `dimensions` in each request, for models that can shorten their vectors (default false). */
  readonly requestDimensions?: boolean | undefined
  /** The first retry's wait in ms when no `Retry-After` says otherwise; doubled each time (default 500). */
  readonly retryBaseMs?: number | undefined
}

export const DEFAULT_EMBEDDER_TIMEOUT_MS = 30_000
export const DEFAULT_EMBEDDER_RETRIES = 3
export const DEFAULT_EMBEDDER_BATCH_SIZE = 256
/** The longest wait between attempts, whatever a server's `Retry-After` asks. */
const MAX_RETRY_WAIT_MS = 60_000

const retryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500

/** The wait a `Retry-After` header asks for (seconds or an HTTP date), in ms. */
export const retryAfterMs = (header: string | undefined, now: number): number | undefined => {
  if (header === undefined) return undefined
  const trimmed = header.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * Deadline and retries around every request of `client`. An answer still retryable after the last
 * attempt is returned as it is, so the OpenAI client reports its status.
 */
export const resilient =
  (options: { readonly timeoutMs: number; readonly retries: number; readonly retryBaseMs: number }) =>
  (client: HttpClient.HttpClient): HttpClient.HttpClient =>
    HttpClient.transform(client, (send, request) => {
      const backoff = (attempt: number) => options.retryBaseMs * 2 ** attempt
      const attempt = (
        n: number
      ): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
        send.pipe(
          Effect.timeoutFail({
            duration: Duration.millis(options.timeoutMs),
            onTimeout: () =>
              new HttpClientError.RequestError({
                request,
                reason: "Transport",
                description: `no answer within ${options.timeoutMs} ms`
              })
          }),
          Effect.matchEffect({
            onFailure: (error) =>
              error._tag === "RequestError" && error.reason === "Transport" && n < options.retries
                ? Effect.zipRight(Effect.sleep(Duration.millis(backoff(n))), attempt(n + 1))
                : Effect.fail(error),
            onSuccess: (response) => {
              if (!retryableStatus(response.status) || n >= options.retries) return Effect.succeed(response)
              const asked = retryAfterMs(response.headers["retry-after"], Date.now())
              const wait = Math.min(MAX_RETRY_WAIT_MS, Math.max(asked ?? 0, asked === undefined ? backoff(n) : 0))
              return Effect.zipRight(Effect.sleep(Duration.millis(wait)), attempt(n + 1))
            }
          })
        )
      return attempt(0)
    })

/** The `EmbeddingModel` of an OpenAI-compatible endpoint, over the `HttpClient` in the context. */
export const OpenAiEmbeddingModelLive = (
  options: OpenAiEmbedderOptions
): Layer.Layer<EmbeddingModel.EmbeddingModel, never, HttpClient.HttpClient> =>
  OpenAiEmbeddingModel.layerBatched({
    model: options.model,
    config: {
      maxBatchSize: options.batchSize ?? DEFAULT_EMBEDDER_BATCH_SIZE,
      ...(options.requestDimensions === true ? { dimensions: options.dimensions } : {})
    }
  }).pipe(Layer.provide(OpenAiClient.layer({
    apiUrl: options.url.replace(/\/+$/, ""),
    apiKey: options.apiKey,
    transformClient: resilient({
      timeoutMs: options.timeoutMs ?? DEFAULT_EMBEDDER_TIMEOUT_MS,
      retries: options.retries ?? DEFAULT_EMBEDDER_RETRIES,
      retryBaseMs: options.retryBaseMs ?? 500
    })
  })))

/** engram's Embedder for an OpenAI-compatible endpoint (HTTP through `fetch`). */
export const OpenAiEmbedderLive = (options: OpenAiEmbedderOptions): Layer.Layer<Embedder> =>
  EmbedderFromModel({ model: options.model, dimensions: options.dimensions }).pipe(
    Layer.provide(OpenAiEmbeddingModelLive(options)),
    Layer.provide(FetchHttpClient.layer)
  )
