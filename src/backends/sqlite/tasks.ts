/**
 * TaskQueue's port on SQLite. A claim reads the best claimable row and writes the claimed task in one
 * `BEGIN IMMEDIATE` transaction: SQLite admits one writer at a time, across processes, so two
 * claimers can never take the same task. A fenced write reads the row, checks the claim with the
 * core's `holds` and writes, in one such transaction as well.
 */
import { Option } from "effect"
import type { TaskPort } from "../../core/taskQueue.js"
import { applyChange, claimable, holds } from "../../core/tasks.js"
import type { Task } from "../../domain/task.js"
import { insertInto, selectFrom } from "../../tables/table.js"
import { tasksTable, transitionColumns, transitionValues } from "../../tables/tasks.js"
import { attempt, type SqliteConnection } from "./client.js"

/** The port over `conn`; prepares its statements (and so may throw, at layer build). */
export const port = (conn: SqliteConnection): TaskPort => {
  const byId = conn.db.prepare(`${selectFrom(tasksTable)} WHERE id = ?`)
  // The core's `claimable` and `claimOrder` in SQL, over the index of open tasks.
  const best = conn.db.prepare(
    `${selectFrom(tasksTable)}
     WHERE status IN ('pending', 'in_progress')
       AND (assigned_to IS NULL OR assigned_to = ?)
       AND (status = 'pending' OR (lease_expires_at IS NOT NULL AND lease_expires_at <= ?))
     ORDER BY priority DESC, created_at, id LIMIT 1`
  )
  // Only the columns a transition changes, so the indexes on the others are left alone.
  const write = conn.db.prepare(`UPDATE tasks SET ${transitionColumns.map((c) => `${c} = ?`).join(", ")} WHERE id = ?`)
  const insert = conn.db.prepare(insertInto(tasksTable, "sqlite"))

  const read = (id: string): Task | undefined => {
    const row = byId.get(id)
    return row === undefined ? undefined : tasksTable.decode(row)
  }
  const store = (t: Task): void => {
    write.run(...transitionValues(t), t.id)
  }

  const listSql = (status: boolean, assignedTo: boolean, after: boolean) =>
    `${selectFrom(tasksTable)} WHERE 1 = 1` +
    (status ? ` AND status = ?` : "") +
    (assignedTo ? ` AND assigned_to = ?` : "") +
    (after ? ` AND (created_at < ? OR (created_at = ? AND id < ?))` : "") +
    ` ORDER BY created_at DESC, id DESC LIMIT ?`

  return {
    backend: "sqlite",
    insert: (task) =>
      attempt("post", () => {
        insert.run(...tasksTable.values(task))
      }),
    claimBest: (agent, now, change) =>
      attempt("claim", () =>
        conn.immediate(() => {
          const row = best.get(agent, now)
          if (row === undefined) return Option.none<Task>()
          const task = tasksTable.decode(row)
          // The SQL above is the core's rule; if they ever disagree, fail loudly rather than hand it out.
          if (!claimable(task, agent, now)) throw new Error(`claim selected task ${task.id}, which is not claimable`)
          const next = applyChange(task, change)
          store(next)
          return Option.some(next)
        })),
    replaceIfCurrent: (id, claim, change) =>
      attempt("replaceIfCurrent", () =>
        conn.immediate(() => {
          const current = read(id)
          if (current === undefined || !holds(current, claim)) return { refused: Option.fromNullable(current) }
          const next = applyChange(current, change)
          store(next)
          return { written: next }
        })),
    get: (id) => attempt("get", () => Option.fromNullable(read(id))),
    list: (range) =>
      attempt("list", () => {
        const params: Array<unknown> = []
        if (range.status !== undefined) params.push(range.status)
        if (range.assignedTo !== undefined) params.push(range.assignedTo)
        if (range.after !== undefined) params.push(range.after[0], range.after[0], range.after[1])
        params.push(range.limit)
        const sql = listSql(range.status !== undefined, range.assignedTo !== undefined, range.after !== undefined)
        return conn.all(sql, params).map(tasksTable.decode)
      })
  }
}
