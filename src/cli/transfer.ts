/**
 * `engram export`, `import` and `copy`: a versioned NDJSON stream of all nine domains. The first line
 * is a header naming the format version and the embedding space; then the main store's records in
 * dependency order (agents, key-value, entities, relations, sessions, canonical sessions, usage,
 * devices, tasks, audit by seq), then the memories. Import and copy write in batches of one
 * transaction each, and audit entries must continue the target's chain, so a copy verifies. Memories
 * go in much larger batches than the other records: a backend can then load them in bulk (PgLive
 * builds its vector index once over a large load instead of growing it row by row).
 */
import { Clock, Effect, Either, Layer, Option, Schema, Stream } from "effect"
import { createReadStream, createWriteStream } from "node:fs"
import { createInterface } from "node:readline"
import { describe } from "../core/storage.js"
import { EmbeddingSpaceMismatch, InvalidInput, StorageError } from "../domain/errors.js"
import {
  type MainRecord,
  type MemoryRecord,
  TRANSFER_FORMAT_VERSION,
  TransferHeader,
  TransferRecord
} from "../domain/transfer.js"
import { MainStoreAdmin, SemanticStoreAdmin } from "../services/Admin.js"
import { SemanticStore } from "../services/SemanticStore.js"
import type { Progress } from "./progress.js"

/** Records of the main store per import transaction. */
export const BATCH = 500

/**
 * Embedding values (memories × dimensions) per memory batch: about 320 MB of vectors in memory, so
 * 100,000 memories of 384 dimensions are one load.
 */
const MEMORY_BATCH_VALUES = 40_000_000

/** Memories per import transaction: large (a bulk load), but bounded in memory by the vectors' size. */
export const memoryBatch = (dimensions: number): number =>
  Math.min(100_000, Math.max(BATCH, Math.floor(MEMORY_BATCH_VALUES / Math.max(1, dimensions))))

type Transferred = MainRecord | MemoryRecord

/**
 * Cut `stream` into batches: at most `BATCH` main-store records, or at most `memories` memories; a
 * batch never mixes the two.
 */
const batches = <E, R>(stream: Stream.Stream<Transferred, E, R>, memories: number) =>
  // Suspended: each run accumulates into an array of its own.
  Stream.suspend(() =>
    Stream.concat(Stream.map(stream, Option.some), Stream.make(Option.none<Transferred>())).pipe(
      Stream.mapAccum(
        [] as Array<Transferred>,
        (batch, next): readonly [Array<Transferred>, Option.Option<ReadonlyArray<Transferred>>] => {
          if (Option.isNone(next)) return [[], batch.length > 0 ? Option.some(batch) : Option.none()]
          const r = next.value
          const head = batch[0]
          const full = head !== undefined &&
            ((head.kind === "memory") !== (r.kind === "memory") ||
              batch.length >= (head.kind === "memory" ? memories : BATCH))
          if (full) return [[r], Option.some(batch)]
          // The batch is this stream's own array, so growing it in place is safe.
          batch.push(r)
          return [batch, Option.none()]
        }
      ),
      Stream.filterMap((b) => b)
    )
  )

const encodeRecord = Schema.encodeSync(TransferRecord)
const decodeRecord = Schema.decodeUnknownEither(TransferRecord)
const decodeHeader = Schema.decodeUnknownEither(TransferHeader)

/** The header line of an export of the current store. */
export const header = Effect.gen(function*() {
  const store = yield* SemanticStore
  return {
    kind: "engram-export" as const,
    formatVersion: TRANSFER_FORMAT_VERSION,
    embedding: store.embeddingSpace,
    createdAt: yield* Clock.currentTimeMillis
  }
})

/** Every record of the store: the main store's, then the memories. */
export const records = Effect.gen(function*() {
  const main = yield* MainStoreAdmin
  const semantic = yield* SemanticStoreAdmin
  return Stream.concat(
    main.export() as Stream.Stream<MainRecord | MemoryRecord, unknown>,
    semantic.export() as Stream.Stream<MainRecord | MemoryRecord, unknown>
  )
})

/** How many memories the semantic store holds (for the progress bar). */
export const memoryTotal = Effect.gen(function*() {
  const admin = yield* SemanticStoreAdmin
  const store = yield* SemanticStore
  const agents = yield* admin.agents()
  const counts = yield* Effect.forEach(agents, (a) => store.count(a), { concurrency: 4 })
  return counts.reduce((a, b) => a + b, 0)
})

/** Write batches of records into the current store, keeping main and semantic records apart. */
const importBatch = (batch: ReadonlyArray<MainRecord | MemoryRecord>, progress: Progress) =>
  Effect.gen(function*() {
    const main = batch.filter((r): r is MainRecord => r.kind !== "memory")
    const memories = batch.filter((r): r is MemoryRecord => r.kind === "memory")
    if (main.length > 0) yield* (yield* MainStoreAdmin).import(main)
    if (memories.length > 0) yield* (yield* SemanticStoreAdmin).import(memories)
    const byKind = new Map<string, number>()
    for (const r of batch) byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1)
    for (const [k, n] of byKind) yield* progress.add(k, n)
  })

