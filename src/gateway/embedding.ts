/**
 * The gateway's embedder, when one is configured: what a route stores without a vector is embedded,
 * and what it searches by text is embedded too, so `/v1` and the memory-api recall by meaning. The
 * embedder was checked against the store's embedding space when the gateway was built. Its failures
 * reach clients as `PublicEmbedderError` (502, the model's name, no cause); the full error goes to
 * the server log.
 */
import { Cause, Effect, Option } from "effect"
import type { RecallQuery, RememberInput } from "../domain/memory.js"
import { Embedder, EmbedderError, embedQuery, fillEmbeddings, needsQueryEmbedding } from "../embedder.js"
import { PublicEmbedderError } from "./Api.js"

/** The embedder's failure as clients see it. */
export const publicEmbedderError = (operation: string) => <A, E, R>(self: Effect.Effect<A, E | EmbedderError, R>) =>
  Effect.catchIf(self, (e): e is EmbedderError => e instanceof EmbedderError, (e) =>
    Effect.zipRight(
      Effect.logError(`gateway ${operation}: EmbedderError`, Cause.fail(e)),
      Effect.fail(
        new PublicEmbedderError({ model: e.model, message: `the embedding model ${e.model} failed: ${e.message}` })
      )
    ))

/** What the routes ask of the gateway's embedder; each passes its input through when none is configured. */
export interface GatewayEmbedding {
  /** The vector of one text, or undefined without an embedder. */
  readonly embedText: (text: string) => Effect.Effect<ReadonlyArray<number> | undefined, EmbedderError>
  /** The inputs with every missing embedding filled in, in one embedder call. */
  readonly fill: (inputs: ReadonlyArray<RememberInput>) => Effect.Effect<ReadonlyArray<RememberInput>, EmbedderError>
  /** The query with its text embedded, unless it has a vector already or asks for text only. */
  readonly embedQuery: <Q extends Omit<RecallQuery, "agentId">>(query: Q) => Effect.Effect<Q, EmbedderError>
  /** Whether `embedQuery` would call the embedder for `query`. */
  readonly embedsQuery: (query: Omit<RecallQuery, "agentId">) => boolean
}

const passThrough: GatewayEmbedding = {
  embedText: () => Effect.succeed(undefined),
  fill: Effect.succeed,
  embedQuery: Effect.succeed,
  embedsQuery: () => false
}

/** The gateway's embedding, from the Embedder in its context (if any). */
export const gatewayEmbedding: Effect.Effect<GatewayEmbedding> = Effect.map(
  Effect.serviceOption(Embedder),
  Option.match({
    onNone: () => passThrough,
    onSome: (embedder): GatewayEmbedding => ({
      embedText: (text) => Effect.map(embedder.embed([text]), (vectors) => vectors[0]),
      fill: (inputs) => fillEmbeddings(embedder, inputs),
      embedQuery: (query) => embedQuery(embedder, query),
      embedsQuery: needsQueryEmbedding
    })
  })
)
