/**
 * TaskQueue written once: decoding, the Clock, ids, the transitions (src/core/tasks.ts), paging,
 * refusals and instrumentation live here; a backend provides `TaskPort`, the storage primitives over
 * decoded values, each atomic with the backend's own isolation.
 */
import { Clock, type Context, Effect, Option } from "effect"
import type { BackendName, InvalidInput, StoreFailure } from "../domain/errors.js"
import { type AgentId, mintTaskId, type TaskId } from "../domain/ids.js"
import type { Task, TaskStatus } from "../domain/task.js"
import { TaskQueue } from "../services/TaskQueue.js"
import { decodeCursor, pageOf } from "./cursor.js"
import { taskInputs } from "./inputs.js"
import { instrumentService } from "./instrument.js"
import {
  type Claim,
  claimChange,
  completeChange,
  failChange,
  heartbeatChange,
  posted,
  refusal,
  type TaskChange,
  type TaskRefusal
} from "./tasks.js"

const { agentId, claimOptions, completeInput, failInput, heartbeatInput, listOptions, taskId, taskInput } = taskInputs

/**
 * The outcome of a fenced write: the task as written, or — when the caller does not hold the task's
 * current claim — the task as it stands (none when there is no such task).
 */
export type FencedWrite =
  | { readonly written: Task }
  | { readonly refused: Option.Option<Task> }

/** What `list` asks of a backend: newest first (createdAt desc, id desc), after `after`, filtered. */
export interface TaskRange {
  readonly status: TaskStatus | undefined
  readonly assignedTo: AgentId | undefined
  /** The (createdAt, id) of the last task of the previous page. */
  readonly after: readonly [number, string] | undefined
  readonly limit: number
}

/** The storage primitives of TaskQueue. Every argument is already decoded. */
export interface TaskPort {
  readonly backend: BackendName
  readonly insert: (task: Task) => Effect.Effect<void, StoreFailure>
  /**
   * Atomically take the best task `agentId` may claim at `now` (core `claimable`, in `claimOrder`)
   * and apply `change` to it; none when there is no such task. No task is ever taken by two claimers,
   * across processes.
   */
  readonly claimBest: (
    agentId: AgentId,
    now: number,
    change: TaskChange
  ) => Effect.Effect<Option.Option<Task>, StoreFailure>
  /**
   * Atomically apply `change` to the task stored under `id` if `claim` is its current claim (core
   * `fence` lets it through); otherwise write nothing and report the task as it stands.
   */
  readonly replaceIfCurrent: (id: TaskId, claim: Claim, change: TaskChange) => Effect.Effect<FencedWrite, StoreFailure>
  readonly get: (id: TaskId) => Effect.Effect<Option.Option<Task>, StoreFailure>
  /** At most `limit` tasks of the range. */
  readonly list: (range: TaskRange) => Effect.Effect<ReadonlyArray<Task>, StoreFailure>
}

/** TaskQueue over a backend's port. */
export const makeTaskQueue = (port: TaskPort): Context.Tag.Service<typeof TaskQueue> => {
  /**
   * A fenced transition (heartbeat, complete, fail): the task after the change made from the decoded
   * input, or why the caller may not make it.
   */
  const fenced =
    <I extends Claim>(
      decodeInput: (input: unknown) => Effect.Effect<I, InvalidInput>,
      change: (input: I, now: number) => TaskChange
    ) =>
    (i: string, input: unknown): Effect.Effect<Task, InvalidInput | StoreFailure | TaskRefusal> =>
      Effect.gen(function*() {
        const id = yield* taskId(i)
        const claim = yield* decodeInput(input)
        const written = yield* port.replaceIfCurrent(id, claim, change(claim, yield* Clock.currentTimeMillis))
        if ("written" in written) return written.written
        return yield* refusal(id, Option.getOrUndefined(written.refused), claim)
      })

  return instrumentService(TaskQueue, port.backend, { claim: 0 })({
    post: (input) =>
      Effect.gen(function*() {
        const t = yield* taskInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = yield* mintTaskId
        yield* port.insert(posted(id, t, now))
        return id
      }),
    claim: (a, options) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const o = yield* claimOptions(options)
        const now = yield* Clock.currentTimeMillis
        return yield* port.claimBest(agent, now, claimChange(agent, o.leaseMs, now))
      }),
    heartbeat: fenced(heartbeatInput, (h, now) => heartbeatChange(h.leaseMs, now)),
    complete: fenced(completeInput, (c, now) => completeChange(c.result, now)),
    fail: fenced(failInput, (f, now) => failChange(f.error, f.retry, now)),
    get: (i) => Effect.flatMap(taskId(i), port.get),
    list: (options) =>
      Effect.gen(function*() {
        const o = yield* listOptions(options)
        const after = o.cursor === undefined ? undefined : yield* decodeCursor(o.cursor, ["number", "string"])
        // One task more than the page tells whether there is a next page.
        const rows = yield* port.list({ status: o.status, assignedTo: o.assignedTo, after, limit: o.limit + 1 })
        return pageOf(rows, o.limit, (last) => [last.createdAt, last.id])
      })
  })
}