/** Import a stream of records into the current store. */
export const importRecords = <E, R>(stream: Stream.Stream<MainRecord | MemoryRecord, E, R>, progress: Progress) =>
  Effect.gen(function*() {
    const dimensions = (yield* SemanticStore).embeddingSpace.dimensions
    yield* batches(stream, memoryBatch(dimensions)).pipe(Stream.runForEach((batch) => importBatch(batch, progress)))
    yield* progress.done
  })

/** Refuse a header of a newer format or of another embedding space than the target's. */
export const checkHeader = (h: TransferHeader) =>
  Effect.gen(function*() {
    if (h.formatVersion > TRANSFER_FORMAT_VERSION) {
      return yield* new InvalidInput({
        field: "header.formatVersion",
        message: `format version ${h.formatVersion} is newer than this engram reads (${TRANSFER_FORMAT_VERSION})`
      })
    }
    const store = yield* SemanticStore
    const space = store.embeddingSpace
    if (h.embedding.model !== space.model || h.embedding.dimensions !== space.dimensions) {
      return yield* new EmbeddingSpaceMismatch({ expected: space, actual: h.embedding })
    }
  })

/** Write the store as NDJSON to `path` ("-" for stdout). */
export const exportTo = (path: string, progress: Progress) =>
  Effect.gen(function*() {
    const out = path === "-" ? process.stdout : createWriteStream(path, { encoding: "utf8" })
    const write = (line: string) =>
      Effect.async<void, StorageError>((resume) => {
        const ok = out.write(`${line}\n`, (error) => {
          if (error) {
            resume(Effect.fail(new StorageError({ backend: "memory", operation: "export", message: describe(error) })))
          }
        })
        if (ok) resume(Effect.void)
        else out.once("drain", () => resume(Effect.void))
      })
    yield* write(JSON.stringify(yield* header))
    const stream = yield* records
    yield* stream.pipe(
      Stream.runForEach((r) => Effect.zipRight(write(JSON.stringify(encodeRecord(r))), progress.add(r.kind, 1)))
    )
    if (out !== process.stdout) {
      yield* Effect.async<void>((resume) => void out.end(() => resume(Effect.void)))
    }
    yield* progress.done
  })

const parseLine = (line: string, lineNo: number): Either.Either<unknown, InvalidInput> =>
  Either.try({
    try: () => JSON.parse(line) as unknown,
    catch: (e) => new InvalidInput({ field: `line ${lineNo}`, message: `not JSON: ${describe(e)}` })
  })

/**
 * The records of an NDJSON export file ("-" for stdin). The first non-empty line must be a header
 * this version reads, for the current store's embedding space; every other line a valid record.
 */
export const readExport = (path: string) =>
  // Opened only when the stream runs: readline drops the lines (and the close) emitted before its
  // iterator exists, so an interface created early would lose them while the store is being built.
  Stream.suspend(() =>
    Stream.fromAsyncIterable(
      createInterface({
        input: path === "-" ? process.stdin : createReadStream(path, { encoding: "utf8" }),
        crlfDelay: Infinity
      }),
      (cause) => new InvalidInput({ field: "file", message: `cannot read ${path}: ${describe(cause)}` })
    )
  ).pipe(
    Stream.zipWithIndex,
    Stream.filter(([line]) => line.trim() !== ""),
    Stream.mapAccumEffect(false, (headerSeen, [line, index]) =>
      Effect.gen(function*() {
        const lineNo = index + 1
        const json = yield* parseLine(line, lineNo)
        if (!headerSeen) {
          const h = decodeHeader(json)
          if (Either.isLeft(h)) {
            return yield* new InvalidInput({
              field: `line ${lineNo}`,
              message: "the first line must be an engram-export header"
            })
          }
          yield* checkHeader(h.right)
          return [true, Option.none<MainRecord | MemoryRecord>()] as const
        }
        const r = decodeRecord(json)
        if (Either.isLeft(r)) {
          return yield* new InvalidInput({
            field: `line ${lineNo}`,
            message: `not a valid record: ${r.left.message.split("\n")[0]}`
          })
        }
        return [true, Option.some(r.right)] as const
      })),
    Stream.filterMap((o) => o)
  )

/**
 * Copy everything from one composed store to another (any two configurations): records stream from
 * the source and are written to the target in batches, with a progress bar over the total.
 */
export const copy = <RS, RT, ES, ET>(
  source: Layer.Layer<RS, ES>,
  target: Layer.Layer<RT, ET>,
  makeBar: (total: number) => Progress
) =>
  Effect.gen(function*() {
    const src = yield* Layer.build(source)
    const dst = yield* Layer.build(target)
    const from = (yield* Effect.provide(SemanticStore, src)).embeddingSpace
    const to = (yield* Effect.provide(SemanticStore, dst)).embeddingSpace
    if (from.model !== to.model || from.dimensions !== to.dimensions) {
      return yield* new EmbeddingSpaceMismatch({ expected: to, actual: from })
    }
    const mainCount = yield* Effect.flatMap(MainStoreAdmin, (a) => Stream.runCount(a.export())).pipe(
      Effect.provide(src)
    )
    const memories = yield* Effect.provide(memoryTotal, src)
    const progress = makeBar(mainCount + memories)
    const stream = yield* Effect.provide(records, src)
    yield* importRecords(Stream.provideContext(stream, src), progress).pipe(Effect.provide(dst))
    return { records: mainCount + memories }
  }).pipe(Effect.scoped)
