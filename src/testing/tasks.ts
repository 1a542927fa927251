/** TaskQueue conformance (the contract is the JSDoc of src/services/TaskQueue.ts). */
import { assert } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import type { AgentId, TaskId } from "../domain/ids.js"
import type { ClaimOptions, Task, TaskListOptions } from "../domain/task.js"
import { TaskQueue } from "../services/TaskQueue.js"
import { conformance, expectInvalidInputs, sorted } from "./harness.js"

type Queue = TaskQueue["Type"]

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** A well-formed task id no store has minted. */
const UNKNOWN_TASK = "00000000-0000-7000-8000-000000000000"

const agent = (id: string) => id as AgentId

/** Claim and insist that something was claimed (the claim itself is what most tests set up). */
const mustClaim = (q: Queue, agentId: string, options?: ClaimOptions) =>
  Effect.map(q.claim(agentId, options), (claimed) => {
    assert.isTrue(Option.isSome(claimed), `${agentId} should claim a task`)
    return Option.getOrThrow(claimed)
  })

const mustGet = (q: Queue, id: string) =>
  Effect.map(q.get(id), (task) => {
    assert.isTrue(Option.isSome(task), `task ${id} should exist`)
    return Option.getOrThrow(task)
  })

const assertNothingClaimed = (q: Queue, agentId: string, why: string) =>
  Effect.map(q.claim(agentId), (claimed) => assert.isTrue(Option.isNone(claimed), why))

/** Every page of a listing, following cursors to the end. */
const listAll = (q: Queue, options: Omit<TaskListOptions, "cursor">) =>
  Effect.gen(function*() {
    const pages: Array<ReadonlyArray<Task>> = []
    let cursor: string | undefined
    for (;;) {
      const page = yield* q.list({ ...options, ...(cursor === undefined ? {} : { cursor }) })
      pages.push(page.items)
      if (page.nextCursor === null) return pages
      cursor = page.nextCursor
    }
  })

