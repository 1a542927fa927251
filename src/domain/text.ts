/**
 * Text rules shared by every backend: well-formed Unicode, no NUL.
 * The same string gets the same classification on SQLite, PostgreSQL, Qdrant and HTTP,
 * because it is checked here before any driver sees it.
 */
import { Schema } from "effect"

/** Why a string is not acceptable as stored text, or `undefined` when it is. */
export const textProblem = (s: string): string | undefined => {
  if (s.includes("\u0000")) return "must not contain NUL characters"
  if (!s.isWellFormed()) return "must be well-formed Unicode (no lone surrogates)"
  return undefined
}

/** Any stored string: well-formed Unicode without NUL. */
export const Text = Schema.String.pipe(
  Schema.filter((s) => textProblem(s) ?? true, { identifier: "Text" })
)

const hasControl = (s: string): boolean => /[\u0000-\u001f\u007f-\u009f]/u.test(s)

/** A caller-chosen name or id: 1–256 characters, no control characters. */
export const Name = Text.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(256, { message: () => "must be at most 256 characters" }),
  Schema.filter((s) => !hasControl(s) || "must not contain control characters", { identifier: "Name" })
)

/**
 * True when `s` passes every rule of `Name` (the Schema above): for hot paths that check many values
 * and need no message (a failing value is then decoded by the Schema, which says what is wrong).
 */
export const isName = (s: string): boolean =>
  s.length >= 1 && s.length <= 256 && textProblem(s) === undefined && !hasControl(s)

/** Number of UTF-8 bytes of a string. */
export const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8")

/** Default limit for memory content and other large text fields: 1 MiB. */
export const DEFAULT_MAX_CONTENT_BYTES = 1024 * 1024
