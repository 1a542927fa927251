/**
 * Export pages that continue one export stream between requests: the cursors parked between pages,
 * their expiry and their limit.
 */
import { Chunk, Clock, Effect, Exit, Option, Scope, Stream } from "effect"
import { compareCodePoints } from "../core/order.js"
import type { StoreFailure } from "../domain/errors.js"
import type { MemoryId } from "../domain/ids.js"
import type { MemoryRecord } from "../domain/transfer.js"
import type { SemanticStoreAdmin } from "../services/Admin.js"

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
export const makeExporter = (admin: SemanticStoreAdmin["Type"]) =>
  Effect.gen(function*() {
    const parked = new Map<string, ExportCursor>()
    const drop = (cursor: ExportCursor) => Scope.close(cursor.scope, Exit.void)
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const all = [...parked.values()]
        parked.clear()
        return Effect.forEach(all, drop, { discard: true })
      })
    )

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
        const cursor: ExportCursor = {
          pull: yield* Scope.extend(Stream.toPull(stream), scope),
          scope,
          pending: [],
          parkedAt: 0
        }
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
