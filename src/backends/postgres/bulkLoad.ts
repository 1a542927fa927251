/**
 * Large loads into `memories` (rememberMany, import, copy). Keeping pgvector's HNSW graph current
 * costs far more per row than building it once over the loaded table, so a load that is large
 * relative to the table (`REBUILD_RATIO`) drops the index, writes the rows, and builds the index again — all in the
 * load's own transaction, so the index is valid at commit and a failed load leaves the old one.
 *
 * While such a load runs, DROP INDEX holds the table's ACCESS EXCLUSIVE lock until commit: every
 * other reader and writer of `memories` (recall, get, count, remember) waits for the load to finish
 * rather than seeing the table without its index. Smaller loads insert with the index in place, as
 * online remember does, and block nobody. Inside an application's transaction (a savepoint of it) the
 * lock, like every lock, lasts until the application commits.
 */
import { Effect, Schema } from "effect"
import type { StoreFailure } from "../../domain/errors.js"
import type { Memory } from "../../domain/memory.js"
import { decodeRows, type PgClient, type Queryable } from "./client.js"
import { INPUT_NAMES, INPUT_ROWS, inputValues, insertFrom, REPLACE_ON_CONFLICT } from "./memories.js"
import { EMBEDDING_INDEX } from "./migrations.js"

/** Loads smaller than this always keep the index current (a rebuild would cost more than it saves). */
export const BULK_MIN = 5_000

/** Memories per INSERT of a bulk load (the statement's parameters are one array per column). */
const BULK_CHUNK = 5_000

/** Memory the index build may use: the graph of a few hundred thousand vectors fits. */
const BUILD_MEMORY = "1GB"

const decodeN = Schema.decodeUnknownSync(Schema.Struct({ n: Schema.Number }))

/**
 * How many times the incoming rows the table may already hold for a rebuild to pay. Growing the graph
 * costs several times more per row than building it, so a load of a third of the result (or more) is
 * cheaper rebuilt; and a large import that arrives in several batches is rebuilt once per batch
 * rather than grown row by row from its second batch on.
 */
const REBUILD_RATIO = 2

/** Whether a load of `incoming` memories should rebuild the index (see `REBUILD_RATIO`). */
const rebuildWorthIt = (q: Queryable, incoming: number) =>
  Effect.gen(function*() {
    if (incoming < BULK_MIN) return false
    const [index] = yield* decodeRows(
      "bulk load",
      yield* q.query("SELECT (to_regclass('memories_embedding') IS NOT NULL)::int AS n"),
      (r) => decodeN(r).n
    )
    if (index !== 1) return false
    // Counting stops past the threshold: on a large table this reads only that many rows.
    const [rows] = yield* decodeRows(
      "bulk load",
      yield* q.query({
        text: "SELECT count(*)::int AS n FROM (SELECT 1 FROM memories LIMIT $1) t",
        values: [REBUILD_RATIO * incoming + 1]
      }),
      (r) => decodeN(r).n
    )
    return (rows ?? 0) <= REBUILD_RATIO * incoming
  })

/**
 * Run `load` (which writes `incoming` memories on `q`, inside a transaction) with the HNSW index
 * dropped first and rebuilt afterwards when the load is large relative to the table; otherwise just
 * run it.
 */
export const withIndexDeferred = <A, E>(
  q: Queryable,
  incoming: number,
  load: Effect.Effect<A, E>
): Effect.Effect<A, E | StoreFailure> =>
  Effect.gen(function*() {
    if (!(yield* rebuildWorthIt(q, incoming))) return yield* load
    yield* q.execute("DROP INDEX memories_embedding")
    const result = yield* load
    // SET LOCAL: the larger build memory ends with this transaction.
    yield* q.execute(`SET LOCAL maintenance_work_mem = '${BUILD_MEMORY}'`)
    yield* q.execute(EMBEDDING_INDEX)
    return result
  })

/** `items` in slices of at most `size`. */
const slices = <A>(items: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

/**
 * Write memories verbatim in one transaction, replacing a memory with the same id (import and copy),
 * in large multi-row statements, the index deferred when the load is large relative to the table.
 */
export const importMemories = (client: PgClient, memories: ReadonlyArray<Memory>) =>
  client.transaction("import", (q) =>
    withIndexDeferred(
      q,
      memories.length,
      Effect.forEach(
        slices(memories, BULK_CHUNK),
        (chunk) =>
          q.execute({
            text: `${insertFrom("u")} FROM ${INPUT_ROWS} AS u(${INPUT_NAMES}) ${REPLACE_ON_CONFLICT}`,
            values: inputValues(chunk)
          }),
        { discard: true }
      )
    ))
