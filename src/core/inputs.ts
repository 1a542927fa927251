/**
 * The boundary decoders of the main-store services (every input is decoded by a Schema
 * before a backend sees it), one object per service. Every
 * backend decodes with these, so the same bad input is reported with the same field path
 * (`InvalidInput.field`) on every backend by construction. Semantic memory and consolidation decode
 * inside their own core modules (semantic.ts, consolidation.ts), whose preparation steps use the
 * decoded values directly.
 */
import { type Effect, Schema } from "effect"
import { AuditInput, AuditQuery } from "../domain/audit.js"
import { Device } from "../domain/device.js"
import type { InvalidInput } from "../domain/errors.js"
import { AgentId, DeviceId, EntityId, SessionId, TaskId } from "../domain/ids.js"
import { Json } from "../domain/json.js"
import { EntityInput, GraphQuery, RelationInput } from "../domain/knowledge.js"
import { CanonicalInput, Message, SessionInput } from "../domain/session.js"
import { AgentInput, Key, KvListOptions } from "../domain/structured.js"
import { ClaimOptions, CompleteInput, FailInput, HeartbeatInput, TaskInput, TaskListOptions } from "../domain/task.js"
import { Name, Text } from "../domain/text.js"
import { Budget, BudgetLimits, SpendQuery, UsageInput } from "../domain/usage.js"
import { decode } from "./decode.js"

/** An options object the caller may leave out: absent means every field at its default. */
const withDefaults = <A>(decoder: (input: unknown) => Effect.Effect<A, InvalidInput>) => (input: unknown) =>
  decoder(input ?? {})

const agentId = decode(AgentId, "agentId")

export const structuredInputs = {
  agentId,
  key: decode(Key, "key"),
  value: decode(Json, "value"),
  listOptions: withDefaults(decode(KvListOptions, "options")),
  agentInput: decode(AgentInput, "agent"),
  agentRef: decode(AgentId, "id")
}

export const knowledgeInputs = {
  agentId,
  entityId: decode(EntityId, "id"),
  entityInput: decode(EntityInput, "input"),
  relationInput: decode(RelationInput, "input"),
  graphQuery: decode(GraphQuery, "query")
}

export const sessionInputs = {
  agentId,
  sessionId: decode(SessionId, "id"),
  sessionInput: decode(SessionInput, "session"),
  canonicalInput: decode(CanonicalInput, "canonical"),
  label: decode(Name, "label"),
  optionalLabel: decode(Schema.NullOr(Name), "label"),
  listOptions: withDefaults(decode(Schema.Struct({ agentId: Schema.optional(AgentId) }), "options")),
  messages: decode(Schema.Array(Message), "messages"),
  threshold: decode(Schema.Int.pipe(Schema.between(1, 1_000_000)), "threshold"),
  window: decode(Schema.Int.pipe(Schema.between(0, 1_000_000)), "window"),
  // The summary is stored text like any other: no NUL, well-formed Unicode.
  summary: decode(Text, "summary")
}

export const usageInputs = {
  usageInput: decode(UsageInput, "input"),
  spendQuery: decode(SpendQuery, "query"),
  optionalAgent: decode(Schema.UndefinedOr(AgentId), "agentId"),
  limitsInput: decode(BudgetLimits, "limits"),
  budgetInput: decode(Budget, "budget"),
  days: decode(Schema.Int.pipe(Schema.between(1, 36_500)), "days"),
  retentionDays: decode(Schema.Int.pipe(Schema.between(0, 36_500)), "days")
}

export const deviceInputs = {
  deviceId: decode(DeviceId, "deviceId"),
  deviceInput: decode(Device, "device")
}

export const taskInputs = {
  agentId,
  taskId: decode(TaskId, "taskId"),
  taskInput: decode(TaskInput, "input"),
  claimOptions: withDefaults(decode(ClaimOptions, "options")),
  heartbeatInput: decode(HeartbeatInput, "input"),
  completeInput: decode(CompleteInput, "input"),
  failInput: decode(FailInput, "input"),
  listOptions: withDefaults(decode(TaskListOptions, "options"))
}

export const auditInputs = {
  auditInput: decode(AuditInput, "input"),
  auditQuery: withDefaults(decode(AuditQuery, "query"))
}

export const adminInputs = {
  agentId
}
