/**
 * SemanticStore's port on PostgreSQL + pgvector (a memory's row: memories.ts). Vector candidates
 * come from vectorRecall.ts, text matches from the index of textIndex.ts with the core's score
 * computed in SQL, filters from memoryFilter.ts. A vector recall is usually one statement that reads
 * the candidates and counts the access of exactly the memories returned (vectorRecall.ts); other
 * recalls, and a vector recall whose boundary needs settling, are two short statements on one
 * connection: the candidate read, then the access counters of the hits (a prepared statement). One
 * vector query in several agents (recallAgents) is one statement for all of them. The counter
 * updates commit asynchronously.
 */
import { Data, Effect, Option, Schema } from "effect"
import type { Candidates, Hit, RecallPlan } from "../../core/recall.js"
import type { SemanticPort } from "../../core/semantic.js"
import type { EmbeddingSpace } from "../../domain/embedding.js"
import type { StoreFailure } from "../../domain/errors.js"
import type { Memory } from "../../domain/memory.js"
import { withIndexDeferred } from "./bulkLoad.js"
import { type Connection, decodeRows, type PgClient, type Queryable, sqlState } from "./client.js"
import {
  chunks,
  INPUT_NAMES,
  INPUT_ROWS,
  inputValues,
  INSERT_CHUNK,
  insertFrom,
  MEMORY_COLUMNS,
  memoryOf,
  scoredMemory
} from "./memories.js"
import { filterSql } from "./memoryFilter.js"
import { Params } from "./params.js"
import { textSql } from "./textIndex.js"
import { vectorText } from "./vectorCodec.js"
import {
  ASYNC_COMMIT,
  distanceTolerance,
  nearestCounted,
  nearestCountedAlone,
  nearestCountedMany,
  settledCandidates,
  type VectorPlan
} from "./vectorRecall.js"

/**
 * Set accessedAt = now and accessCount + 1 on the memories a recall returns. A prepared statement,
 * planned once per connection: it only looks rows up by primary key.
 */
const touch = (q: Queryable, ids: ReadonlyArray<string>, now: number) =>
  ids.length === 0 ? Effect.void : Effect.asVoid(q.execute({
    name: "engram_memories_touch",
    text: `WITH ${ASYNC_COMMIT}
           UPDATE memories m SET accessed_at = $2, access_count = m.access_count + 1
           FROM relaxed WHERE m.id = ANY($1::text[])`,
    values: [ids, now]
  }))

const decodeConflict = Schema.decodeUnknownSync(Schema.Struct({ conflict: Schema.NullOr(Schema.Number) }))
const decodeCount = Schema.decodeUnknownSync(Schema.Struct({ n: Schema.Number }))

/**
 * Insert memories in one statement (prepared once per connection: its shape does not depend on the
 * batch). When every id was minted here, the rows are inserted directly. Otherwise existing ids of
 * the same agent are replays (the first write wins), and when an id belongs to another agent's
 * memory nothing is inserted and the position (0-based) of the first such input is returned.
 */
const insertChunk = (
  q: Queryable,
  batch: ReadonlyArray<Memory>,
  minted: boolean
): Effect.Effect<number | undefined, StoreFailure> =>
  minted
    ? Effect.as(
      q.execute({
        name: "engram_memories_insert_minted",
        text: `${insertFrom("i")} FROM ${INPUT_ROWS} AS i(${INPUT_NAMES})`,
        values: inputValues(batch)
      }),
      undefined
    )
    : Effect.flatMap(
      q.query({
        name: "engram_memories_insert",
        text: `WITH input AS (SELECT * FROM ${INPUT_ROWS} WITH ORDINALITY AS u(${INPUT_NAMES}, ord)),
               existing AS (SELECT m.id, m.agent_id FROM memories m WHERE m.id = ANY($1::text[])),
               conflict AS (
                 SELECT i.ord FROM existing e JOIN input i ON i.id = e.id WHERE e.agent_id <> i.agent_id ORDER BY i.ord LIMIT 1
               ),
               ins AS (
                 ${insertFrom("i")}
                 FROM input i
                 WHERE NOT EXISTS (SELECT 1 FROM conflict) AND NOT EXISTS (SELECT 1 FROM existing e WHERE e.id = i.id)
               )
               SELECT (SELECT ord - 1 FROM conflict) AS conflict`,
        values: inputValues(batch)
      }),
      (rows) => Effect.map(decodeRows("remember", rows, (r) => decodeConflict(r).conflict), ([c]) => c ?? undefined)
    )

