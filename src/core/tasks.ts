/**
 * Task-queue rules, shared by every backend: who may claim what, the order of claims, fencing by
 * attempt, and what each transition changes.
 *
 * A transition is a `TaskChange`: the fields it sets, all known before the task is read, plus — for
 * a claim only — the start of the next attempt. Written this way a transition is computed once, here,
 * and a SQL backend still applies it in the single statement that checks it may (a conditional
 * UPDATE), while a backend that reads the task first applies it with `applyChange`.
 */
import { StaleAttempt, TaskNotClaimed, TaskNotFound } from "../domain/errors.js"
import type { AgentId, TaskId } from "../domain/ids.js"
import type { Task, TaskInput } from "../domain/task.js"

/**
 * A newly posted task: the posted fields as decoded (so a field with a default in `TaskInput` and the
 * same name in `Task` needs no line here), pending, never claimed, created and updated now.
 */
export const posted = (id: TaskId, input: typeof TaskInput.Type, now: number): Task => ({
  ...input,
  id,
  status: "pending",
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

/** The fields of a task that transitions set. */
export type TaskState = Pick<
  Task,
  "status" | "claimedBy" | "leaseExpiresAt" | "result" | "error" | "updatedAt" | "completedAt"
>

/** A transition: the fields it sets and whether it starts the next attempt (only a claim does). */
export interface TaskChange {
  readonly set: Partial<TaskState>
  readonly nextAttempt: boolean
}

/** `task` after `change`. */
export const applyChange = (task: Task, change: TaskChange): Task => ({
  ...task,
  ...change.set,
  attempt: change.nextAttempt ? task.attempt + 1 : task.attempt
})

/** A claim by `agentId`: in progress, leased until now + leaseMs, the next attempt. */
export const claimChange = (agentId: AgentId, leaseMs: number, now: number): TaskChange => ({
  set: { status: "in_progress", claimedBy: agentId, leaseExpiresAt: now + leaseMs, updatedAt: now },
  nextAttempt: true
})

/** A heartbeat: the lease now runs until now + leaseMs. */
export const heartbeatChange = (leaseMs: number, now: number): TaskChange => ({
  set: { leaseExpiresAt: now + leaseMs, updatedAt: now },
  nextAttempt: false
})

/** A completion: completed with `result`, no lease. */
export const completeChange = (result: string, now: number): TaskChange => ({
  set: { status: "completed", result, leaseExpiresAt: null, updatedAt: now, completedAt: now },
  nextAttempt: false
})

/** A failure: with retry the task returns to pending (its attempt count is kept); otherwise it is failed. */
export const failChange = (error: string, retry: boolean, now: number): TaskChange => ({
  set: retry
    ? { status: "pending", claimedBy: null, leaseExpiresAt: null, error, updatedAt: now }
    : { status: "failed", leaseExpiresAt: null, error, updatedAt: now, completedAt: now },
  nextAttempt: false
})

/** Who asks for a fenced transition: the claimer and the attempt it holds. */
export interface Claim {
  readonly agentId: AgentId
  readonly attempt: number
}

/**
 * Fencing: a heartbeat, completion or failure is accepted only from the current claimer with the
 * current attempt. An earlier attempt is stale (its lease was lost to a later claim); anything else
 * that is not the current claim — a task not in progress, another claimer, or an attempt number
 * that was never handed out — is not claimed by the caller.
 */
export const fence = (task: Task, claim: Claim): StaleAttempt | TaskNotClaimed | undefined => {
  if (claim.attempt < task.attempt) {
    return new StaleAttempt({ taskId: task.id, attempt: claim.attempt, currentAttempt: task.attempt })
  }
  if (claim.attempt !== task.attempt || task.status !== "in_progress" || task.claimedBy !== claim.agentId) {
    return new TaskNotClaimed({ taskId: task.id, agentId: claim.agentId, status: task.status })
  }
  return undefined
}

/** True when `claim` is the current claim of `task` (the fence lets it through). */
export const holds = (task: Task, claim: Claim): boolean => fence(task, claim) === undefined

/** Why a heartbeat, completion or failure was refused. */
export type TaskRefusal = TaskNotFound | StaleAttempt | TaskNotClaimed

/**
 * Why `claim` was refused on the task stored under `id` as it stood (`current`, undefined when there
 * is none). A refusal read back after a conditional write that did not apply can find the claim
 * current again only if the caller named an attempt before it was handed out; at the time of the
 * write the caller did not hold the task, hence the fallback.
 */
export const refusal = (id: TaskId, current: Task | undefined, claim: Claim): TaskRefusal =>
  current === undefined
    ? new TaskNotFound({ taskId: id })
    : fence(current, claim) ?? new TaskNotClaimed({ taskId: id, agentId: claim.agentId, status: current.status })
