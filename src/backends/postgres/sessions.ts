/**
 * SessionStore's port on PostgreSQL. Label uniqueness is the `sessions_label` unique index: a save
 * or relabel that would break it fails on that index and is reported as `LabelTaken`. A change of
 * the canonical session locks the agent's row (or, for its first one, relies on the primary key) for
 * the length of one transaction, so concurrent appends from any number of processes lose nothing.
 */
import { Effect, Option } from "effect"
import { type LabelOutcome, labelTaken, type SessionPort } from "../../core/sessions.js"
import type { StoreFailure } from "../../domain/errors.js"
import type { CanonicalSession } from "../../domain/session.js"
import { canonicalSessionsTable as canonical } from "../../tables/canonicalSessions.js"
import {
  sessionOwners as owners,
  sessionsTable as sessions,
  sessionSummaries as summaries
} from "../../tables/sessions.js"
import { insertInto, selectFrom, upsertInto } from "../../tables/table.js"
import { decodeRows, type PgClient, sqlState } from "./client.js"

const isLabelConflict = (e: StoreFailure): boolean =>
  e._tag === "StorageError" && sqlState(e.cause) === "23505" &&
  typeof e.cause === "object" && e.cause !== null && "constraint" in e.cause && e.cause.constraint === "sessions_label"

const first = <A>(rows: ReadonlyArray<A>): Option.Option<A> => Option.fromNullable(rows[0])

// An existing session keeps its agent and createdAt: the row the upsert returns says which they are.
const SAVE = `${upsertInto(sessions, "postgres", ["label", "messages", "message_count", "updated_at"])}
  RETURNING ${owners.columnList}`
// Two statements rather than one with an optional agent: each keeps a plan that fits its index.
const LIST = `${selectFrom(summaries)} ORDER BY updated_at DESC, id DESC`
const LIST_OF_AGENT = `${selectFrom(summaries)} WHERE agent_id = $1 ORDER BY updated_at DESC, id DESC`
const LOCK_CANONICAL = `${selectFrom(canonical)} WHERE agent_id = $1 FOR UPDATE`
// Parameters in the codec's column order: agent_id, messages, summary, updated_at.
const UPDATE_CANONICAL =
  `UPDATE canonical_sessions SET messages = $2, summary = $3, updated_at = $4 WHERE agent_id = $1`
const INSERT_CANONICAL = `${insertInto(canonical, "postgres")} ON CONFLICT (agent_id) DO NOTHING`

export const port = (client: PgClient): SessionPort => {
  /** The agent that owns session `id` (the holder of a conflicting label is another of its sessions). */
  const ownerOf = (operation: string, id: string) =>
    Effect.map(
      client.rows(operation, { text: `${selectFrom(owners)} WHERE id = $1`, values: [id] }, owners.decode),
      (rows) => Option.map(first(rows), (r) => r.agentId)
    )

  return {
    backend: "postgres",
    get: (id) =>
      Effect.map(
        client.rows(
          "get",
          { name: "engram_session_get", text: `${selectFrom(sessions)} WHERE id = $1`, values: [id] },
          sessions.decode
        ),
        first
      ),
    save: (s, now) => {
      const values = sessions.values({ ...s, createdAt: now, updatedAt: now })
      return client.rows("save", { name: "engram_session_save", text: SAVE, values }, owners.decode).pipe(
        Effect.map((rows) => ({ ...s, agentId: rows[0]!.agentId, createdAt: rows[0]!.createdAt, updatedAt: now })),
        Effect.catchIf(
          isLabelConflict,
          () => Effect.map(ownerOf("save", s.id), (owner) => labelTaken(Option.getOrElse(owner, () => s.agentId)))
        )
      )
    },
    delete: (id) =>
      Effect.map(client.execute("delete", { text: "DELETE FROM sessions WHERE id = $1", values: [id] }), (n) => n > 0),
    deleteForAgent: (agent) =>
      client.execute("deleteForAgent", { text: "DELETE FROM sessions WHERE agent_id = $1", values: [agent] }),
    list: (agent) =>
      client.rows(
        "list",
        agent === undefined
          ? { name: "engram_session_list", text: LIST }
          : { name: "engram_session_list_of_agent", text: LIST_OF_AGENT, values: [agent] },
        summaries.decode
      ),
    setLabel: (id, label, now) =>
      client.execute("setLabel", {
        text: "UPDATE sessions SET label = $2, updated_at = $3 WHERE id = $1",
        values: [id, label, now]
      }).pipe(
        Effect.map((n): LabelOutcome => (n === 0 ? "notFound" : "labelled")),
        // A session deleted since the conflict is not found.
        Effect.catchIf(
          isLabelConflict,
          () =>
            Effect.map(
              ownerOf("setLabel", id),
              Option.match({ onNone: (): LabelOutcome => "notFound", onSome: labelTaken })
            )
        )
      ),
    findByLabel: (agent, label) =>
      Effect.map(
        client.rows("findByLabel", {
          text: `${selectFrom(sessions)} WHERE agent_id = $1 AND label = $2`,
          values: [agent, label]
        }, sessions.decode),
        first
      ),
    loadCanonical: (agent) =>
      Effect.map(
        client.rows(
          "loadCanonical",
          { name: "engram_canonical_load", text: `${selectFrom(canonical)} WHERE agent_id = $1`, values: [agent] },
          canonical.decode
        ),
        first
      ),
    saveCanonical: (c) =>
      Effect.as(
        client.execute("saveCanonical", { text: upsertInto(canonical, "postgres"), values: canonical.values(c) }),
        c
      ),
    deleteCanonical: (agent) =>
      Effect.map(
        client.execute("deleteCanonical", {
          text: "DELETE FROM canonical_sessions WHERE agent_id = $1",
          values: [agent]
        }),
        (n) => n > 0
      ),
    modifyCanonical: (agent, f) =>
      client.transaction("modifyCanonical", (q) => {
        // Lock the stored row and read it as its last writer committed it; without one, insert the
        // first. When another transaction inserted it meanwhile, start over on its row.
        const change: Effect.Effect<CanonicalSession, StoreFailure> = Effect.gen(function*() {
          const rows = yield* q.query({ name: "engram_canonical_lock", text: LOCK_CANONICAL, values: [agent] })
          const current = first(yield* decodeRows("modifyCanonical", rows, canonical.decode))
          const next = f(current)
          const values = canonical.values(next)
          if (Option.isSome(current)) {
            yield* q.execute({ name: "engram_canonical_update", text: UPDATE_CANONICAL, values })
            return next
          }
          const inserted = yield* q.execute({ name: "engram_canonical_insert", text: INSERT_CANONICAL, values })
          return inserted === 1 ? next : yield* change
        })
        return change
      })
  }
}
