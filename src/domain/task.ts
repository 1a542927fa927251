/** The shared task queue with leases and fencing by attempt. */
import { Schema } from "effect"
import { AgentId, TaskId } from "./ids.js"
import { intInRange, PageLimit } from "./page.js"
import { Text } from "./text.js"
import { EpochMillis } from "./time.js"

export const TaskStatus = Schema.Literal("pending", "in_progress", "completed", "failed")
export type TaskStatus = typeof TaskStatus.Type

export const Task = Schema.Struct({
  id: TaskId,
  title: Schema.String,
  description: Schema.String,
  status: TaskStatus,
  priority: Schema.Number,
  assignedTo: Schema.NullOr(AgentId),
  createdBy: Schema.NullOr(AgentId),
  claimedBy: Schema.NullOr(AgentId),
  /** increases by one on every claim; calls from an older attempt are rejected */
  attempt: Schema.Number,
  leaseExpiresAt: Schema.NullOr(EpochMillis),
  result: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  createdAt: EpochMillis,
  updatedAt: EpochMillis,
  completedAt: Schema.NullOr(EpochMillis)
})
export type Task = typeof Task.Type

const Title = Text.pipe(Schema.minLength(1), Schema.maxLength(1024))

export const TaskInput = Schema.Struct({
  title: Title,
  description: Schema.optionalWith(Text, { default: () => "" }),
  assignedTo: Schema.optional(AgentId),
  createdBy: Schema.optional(AgentId),
  priority: intInRange(-1_000_000, 1_000_000, 0)
})
export type TaskInput = typeof TaskInput.Encoded

/** Longest lease a claim or heartbeat may ask for: one day. */
export const MAX_LEASE_MS = 86_400_000
const LeaseMs = Schema.Int.pipe(Schema.between(1, MAX_LEASE_MS))

export const ClaimOptions = Schema.Struct({
  leaseMs: Schema.optionalWith(LeaseMs, { default: () => 300_000 })
})
export type ClaimOptions = typeof ClaimOptions.Encoded

const Attempt = Schema.Int.pipe(Schema.positive())

export const HeartbeatInput = Schema.Struct({
  agentId: AgentId,
  attempt: Attempt,
  leaseMs: Schema.optionalWith(LeaseMs, { default: () => 300_000 })
})
export type HeartbeatInput = typeof HeartbeatInput.Encoded

export const CompleteInput = Schema.Struct({
  agentId: AgentId,
  attempt: Attempt,
  result: Schema.optionalWith(Text, { default: () => "" })
})
export type CompleteInput = typeof CompleteInput.Encoded

export const FailInput = Schema.Struct({
  agentId: AgentId,
  attempt: Attempt,
  error: Text,
  /** true: back to pending for another claim; false: failed for good */
  retry: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export type FailInput = typeof FailInput.Encoded

export const TaskListOptions = Schema.Struct({
  status: Schema.optional(TaskStatus),
  assignedTo: Schema.optional(AgentId),
  limit: Schema.optionalWith(PageLimit, { default: () => 100 }),
  cursor: Schema.optional(Schema.String)
})
export type TaskListOptions = typeof TaskListOptions.Encoded
