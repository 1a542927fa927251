/** TaskQueue in memory; the claim, fencing and transition rules come from src/core/tasks.ts. */
import { Clock, Effect, Option } from "effect"
import { decodeCursor, encodeCursor } from "../../core/cursor.js"
import { decode } from "../../core/decode.js"
import { claimable, claimed, claimOrder, completed, failed, fence, heartbeated } from "../../core/tasks.js"
import { TaskNotFound } from "../../domain/errors.js"
import { AgentId, mintTaskId, TaskId } from "../../domain/ids.js"
import {
  ClaimOptions,
  CompleteInput,
  FailInput,
  HeartbeatInput,
  type Task,
  TaskInput,
  TaskListOptions
} from "../../domain/task.js"
import { TaskQueue } from "../../services/TaskQueue.js"
import type { MemoryDb } from "./client.js"

const taskInput = decode(TaskInput, "input")
const agentId = decode(AgentId, "agentId")
const taskId = decode(TaskId, "taskId")
const claimOptions = decode(ClaimOptions, "options")
const heartbeatInput = decode(HeartbeatInput, "input")
const completeInput = decode(CompleteInput, "input")
const failInput = decode(FailInput, "input")
const listOptions = decode(TaskListOptions, "options")

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
      const task = db.tasks.get(id)
      if (task === undefined) return yield* new TaskNotFound({ taskId: id })
      const refused = fence(task, input.agentId, input.attempt)
      if (refused !== undefined) return yield* refused
      const updated = next(task, now)
      db.tasks.set(id, updated)
      return updated
    })

  return TaskQueue.of({
    post: (input) =>
      Effect.gen(function*() {
        const t = yield* taskInput(input)
        const now = yield* Clock.currentTimeMillis
        const id = yield* mintTaskId
        yield* Effect.sync(() =>
          db.tasks.set(id, {
            id,
            title: t.title,
            description: t.description,
            status: "pending",
            priority: t.priority,
            assignedTo: t.assignedTo ?? null,
            createdBy: t.createdBy ?? null,
            claimedBy: null,
            attempt: 0,
            leaseExpiresAt: null,
            result: null,
            error: null,
            createdAt: now,
            updatedAt: now,
            completedAt: null
          })
        )
        return id
      }),
    claim: (a, options) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const o = yield* claimOptions(options ?? {})
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
        const o = yield* listOptions(options ?? {})
        const after = o.cursor === undefined ? undefined : yield* decodeCursor(o.cursor, ["number", "string"])
        const all = [...db.tasks.values()]
          .filter((t) =>
            (o.status === undefined || t.status === o.status) &&
            (o.assignedTo === undefined || t.assignedTo === o.assignedTo) &&
            (after === undefined || t.createdAt < after[0] || (t.createdAt === after[0] && t.id < after[1]))
          )
          .sort(newest)
        const items = all.slice(0, o.limit)
        const last = items[items.length - 1]
        return { items, nextCursor: all.length > o.limit && last !== undefined ? encodeCursor([last.createdAt, last.id]) : null }
      })
  })
}