export const taskQueueSuite = conformance<TaskQueue>("TaskQueue", (test) => {
  test("post returns a minted id and stores a pending task with the documented defaults", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      yield* TestClock.setTime(1_000)
      const id = yield* q.post({ title: "Index the docs" })
      assert.match(id, UUID)
      const expected: Task = {
        id,
        title: "Index the docs",
        description: "",
        status: "pending",
        priority: 0,
        assignedTo: null,
        createdBy: null,
        claimedBy: null,
        attempt: 0,
        leaseExpiresAt: null,
        result: null,
        error: null,
        createdAt: 1_000,
        updatedAt: 1_000,
        completedAt: null
      }
      assert.deepStrictEqual(yield* q.get(id), Option.some(expected))
    }))

  test("post keeps every field it is given; each post mints a new id", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const given = {
        title: "Résumé ✓",
        description: "multi\nline — with unicode 😀",
        assignedTo: "agent-b",
        createdBy: "agent-a",
        priority: -7
      }
      yield* TestClock.setTime(5_000)
      // A copy: what is expected is read from `given`, which the store must not be able to change.
      const id = yield* q.post({ ...given })
      const task = yield* mustGet(q, id)
      assert.deepStrictEqual(
        [task.title, task.description, task.assignedTo, task.createdBy, task.priority, task.createdAt],
        [given.title, given.description, agent(given.assignedTo), agent(given.createdBy), given.priority, 5_000]
      )
      const again = yield* q.post({ title: given.title })
      assert.notStrictEqual(again, id)
    }))

  test("get of an unknown task id is None", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      yield* q.post({ title: "exists" })
      assert.isTrue(Option.isNone(yield* q.get(UNKNOWN_TASK)))
    }))

  test("claim on an empty queue is None", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      yield* assertNothingClaimed(q, "agent-a", "nothing was posted")
    }))

  test("claim takes the highest priority first", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const byPriority = new Map<number, TaskId>()
      for (const p of [-5, 10, 0, 3, 1_000_000, -1_000_000]) {
        byPriority.set(p, yield* q.post({ title: `p${p}`, priority: p }))
      }
      const order: Array<TaskId> = []
      for (let i = 0; i < byPriority.size; i++) order.push((yield* mustClaim(q, "agent-a")).id)
      assert.deepStrictEqual(order, [1_000_000, 10, 3, 0, -5, -1_000_000].map((p) => byPriority.get(p)!))
      yield* assertNothingClaimed(q, "agent-a", "every task was claimed")
    }))

  test("among equal priorities the oldest createdAt goes first, whatever the posting order", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      // Posted first but created later: an order by id or by insertion would get this wrong.
      yield* TestClock.setTime(3_000)
      const newer = yield* q.post({ title: "newer" })
      yield* TestClock.setTime(1_000)
      const oldest = yield* q.post({ title: "oldest" })
      yield* TestClock.setTime(2_000)
      const middle = yield* q.post({ title: "middle" })
      const order: Array<TaskId> = []
      for (let i = 0; i < 3; i++) order.push((yield* mustClaim(q, "agent-a")).id)
      assert.deepStrictEqual(order, [oldest, middle, newer])
    }))

  test("among equal priority and createdAt the smaller id goes first", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      yield* TestClock.setTime(7_000)
      const ids: Array<TaskId> = []
      for (let i = 0; i < 5; i++) ids.push(yield* q.post({ title: `same-${i}` }))
      const order: Array<TaskId> = []
      for (let i = 0; i < 5; i++) order.push((yield* mustClaim(q, "agent-a")).id)
      assert.deepStrictEqual(order, sorted(ids))
    }))

  test("claim sets in_progress, claimedBy, leaseExpiresAt = now + leaseMs and attempt 1, and stores it", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      yield* TestClock.setTime(10_000)
      const id = yield* q.post({ title: "work", createdBy: "boss" })
      yield* TestClock.setTime(12_000)
      const task = yield* mustClaim(q, "worker", { leaseMs: 30_000 })
      const stored = yield* mustGet(q, id)
      assert.deepStrictEqual(task, stored, "the returned task is the stored task")
      assert.deepStrictEqual(
        [task.id, task.status, task.claimedBy, task.leaseExpiresAt, task.attempt, task.updatedAt, task.createdAt],
        [id, "in_progress", agent("worker"), 42_000, 1, 12_000, 10_000]
      )
      assert.deepStrictEqual([task.result, task.error, task.completedAt], [null, null, null])
    }))

  test("the default lease is 300000 ms", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      yield* q.post({ title: "work" })
      yield* TestClock.setTime(500)
      const task = yield* mustClaim(q, "worker")
      assert.strictEqual(task.leaseExpiresAt, 300_500)
    }))

  test("claim takes unassigned tasks and tasks assigned to the agent, never another agent's", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const forCorp = yield* q.post({ title: "corp only", assignedTo: "acme-corp", priority: 100 })
      const forAcme = yield* q.post({ title: "acme only", assignedTo: "acme", priority: 50 })
      const forUpper = yield* q.post({ title: "Acme only", assignedTo: "Acme", priority: 75 })
      const anyone = yield* q.post({ title: "anyone", priority: 1 })
      assert.strictEqual((yield* mustClaim(q, "acme")).id, forAcme)
      assert.strictEqual((yield* mustClaim(q, "acme")).id, anyone)
      yield* assertNothingClaimed(q, "acme", "acme must not take acme-corp's or Acme's task")
      yield* assertNothingClaimed(q, "acme-cor", "a prefix of the assignee must not match")
      assert.strictEqual((yield* mustClaim(q, "acme-corp")).id, forCorp)
      assert.strictEqual((yield* mustClaim(q, "Acme")).id, forUpper)
    }))

  test("an assigned task competes with unassigned ones on priority", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      yield* TestClock.setTime(1)
      const open = yield* q.post({ title: "open", priority: 5 })
      yield* TestClock.setTime(2)
      const mine = yield* q.post({ title: "mine", assignedTo: "agent-a", priority: 1 })
      yield* TestClock.setTime(3)
      const urgent = yield* q.post({ title: "urgent", assignedTo: "agent-a", priority: 9 })
      const order: Array<TaskId> = []
      for (let i = 0; i < 3; i++) order.push((yield* mustClaim(q, "agent-a")).id)
      assert.deepStrictEqual(order, [urgent, open, mine])
    }))

  test("claim is None when every task is in progress, completed or failed", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      for (const title of ["a", "b", "c"]) yield* q.post({ title })
      const first = yield* mustClaim(q, "agent-a")
      const second = yield* mustClaim(q, "agent-a")
      yield* mustClaim(q, "agent-a")
      yield* q.complete(first.id, { agentId: "agent-a", attempt: 1, result: "done" })
      yield* q.fail(second.id, { agentId: "agent-a", attempt: 1, error: "broken" })
      yield* assertNothingClaimed(q, "agent-b", "nothing is pending and no lease has expired")
    }))

  test("a live lease is not re-claimable; at leaseExpiresAt <= now another agent re-claims with attempt 2", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "work" })
      const first = yield* mustClaim(q, "agent-a", { leaseMs: 1_000 })
      assert.strictEqual(first.leaseExpiresAt, 1_000)
      yield* TestClock.adjust(999)
      yield* assertNothingClaimed(q, "agent-b", "the lease has 1 ms left")
      yield* TestClock.adjust(1)
      const second = yield* mustClaim(q, "agent-b", { leaseMs: 5_000 })
      assert.deepStrictEqual(
        [second.id, second.status, second.claimedBy, second.attempt, second.leaseExpiresAt],
        [id, "in_progress", agent("agent-b"), 2, 6_000]
      )
      assert.deepStrictEqual(yield* q.get(id), Option.some(second))
    }))

  test("after a re-claim the first claimer is fenced off: heartbeat, complete and fail are StaleAttempt", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "work" })
      yield* mustClaim(q, "agent-a", { leaseMs: 1_000 })
      yield* TestClock.adjust(1_000)
      const second = yield* mustClaim(q, "agent-b", { leaseMs: 60_000 })
      const stale = [
        q.heartbeat(id, { agentId: "agent-a", attempt: 1, leaseMs: 60_000 }),
        q.complete(id, { agentId: "agent-a", attempt: 1, result: "late" }),
        q.fail(id, { agentId: "agent-a", attempt: 1, error: "late", retry: true })
      ]
      for (const call of stale) {
        const error = yield* Effect.flip(call)
        assert.strictEqual(error._tag, "StaleAttempt")
        if (error._tag === "StaleAttempt") {
          assert.deepStrictEqual([error.taskId, error.attempt, error.currentAttempt], [id, 1, 2])
        }
      }
      assert.deepStrictEqual(yield* q.get(id), Option.some(second), "stale calls change nothing")
      const done = yield* q.complete(id, { agentId: "agent-b", attempt: 2, result: "ok" })
      assert.deepStrictEqual([done.status, done.result, done.claimedBy], ["completed", "ok", agent("agent-b")])
    }))

  test("an expired lease of an assigned task is re-claimable only by its assignee", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "work", assignedTo: "acme" })
      yield* mustClaim(q, "acme", { leaseMs: 100 })
      yield* TestClock.adjust(500)
      yield* assertNothingClaimed(q, "acme-corp", "the task is acme's even with its lease expired")
      const again = yield* mustClaim(q, "acme")
      assert.deepStrictEqual([again.id, again.attempt], [id, 2])
    }))

  test("heartbeat extends the lease to now + leaseMs and keeps the attempt", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "work" })
      yield* mustClaim(q, "agent-a", { leaseMs: 1_000 })
      yield* TestClock.setTime(800)
      const beat = yield* q.heartbeat(id, { agentId: "agent-a", attempt: 1, leaseMs: 2_000 })
      assert.deepStrictEqual(
        [beat.status, beat.claimedBy, beat.attempt, beat.leaseExpiresAt, beat.updatedAt],
        ["in_progress", agent("agent-a"), 1, 2_800, 800]
      )
      assert.deepStrictEqual(yield* q.get(id), Option.some(beat))
      yield* TestClock.setTime(1_500)
      yield* assertNothingClaimed(q, "agent-b", "the old expiry has passed but the lease was extended")
      yield* TestClock.setTime(2_800)
      assert.strictEqual((yield* mustClaim(q, "agent-b")).attempt, 2)
    }))

  test("complete sets completed, result and completedAt; the task is never claimed again", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "work" })
      yield* mustClaim(q, "agent-a", { leaseMs: 1_000 })
      yield* TestClock.setTime(400)
      const done = yield* q.complete(id, { agentId: "agent-a", attempt: 1, result: "{\"answer\":42}" })
      assert.deepStrictEqual(
        [done.status, done.result, done.completedAt, done.updatedAt, done.claimedBy, done.attempt, done.error],
        ["completed", "{\"answer\":42}", 400, 400, agent("agent-a"), 1, null]
      )
      assert.deepStrictEqual(yield* q.get(id), Option.some(done))
      yield* TestClock.setTime(1_000_000)
      yield* assertNothingClaimed(q, "agent-b", "a completed task is finished, whatever its old lease said")
    }))

  test("complete without a result stores the empty string", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "work" })
      yield* mustClaim(q, "agent-a")
      const done = yield* q.complete(id, { agentId: "agent-a", attempt: 1 })
      assert.deepStrictEqual([done.status, done.result], ["completed", ""])
    }))

  test("fail with retry returns the task to pending; the next claim is attempt 2", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "flaky" })
      yield* mustClaim(q, "agent-a")
      yield* TestClock.setTime(50)
      const retried = yield* q.fail(id, { agentId: "agent-a", attempt: 1, error: "timeout", retry: true })
      assert.deepStrictEqual(
        [
          retried.status,
          retried.claimedBy,
          retried.leaseExpiresAt,
          retried.error,
          retried.attempt,
          retried.completedAt
        ],
        ["pending", null, null, "timeout", 1, null]
      )
      assert.deepStrictEqual(yield* q.get(id), Option.some(retried))
      const again = yield* mustClaim(q, "agent-b")
      assert.deepStrictEqual([again.id, again.attempt, again.claimedBy], [id, 2, agent("agent-b")])
      const done = yield* q.complete(id, { agentId: "agent-b", attempt: 2, result: "ok" })
      assert.strictEqual(done.status, "completed")
    }))

  test("fail without retry marks the task failed for good", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "doomed" })
      yield* mustClaim(q, "agent-a")
      yield* TestClock.setTime(70)
      const failed = yield* q.fail(id, { agentId: "agent-a", attempt: 1, error: "bad input" })
      assert.deepStrictEqual(
        [failed.status, failed.error, failed.result, failed.leaseExpiresAt, failed.updatedAt],
        ["failed", "bad input", null, null, 70]
      )
      assert.deepStrictEqual(yield* q.get(id), Option.some(failed))
      yield* TestClock.setTime(10_000_000)
      yield* assertNothingClaimed(q, "agent-a", "a failed task is not claimable")
      const error = yield* Effect.flip(q.complete(id, { agentId: "agent-a", attempt: 1 }))
      assert.strictEqual(error._tag, "TaskNotClaimed")
    }))

  test("a non-claimer with the current attempt is TaskNotClaimed and changes nothing", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "work" })
      const claimed = yield* mustClaim(q, "acme")
      const calls = [
        q.heartbeat(id, { agentId: "acme-corp", attempt: 1 }),
        q.complete(id, { agentId: "acme-corp", attempt: 1, result: "stolen" }),
        q.fail(id, { agentId: "acme-corp", attempt: 1, error: "sabotage" })
      ]
      for (const call of calls) {
        const error = yield* Effect.flip(call)
        assert.strictEqual(error._tag, "TaskNotClaimed")
        if (error._tag === "TaskNotClaimed") {
          assert.deepStrictEqual([error.taskId, error.agentId, error.status], [id, "acme-corp", "in_progress"])
        }
      }
      assert.deepStrictEqual(yield* q.get(id), Option.some(claimed))
    }))

  test("a finished task is TaskNotClaimed for its own claimer", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "work" })
      yield* mustClaim(q, "agent-a")
      const done = yield* q.complete(id, { agentId: "agent-a", attempt: 1, result: "first" })
      const calls = [
        q.complete(id, { agentId: "agent-a", attempt: 1, result: "second" }),
        q.heartbeat(id, { agentId: "agent-a", attempt: 1 }),
        q.fail(id, { agentId: "agent-a", attempt: 1, error: "after the fact", retry: true })
      ]
      for (const call of calls) {
        const error = yield* Effect.flip(call)
        assert.strictEqual(error._tag, "TaskNotClaimed")
        if (error._tag === "TaskNotClaimed") assert.strictEqual(error.status, "completed")
      }
      assert.deepStrictEqual(yield* q.get(id), Option.some(done), "the first result stands")
    }))

  test("a task never claimed, or an attempt that never existed, is TaskNotClaimed", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const pending = yield* q.post({ title: "pending" })
      const e1 = yield* Effect.flip(q.complete(pending, { agentId: "agent-a", attempt: 1 }))
      assert.strictEqual(e1._tag, "TaskNotClaimed")
      if (e1._tag === "TaskNotClaimed") assert.strictEqual(e1.status, "pending")
      const claimed = yield* mustClaim(q, "agent-a")
      // Attempt 2 has not happened yet: it is not stale, it is simply not this claim.
      const e2 = yield* Effect.flip(q.heartbeat(claimed.id, { agentId: "agent-a", attempt: 2 }))
      assert.strictEqual(e2._tag, "TaskNotClaimed")
      assert.deepStrictEqual(yield* q.get(claimed.id), Option.some(claimed))
    }))

  test("an unknown task id is TaskNotFound for heartbeat, complete and fail", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      yield* q.post({ title: "other" })
      yield* mustClaim(q, "agent-a")
      const calls = [
        q.heartbeat(UNKNOWN_TASK, { agentId: "agent-a", attempt: 1 }),
        q.complete(UNKNOWN_TASK, { agentId: "agent-a", attempt: 1 }),
        q.fail(UNKNOWN_TASK, { agentId: "agent-a", attempt: 1, error: "x" })
      ]
      for (const call of calls) {
        const error = yield* Effect.flip(call)
        assert.strictEqual(error._tag, "TaskNotFound")
        if (error._tag === "TaskNotFound") assert.strictEqual(error.taskId, UNKNOWN_TASK)
      }
    }))

  test("list is newest first and filters by status and by exact assignee", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const ids: Array<TaskId> = []
      const assignees = [undefined, "acme", "acme-corp", "acme", undefined]
      for (const [i, assignedTo] of assignees.entries()) {
        yield* TestClock.setTime((i + 1) * 1_000)
        ids.push(yield* q.post({ title: `t${i}`, ...(assignedTo === undefined ? {} : { assignedTo }) }))
      }
      const all = yield* q.list()
      assert.deepStrictEqual(all.items.map((t) => t.id), [...ids].reverse())
      assert.isNull(all.nextCursor)
      // Claims go oldest first, so acme takes t0 (unassigned) and the status filters can be told apart.
      const claimed = yield* mustClaim(q, "acme")
      assert.strictEqual(claimed.id, ids[0])
      const pending = yield* q.list({ status: "pending" })
      assert.deepStrictEqual(pending.items.map((t) => t.id), [ids[4], ids[3], ids[2], ids[1]])
      const inProgress = yield* q.list({ status: "in_progress" })
      assert.deepStrictEqual(inProgress.items.map((t) => t.id), [ids[0]])
      assert.deepStrictEqual((yield* q.list({ status: "completed" })).items, [])
      const acme = yield* q.list({ assignedTo: "acme" })
      assert.deepStrictEqual(acme.items.map((t) => t.id), [ids[3], ids[1]])
      const corp = yield* q.list({ assignedTo: "acme-corp", status: "pending" })
      assert.deepStrictEqual(corp.items.map((t) => t.id), [ids[2]])
      assert.deepStrictEqual(all.items[0], yield* mustGet(q, ids[4]!), "listed tasks are whole tasks")
    }))

  test("list pagination visits every task exactly once, in the order of a single page", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      // Several tasks share a createdAt, so the cursor must carry the tie-break too.
      for (let i = 0; i < 11; i++) {
        yield* TestClock.setTime(Math.floor(i / 3) * 1_000)
        yield* q.post({ title: `t${i}` })
      }
      const whole = (yield* q.list({ limit: 1000 })).items.map((t) => t.id)
      assert.strictEqual(whole.length, 11)
      const pages = yield* listAll(q, { limit: 4 })
      assert.deepStrictEqual(pages.map((p) => p.length), [4, 4, 3])
      assert.deepStrictEqual(pages.flat().map((t) => t.id), whole)
      assert.strictEqual(new Set(whole).size, 11)
      const createdAts = pages.flat().map((t) => t.createdAt)
      assert.deepStrictEqual(createdAts, [...createdAts].sort((a, b) => b - a), "newest first")
      const exact = yield* listAll(q, { limit: 11 })
      assert.deepStrictEqual(exact.map((p) => p.length), [11], "a page ending at the last task has no cursor")
    }))

  test("pagination with a status filter keeps the filter on every page", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      for (let i = 0; i < 9; i++) {
        yield* TestClock.setTime(i * 10)
        yield* q.post({ title: `t${i}`, ...(i % 3 === 0 ? { assignedTo: "busy" } : {}) })
      }
      for (let i = 0; i < 3; i++) yield* mustClaim(q, "busy")
      const pending = yield* listAll(q, { status: "pending", limit: 2 })
      const items = pending.flat()
      assert.strictEqual(items.length, 6)
      assert.isTrue(items.every((t) => t.status === "pending"))
      assert.strictEqual(new Set(items.map((t) => t.id)).size, 6)
    }))

  test("20 concurrent claims over 10 tasks hand out each task exactly once", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const ids: Array<TaskId> = []
      for (let i = 0; i < 10; i++) ids.push(yield* q.post({ title: `t${i}`, priority: i % 3 }))
      const results = yield* Effect.all(
        Array.from({ length: 20 }, (_, i) => q.claim(`agent-${i}`, { leaseMs: 60_000 })),
        { concurrency: "unbounded" }
      )
      const won = results.flatMap((r) => Option.toArray(r))
      assert.strictEqual(won.length, 10)
      assert.strictEqual(results.filter(Option.isNone).length, 10)
      assert.deepStrictEqual(sorted(won.map((t) => t.id)), sorted(ids), "every task once, none twice")
      for (const t of won) {
        const stored = yield* mustGet(q, t.id)
        assert.deepStrictEqual(
          [stored.claimedBy, stored.attempt],
          [t.claimedBy, 1],
          "the stored claimer is the one told"
        )
      }
      assert.strictEqual(new Set(won.map((t) => t.claimedBy)).size, 10, "no agent got two tasks")
    }))

  test("invalid input is a typed InvalidInput naming the field", () =>
    Effect.gen(function*() {
      const q = yield* TaskQueue
      const id = yield* q.post({ title: "real" })
      yield* mustClaim(q, "agent-a")
      yield* expectInvalidInputs([
        [q.post({ title: "" }), "input.title"],
        [q.post({ title: "x".repeat(1025) }), "input.title"],
        [q.post({ title: "nul\u0000" }), "input.title"],
        [q.post({ title: "ok", priority: 1.5 }), "input.priority"],
        [q.post({ title: "ok", assignedTo: "" }), "input.assignedTo"],
        [q.post({ title: "ok", description: "\ud800" }), "input.description"],
        [q.claim("", {}), "agentId"],
        [q.claim("agent-a", { leaseMs: 0 }), "options.leaseMs"],
        [q.claim("agent-a", { leaseMs: 86_400_001 }), "options.leaseMs"],
        [q.heartbeat(id, { agentId: "agent-a", attempt: 1, leaseMs: 0 }), "input.leaseMs"],
        [q.heartbeat(id, { agentId: "agent-a", attempt: 0 }), "input.attempt"],
        [q.complete(id, { agentId: "agent-a", attempt: 0 }), "input.attempt"],
        [q.complete(id, { agentId: "", attempt: 1 }), "input.agentId"],
        [q.fail(id, { agentId: "agent-a", attempt: -1, error: "x" }), "input.attempt"],
        [q.fail(id, { agentId: "agent-a", attempt: 1, error: "nul\u0000" }), "input.error"],
        [q.complete("not-a-task-id", { agentId: "agent-a", attempt: 1 }), "taskId"],
        [q.heartbeat("", { agentId: "agent-a", attempt: 1 }), "taskId"],
        [q.get("not-a-task-id"), "taskId"],
        [q.list({ limit: 0 }), "options.limit"],
        [q.list({ status: "done" as Task["status"] }), "options.status"],
        [q.list({ cursor: "not a cursor" }), "cursor"]
      ])
      const task = yield* mustGet(q, id)
      assert.deepStrictEqual([task.status, task.attempt], ["in_progress", 1], "rejected calls changed nothing")
    }))
})
