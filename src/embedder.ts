/**
 * The optional Embedder service (SPEC R-CFG-4) and a deterministic, dependency-free embedder for tests
 * and demos. With an Embedder in the context, the convenience operations (src/operations.ts) embed
 * content on remember and the query on recall.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { tokenize } from "./core/textSearch.js"

/** An embedding model failed. */
export class EmbedderError extends Schema.TaggedError<EmbedderError>()("EmbedderError", {
  model: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

export class Embedder extends Context.Tag("engram/Embedder")<Embedder, {
  /** The model name recorded as the store's embedding space. */
  readonly model: string
  readonly dimensions: number
  /** One vector per text, in order. */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbedderError>
}>() {}

/** 32-bit FNV-1a. */
const fnv1a = (s: string, seed: number): number => {
  let h = 0x811c9dc5 ^ seed
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * Feature hashing of words and their character trigrams into `dimensions` signed buckets, L2-normalised.
 * Texts that share words get a high cosine; the same text always gives the same vector. It carries no
 * meaning beyond shared surface forms — good for tests, demos and the zero-setup gateway, not a
 * substitute for a trained model.
 */
export const hashEmbedding = (text: string, dimensions: number): ReadonlyArray<number> => {
  const v = new Float64Array(dimensions)
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature, 0)
    v[h % dimensions]! += (fnv1a(feature, 0x9e3779b9) & 1) === 0 ? weight : -weight
  }
  for (const word of tokenize(text)) {
    add(`w:${word}`, 1)
    const padded = `^${word}$`
    for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3)}`, 0.25)
  }
  let norm = 0
  for (const x of v) norm += x * x
  // A text without words still needs a direction (a zero vector has no cosine): use a fixed one.
  if (norm === 0) {
    v[0] = 1
    norm = 1
  }
  const scale = 1 / Math.sqrt(norm)
  return Array.from(v, (x) => Math.fround(x * scale))
}

/** The deterministic embedder's model name for a dimension. */
export const hashModelName = "engram-hash-v1"

/** The deterministic embedder. */
export const makeHashEmbedder = (dimensions = 384): Embedder["Type"] =>
  Embedder.of({
    model: hashModelName,
    dimensions,
    embed: (texts) => Effect.sync(() => texts.map((t) => hashEmbedding(t, dimensions)))
  })

/** A layer providing the deterministic embedder. */
export const HashEmbedderLive = (dimensions = 384): Layer.Layer<Embedder> =>
  Layer.succeed(Embedder, makeHashEmbedder(dimensions))