/** Rolls a batch transaction back: input `index` uses another agent's id. */
class IdConflict extends Data.TaggedError("IdConflict")<{ readonly index: number }> {}

/**
 * Store memories atomically. Retried once when a concurrent writer inserted one of the ids between
 * the check and the insert (a unique violation aborts the whole statement, so nothing of the first
 * try stays).
 */
const insertMemories = (client: PgClient, memories: ReadonlyArray<Memory>, minted: boolean) => {
  // One statement is atomic by itself; a larger batch is several statements in one transaction.
  const run: Effect.Effect<number | undefined, StoreFailure> = memories.length <= INSERT_CHUNK
    ? client.withConnection("remember", (q) => insertChunk(q, memories, minted))
    : client.transaction("rememberMany", (q) =>
      // A load large relative to the table rebuilds the HNSW index once instead of growing it row by row.
      withIndexDeferred(
        q,
        memories.length,
        Effect.gen(function*() {
          let at = 0
          for (const chunk of chunks(memories)) {
            const conflict = yield* insertChunk(q, chunk, minted)
            // Failing rolls the whole batch back.
            if (conflict !== undefined) return yield* new IdConflict({ index: at + conflict })
            at += chunk.length
          }
          return undefined
        })
      )).pipe(Effect.catchTag("IdConflict", (e) => Effect.succeed(e.index)))
  return run.pipe(Effect.catchIf((e) => e._tag === "StorageError" && sqlState(e.cause) === "23505", () => run))
}

