/**
 * The audit anchor: the last known head of the audit chain ({ seq, hash }), kept outside the audit
 * table, so that deleting the last entries — which leaves a chain that verifies — is detected. The
 * log's layer checks the chain against the anchor when it is built and on every `verify`, and moves
 * the anchor forward after each append (and at build, to the verified head).
 *
 * What it detects depends on where the anchor lives: it catches whoever can change the audit table
 * but not the anchor. An anchor next to the data, under the same owner, catches mistakes and
 * SQL-level tampering; someone who can rewrite both can rewrite history. `AuditAnchor` is a tag, so
 * an application can keep the anchor elsewhere (another host, a WORM store) by providing its own.
 */
import { Context, Data, Effect, Option } from "effect"
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs"
import { dirname } from "node:path"
import type { AuditHead } from "../domain/audit.js"

/** Reading or writing an anchor failed. */
export class AuditAnchorError extends Data.TaggedError("AuditAnchorError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** Where an audit log keeps its anchor. `write` is only ever called with a head that follows the last one read or written. */
export interface AuditAnchorStore {
  /** Where the anchor is, for messages (e.g. "file /var/lib/engram/engram.db.audit-anchor"). */
  readonly location: string
  /** The recorded head; None before the first write. */
  readonly read: Effect.Effect<Option.Option<AuditHead>, AuditAnchorError>
  /** Record `head` durably; a store may ignore a head older than the one it holds. */
  readonly write: (head: AuditHead) => Effect.Effect<void, AuditAnchorError>
}

/**
 * An anchor for the audit logs built in its context, instead of the backend's default (a file next to
 * a SQLite database; none for PostgreSQL unless `auditAnchorPath` is given).
 */
export class AuditAnchor extends Context.Tag("engram/AuditAnchor")<AuditAnchor, AuditAnchorStore>() {}

const HEX64 = /^[0-9a-f]{64}$/

const parse = (path: string, text: string): Effect.Effect<AuditHead, AuditAnchorError> => {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value === "object" && value !== null && "seq" in value && "hash" in value) {
      const { seq, hash } = value
      if (
        typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0 && typeof hash === "string" && HEX64.test(hash)
      ) {
        return Effect.succeed({ seq, hash })
      }
    }
  } catch {
    // reported below
  }
  return Effect.fail(new AuditAnchorError({ message: `the audit anchor ${path} is not a valid anchor` }))
}

const readText = (path: string): Option.Option<string> => {
  try {
    return Option.some(readFileSync(path, "utf8"))
  } catch (e) {
    if (typeof e === "object" && e !== null && "code" in e && e.code === "ENOENT") return Option.none()
    throw e
  }
}

/** Write `text` to `path` atomically and durably: a temporary file, fsync, rename, fsync of the directory. */
const replaceFile = (path: string, text: string): void => {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  try {
    const fd = openSync(temp, "w", 0o600)
    try {
      writeSync(fd, text)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temp, path)
  } catch (e) {
    rmSync(temp, { force: true })
    throw e
  }
  // The rename itself is durable only once the directory is synced.
  const dir = openSync(dirname(path), "r")
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
}

/**
 * An anchor in a file of its own, replaced atomically on every write. A write never moves the anchor
 * back: with several processes appending, a slower process's older head is ignored.
 */
export const fileAnchor = (path: string): AuditAnchorStore => {
  const read = Effect.try({
    try: () => readText(path),
    catch: (cause) => new AuditAnchorError({ message: `cannot read the audit anchor ${path}`, cause })
  }).pipe(Effect.flatMap(Option.match({
    onNone: () => Effect.succeed(Option.none<AuditHead>()),
    onSome: (text) => Effect.map(parse(path, text), Option.some)
  })))
  return {
    location: `file ${path}`,
    read,
    write: (head) =>
      Effect.flatMap(read, (current) =>
        Option.isSome(current) && current.value.seq >= head.seq
          ? Effect.void
          : Effect.try({
            try: () => replaceFile(path, `${JSON.stringify({ seq: head.seq, hash: head.hash })}\n`),
            catch: (cause) => new AuditAnchorError({ message: `cannot write the audit anchor ${path}`, cause })
          }))
  }
}

/** The default anchor file of a SQLite database: `<database>.audit-anchor` beside it. */
export const sidecarPath = (databasePath: string): string => `${databasePath}.audit-anchor`
