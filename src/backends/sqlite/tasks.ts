/**
 * TaskQueue on SQLite. A claim reads the best claimable row and writes the core's `claimed` state in
 * one `BEGIN IMMEDIATE` transaction: SQLite admits one writer at a time, across processes, so two
 * claimers can never take the same task. Fenced transitions (heartbeat, complete, fail) read the row,
 * apply the core's `fence` and transition, and write, in one transaction as well.
 */
import { Clock, Effect, Option } from "effect"
import { decodeCursor, pageOf } from "../../core/cursor.js"
import { taskInputs } from "../../core/inputs.js"
import {
  claimable,
  claimed,
  completed,
  failed,
  fencedTransition,
  heartbeated,
  isRefusal,
  posted
} from "../../core/tasks.js"
import { mintTaskId } from "../../domain/ids.js"
import type { Task } from "../../domain/task.js"
import { TaskQueue } from "../../services/TaskQueue.js"
import { attempt, type SqliteConnection } from "./client.js"

const { agentId, claimOptions, completeInput, failInput, heartbeatInput, listOptions, taskId, taskInput } = taskInputs

export interface TaskRow {
  readonly id: string
  readonly title: string
  readonly description: string
  readonly status: string
  readonly priority: number
  readonly assigned_to: string | null
  readonly created_by: string | null
  readonly claimed_by: string | null
  readonly attempt: number
  readonly lease_expires_at: number | null
  readonly result: string | null
  readonly error: string | null
  readonly created_at: number
  readonly updated_at: number
  readonly completed_at: number | null
}

export const TASK_COLUMNS =
  "id, title, description, status, priority, assigned_to, created_by, claimed_by, attempt, lease_expires_at, result, error, created_at, updated_at, completed_at"

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

/** The service over `conn`; prepares its statements (and so may throw, at layer build). */
export const make = (conn: SqliteConnection) => {
  const byId = conn.db.prepare(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`)
  // The core's `claimable` and `claimOrder` in SQL, over the index of open tasks.
  const best = conn.db.prepare(
    `SELECT ${TASK_COLUMNS} FROM tasks
     WHERE status IN ('pending', 'in_progress')
       AND (assigned_to IS NULL OR assigned_to = ?)
       AND (status = 'pending' OR (lease_expires_at IS NOT NULL AND lease_expires_at <= ?))
     ORDER BY priority DESC, created_at, id LIMIT 1`
  )
  const write = conn.db.prepare(
    `UPDATE tasks SET status = ?, claimed_by = ?, attempt = ?, lease_expires_at = ?, result = ?, error = ?,
       updated_at = ?, completed_at = ? WHERE id = ?`
  )
  const insert = conn.db.prepare(`INSERT INTO tasks (${TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)

  const store = (t: Task): void => {
    write.run(t.status, t.claimedBy, t.attempt, t.leaseExpiresAt, t.result, t.error, t.updatedAt, t.completedAt, t.id)
  }

  /** Apply a fenced transition atomically; the refusal, if any, is returned as a value. */
  const fenced = (
    operation: string,
    id: string,
    input: { readonly agentId: string; readonly attempt: number },
    next: (task: Task, now: number) => Task
  ) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const result = yield* attempt(operation, () =>
        conn.immediate(() => {
          const row = byId.get(id) as TaskRow | undefined
          const result = fencedTransition(id, row === undefined ? undefined : toTask(row), input, (task) => next(task, now))
          if (!isRefusal(result)) store(result)
          return result
        }))
      if (isRefusal(result)) return yield* result
      return result
    })

  return TaskQueue.of({
    post: (input) =>
      Effect.gen(function*() {
        const t = yield* taskInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = yield* mintTaskId
        const task = posted(id, t, now)
        yield* attempt("TaskQueue.post", () =>
          insert.run(
            task.id,
            task.title,
            task.description,
            task.status,
            task.priority,
            task.assignedTo,
            task.createdBy,
            task.claimedBy,
            task.attempt,
            task.leaseExpiresAt,
            task.result,
            task.error,
            task.createdAt,
            task.updatedAt,
            task.completedAt
          ))
        return id
      }),
    claim: (a, options) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const o = yield* claimOptions(options)
        const now = yield* Clock.currentTimeMillis
        return yield* attempt("TaskQueue.claim", () =>
          conn.immediate(() => {
            const row = best.get(agent, now) as TaskRow | undefined
            if (row === undefined) return Option.none<Task>()
            const task = toTask(row)
            // The SQL is the core's rule; if they ever disagree, fail loudly rather than hand it out.
            if (!claimable(task, agent, now)) throw new Error(`claim selected task ${task.id}, which is not claimable`)
            const next = claimed(task, agent, o.leaseMs, now)
            store(next)
            return Option.some(next)
          }))
      }),
    heartbeat: (i, input) =>
      Effect.gen(function*() {
        const [id, h] = [yield* taskId(i), yield* heartbeatInput(input)]
        return yield* fenced("TaskQueue.heartbeat", id, h, (t, now) => heartbeated(t, h.leaseMs, now))
      }),
    complete: (i, input) =>
      Effect.gen(function*() {
        const [id, c] = [yield* taskId(i), yield* completeInput(input)]
        return yield* fenced("TaskQueue.complete", id, c, (t, now) => completed(t, c.result, now))
      }),
    fail: (i, input) =>
      Effect.gen(function*() {
        const [id, f] = [yield* taskId(i), yield* failInput(input)]
        return yield* fenced("TaskQueue.fail", id, f, (t, now) => failed(t, f.error, f.retry, now))
      }),
    get: (i) =>
      Effect.flatMap(taskId(i), (id) =>
        attempt("TaskQueue.get", () => Option.map(Option.fromNullable(byId.get(id) as TaskRow | undefined), toTask))),
    list: (options) =>
      Effect.gen(function*() {
        const o = yield* listOptions(options)
        const after = o.cursor === undefined ? undefined : yield* decodeCursor(o.cursor, ["number", "string"])
        const params: Array<unknown> = []
        let where = ""
        if (o.status !== undefined) {
          where += " AND status = ?"
          params.push(o.status)
        }
        if (o.assignedTo !== undefined) {
          where += " AND assigned_to = ?"
          params.push(o.assignedTo)
        }
        if (after !== undefined) {
          where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
          params.push(after[0], after[0], after[1])
        }
        params.push(o.limit + 1)
        const rows = yield* attempt("TaskQueue.list", () =>
          conn.all<TaskRow>(
            `SELECT ${TASK_COLUMNS} FROM tasks WHERE 1 = 1${where} ORDER BY created_at DESC, id DESC LIMIT ?`,
            params
          ))
        return pageOf(rows.map(toTask), o.limit, (last) => [last.createdAt, last.id])
      })
  })
}
