/**
 * Conversations: messages whose content is text or blocks tagged by type, stored as JSON. Content
 * blocks keep the field names LLM providers use (`tool_use_id`, `media_type`, `is_error`), so
 * messages can be stored exactly as they were exchanged.
 */
import { Schema } from "effect"
import { AgentId, SessionId } from "./ids.js"
import { Json } from "./json.js"
import { Name, Text } from "./text.js"
import { EpochMillis } from "./time.js"

export const TextBlock = Schema.Struct({ type: Schema.Literal("text"), text: Text })
export const ImageBlock = Schema.Struct({ type: Schema.Literal("image"), media_type: Text, data: Text })
export const ToolUseBlock = Schema.Struct({ type: Schema.Literal("tool_use"), id: Text, name: Text, input: Json })
export const ToolResultBlock = Schema.Struct({
  type: Schema.Literal("tool_result"),
  tool_use_id: Text,
  tool_name: Schema.optionalWith(Text, { default: () => "" }),
  content: Text,
  is_error: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export const ThinkingBlock = Schema.Struct({
  type: Schema.Literal("thinking"),
  thinking: Text,
  signature: Schema.optional(Text)
})

/** One block of a message: tagged by `type`. */
export const ContentBlock = Schema.Union(TextBlock, ImageBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock)
export type ContentBlock = typeof ContentBlock.Type

export const Role = Schema.Literal("system", "user", "assistant")
export type Role = typeof Role.Type

export const Message = Schema.Struct({
  role: Role,
  content: Schema.Union(Text, Schema.Array(ContentBlock))
})
export type Message = typeof Message.Type
export type MessageInput = typeof Message.Encoded

export const Session = Schema.Struct({
  id: SessionId,
  agentId: AgentId,
  label: Schema.NullOr(Schema.String),
  messages: Schema.Array(Message),
  createdAt: EpochMillis,
  updatedAt: EpochMillis
})
export type Session = typeof Session.Type

/** What `save` takes: the store stamps the times (createdAt is kept on update). */
export const SessionInput = Schema.Struct({
  id: SessionId,
  agentId: AgentId,
  label: Schema.optionalWith(Schema.NullOr(Name), { default: () => null }),
  messages: Schema.Array(Message)
})
export type SessionInput = typeof SessionInput.Encoded

/** The same shape on every backend. */
export const SessionSummary = Schema.Struct({
  id: SessionId,
  agentId: AgentId,
  label: Schema.NullOr(Schema.String),
  messageCount: Schema.Number,
  createdAt: EpochMillis,
  updatedAt: EpochMillis
})
export type SessionSummary = typeof SessionSummary.Type

/** The per-agent, cross-channel session: recent messages plus a summary of older ones. */
export const CanonicalSession = Schema.Struct({
  agentId: AgentId,
  messages: Schema.Array(Message),
  summary: Schema.NullOr(Schema.String),
  updatedAt: EpochMillis
})
export type CanonicalSession = typeof CanonicalSession.Type

export const CanonicalContext = Schema.Struct({
  summary: Schema.NullOr(Schema.String),
  messages: Schema.Array(Message)
})
export type CanonicalContext = typeof CanonicalContext.Type

/** What `saveCanonical` takes: the store stamps updatedAt. */
export const CanonicalInput = Schema.Struct({
  agentId: AgentId,
  messages: Schema.Array(Message),
  summary: Schema.optionalWith(Schema.NullOr(Text), { default: () => null })
})
export type CanonicalInput = typeof CanonicalInput.Encoded
