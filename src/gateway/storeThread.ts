/**
 * The gateway's SQLite semantic store in two worker threads. better-sqlite3 is synchronous: on the
 * event loop, a long SQLite call (a large KNN, a WAL checkpoint, a batch of thousands) holds every
 * other request until it returns. In workers the SQLite work runs on threads of its own, while the
 * event loop goes on parsing, validating and answering; calls reach a worker as messages and come
 * back in the order they finish.
 *
 * The writes (remember, rememberMany, forget, updateEmbedding) go to one worker and the reads
 * (recall, recallAgents, get, count) to another, each with a connection of its own: a write's
 * commit waits for the disk (fsync at synchronous = FULL), and in one thread every search would wait
 * with it; SQLite's WAL lets the reader read while the writer commits, and each read sees every
 * write acknowledged before it began. The reader records the access counters of its recalls and
 * writes them itself, like every other process; while the writer holds the lock, that batch waits
 * off the thread and is tried again (accessCounts.ts), so searches never wait for the writer.
 *
 * Each worker opens the store on a connection of its own (storeThreadMain.ts); the gateway's other
 * services (consolidation, administration, MCP's other stores) keep theirs in this thread — SQLite's
 * WAL and busy timeout serialise writers across connections as across processes. What crosses is
 * plain data: inputs, results (an Option as the value or null) and typed errors by their fields (the
 * cause, which may hold SQL text, stays in the worker). A worker that dies fails every call in flight
 * to it and every later one with a StorageError.
 */
import { Effect, Option, Schema, type Scope } from "effect"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"
import type { SqliteStoreOptions } from "../backends/sqlite/index.js"
import type { EmbeddingSpace } from "../domain/embedding.js"
import { BackendUnavailable, InvalidEmbedding, InvalidInput, MemoryNotFound, StorageError } from "../domain/errors.js"
import type { SemanticStore } from "../services/SemanticStore.js"
import { packArguments, type Packed, unpack } from "./threadWire.js"

type Store = SemanticStore["Type"]
type Method = Exclude<keyof Store, "embeddingSpace">

/** One call sent to the worker: its arguments with their vectors packed (threadWire.ts). */
export interface StoreCall {
  readonly id: number
  readonly method: Method
  readonly args: Packed
}

/** The worker's answer to one call: its result with its vectors packed, or its failure. */
export interface StoreReply {
  readonly id: number
  readonly value?: Packed
  readonly failure?: StoreFailure
}

/** A failure as it crosses: a typed error by its fields, or a defect described. */
export type StoreFailure = { readonly typed: Record<string, unknown> } | { readonly defect: string }

const StoreError = Schema.Union(InvalidInput, InvalidEmbedding, StorageError, BackendUnavailable, MemoryNotFound)
const decodeError = Schema.decodeUnknownEither(StoreError)

const METHODS: ReadonlyArray<Method> = [
  "remember",
  "rememberMany",
  "recall",
  "recallAgents",
  "get",
  "forget",
  "updateEmbedding",
  "count"
]

/** How long the worker gets to close its store when the gateway stops. */
const CLOSE_GRACE_MS = 5_000

const threadFailure = (operation: string, message: string) =>
  new StorageError({ backend: "sqlite", operation, message: `the store thread ${message}` })

/** The calls that write: answered by the writer thread, every other call by the reader. */
export const WRITES: ReadonlySet<Method> = new Set(["remember", "rememberMany", "forget", "updateEmbedding"])

/** One worker with the store open: its embedding space, and how to call a method in it. */
interface StoreWorker {
  readonly space: EmbeddingSpace
  readonly call: (method: Method) => (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
}

/** Start a worker on the store at `options`, closed with the scope. */
const startWorker = (options: SqliteStoreOptions): Effect.Effect<StoreWorker, StorageError, Scope.Scope> =>
  Effect.gen(function*() {
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => {
        if (!import.meta.url.endsWith(".ts")) {
          return new Worker(new URL("./storeThreadMain.js", import.meta.url), { workerData: options })
        }
        // Run from the TypeScript sources (tsx): the worker registers tsx itself before loading its entry.
        const entry = JSON.stringify(new URL("./storeThreadMain.ts", import.meta.url).href)
        // Resolved the CommonJS way: `import.meta.resolve` is missing under some test runners' transforms.
        const tsx = JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href)
        return new Worker(
          `import(${tsx}).then((api) => { api.register(); return import(${entry}) })`,
          { eval: true, workerData: options }
        )
      }),
      // The worker closes its store (and its SQLite connection) on "close" and exits; one that does not
      // within the grace period is terminated.
      (w) =>
        Effect.async<void>((resume) => {
          // threadId is -1 once the worker has exited.
          if (w.threadId === -1) return resume(Effect.void)
          const timer = setTimeout(() => void w.terminate(), CLOSE_GRACE_MS)
          w.once("exit", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          w.postMessage("close")
        })
    )
    const pending = new Map<number, (reply: StoreReply) => void>()
    let dead: string | undefined
    const failAll = (why: string) => {
      dead = why
      for (const resume of pending.values()) resume({ id: -1, failure: { defect: why } })
      pending.clear()
    }
    const space = yield* Effect.async<EmbeddingSpace, StorageError>((resume) => {
      const onReady = (m: { ready?: boolean; embeddingSpace?: EmbeddingSpace; failure?: StoreFailure }) => {
        if (m.ready === true) {
          resume(Effect.succeed(m.embeddingSpace!))
        } else {
          resume(Effect.fail(threadFailure("open", `could not open the store: ${JSON.stringify(m.failure)}`)))
        }
      }
      worker.once("message", onReady)
      worker.once("error", (e) => resume(Effect.fail(threadFailure("open", `failed: ${e.message}`))))
    })
    worker.on("message", (reply: StoreReply) => {
      const resume = pending.get(reply.id)
      if (resume === undefined) return
      pending.delete(reply.id)
      resume(reply)
    })
    worker.on("error", (e) => failAll(`failed: ${e.message}`))
    worker.on("exit", (code) => failAll(`exited (code ${code})`))
    let next = 0
    const call = (method: Method) => (...args: ReadonlyArray<unknown>): Effect.Effect<unknown, unknown> =>
      Effect.async<unknown, unknown>((resume) => {
        if (dead !== undefined) return resume(Effect.fail(threadFailure(method, dead)))
        const id = next++
        pending.set(id, (reply) => {
          if (reply.failure === undefined) {
            const value = reply.value === undefined ? undefined : unpack(reply.value)
            resume(Effect.succeed(method === "get" ? Option.fromNullable(value) : value))
          } else if ("typed" in reply.failure) {
            const error = decodeError(reply.failure.typed)
            resume(
              Effect.fail(error._tag === "Right" ? error.right : threadFailure(method, "answered an unknown error"))
            )
          } else {
            resume(Effect.fail(threadFailure(method, reply.failure.defect)))
          }
        })
        worker.postMessage({ id, method, args: packArguments(method, args) } satisfies StoreCall)
      })
    return { space, call }
  })

/** Start the writer and reader workers for the store at `options` and return a SemanticStore that calls them. */
export const semanticStoreThread = (options: SqliteStoreOptions): Effect.Effect<Store, StorageError, Scope.Scope> =>
  Effect.gen(function*() {
    // The writer first: it runs the store's migrations, so the reader opens a store already current.
    const writer = yield* startWorker(options)
    const reader = yield* startWorker(options)
    const store = { embeddingSpace: writer.space } as Record<string, unknown>
    for (const m of METHODS) store[m] = (WRITES.has(m) ? writer : reader).call(m)
    return store as unknown as Store
  })
