/**
 * TaskQueue on PostgreSQL. A claim is one statement: the best claimable row is locked with
 * `FOR UPDATE SKIP LOCKED` (concurrent claimers in any process skip it instead of waiting or taking
 * it twice) and updated in the same statement. Heartbeat, complete and fail are one conditional
 * UPDATE each, accepted only for the current claimer and attempt (fencing); when it matches nothing,
 * the row is read back and src/core/tasks.ts `fence` says why.
 */
import { Clock, Effect, Option } from "effect"
import { decodeCursor, pageOf } from "../../core/cursor.js"
import { taskInputs } from "../../core/inputs.js"
import { fence } from "../../core/tasks.js"
import { TaskNotClaimed, TaskNotFound } from "../../domain/errors.js"
import { mintTaskId } from "../../domain/ids.js"
import type { Task } from "../../domain/task.js"
import { TaskQueue } from "../../services/TaskQueue.js"
import type { PgClient } from "./client.js"

const { agentId, claimOptions, completeInput, failInput, heartbeatInput, listOptions, taskId, taskInput } = taskInputs

export interface TaskRow {
  id: string
  title: string
  description: string
  status: string
  priority: number
  assigned_to: string | null
  created_by: string | null
  claimed_by: string | null
  attempt: number
  lease_expires_at: number | null
  result: string | null
  error: string | null
  created_at: number
  updated_at: number
  completed_at: number | null
}

export const TASK_COLUMNS = "id, title, description, status, priority, assigned_to, created_by, claimed_by, attempt, " +
  "lease_expires_at, result, error, created_at, updated_at, completed_at"

export const toTask = (r: TaskRow): Task => ({
  id: r.id as Task["id"],
  title: r.title,
  description: r.description,
  status: r.status as Task["status"],
  priority: r.priority,
  assignedTo: r.assigned_to as Task["assignedTo"],
  createdBy: r.created_by as Task["createdBy"],
  claimedBy: r.claimed_by as Task["claimedBy"],
  attempt: r.attempt,
  leaseExpiresAt: r.lease_expires_at,
  result: r.result,
  error: r.error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  completedAt: r.completed_at
})

