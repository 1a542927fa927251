/** The `tasks` table: one row per task, the same columns in SQLite and PostgreSQL. */
import { Schema } from "effect"
import { type Task, TaskStatus } from "../domain/task.js"
import { EpochMillis } from "../domain/time.js"
import type { TaskState } from "../core/tasks.js"
import { storedBrand, table } from "./table.js"

const AgentId = storedBrand("AgentId")

export const TaskRow = Schema.Struct({
  id: storedBrand("TaskId"),
  title: Schema.String,
  description: Schema.String,
  status: TaskStatus,
  priority: Schema.Number,
  assigned_to: Schema.NullOr(AgentId),
  created_by: Schema.NullOr(AgentId),
  claimed_by: Schema.NullOr(AgentId),
  attempt: Schema.Number,
  lease_expires_at: Schema.NullOr(EpochMillis),
  result: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  created_at: EpochMillis,
  updated_at: EpochMillis,
  completed_at: Schema.NullOr(EpochMillis)
})

export const tasksTable = table({
  name: "tasks",
  row: TaskRow,
  key: ["id"],
  fromRow: (r): Task => ({
    id: r.id,
    title: r.title,
    description: r.description,
    status: r.status,
    priority: r.priority,
    assignedTo: r.assigned_to,
    createdBy: r.created_by,
    claimedBy: r.claimed_by,
    attempt: r.attempt,
    leaseExpiresAt: r.lease_expires_at,
    result: r.result,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    completedAt: r.completed_at
  }),
  toRow: (t) => ({
    id: t.id,
    title: t.title,
    description: t.description,
    status: t.status,
    priority: t.priority,
    assigned_to: t.assignedTo,
    created_by: t.createdBy,
    claimed_by: t.claimedBy,
    attempt: t.attempt,
    lease_expires_at: t.leaseExpiresAt,
    result: t.result,
    error: t.error,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    completed_at: t.completedAt
  })
})

/** The column of each field a transition may set (see `TaskChange` in src/core/tasks.ts). */
export const stateColumns: { readonly [K in keyof TaskState]-?: keyof typeof TaskRow.Type & string } = {
  status: "status",
  claimedBy: "claimed_by",
  leaseExpiresAt: "lease_expires_at",
  result: "result",
  error: "error",
  updatedAt: "updated_at",
  completedAt: "completed_at"
}

/** The columns a transition may change: those of `stateColumns` and the attempt. */
export const transitionColumns: ReadonlyArray<keyof typeof TaskRow.Type & string> = [...Object.values(stateColumns), "attempt"]

const transitionPositions = transitionColumns.map((c) => tasksTable.columns.indexOf(c))

/** The statement values of `transitionColumns` for `task`, in that order. */
export const transitionValues = (task: Task): ReadonlyArray<unknown> => {
  const values = tasksTable.values(task)
  return transitionPositions.map((i) => values[i])
}
