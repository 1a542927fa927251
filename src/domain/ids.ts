/**
 * Identifiers. Agent and entity ids are chosen by callers and compared exactly.
 * Ids the library mints are UUIDv7 strings — time-ordered, so ids minted later sort later —
 * branded per kind so a task id cannot be passed where a memory id is expected.
 */
import { Effect, Schema } from "effect"
import { v7 } from "uuid"
import { Name } from "./text.js"

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
/** Any lower-case RFC 9562 UUID (kept permissive for ids minted by older versions or by peers). */
const UUID_ANY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const Uuid = Schema.String.pipe(
  Schema.filter((s) => UUID_ANY.test(s) || "must be a lower-case UUID", { identifier: "Uuid" })
)

/** True when `s` is what `MemoryId` (and every minted id kind) accepts: a lower-case UUID. */
export const isUuid = (s: string): boolean => UUID_ANY.test(s)

/** True when `s` is a UUIDv7 in canonical lower-case form. */
export const isUuidV7 = (s: string): boolean => UUID_V7.test(s)

/** An agent: caller-chosen, 1–256 characters, no control characters, compared exactly. */
export const AgentId = Name.pipe(Schema.brand("AgentId"))
export type AgentId = typeof AgentId.Type

/** A knowledge-graph entity id: caller-chosen (1–256 characters) or minted. */
export const EntityId = Name.pipe(Schema.brand("EntityId"))
export type EntityId = typeof EntityId.Type

/** A paired device id: caller-chosen, 1–256 characters. */
export const DeviceId = Name.pipe(Schema.brand("DeviceId"))
export type DeviceId = typeof DeviceId.Type

export const MemoryId = Uuid.pipe(Schema.brand("MemoryId"))
export type MemoryId = typeof MemoryId.Type

export const SessionId = Uuid.pipe(Schema.brand("SessionId"))
export type SessionId = typeof SessionId.Type

export const RelationId = Uuid.pipe(Schema.brand("RelationId"))
export type RelationId = typeof RelationId.Type

export const TaskId = Uuid.pipe(Schema.brand("TaskId"))
export type TaskId = typeof TaskId.Type

export const UsageEventId = Uuid.pipe(Schema.brand("UsageEventId"))
export type UsageEventId = typeof UsageEventId.Type

/** Mint a fresh UUIDv7 (monotonic within the process). */
export const mintUuid: Effect.Effect<string> = Effect.sync(() => v7())

export const mintMemoryId = mintUuid as Effect.Effect<MemoryId>
/** `mintMemoryId` as a plain call, for loops that prepare many memories without an Effect each. */
export const newMemoryId = (): MemoryId => v7() as MemoryId
export const mintSessionId = mintUuid as Effect.Effect<SessionId>
export const mintRelationId = mintUuid as Effect.Effect<RelationId>
export const mintTaskId = mintUuid as Effect.Effect<TaskId>
export const mintUsageEventId = mintUuid as Effect.Effect<UsageEventId>
export const mintEntityId = mintUuid as Effect.Effect<EntityId>
