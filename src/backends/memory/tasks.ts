/** TaskQueue in memory; the claim, fencing and transition rules come from src/core/tasks.ts. */
import { Clock, Effect, Option } from "effect"
import { decodeCursor, pageOf } from "../../core/cursor.js"
import { taskInputs } from "../../core/inputs.js"
import {
  claimable,
  claimed,
  claimOrder,
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
import type { MemoryDb } from "./client.js"

const { agentId, claimOptions, completeInput, failInput, heartbeatInput, listOptions, taskId, taskInput } = taskInputs

/** Newest first: createdAt desc, then id desc. */
const newest = (a: Task, b: Task) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

export const make = (db: MemoryDb) => {
  /** Apply a fenced transition to a task atomically. */
  const fenced = <I extends { readonly agentId: string; readonly attempt: number }>(
    id: string,
    input: I,
    next: (task: Task, now: number) => Task
  ) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const result = fencedTransition(id, db.tasks.get(id), input, (task) => next(task, now))
      if (isRefusal(result)) return yield* result
      db.tasks.set(id, result)
      return result
    })

  return TaskQueue.of({
    post: (input) =>
      Effect.gen(function*() {
        const t = yield* taskInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = yield* mintTaskId
        yield* Effect.sync(() => db.tasks.set(id, posted(id, t, now)))
        return id
      }),
    claim: (a, options) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const o = yield* claimOptions(options)
        const now = yield* Clock.currentTimeMillis
        return yield* Effect.sync(() => {
          const best = [...db.tasks.values()].filter((t) => claimable(t, agent, now)).sort(claimOrder)[0]
          if (best === undefined) return Option.none()
          const task = claimed(best, agent, o.leaseMs, now)
          db.tasks.set(task.id, task)
          return Option.some(task)
        })
      }),
    heartbeat: (i, input) =>
      Effect.gen(function*() {
        const [id, h] = [yield* taskId(i), yield* heartbeatInput(input)]
        return yield* fenced(id, h, (t, now) => heartbeated(t, h.leaseMs, now))
      }),
    complete: (i, input) =>
      Effect.gen(function*() {
        const [id, c] = [yield* taskId(i), yield* completeInput(input)]
        return yield* fenced(id, c, (t, now) => completed(t, c.result, now))
      }),
    fail: (i, input) =>
      Effect.gen(function*() {
        const [id, f] = [yield* taskId(i), yield* failInput(input)]
        return yield* fenced(id, f, (t, now) => failed(t, f.error, f.retry, now))
      }),
    get: (i) => Effect.map(taskId(i), (id) => Option.fromNullable(db.tasks.get(id))),
    list: (options) =>
      Effect.gen(function*() {
        const o = yield* listOptions(options)
        const after = o.cursor === undefined ? undefined : yield* decodeCursor(o.cursor, ["number", "string"])
        const all = [...db.tasks.values()]
          .filter((t) =>
            (o.status === undefined || t.status === o.status) &&
            (o.assignedTo === undefined || t.assignedTo === o.assignedTo) &&
            (after === undefined || t.createdAt < after[0] || (t.createdAt === after[0] && t.id < after[1]))
          )
          .sort(newest)
        return pageOf(all, o.limit, (last) => [last.createdAt, last.id])
      })
  })
}

