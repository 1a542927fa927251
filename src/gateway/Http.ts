/**
 * The gateway's handlers: the API of `Api.ts` implemented over the SemanticStore, Consolidation and
 * SemanticStoreAdmin tags (every semantic backend provides all three), so any semantic backend can
 * sit behind the gateway. The handlers add only what the gateway owns: agent confinement per token,
 * the memory-api mapping, paging of the export, and the public (cause-free) error forms.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Cause, Chunk, Clock, Effect, Exit, Layer, Option, Scope, Stream } from "effect"
import { compareCodePoints } from "../core/order.js"
import { hitOrder } from "../core/recall.js"
import { queryTerms } from "../core/textSearch.js"
import { BackendUnavailable, InvalidInput, type StoreFailure, StorageError } from "../domain/errors.js"
import type { MemoryId } from "../domain/ids.js"
import type { MemorySource } from "../domain/memory.js"
import type { MemoryRecord } from "../domain/transfer.js"
import { SemanticStoreAdmin } from "../services/Admin.js"
import { Consolidation } from "../services/Consolidation.js"
import { SemanticStore } from "../services/SemanticStore.js"
import {
  Authorization,
  Caller,
  EngramApi,
  Forbidden,
  GATEWAY_VERSION,
  MAX_EXPORT_PAGE,
  PublicBackendUnavailable,
  PublicStorageError,
  type Unauthorized
} from "./Api.js"

/** Decides what the bearer token of a request may do, from its raw `Authorization` header. */
export type Authenticate = (authorization: string | undefined) => Effect.Effect<Caller["Type"], Unauthorized>

/** The Authorization middleware over an authenticator (which lives in the server: it holds the tokens). */
export const AuthorizationLive = (authenticate: Authenticate): Layer.Layer<Authorization> =>
  Layer.succeed(Authorization, {
    // HttpApiSecurity.bearer hands over the header minus its first 7 characters whatever the scheme
    // says; the authenticator reads the whole header so that only "Bearer <token>" is accepted.
    bearer: () => Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => authenticate(request.headers.authorization))
  })

/**
 * Replace the store's failures by their public forms. The full error (with its cause: SQL text,
 * driver messages) goes to the server log only.
 */
const publicErrors = (operation: string) =>
<A, E, R>(
  self: Effect.Effect<A, E | StorageError | BackendUnavailable, R>
): Effect.Effect<A, Exclude<E, StorageError | BackendUnavailable> | PublicStorageError | PublicBackendUnavailable, R> =>
  Effect.catchIf(self, (e): e is StorageError | BackendUnavailable =>
    e instanceof StorageError || e instanceof BackendUnavailable, (e) =>
    Effect.zipRight(
      Effect.logError(`gateway ${operation}: ${e._tag}`, Cause.fail(e)),
      Effect.fail(
        e._tag === "StorageError"
          ? new PublicStorageError({ backend: e.backend, operation, message: `the ${e.backend} store failed (${operation})` })
          : new PublicBackendUnavailable({ backend: e.backend, message: `the ${e.backend} store is unavailable` })
      )
    ))

/** Fail with Forbidden unless the request's token may use `agentId`. */
const allowAgent = (agentId: string) =>
  Effect.flatMap(Caller, (caller) =>
    Option.match(caller.agents, {
      onNone: () => Effect.void,
      onSome: (agents) =>
        agents.has(agentId)
          ? Effect.void
          : Effect.fail(new Forbidden({ message: `this token may not use agent ${JSON.stringify(agentId)}` }))
    }))

/**
 * Fail with Forbidden unless the token may use every agent: consolidation, export and import touch
 * every agent's memories.
 */
const allowEveryAgent = (what: string) =>
  Effect.flatMap(Caller, (caller) =>
    Option.isNone(caller.agents)
      ? Effect.void
      : Effect.fail(new Forbidden({ message: `${what} runs over every agent: it needs a token not limited to agents` })))

