/**
 * Convenience operations over the services: with an `Embedder` in the context, content is
 * embedded on remember and the query text on recall; without one they pass straight through. The
 * embedder must produce the store's embedding space, or the call fails with EmbeddingSpaceMismatch
 * (rather than storing vectors from two models side by side).
 */
import { Effect, Option } from "effect"
import { EmbeddingSpaceMismatch } from "./domain/errors.js"
import type { RecallQuery, RememberInput } from "./domain/memory.js"
import { Embedder } from "./embedder.js"
import { MainStoreAdmin, type PurgeCounts, SemanticStoreAdmin } from "./services/Admin.js"
import { AuditLog } from "./services/AuditLog.js"
import { SemanticStore } from "./services/SemanticStore.js"

const checkedEmbedder = Effect.gen(function*() {
  const embedder = yield* Effect.serviceOption(Embedder)
  if (Option.isNone(embedder)) return Option.none()
  const store = yield* SemanticStore
  const e = embedder.value
  if (e.model !== store.embeddingSpace.model || e.dimensions !== store.embeddingSpace.dimensions) {
    return yield* new EmbeddingSpaceMismatch({
      expected: store.embeddingSpace,
      actual: { model: e.model, dimensions: e.dimensions }
    })
  }
  return embedder
})

/** Remember, embedding the content when an Embedder is present and no embedding was given. */
export const remember = (input: RememberInput) =>
  Effect.gen(function*() {
    const store = yield* SemanticStore
    const embedder = yield* checkedEmbedder
    if (input.embedding !== undefined || Option.isNone(embedder)) return yield* store.remember(input)
    const [embedding] = yield* embedder.value.embed([input.content])
    return yield* store.remember({ ...input, embedding: embedding! })
  })

/** rememberMany, embedding every input without an embedding in one Embedder call. */
export const rememberMany = (inputs: ReadonlyArray<RememberInput>) =>
  Effect.gen(function*() {
    const store = yield* SemanticStore
    const embedder = yield* checkedEmbedder
    const missing = inputs.flatMap((input, i) => (input.embedding === undefined ? [i] : []))
    if (missing.length === 0 || Option.isNone(embedder)) return yield* store.rememberMany(inputs)
    const vectors = yield* embedder.value.embed(missing.map((i) => inputs[i]!.content))
    const filled = [...inputs]
    missing.forEach((i, j) => (filled[i] = { ...inputs[i]!, embedding: vectors[j]! }))
    return yield* store.rememberMany(filled)
  })

/**
 * Recall, embedding the query text when an Embedder is present and no embedding was given; with both
 * text and vector the store fuses the rankings (hybrid) unless `mode` says otherwise.
 */
export const recall = (query: RecallQuery) =>
  Effect.gen(function*() {
    const store = yield* SemanticStore
    const embedder = yield* checkedEmbedder
    if (query.embedding !== undefined || query.text === undefined || Option.isNone(embedder) || query.mode === "text") {
      return yield* store.recall(query)
    }
    const [embedding] = yield* embedder.value.embed([query.text])
    return yield* store.recall({ ...query, embedding: embedding! })
  })

/**
 * Remove everything an agent owns from every store — key-value entries and its registry entry,
 * entities and relations, sessions and its canonical session, usage events (main store) and its
 * memories (semantic store, wherever it lives) — and record the purge in the audit log. Tasks
 * (shared work) and earlier audit entries (the tamper-evident record) are kept.
 */
export const purgeAgent = (agentId: string) =>
  Effect.gen(function*() {
    const main = yield* (yield* MainStoreAdmin).purgeAgent(agentId)
    const memories = yield* (yield* SemanticStoreAdmin).purgeAgent(agentId)
    const removed: PurgeCounts = { ...main, memories }
    yield* (yield* AuditLog).append({
      agentId,
      action: "agent.purge",
      detail: JSON.stringify(removed),
      outcome: "ok"
    })
    return removed
  })