export const make = (client: PgClient) => {
  /**
   * Apply a transition (`set`, SQL assignments using $4.. for its values) to the task if `agentId`
   * holds its current attempt; otherwise report why with the core's fencing rule.
   */
  const fenced = (
    operation: string,
    id: string,
    input: { readonly agentId: string; readonly attempt: number },
    set: string,
    values: ReadonlyArray<unknown>
  ) =>
    Effect.gen(function*() {
      const rows = yield* client.query<TaskRow>(operation, {
        text: `UPDATE tasks SET ${set}
               WHERE id = $1 AND status = 'in_progress' AND claimed_by = $2 AND attempt = $3
               RETURNING ${TASK_COLUMNS}`,
        values: [id, input.agentId, input.attempt, ...values]
      })
      if (rows[0] !== undefined) return toTask(rows[0])
      const current = yield* client.query<TaskRow>(operation, { text: `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`, values: [id] })
      if (current[0] === undefined) return yield* new TaskNotFound({ taskId: id })
      const task = toTask(current[0])
      // Attempts only grow, so a claim the UPDATE did not match cannot have become current since;
      // `fence` always refuses here, and the fallback only keeps the types total.
      return yield* fence(task, input.agentId, input.attempt) ??
        new TaskNotClaimed({ taskId: id, agentId: input.agentId, status: task.status })
    })

  return TaskQueue.of({
    post: (input) =>
      Effect.gen(function*() {
        const t = yield* taskInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = yield* mintTaskId
        yield* client.execute("TaskQueue.post", {
          text: `INSERT INTO tasks (id, title, description, status, priority, assigned_to, created_by, claimed_by,
                                    attempt, lease_expires_at, result, error, created_at, updated_at, completed_at)
                 VALUES ($1, $2, $3, 'pending', $4, $5, $6, NULL, 0, NULL, NULL, NULL, $7, $7, NULL)`,
          values: [id, t.title, t.description, t.priority, t.assignedTo ?? null, t.createdBy ?? null, now]
        })
        return id
      }),
    claim: (a, options) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const o = yield* claimOptions(options)
        const now = yield* Clock.currentTimeMillis
        // The SQL form of core `claimable` and `claimOrder`; `claimed` is the SET list.
        const rows = yield* client.query<TaskRow>("TaskQueue.claim", {
          text: `UPDATE tasks SET status = 'in_progress', claimed_by = $1, attempt = attempt + 1,
                   lease_expires_at = $2::bigint + $3::bigint, updated_at = $2
                 WHERE id = (
                   SELECT id FROM tasks
                   WHERE (assigned_to IS NULL OR assigned_to = $1)
                     AND (status = 'pending' OR (status = 'in_progress' AND lease_expires_at <= $2))
                   ORDER BY priority DESC, created_at, id
                   LIMIT 1
                   FOR UPDATE SKIP LOCKED
                 )
                 RETURNING ${TASK_COLUMNS}`,
          values: [agent, now, o.leaseMs]
        })
        return Option.map(Option.fromNullable(rows[0]), toTask)
      }),
    heartbeat: (i, input) =>
      Effect.gen(function*() {
        const [id, h] = [yield* taskId(i), yield* heartbeatInput(input)]
        const now = yield* Clock.currentTimeMillis
        return yield* fenced("TaskQueue.heartbeat", id, h, "lease_expires_at = $4::bigint + $5::bigint, updated_at = $4", [
          now,
          h.leaseMs
        ])
      }),
    complete: (i, input) =>
      Effect.gen(function*() {
        const [id, c] = [yield* taskId(i), yield* completeInput(input)]
        const now = yield* Clock.currentTimeMillis
        return yield* fenced(
          "TaskQueue.complete",
          id,
          c,
          "status = 'completed', result = $4, lease_expires_at = NULL, updated_at = $5, completed_at = $5",
          [c.result, now]
        )
      }),
    fail: (i, input) =>
      Effect.gen(function*() {
        const [id, f] = [yield* taskId(i), yield* failInput(input)]
        const now = yield* Clock.currentTimeMillis
        // core `failed`: with retry back to pending (attempt kept), otherwise failed for good.
        return yield* fenced(
          "TaskQueue.fail",
          id,
          f,
          f.retry
            ? "status = 'pending', claimed_by = NULL, lease_expires_at = NULL, error = $4, updated_at = $5"
            : "status = 'failed', lease_expires_at = NULL, error = $4, updated_at = $5, completed_at = $5",
          [f.error, now]
        )
      }),
    get: (i) =>
      Effect.gen(function*() {
        const id = yield* taskId(i)
        const rows = yield* client.query<TaskRow>("TaskQueue.get", { text: `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`, values: [id] })
        return Option.map(Option.fromNullable(rows[0]), toTask)
      }),
    list: (options) =>
      Effect.gen(function*() {
        const o = yield* listOptions(options)
        const after = o.cursor === undefined ? undefined : yield* decodeCursor(o.cursor, ["number", "string"])
        const values: Array<unknown> = [o.limit + 1]
        const where: Array<string> = []
        if (o.status !== undefined) {
          values.push(o.status)
          where.push(`status = $${values.length}`)
        }
        if (o.assignedTo !== undefined) {
          values.push(o.assignedTo)
          where.push(`assigned_to = $${values.length}`)
        }
        if (after !== undefined) {
          values.push(after[0], after[1])
          where.push(`(created_at, id) < ($${values.length - 1}::bigint, $${values.length})`)
        }
        const rows = yield* client.query<TaskRow>("TaskQueue.list", {
          text: `SELECT ${TASK_COLUMNS} FROM tasks ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
                 ORDER BY created_at DESC, id DESC LIMIT $1`,
          values
        })
        return pageOf(rows.map(toTask), o.limit, (last) => [last.createdAt, last.id])
      })
  })
}