/** The semantic API. `maxBodyBytes` is reported by `/v1/info` so clients can size their requests. */
export const SemanticGroupLive = (settings: { readonly maxBodyBytes: number }) =>
  HttpApiBuilder.group(EngramApi, "semantic", (handlers) =>
    Effect.gen(function*() {
      const store = yield* SemanticStore
      return handlers
        .handle("remember", ({ payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.remember(payload)),
            Effect.map((id) => ({ id })),
            publicErrors("remember")
          ))
        .handle("rememberMany", ({ payload }) =>
          Effect.forEach(payload.inputs, (input) => allowAgent(input.agentId), { discard: true }).pipe(
            Effect.zipRight(store.rememberMany(payload.inputs)),
            Effect.map((ids) => ({ ids })),
            publicErrors("rememberMany")
          ))
        .handle("recall", ({ payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.recall(payload)),
            Effect.map((hits) => ({ hits })),
            publicErrors("recall")
          ))
        .handle("get", ({ path, urlParams }) =>
          allowAgent(urlParams.agentId).pipe(
            Effect.zipRight(store.get(urlParams.agentId, path.id)),
            Effect.map((memory) => ({ memory: Option.getOrNull(memory) })),
            publicErrors("get")
          ))
        .handle("forget", ({ path, urlParams }) =>
          allowAgent(urlParams.agentId).pipe(
            Effect.zipRight(store.forget(urlParams.agentId, path.id)),
            Effect.map((forgotten) => ({ forgotten })),
            publicErrors("forget")
          ))
        .handle("updateEmbedding", ({ path, payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.updateEmbedding(payload.agentId, path.id, payload.embedding)),
            publicErrors("updateEmbedding")
          ))
        .handle("count", ({ payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.count(payload.agentId, payload.filter)),
            Effect.map((count) => ({ count })),
            publicErrors("count")
          ))
        .handle("info", () =>
          Effect.succeed({ embedding: store.embeddingSpace, maxBodyBytes: settings.maxBodyBytes, version: GATEWAY_VERSION }))
    }))

/** Consolidation on the gateway's store, for tokens not limited to agents. */
export const ConsolidationGroupLive = HttpApiBuilder.group(EngramApi, "consolidation", (handlers) =>
  Effect.gen(function*() {
    const consolidation = yield* Consolidation
    return handlers.handle("consolidate", ({ payload }) =>
      allowEveryAgent("consolidation").pipe(Effect.zipRight(consolidation.consolidate(payload)), publicErrors("consolidate")))
  }))

/**
 * JSON bytes after which an export page ends even when `limit` is not reached (a page always holds
 * at least one memory), so a page of large memories stays a reasonable answer within the client's
 * deadline.
 */
export const EXPORT_PAGE_BYTES = 4 * 1024 * 1024
/** How long a parked export cursor waits for its next page before it is dropped. */
export const EXPORT_CURSOR_IDLE_MS = 120_000
/** Most export cursors parked at once; the longest-parked one is dropped first. */
export const MAX_EXPORT_CURSORS = 16

/** An export in progress: the store's export stream, and what was pulled from it but not yet served. */
interface ExportCursor {
  readonly pull: Effect.Effect<Chunk.Chunk<MemoryRecord>, Option.Option<StoreFailure>>
  /** Where the stream runs; closed when the export ends, fails, or the cursor is dropped. */
  readonly scope: Scope.CloseableScope
  pending: ReadonlyArray<MemoryRecord>
  parkedAt: number
}

/** Expiry of parked cursors is operational time: real time even when the handlers run under TestClock. */
const realTime = Clock.make()

const jsonBytes = (record: MemoryRecord) => Buffer.byteLength(JSON.stringify(record), "utf8")

/**
 * Export pages over `SemanticStoreAdmin.export`, which streams every memory in id order but cannot
 * start in the middle. Reading the stream from the start for every page would make an export of n
 * memories cost O(n²), so the gateway keeps the stream of an export between its pages: after a page
 * it parks the stream under the page's last id (which the client sends back as `after`), and the
 * next page continues it. A page whose `after` has no parked stream — the client retried a page
 * whose answer was lost, the cursor idled out, another gateway process served the previous page —
 * is still answered correctly, by a stream that skips the memories up to `after`.
 */
