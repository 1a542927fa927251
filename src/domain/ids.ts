/**
 * Identifiers. Agent and entity ids are chosen by callers and compared exactly.
 * Ids the library mints are UUIDv7 strings — time-ordered, so ids minted later sort later —
 * branded per kind so a task id cannot be passed where a memory id is expected.
 */
import { Effect, Schema } from "effect"
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

/** Random bytes drawn in blocks: one call to the system's generator per 4 KiB, not one per id. */
const pool = new Uint8Array(4096)
let poolAt = pool.length

const random = (): number => {
  if (poolAt === pool.length) {
    crypto.getRandomValues(pool)
    poolAt = 0
  }
  return pool[poolAt++]!
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** The millisecond of the last id, and the counter within it (31 bits, started at random below 2^30). */
let lastMs = Number.NEGATIVE_INFINITY
let counter = 0

const freshCounter = () => ((random() << 22) | (random() << 14) | (random() << 6) | (random() >>> 2)) & 0x3fffffff

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 31-bit counter (rand_a and the top of
 * rand_b; random at each new millisecond, incremented within one) and 31 random bits. Ids minted by
 * this process only grow, even when the clock steps back (the last millisecond is reused) or a
 * millisecond's counter runs out (the next millisecond is borrowed). A library generator cost ~8 µs
 * an id, a visible share of storing a memory; this costs well under 1 µs.
 */
export const newUuid = (): string => {
  let ms = Date.now()
  if (ms > lastMs) {
    lastMs = ms
    counter = freshCounter()
  } else if (++counter > 0x7fffffff) {
    lastMs++
    counter = freshCounter()
  }
  ms = lastMs
  const high = Math.floor(ms / 0x1000000)
  const low = ms % 0x1000000
  const c = counter
  return HEX[(high >>> 16) & 0xff]! + HEX[(high >>> 8) & 0xff]! + HEX[high & 0xff]! +
    HEX[(low >>> 16) & 0xff]! + "-" + HEX[(low >>> 8) & 0xff]! + HEX[low & 0xff]! + "-" +
    HEX[0x70 | ((c >>> 27) & 0x0f)]! + HEX[(c >>> 19) & 0xff]! + "-" +
    HEX[0x80 | ((c >>> 13) & 0x3f)]! + HEX[(c >>> 5) & 0xff]! + "-" +
    HEX[((c & 0x1f) << 3) | (random() & 0x07)]! + HEX[random()]! + HEX[random()]! + HEX[random()]! +
    HEX[random()]! + HEX[random()]!
}

/** Mint a fresh UUIDv7 (monotonic within the process). */
export const mintUuid: Effect.Effect<string> = Effect.sync(newUuid)

export const mintMemoryId = mintUuid as Effect.Effect<MemoryId>
/** `mintMemoryId` as a plain call, for loops that prepare many memories without an Effect each. */
export const newMemoryId = (): MemoryId => newUuid() as MemoryId
export const mintSessionId = mintUuid as Effect.Effect<SessionId>
export const mintRelationId = mintUuid as Effect.Effect<RelationId>
export const mintTaskId = mintUuid as Effect.Effect<TaskId>
export const mintUsageEventId = mintUuid as Effect.Effect<UsageEventId>
export const mintEntityId = mintUuid as Effect.Effect<EntityId>
