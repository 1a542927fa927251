/**
 * Every way an engram operation can fail, as `Schema.TaggedError`s (a "typed error" is one of these
 * in the error channel — never a defect, a thrown exception or a silently empty result).
 * They are Schemas so the gateway can send them over HTTP and the HTTP backend can decode them back.
 */
import { Schema } from "effect"

/** Which store a failure came from. */
export const BackendName = Schema.Literal("memory", "sqlite", "postgres", "qdrant", "http")
export type BackendName = typeof BackendName.Type

/** Input that does not satisfy the contract; `field` names the offending field (dotted path). */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  message: Schema.String
}) {}

/** A vector with NaN/±Infinity, the wrong length, or no magnitude: such a vector has no direction, so no
 * cosine similarity could be computed for it. */
export class InvalidEmbedding extends Schema.TaggedError<InvalidEmbedding>()("InvalidEmbedding", {
  message: Schema.String,
  expectedDimensions: Schema.optional(Schema.Number),
  actualDimensions: Schema.optional(Schema.Number)
}) {}

/** The store was initialised with another embedding space than the one configured. */
export class EmbeddingSpaceMismatch extends Schema.TaggedError<EmbeddingSpaceMismatch>()("EmbeddingSpaceMismatch", {
  expected: Schema.Struct({ model: Schema.String, dimensions: Schema.Number }),
  actual: Schema.Struct({ model: Schema.String, dimensions: Schema.Number })
}) {
  override get message(): string {
    return `embedding space mismatch: the store holds ${this.actual.model}/${this.actual.dimensions}, ` +
      `configured ${this.expected.model}/${this.expected.dimensions}`
  }
}

export class MemoryNotFound extends Schema.TaggedError<MemoryNotFound>()("MemoryNotFound", {
  agentId: Schema.String,
  memoryId: Schema.String
}) {
  override get message(): string {
    return `memory ${this.memoryId} not found for agent ${this.agentId}`
  }
}

export class EntityNotFound extends Schema.TaggedError<EntityNotFound>()("EntityNotFound", {
  agentId: Schema.String,
  entityId: Schema.String
}) {
  override get message(): string {
    return `entity ${this.entityId} not found for agent ${this.agentId}`
  }
}

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  sessionId: Schema.String
}) {
  override get message(): string {
    return `session ${this.sessionId} not found`
  }
}

/** Session labels are unique per agent. */
export class DuplicateLabel extends Schema.TaggedError<DuplicateLabel>()("DuplicateLabel", {
  agentId: Schema.String,
  label: Schema.String
}) {
  override get message(): string {
    return `agent ${this.agentId} already has a session labelled ${JSON.stringify(this.label)}`
  }
}

export class DeviceNotFound extends Schema.TaggedError<DeviceNotFound>()("DeviceNotFound", {
  deviceId: Schema.String
}) {
  override get message(): string {
    return `device ${this.deviceId} not found`
  }
}

export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()("TaskNotFound", {
  taskId: Schema.String
}) {
  override get message(): string {
    return `task ${this.taskId} not found`
  }
}

/** The task is not in progress under the caller's claim. */
export class TaskNotClaimed extends Schema.TaggedError<TaskNotClaimed>()("TaskNotClaimed", {
  taskId: Schema.String,
  agentId: Schema.String,
  status: Schema.String
}) {
  override get message(): string {
    return `task ${this.taskId} is not claimed by ${this.agentId} (status ${this.status})`
  }
}

/** A heartbeat, completion or failure from an attempt that is no longer current (fencing). */
export class StaleAttempt extends Schema.TaggedError<StaleAttempt>()("StaleAttempt", {
  taskId: Schema.String,
  attempt: Schema.Number,
  currentAttempt: Schema.Number
}) {
  override get message(): string {
    return `attempt ${this.attempt} of task ${this.taskId} is stale (current attempt ${this.currentAttempt})`
  }
}

export const BudgetWindow = Schema.Literal("hour", "day", "month")
export type BudgetWindow = typeof BudgetWindow.Type

/** Recording would take spend in `window` above `limit` (USD). */
export class QuotaExceeded extends Schema.TaggedError<QuotaExceeded>()("QuotaExceeded", {
  scope: Schema.Literal("agent", "global"),
  agentId: Schema.optional(Schema.String),
  window: BudgetWindow,
  spent: Schema.Number,
  limit: Schema.Number
}) {
  override get message(): string {
    const who = this.scope === "agent" ? `agent ${this.agentId}` : "global"
    return `${who} ${this.window} budget exceeded: spent $${this.spent} of $${this.limit}`
  }
}

/** The audit log could not be read while building its layer. */
export class AuditLoadError extends Schema.TaggedError<AuditLoadError>()("AuditLoadError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** The audit chain is broken at `seq`. */
export class AuditIntegrityError extends Schema.TaggedError<AuditIntegrityError>()("AuditIntegrityError", {
  seq: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `audit chain broken at seq ${this.seq}: ${this.reason}`
  }
}

/** A backend could not be reached (at startup, or a call's deadline passed). */
export class BackendUnavailable extends Schema.TaggedError<BackendUnavailable>()("BackendUnavailable", {
  backend: BackendName,
  url: Schema.optional(Schema.String),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** A schema migration failed or the recorded history does not match the code. */
export class MigrationError extends Schema.TaggedError<MigrationError>()("MigrationError", {
  backend: BackendName,
  version: Schema.optional(Schema.Number),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** Configuration that cannot be used; `allowed` lists the accepted keys or values where relevant. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  path: Schema.String,
  message: Schema.String,
  allowed: Schema.optional(Schema.Array(Schema.String))
}) {}

/** A driver failed (SQL error, client rejection, undecodable row). */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  backend: BackendName,
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** The failures any storage call can end with, besides its domain errors. */
export type StoreFailure = StorageError | BackendUnavailable

/** Every way building a database store's layer can fail. */
export type StoreLayerError =
  | InvalidInput
  | BackendUnavailable
  | MigrationError
  | EmbeddingSpaceMismatch
  | AuditLoadError
  | AuditIntegrityError
  | StorageError