const makeExporter = (admin: SemanticStoreAdmin["Type"]) =>
  Effect.gen(function*() {
    const parked = new Map<string, ExportCursor>()
    const drop = (cursor: ExportCursor) => Scope.close(cursor.scope, Exit.void)
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const all = [...parked.values()]
        parked.clear()
        return Effect.forEach(all, drop, { discard: true })
      }))

    const dropIdle = Effect.suspend(() => {
      const now = realTime.unsafeCurrentTimeMillis()
      const idle = [...parked].filter(([, c]) => now - c.parkedAt > EXPORT_CURSOR_IDLE_MS)
      for (const [key] of idle) parked.delete(key)
      return Effect.forEach(idle, ([, c]) => drop(c), { discard: true })
    })

    const open = (after: MemoryId | undefined) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const all = admin.export()
        const stream = after === undefined ? all : Stream.dropWhile(all, (r) => compareCodePoints(r.id, after) <= 0)
        const cursor: ExportCursor = { pull: yield* Scope.extend(Stream.toPull(stream), scope), scope, pending: [], parkedAt: 0 }
        return cursor
      })

    /** The parked cursor that continues after `after`, or a new one. */
    const take = (after: MemoryId | undefined) =>
      Effect.suspend(() => {
        if (after === undefined) return open(after)
        const cursor = parked.get(after)
        if (cursor === undefined) return open(after)
        parked.delete(after)
        return Effect.succeed(cursor)
      })

    const park = (key: MemoryId, cursor: ExportCursor) =>
      Effect.suspend(() => {
        const dropped: Array<ExportCursor> = []
        const previous = parked.get(key)
        if (previous !== undefined) dropped.push(previous)
        parked.delete(key)
        cursor.parkedAt = realTime.unsafeCurrentTimeMillis()
        parked.set(key, cursor)
        // Map order is parking order: the first entries are the longest parked.
        for (const [k, c] of parked) {
          if (parked.size <= MAX_EXPORT_CURSORS) break
          parked.delete(k)
          dropped.push(c)
        }
        return Effect.forEach(dropped, drop, { discard: true })
      })

    /** Pull the next chunk into `pending`; false once the stream has ended. */
    const refill = (cursor: ExportCursor): Effect.Effect<boolean, StoreFailure> =>
      cursor.pull.pipe(
        Effect.map((chunk) => {
          cursor.pending = Chunk.toReadonlyArray(chunk)
          return true
        }),
        Effect.catchAll(Option.match({ onNone: () => Effect.succeed(false), onSome: Effect.fail }))
      )

    const fill = (cursor: ExportCursor, limit: number) =>
      Effect.gen(function*() {
        const memories: Array<MemoryRecord> = []
        let bytes = 0
        while (memories.length < limit && bytes < EXPORT_PAGE_BYTES) {
          if (cursor.pending.length === 0 && !(yield* refill(cursor))) return { memories, next: null }
          const available = Math.min(limit - memories.length, cursor.pending.length)
          let i = 0
          while (i < available && bytes < EXPORT_PAGE_BYTES) {
            const record = cursor.pending[i++]!
            memories.push(record)
            bytes += jsonBytes(record)
          }
          cursor.pending = cursor.pending.slice(i)
        }
        // The page is full: it is the last one only when nothing follows it.
        while (cursor.pending.length === 0) {
          if (!(yield* refill(cursor))) return { memories, next: null }
        }
        return { memories, next: memories[memories.length - 1]!.id }
      })

    /** One page; the cursor is parked when more follows and closed otherwise (failure and interruption included). */
    return (after: MemoryId | undefined, limit: number) =>
      Effect.zipRight(
        dropIdle,
        Effect.acquireUseRelease(
          take(after),
          (cursor) => fill(cursor, limit),
          (cursor, exit) =>
            Exit.isSuccess(exit) && exit.value.next !== null ? park(exit.value.next, cursor) : drop(cursor)
        )
      )
  })

/** The semantic store's administration: agents and purge per token, export and import for unrestricted tokens. */
export const AdminGroupLive = HttpApiBuilder.group(EngramApi, "admin", (handlers) =>
  Effect.gen(function*() {
    const admin = yield* SemanticStoreAdmin
    const exportPage = yield* makeExporter(admin)
    return handlers
      .handle("agents", () =>
        Effect.gen(function*() {
          const { agents: mine } = yield* Caller
          const all = yield* admin.agents()
          return { agents: Option.isSome(mine) ? all.filter((a) => mine.value.has(a)) : all }
        }).pipe(publicErrors("agents")))
      .handle("purge", ({ payload }) =>
        allowAgent(payload.agentId).pipe(
          Effect.zipRight(admin.purgeAgent(payload.agentId)),
          Effect.map((purged) => ({ purged })),
          publicErrors("purge")
        ))
      .handle("exportMemories", ({ urlParams }) =>
        allowEveryAgent("export").pipe(
          Effect.zipRight(exportPage(urlParams.after, urlParams.limit ?? MAX_EXPORT_PAGE)),
          publicErrors("export")
        ))
      .handle("importMemories", ({ payload }) =>
        allowEveryAgent("import").pipe(
          Effect.zipRight(admin.import(payload.records)),
          Effect.as({ imported: payload.records.length }),
          publicErrors("import")
        ))
  }))

