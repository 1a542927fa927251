/**
 * The migration runner shared by SQLite and PostgreSQL (the same version numbers on
 * both, forward only). It closes gaps of Effect's own Migrator: the whole run holds a cross-process lock
 * (SQLite `BEGIN IMMEDIATE`, PostgreSQL `pg_advisory_xact_lock`) so concurrent starters wait for the
 * schema instead of racing past it; every applied migration is checksummed, so an edited migration or
 * an unapplied lower version refuses to start; and every failure, including a failing statement, is a
 * typed `MigrationError` — the transaction rolls back and the schema is unchanged.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { type BackendName, MigrationError } from "../domain/errors.js"
import { describe } from "./storage.js"

/** One forward-only migration: plain SQL statements, so its checksum covers exactly what runs. */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly statements: ReadonlyArray<string>
}

/** A row of the migrations table. */
export interface AppliedMigration {
  readonly version: number
  readonly name: string
  readonly checksum: string
}

/** What a backend provides: statements run inside one transaction that holds the migration lock. */
export interface MigrationSession {
  /** Create the migrations table if needed (inside the lock, so it cannot race). */
  readonly ensureTable: Effect.Effect<void, unknown>
  readonly applied: Effect.Effect<ReadonlyArray<AppliedMigration>, unknown>
  readonly exec: (statement: string) => Effect.Effect<void, unknown>
  readonly record: (m: AppliedMigration, appliedAt: number) => Effect.Effect<void, unknown>
}

export interface MigrationDriver {
  readonly backend: BackendName
  /** Run `body` in one transaction holding the cross-process migration lock; roll back if it fails. */
  readonly locked: <A>(
    body: (session: MigrationSession) => Effect.Effect<A, MigrationError>
  ) => Effect.Effect<A, MigrationError>
}

/** The SHA-256 of a migration's version, name and statements. */
export const checksum = (m: Migration): string =>
  createHash("sha256").update(JSON.stringify([m.version, m.name, m.statements])).digest("hex")

/**
 * Check the recorded history against the code and return the migrations still to apply, in order.
 * Refuses: duplicate versions in code, an applied version the code does not know (the database is
 * newer than this program), an applied migration whose checksum changed, and a version lower than
 * the newest applied one that was never applied (it would silently never run).
 */
export const plan = (
  backend: BackendName,
  code: ReadonlyArray<Migration>,
  applied: ReadonlyArray<AppliedMigration>
): ReadonlyArray<Migration> | MigrationError => {
  const byVersion = new Map<number, Migration>()
  for (const m of code) {
    if (!Number.isInteger(m.version) || m.version < 1) {
      return new MigrationError({ backend, version: m.version, message: `invalid migration version ${m.version}` })
    }
    if (byVersion.has(m.version)) {
      return new MigrationError({
        backend,
        version: m.version,
        message: `migration version ${m.version} is defined twice`
      })
    }
    byVersion.set(m.version, m)
  }
  const done = new Set<number>()
  for (const a of applied) {
    const m = byVersion.get(a.version)
    if (m === undefined) {
      return new MigrationError({
        backend,
        version: a.version,
        message:
          `the database has migration ${a.version} (${a.name}) which this version of engram does not know; it was created by a newer version`
      })
    }
    if (checksum(m) !== a.checksum) {
      return new MigrationError({
        backend,
        version: a.version,
        message: `migration ${a.version} (${a.name}) was changed after it was applied (checksum mismatch)`
      })
    }
    done.add(a.version)
  }
  const newest = Math.max(0, ...done)
  const pending = [...byVersion.values()].filter((m) => !done.has(m.version)).sort((a, b) => a.version - b.version)
  const late = pending.find((m) => m.version < newest)
  if (late !== undefined) {
    return new MigrationError({
      backend,
      version: late.version,
      message:
        `migration ${late.version} (${late.name}) is older than the newest applied migration ${newest} but was never applied`
    })
  }
  return pending
}

/** Bring the schema up to date; returns the versions applied by this call (empty when already current). */
export const migrate = (
  driver: MigrationDriver,
  migrations: ReadonlyArray<Migration>,
  now: number
): Effect.Effect<ReadonlyArray<number>, MigrationError> =>
  driver.locked((session) =>
    Effect.gen(function*() {
      const fail = (message: string, version?: number) => (cause: unknown) =>
        new MigrationError({
          backend: driver.backend,
          message: `${message}: ${describe(cause)}`,
          cause,
          ...(version === undefined ? {} : { version })
        })
      yield* Effect.mapError(session.ensureTable, fail("cannot create the migrations table"))
      const applied = yield* Effect.mapError(session.applied, fail("cannot read the migrations table"))
      const pending = plan(driver.backend, migrations, applied)
      if (pending instanceof MigrationError) return yield* pending
      for (const m of pending) {
        for (const statement of m.statements) {
          yield* session.exec(statement).pipe(
            Effect.catchAllDefect(Effect.fail),
            Effect.mapError(fail(`migration ${m.version} (${m.name}) failed`, m.version))
          )
        }
        yield* Effect.mapError(
          session.record({ version: m.version, name: m.name, checksum: checksum(m) }, now),
          fail(`cannot record migration ${m.version}`, m.version)
        )
      }
      return pending.map((m) => m.version)
    })
  )
