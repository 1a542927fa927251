/** TaskQueue's port in memory: each primitive reads and writes inside one `Effect.sync`, so it is atomic. */
import { Effect, Option } from "effect"
import type { TaskPort } from "../../core/taskQueue.js"
import { applyChange, claimable, claimOrder, holds } from "../../core/tasks.js"
import type { Task } from "../../domain/task.js"
import type { MemoryDb } from "./client.js"

/** Newest first: createdAt desc, then id desc. */
const newest = (a: Task, b: Task) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

export const port = (db: MemoryDb): TaskPort => ({
  backend: "memory",
  insert: (task) =>
    Effect.sync(() => {
      db.tasks.set(task.id, task)
    }),
  claimBest: (agent, now, change) =>
    Effect.sync(() => {
      let best: Task | undefined
      for (const t of db.tasks.values()) {
        if (claimable(t, agent, now) && (best === undefined || claimOrder(t, best) < 0)) best = t
      }
      if (best === undefined) return Option.none()
      const task = applyChange(best, change)
      db.tasks.set(task.id, task)
      return Option.some(task)
    }),
  replaceIfCurrent: (id, claim, change) =>
    Effect.sync(() => {
      const current = db.tasks.get(id)
      if (current === undefined || !holds(current, claim)) return { refused: Option.fromNullable(current) }
      const task = applyChange(current, change)
      db.tasks.set(id, task)
      return { written: task }
    }),
  get: (id) => Effect.sync(() => Option.fromNullable(db.tasks.get(id))),
  list: (range) =>
    Effect.sync(() => {
      const { after } = range
      return [...db.tasks.values()]
        .filter((t) =>
          (range.status === undefined || t.status === range.status) &&
          (range.assignedTo === undefined || t.assignedTo === range.assignedTo) &&
          (after === undefined || t.createdAt < after[0] || (t.createdAt === after[0] && t.id < after[1]))
        )
        .sort(newest)
        .slice(0, range.limit)
    })
})
