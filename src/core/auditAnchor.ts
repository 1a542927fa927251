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
import { Context, Data, Effect, Either, Option, Ref, type Scope } from "effect"
import { readFileSync } from "node:fs"
import { open, rename, rm } from "node:fs/promises"
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

/**
 * Write `text` to `path` atomically and durably: a temporary file, fsync, rename, fsync of the
 * directory. Asynchronous (the thread pool does the I/O), so the event loop — and the store's next
 * commit — goes on meanwhile.
 */
const replaceFile = async (path: string, text: string): Promise<void> => {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  try {
    const file = await open(temp, "w", 0o600)
    try {
      await file.writeFile(text)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temp, path)
  } catch (e) {
    await rm(temp, { force: true })
    throw e
  }
  // The rename itself is durable only once the directory is synced.
  const dir = await open(dirname(path), "r")
  try {
    await dir.sync()
  } finally {
    await dir.close()
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
          : Effect.tryPromise({
            try: () => replaceFile(path, `${JSON.stringify({ seq: head.seq, hash: head.hash })}\n`),
            catch: (cause) => new AuditAnchorError({ message: `cannot write the audit anchor ${path}`, cause })
          }))
  }
}

/** The default anchor file of a SQLite database: `<database>.audit-anchor` beside it. */
export const sidecarPath = (databasePath: string): string => `${databasePath}.audit-anchor`

/** An anchor that follows a log's appends without making them wait (see `following`). */
export interface FollowingAnchor {
  /**
   * Hand over a committed head to be written in the background. Fails with the error of an earlier
   * background write, if one failed since the last report (that error is reported once).
   */
  readonly advance: (head: AuditHead) => Effect.Effect<void, AuditAnchorError>
  /** Wait until every head handed over is written; fails as `advance` does. */
  readonly settle: Effect.Effect<void, AuditAnchorError>
}

/**
 * `store` written behind the log: each append hands its committed head over and returns; one write
 * at a time runs in the background, and heads that arrive during a write are folded into the next
 * (the latest wins), so a busy log pays for far fewer anchor writes than appends. The anchor is
 * therefore never ahead of the committed log, and at most one write behind it while appends go on;
 * `settle` (run by `verify`, and when the scope closes) catches it up. A process killed meanwhile
 * leaves the anchor behind the log, which verification accepts: only the truncation of those last
 * entries would go unnoticed.
 */
export const following = (store: AuditAnchorStore): Effect.Effect<FollowingAnchor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pending = yield* Ref.make(Option.none<AuditHead>())
    const failed = yield* Ref.make(Option.none<AuditAnchorError>())
    const writer = yield* Effect.makeSemaphore(1)
    // Uninterruptible writes: a write that has begun always ends (its temporary file renamed or removed).
    const drain = writer.withPermits(1)(Effect.gen(function*() {
      for (;;) {
        const next = yield* Ref.getAndSet(pending, Option.none())
        if (Option.isNone(next)) return
        const written = yield* Effect.either(Effect.uninterruptible(store.write(next.value)))
        if (Either.isLeft(written)) {
          yield* Ref.set(failed, Option.some(written.left))
          yield* Effect.logError(`audit anchor (${store.location}): ${written.left.message}`)
        }
      }
    }))
    // At most one background drain at a time. Forking one per append left every append of a busy
    // period waiting on `writer` as a fiber of its own (~4 KB each) until the writes caught up.
    const running = yield* Ref.make(false)
    const background: Effect.Effect<void> = Effect.gen(function*() {
      yield* Effect.ensuring(drain, Ref.set(running, false))
      // A head handed over after the drain's last look, but before `running` was cleared, found it
      // set and started nothing: look once more.
      const left = yield* Ref.get(pending)
      if (Option.isSome(left) && !(yield* Ref.getAndSet(running, true))) yield* background
    })
    const kick = Effect.flatMap(
      Ref.getAndSet(running, true),
      (already) => already ? Effect.void : Effect.asVoid(Effect.forkDaemon(background))
    )
    const report = Effect.flatMap(
      Ref.getAndSet(failed, Option.none()),
      Option.match({ onNone: () => Effect.void, onSome: (e) => Effect.fail(e) })
    )
    yield* Effect.addFinalizer(() => drain)
    return {
      advance: (head) =>
        report.pipe(
          Effect.zipRight(
            Ref.update(
              pending,
              (current) => Option.isSome(current) && current.value.seq >= head.seq ? current : Option.some(head)
            )
          ),
          Effect.zipRight(kick),
          Effect.asVoid
        ),
      settle: Effect.zipRight(drain, report)
    }
  })
