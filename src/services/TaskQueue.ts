import { Context, type Effect, type Option } from "effect"
import type { InvalidInput, StaleAttempt, StoreFailure, TaskNotClaimed, TaskNotFound } from "../domain/errors.js"
import type { TaskId } from "../domain/ids.js"
import type { Page } from "../domain/page.js"
import type {
  ClaimOptions,
  CompleteInput,
  FailInput,
  HeartbeatInput,
  Task,
  TaskInput,
  TaskListOptions
} from "../domain/task.js"

type E = InvalidInput | StoreFailure
type Fenced = E | TaskNotFound | TaskNotClaimed | StaleAttempt

/** Work shared between agents, with leases and fencing. */
export class TaskQueue extends Context.Tag("engram/TaskQueue")<TaskQueue, {
  readonly post: (input: TaskInput) => Effect.Effect<TaskId, E>
  /**
   * Atomically take the best task that is pending (or whose lease expired) and assigned to `agentId`
   * or to nobody: priority desc, then createdAt asc. Never hands one task to two live claimers.
   */
  readonly claim: (agentId: string, options?: ClaimOptions) => Effect.Effect<Option.Option<Task>, E>
  /** Extend the lease of the current attempt. */
  readonly heartbeat: (taskId: string, input: HeartbeatInput) => Effect.Effect<Task, Fenced>
  readonly complete: (taskId: string, input: CompleteInput) => Effect.Effect<Task, Fenced>
  /** With `retry` the task returns to pending, otherwise it is failed. */
  readonly fail: (taskId: string, input: FailInput) => Effect.Effect<Task, Fenced>
  readonly get: (taskId: string) => Effect.Effect<Option.Option<Task>, E>
  /** Newest first, paginated. */
  readonly list: (options?: TaskListOptions) => Effect.Effect<Page<Task>, E>
}>() {}