/** The port over `client`; vectors live in `space`. */
export const port = (client: PgClient, space: EmbeddingSpace): SemanticPort => {
  const eps = distanceTolerance(space.dimensions)

  const matches = (q: Queryable, plan: RecallPlan & { readonly terms: ReadonlyArray<string> }) =>
    Effect.gen(function*() {
      const p = new Params()
      const where = filterSql(plan.agentId, plan.filter, p)
      const t = textSql(plan.terms, p)
      const rows = yield* q.query({
        text: `SELECT ${MEMORY_COLUMNS}, ${t.score} AS score FROM memories WHERE ${where} AND ${t.match}
               ORDER BY score DESC, created_at DESC, id DESC LIMIT ${p.add(plan.limit)}`,
        values: p.values
      })
      return yield* decodeRows("recall", rows, scoredMemory)
    })

  const newest = (q: Queryable, plan: RecallPlan) =>
    Effect.gen(function*() {
      const p = new Params()
      const where = filterSql(plan.agentId, plan.filter, p)
      const rows = yield* q.query({
        text: `SELECT ${MEMORY_COLUMNS} FROM memories WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT ${
          p.add(plan.limit)
        }`,
        values: p.values
      })
      return yield* decodeRows("recall", rows, memoryOf)
    })

  const candidates = (q: Queryable, conn: Connection, plan: RecallPlan): Effect.Effect<Candidates, StoreFailure> => {
    switch (plan.mode) {
      case "vector":
        return Effect.map(settledCandidates(client, q, conn, plan, eps), (nearest) => ({ nearest }))
      case "text":
        return Effect.map(matches(q, plan), (found) => ({ matches: found }))
      case "hybrid":
        return Effect.map(
          Effect.zip(settledCandidates(client, q, conn, plan, eps), matches(q, plan)),
          ([nearest, found]) => ({ nearest, matches: found })
        )
      case "newest":
        return Effect.map(newest(q, plan), (found) => ({ newest: found }))
    }
  }

  /** A recall on `q` whose vector candidates were not settled in one statement: read, pick, count. */
  const readPickCount = (
    q: Queryable,
    conn: Connection,
    plan: RecallPlan,
    pick: (found: Candidates) => ReadonlyArray<Hit>
  ) =>
    Effect.gen(function*() {
      const hits = pick(yield* candidates(q, conn, plan))
      yield* touch(q, hits.map((h) => h.memory.id), plan.now)
      return hits
    })

  return {
    backend: "postgres",
    insert: (memories, { minted }) => insertMemories(client, memories, minted),
    recall: (plan, pick) =>
      plan.mode === "vector"
        // Counted in the same statement: every candidate is a hit (there are at most `limit`). When
        // the boundary is not settled nothing was counted, and the recall is answered afresh.
        ? Effect.flatMap(nearestCountedAlone(client, plan, eps), (counted) =>
          counted !== undefined
            ? Effect.succeed(pick({ nearest: counted }))
            : client.withConnection("recall", (q, conn) => readPickCount(q, conn, plan, pick)))
        : client.withConnection("recall", (q, conn) => readPickCount(q, conn, plan, pick)),
    recallMany: (plans, pick) =>
      client.withConnection("recall", (q, conn) =>
        Effect.gen(function*() {
          const first = plans[0]
          if (first === undefined) return []
          // One statement answers every agent when the plans are one vector query in several distinct
          // agents (as recallAgents makes them); an agent whose boundary is not settled is answered
          // alone. A repeated agent is answered call by call: its second answer sees the first's counts.
          const together = first.mode === "vector" && plans.length > 1 &&
            new Set(plans.map((x) => x.agentId)).size === plans.length &&
            plans.every((x) =>
              x.mode === "vector" && x.embedding === first.embedding && x.filter === first.filter &&
              x.limit === first.limit && x.now === first.now
            )
          const counted = together
            ? yield* nearestCountedMany(client, q, conn, plans as ReadonlyArray<VectorPlan>, eps)
            : plans.map(() => undefined)
          return yield* Effect.forEach(plans, (plan, i) => {
            const nearest = counted[i]
            return nearest !== undefined
              ? Effect.succeed(pick(plan)({ nearest }))
              : plan.mode === "vector" && !together
              ? Effect.flatMap(
                nearestCounted(client, q, conn, plan, eps),
                (one) =>
                  one !== undefined
                    ? Effect.succeed(pick(plan)({ nearest: one }))
                    : readPickCount(q, conn, plan, pick(plan))
              )
              : readPickCount(q, conn, plan, pick(plan))
          })
        })),
    get: (agent, id) =>
      Effect.map(
        client.rows("get", {
          text: `SELECT ${MEMORY_COLUMNS} FROM memories WHERE id = $1 AND agent_id = $2`,
          values: [id, agent]
        }, memoryOf),
        (rows) => Option.fromNullable(rows[0])
      ),
    forget: (agent, id) =>
      Effect.map(
        client.execute("forget", { text: "DELETE FROM memories WHERE id = $1 AND agent_id = $2", values: [id, agent] }),
        (n) => n > 0
      ),
    updateEmbedding: (agent, id, embedding) =>
      Effect.map(
        client.execute("updateEmbedding", {
          text: "UPDATE memories SET embedding = $3::vector WHERE id = $1 AND agent_id = $2",
          values: [id, agent, vectorText(embedding)]
        }),
        (n) => n > 0
      ),
    count: (agent, filter) =>
      Effect.suspend(() => {
        const p = new Params()
        const text = `SELECT count(*)::int AS n FROM memories WHERE ${filterSql(agent, filter, p)}`
        return Effect.map(
          client.rows("count", { text, values: p.values }, (r) => decodeCount(r).n),
          (rows) => rows[0] ?? 0
        )
      })
  }
}
