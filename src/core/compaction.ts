/**
 * Canonical-session compaction, a pure function so every backend folds the same way:
 * when more than `threshold` messages are held, all but the newest 50 are folded into the summary as
 * lines "<Role>: <text>" (text cut to 200 bytes on a character boundary plus "..."; non-text blocks
 * contribute nothing), appended after the existing summary, which then keeps its newest 4000 bytes.
 */
import type { CanonicalSession, Message } from "../domain/session.js"

export const KEEP_RECENT = 50
export const DEFAULT_THRESHOLD = 100
const LINE_TEXT_BYTES = 200
const SUMMARY_BYTES = 4000

/** A message's text: a plain string itself, or its text blocks concatenated without separator. */
const messageText = (message: Message): string =>
  typeof message.content === "string"
    ? message.content
    : message.content.map((b) => (b.type === "text" ? b.text : "")).join("")

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** True when byte `i` of UTF-8 `bytes` starts a character. */
const isBoundary = (bytes: Uint8Array, i: number): boolean => i >= bytes.length || (bytes[i]! & 0xc0) !== 0x80

/** The first ≤ `max` bytes of `s`, cut back to a character boundary. */
const headBytes = (s: string, max: number): string => {
  const bytes = encoder.encode(s)
  if (bytes.length <= max) return s
  let end = max
  while (end > 0 && !isBoundary(bytes, end)) end--
  return decoder.decode(bytes.subarray(0, end))
}

/** The last ≤ `max` bytes of `s`: start at byte `len − max` and move forward to a character boundary. */
const tailBytes = (s: string, max: number): string => {
  const bytes = encoder.encode(s)
  if (bytes.length <= max) return s
  let start = bytes.length - max
  while (start < bytes.length && !isBoundary(bytes, start)) start++
  return decoder.decode(bytes.subarray(start))
}

const roleName = { system: "System", user: "User", assistant: "Assistant" } as const

/** The summary line of one message, or undefined when it has no text. */
const summaryLine = (message: Message): string | undefined => {
  const text = messageText(message)
  if (text === "") return undefined
  const cut = encoder.encode(text).length <= LINE_TEXT_BYTES ? text : `${headBytes(text, LINE_TEXT_BYTES)}...`
  return `${roleName[message.role]}: ${cut}`
}

/** Append `messages` and compact when more than `threshold` are held. */
export const appendAndCompact = (
  current: CanonicalSession,
  messages: ReadonlyArray<Message>,
  threshold: number,
  now: number
): CanonicalSession => {
  const all = [...current.messages, ...messages]
  let summary = current.summary
  let kept: ReadonlyArray<Message> = all
  if (all.length > threshold) {
    const toCompact = Math.max(all.length - KEEP_RECENT, 0)
    if (toCompact > 0) {
      // An empty summary (storeSummary accepts "") is no summary: the lines must not start with a blank one.
      const parts: Array<string> = summary === null || summary === "" ? [] : [summary]
      for (const m of all.slice(0, toCompact)) {
        const line = summaryLine(m)
        if (line !== undefined) parts.push(line)
      }
      if (parts.length > 0) summary = tailBytes(parts.join("\n"), SUMMARY_BYTES)
      kept = all.slice(toCompact)
    }
  }
  return { agentId: current.agentId, messages: kept, summary, updatedAt: now }
}
