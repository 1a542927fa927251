/**
 * Task-queue rules (SPEC §2.7), shared by every backend: who may claim what, the order of claims,
 * fencing by attempt, and the state each transition produces. SQL backends express `claimable` and
 * `claimOrder` in SQL; the fencing check and transitions are applied here to the row they locked.
 */
import { StaleAttempt, TaskNotClaimed } from "../domain/errors.js"
import type { Task } from "../domain/task.js"

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
