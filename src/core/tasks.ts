/**
 * Task-queue rules (SPEC §2.7), shared by every backend: who may claim what, the order of claims,
 * fencing by attempt, and the state each transition produces. SQL backends express `claimable` and
 * `claimOrder` in SQL; the fencing check and transitions are applied here to the row they locked.
 */
import { StaleAttempt, TaskNotClaimed, TaskNotFound } from "../domain/errors.js"
import type { TaskId } from "../domain/ids.js"
import type { Task, TaskInput } from "../domain/task.js"

/** A newly posted task: pending, never claimed, created and updated now. */
export const posted = (id: TaskId, input: typeof TaskInput.Type, now: number): Task => ({
  id,
  title: input.title,
  description: input.description,
  status: "pending",
  priority: input.priority,
  assignedTo: input.assignedTo ?? null,
  createdBy: input.createdBy ?? null,
  claimedBy: null,
  attempt: 0,
  leaseExpiresAt: null,
  result: null,
  error: null,
  createdAt: now,
  updatedAt: now,
  completedAt: null
})

/** True when `agentId` may claim `task` at `now`: pending, or in progress with an expired lease. */
export const claimable = (task: Task, agentId: string, now: number): boolean =>
  (task.assignedTo === null || task.assignedTo === agentId) &&
  (task.status === "pending" ||
    (task.status === "in_progress" && task.leaseExpiresAt !== null && task.leaseExpiresAt <= now))

/** Claim order: priority desc, then createdAt asc, then id asc. */
export const claimOrder = (a: Task, b: Task): number =>
  b.priority - a.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** The task after `agentId` claims it. */
export const claimed = (task: Task, agentId: string, leaseMs: number, now: number): Task => ({
  ...task,
  status: "in_progress",
  claimedBy: agentId as Task["claimedBy"],
  attempt: task.attempt + 1,
  leaseExpiresAt: now + leaseMs,
  updatedAt: now
})

/**
 * Fencing: a heartbeat, completion or failure is accepted only from the current claimer with the
 * current attempt. An earlier attempt is stale (its lease was lost to a later claim); anything else
 * that is not the current claim — a task not in progress, another claimer, or an attempt number
 * that was never handed out — is not claimed by the caller.
 */
export const fence = (
  task: Task,
  agentId: string,
  attempt: number
): StaleAttempt | TaskNotClaimed | undefined => {
  if (attempt < task.attempt) {
    return new StaleAttempt({ taskId: task.id, attempt, currentAttempt: task.attempt })
  }
  if (attempt !== task.attempt || task.status !== "in_progress" || task.claimedBy !== agentId) {
    return new TaskNotClaimed({ taskId: task.id, agentId, status: task.status })
  }
  return undefined
}

/** Why a heartbeat, completion or failure was refused. */
export type TaskRefusal = TaskNotFound | StaleAttempt | TaskNotClaimed

export const isRefusal = (r: Task | TaskRefusal): r is TaskRefusal =>
  r instanceof TaskNotFound || r instanceof StaleAttempt || r instanceof TaskNotClaimed

/**
 * A fenced transition of the task stored under `id` (`task`, undefined when there is none): the
 * task after `next` when the caller holds its current claim, otherwise the refusal. Backends that
 * read the row and write it back under one lock apply this to the row they read.
 */
export const fencedTransition = (
  id: string,
  task: Task | undefined,
  caller: { readonly agentId: string; readonly attempt: number },
  next: (task: Task) => Task
): Task | TaskRefusal =>
  task === undefined ? new TaskNotFound({ taskId: id }) : fence(task, caller.agentId, caller.attempt) ?? next(task)

export const heartbeated = (task: Task, leaseMs: number, now: number): Task => ({
  ...task,
  leaseExpiresAt: now + leaseMs,
  updatedAt: now
})

export const completed = (task: Task, result: string, now: number): Task => ({
  ...task,
  status: "completed",
  result,
  leaseExpiresAt: null,
  updatedAt: now,
  completedAt: now
})

/** With retry the task returns to pending (its attempt count is kept); otherwise it is failed. */
export const failed = (task: Task, error: string, retry: boolean, now: number): Task =>
  retry
    ? { ...task, status: "pending", claimedBy: null, leaseExpiresAt: null, error, updatedAt: now }
    : { ...task, status: "failed", leaseExpiresAt: null, error, updatedAt: now, completedAt: now }
