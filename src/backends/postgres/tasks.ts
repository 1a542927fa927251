/**
 * TaskQueue's port on PostgreSQL. Each primitive is one statement on the success path:
 * - a claim locks the best claimable row with `FOR UPDATE SKIP LOCKED` (concurrent claimers in any
 *   process skip it instead of waiting or taking it twice) and applies the claim in the same UPDATE;
 * - a fenced write is an UPDATE whose WHERE clause is the fence; only when it matches nothing is the
 *   row read back, so the core can say why.
 * A transition arrives as the core's `TaskChange` and becomes the SET list here, column by column.
 */
import { Effect, Option } from "effect"
import type { FencedWrite, TaskPort } from "../../core/taskQueue.js"
import type { TaskChange, TaskState } from "../../core/tasks.js"
import type { StoreFailure } from "../../domain/errors.js"
import { insertInto, selectFrom } from "../../tables/table.js"
import { stateColumns, tasksTable } from "../../tables/tasks.js"
import type { PgClient, Statement } from "./client.js"

const FIELDS = Object.keys(stateColumns) as ReadonlyArray<keyof TaskState>

const INSERT = insertInto(tasksTable, "postgres")
const BY_ID = `${selectFrom(tasksTable)} WHERE id = $1`

/**
 * The SET list of `change` with its values from parameter `from` on, and a name that is the same for
 * every change setting the same fields (so each shape is prepared once per connection). The values
 * of these fields are the same in a row as in a task.
 */
const setList = (change: TaskChange, from: number) => {
  const assignments: Array<string> = []
  const values: Array<unknown> = []
  let mask = 0
  FIELDS.forEach((field, bit) => {
    if (!(field in change.set)) return
    mask |= 1 << bit
    values.push(change.set[field])
    assignments.push(`${stateColumns[field]} = $${from + values.length - 1}`)
  })
  // The core's `applyChange`: the next attempt is the current one plus one.
  if (change.nextAttempt) assignments.push("attempt = attempt + 1")
  return { assignments: assignments.join(", "), values, shape: `${mask}${change.nextAttempt ? "n" : ""}` }
}

export const port = (client: PgClient): TaskPort => {
  const byId = (operation: string, id: string) =>
    Effect.map(
      client.rows(operation, { name: "engram_task_get", text: BY_ID, values: [id] }, tasksTable.decode),
      (rows) => Option.fromNullable(rows[0])
    )

  return {
    backend: "postgres",
    insert: (task) =>
      Effect.asVoid(
        client.execute("post", { name: "engram_task_insert", text: INSERT, values: tasksTable.values(task) })
      ),
    claimBest: (agent, now, change) => {
      const set = setList(change, 3)
      // The core's `claimable` and `claimOrder` in SQL.
      const statement: Statement = {
        name: `engram_task_claim_${set.shape}`,
        text: `UPDATE tasks SET ${set.assignments}
               WHERE id = (
                 SELECT id FROM tasks
                 WHERE (assigned_to IS NULL OR assigned_to = $1)
                   AND (status = 'pending' OR (status = 'in_progress' AND lease_expires_at <= $2))
                 ORDER BY priority DESC, created_at, id
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED
               )
               RETURNING ${tasksTable.columnList}`,
        values: [agent, now, ...set.values]
      }
      return Effect.map(client.rows("claim", statement, tasksTable.decode), (rows) => Option.fromNullable(rows[0]))
    },
    replaceIfCurrent: (id, claim, change) => {
      const set = setList(change, 4)
      // The core's `holds` (what `fence` lets through): in progress, this claimer, this attempt.
      const statement: Statement = {
        name: `engram_task_fenced_${set.shape}`,
        text: `UPDATE tasks SET ${set.assignments}
               WHERE id = $1 AND status = 'in_progress' AND claimed_by = $2 AND attempt = $3
               RETURNING ${tasksTable.columnList}`,
        values: [id, claim.agentId, claim.attempt, ...set.values]
      }
      return Effect.flatMap(
        client.rows("replaceIfCurrent", statement, tasksTable.decode),
        (rows): Effect.Effect<FencedWrite, StoreFailure> =>
          rows[0] !== undefined
            ? Effect.succeed({ written: rows[0] })
            : Effect.map(byId("replaceIfCurrent", id), (current) => ({ refused: current }))
      )
    },
    get: (id) => byId("get", id),
    list: (range) => {
      const values: Array<unknown> = [range.limit]
      const where: Array<string> = []
      if (range.status !== undefined) {
        values.push(range.status)
        where.push(`status = $${values.length}`)
      }
      if (range.assignedTo !== undefined) {
        values.push(range.assignedTo)
        where.push(`assigned_to = $${values.length}`)
      }
      if (range.after !== undefined) {
        values.push(range.after[0], range.after[1])
        where.push(`(created_at, id) < ($${values.length - 1}::bigint, $${values.length})`)
      }
      return client.rows("list", {
        text: `${selectFrom(tasksTable)} ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
               ORDER BY created_at DESC, id DESC LIMIT $1`,
        values
      }, tasksTable.decode)
    }
  }
}