/** memory-api source names (the lower-cased variant names that protocol's client sends). */
const MEMORY_API_SOURCES: Readonly<Record<string, MemorySource>> = {
  conversation: "conversation",
  document: "document",
  observation: "observation",
  inference: "inference",
  user_provided: "user_provided",
  userprovided: "user_provided",
  system: "system"
}

const memoryApiSource = (source: string | undefined): Effect.Effect<MemorySource, InvalidInput> => {
  if (source === undefined) return Effect.succeed("conversation")
  const known = Object.hasOwn(MEMORY_API_SOURCES, source) ? MEMORY_API_SOURCES[source] : undefined
  return known === undefined
    ? Effect.fail(new InvalidInput({ field: "source", message: `must be one of ${Object.keys(MEMORY_API_SOURCES).join(", ")}` }))
    : Effect.succeed(known)
}

/** Most agents one memory-api search recalls from at the same time. */
const SEARCH_CONCURRENCY = 4

/**
 * The memory-api protocol. Its search names no agent: it searches the agents the token may see (all
 * agents holding memories, from `SemanticStoreAdmin.agents`, for an unrestricted token), `agentId`
 * narrows it, and every result carries the agent that really owns it. Each agent is recalled with
 * the full limit and the answers are merged by score, so a memory recalled from one agent but cut
 * by the merge still counts that access.
 */
export const MemoryApiGroupLive = HttpApiBuilder.group(EngramApi, "memoryApi", (handlers) =>
  Effect.gen(function*() {
    const store = yield* SemanticStore
    const admin = yield* SemanticStoreAdmin
    const agentsToSearch = (narrow: string | undefined): Effect.Effect<ReadonlyArray<string>, Forbidden | StoreFailure, Caller> =>
      Effect.gen(function*() {
        if (narrow !== undefined) {
          yield* allowAgent(narrow)
          return [narrow]
        }
        const caller = yield* Caller
        return Option.isSome(caller.agents) ? [...caller.agents.value] : yield* admin.agents()
      })
    return handlers
      .handle("store", ({ payload }) =>
        Effect.gen(function*() {
          yield* allowAgent(payload.agentId)
          const source = yield* memoryApiSource(payload.source)
          const id = yield* store.remember({
            agentId: payload.agentId,
            content: payload.content,
            source,
            scope: payload.category ?? "episodic",
            metadata: {
              ...(payload.importance === undefined ? {} : { importance: payload.importance }),
              ...(payload.tags === undefined ? {} : { tags: payload.tags })
            }
          })
          return { id, deduplicated: false }
        }).pipe(publicErrors("memory/store")))
      .handle("search", ({ payload }) =>
        Effect.gen(function*() {
          const agents = yield* agentsToSearch(payload.agentId)
          const limit = payload.limit ?? 10
          // A query without any word cannot be matched as text: it asks for the newest memories.
          const text = queryTerms(payload.query).length > 0 ? { text: payload.query } : {}
          const scope = payload.category === undefined ? {} : { scope: payload.category }
          const perAgent = yield* Effect.forEach(
            agents,
            (agentId) => store.recall({ agentId, limit, ...text, ...scope }),
            { concurrency: SEARCH_CONCURRENCY }
          )
          const hits = perAgent.flat().sort(hitOrder).slice(0, limit)
          return {
            results: hits.map(({ memory, score }) => ({
              id: memory.id,
              content: memory.content,
              category: memory.scope,
              score,
              createdAt: memory.createdAt,
              agentId: memory.agentId
            })),
            count: hits.length
          }
        }).pipe(publicErrors("memory/search")))
  }))

/** `/health`: the process serves (the store is not probed: that is what the other routes are for). */
export const HealthGroupLive = HttpApiBuilder.group(EngramApi, "health", (handlers) =>
  handlers.handle("health", () => Effect.succeed({ status: "ok" })))

/** The whole API over the store tags, with the given authenticator. */
export const ApiLive = (settings: { readonly maxBodyBytes: number; readonly authenticate: Authenticate }) =>
  HttpApiBuilder.api(EngramApi).pipe(
    Layer.provide([SemanticGroupLive(settings), ConsolidationGroupLive, AdminGroupLive, MemoryApiGroupLive, HealthGroupLive]),
    // The groups need the middleware too (their handlers are wrapped in it), so it is provided last.
    Layer.provide(AuthorizationLive(settings.authenticate))
  )
