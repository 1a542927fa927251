/** The `tasks` table: one row per task, the same columns in SQLite and PostgreSQL. */
import type { TaskState } from "../core/tasks.js"
import { Task } from "../domain/task.js"
import { recordTable, type Snake } from "./table.js"

export const tasksTable = recordTable({ name: "tasks", fields: Task.fields, key: ["id"] })

type TaskColumn = (typeof tasksTable.columns)[number]

/** The column of each field a transition may set (see `TaskChange` in src/core/tasks.ts). */
export const stateColumns: { readonly [K in keyof TaskState]-?: Snake<K> & TaskColumn } = {
  status: "status",
  claimedBy: "claimed_by",
  leaseExpiresAt: "lease_expires_at",
  result: "result",
  error: "error",
  updatedAt: "updated_at",
  completedAt: "completed_at"
}

/** The columns a transition may change: those of `stateColumns` and the attempt. */
export const transitionColumns: ReadonlyArray<TaskColumn> = [...Object.values(stateColumns), "attempt"]

const transitionPositions = transitionColumns.map((c) => tasksTable.columns.indexOf(c))

/** The statement values of `transitionColumns` for `task`, in that order. */
export const transitionValues = (task: Task): ReadonlyArray<unknown> => {
  const values = tasksTable.values(task)
  return transitionPositions.map((i) => values[i])
}
