/** Key-value entries and the agent registry. */
import { Schema } from "effect"
import { AgentId } from "./ids.js"
import { Json, JsonObject, JsonObjectOrEmpty } from "./json.js"
import { PageLimit } from "./page.js"
import { Name, Text } from "./text.js"
import { EpochMillis } from "./time.js"

/** A key: 1–1024 characters of text without NUL. */
export const Key = Text.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(1024, { message: () => "must be at most 1024 characters" })
)

export const KvEntry = Schema.Struct({
  key: Schema.String,
  value: Json,
  version: Schema.Number,
  updatedAt: EpochMillis
})
export type KvEntry = typeof KvEntry.Type

export const KvListOptions = Schema.Struct({
  prefix: Schema.optional(Text),
  limit: Schema.optionalWith(PageLimit, { default: () => 100 }),
  cursor: Schema.optional(Schema.String)
})
export type KvListOptions = typeof KvListOptions.Encoded

export const AgentState = Schema.Literal("created", "running", "suspended", "terminated", "crashed")
export type AgentState = typeof AgentState.Type

/** What `saveAgent` takes: every field is persisted and comes back unchanged from `loadAgent`. */
export const AgentInput = Schema.Struct({
  id: AgentId,
  name: Name,
  state: Schema.optionalWith(AgentState, { default: () => "created" as const }),
  manifest: Schema.optionalWith(Json, { default: () => ({}) }),
  tags: Schema.optionalWith(Schema.Array(Name), { default: () => [] }),
  parent: Schema.optionalWith(Schema.NullOr(AgentId), { default: () => null }),
  metadata: JsonObjectOrEmpty
})
export type AgentInput = typeof AgentInput.Encoded

export const AgentRecord = Schema.Struct({
  id: AgentId,
  name: Schema.String,
  state: AgentState,
  manifest: Json,
  tags: Schema.Array(Schema.String),
  parent: Schema.NullOr(AgentId),
  metadata: JsonObject,
  createdAt: EpochMillis,
  updatedAt: EpochMillis
})
export type AgentRecord = typeof AgentRecord.Type
