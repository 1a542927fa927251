/**
 * Convenience operations over the services: with an `Embedder` in the context, content is
 * embedded on remember and the query text on recall; without one they pass straight through. The
 * embedder must produce the store's embedding space, or the call fails with EmbeddingSpaceMismatch
 * (rather than storing vectors from two models side by side).
 */
import { Effect, Option } from "effect"
import { EmbeddingSpaceMismatch } from "./domain/errors.js"
import type { RecallQuery, RememberInput } from "./domain/memory.js"
import { Embedder, embedQuery, fillEmbeddings } from "./embedder.js"
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
    return yield* store.remember(
      Option.isNone(embedder) ? input : (yield* fillEmbeddings(embedder.value, [input]))[0]!
    )
  })

/** rememberMany, embedding every input without an embedding in one Embedder call. */
export const rememberMany = (inputs: ReadonlyArray<RememberInput>) =>
  Effect.gen(function*() {
    const store = yield* SemanticStore
    const embedder = yield* checkedEmbedder
    return yield* store.rememberMany(
      Option.isNone(embedder) ? inputs : yield* fillEmbeddings(embedder.value, inputs)
    )
  })

/**
 * Recall, embedding the query text when an Embedder is present and no embedding was given; with both
 * text and vector the store fuses the rankings (hybrid) unless `mode` says otherwise.
 */
export const recall = (query: RecallQuery) =>
  Effect.gen(function*() {
    const store = yield* SemanticStore
    const embedder = yield* checkedEmbedder
    return yield* store.recall(Option.isNone(embedder) ? query : yield* embedQuery(embedder.value, query))
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
