/**
 * `engram doctor`: one line per check — connectivity, migrations, embedding space, audit chain — for
 * the main and the semantic store. Building a store runs these steps in order (connect, migrate,
 * check the embedding space, load and verify the audit chain), so the error a build stops with tells
 * which step failed and that the earlier ones passed.
 */
import { Effect, Exit, type Scope } from "effect"
import { mainLayerFromConfig, semanticLayerFromConfig } from "../composition/layer.js"
import type { MemoryConfig } from "../config.js"
import { describe } from "../core/storage.js"
import { SemanticStoreAdmin } from "../services/Admin.js"
import { AuditLog } from "../services/AuditLog.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { storeLocation } from "./storeLocation.js"

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

/** Steps of a build, in the order they run. */
type Step = "connectivity" | "migrations" | "embedding space" | "audit chain"

const failedStep = (tag: string): Step => {
  switch (tag) {
    case "MigrationError":
      return "migrations"
    case "EmbeddingSpaceMismatch":
    case "InvalidInput":
      return "embedding space"
    case "AuditLoadError":
    case "AuditIntegrityError":
      return "audit chain"
    default:
      return "connectivity"
  }
}

const report = (
  store: string,
  steps: ReadonlyArray<Step>,
  failure: { readonly _tag: string; readonly message: string }
) => {
  const failed = failedStep(failure._tag)
  const checks: Array<Check> = []
  for (const step of steps) {
    if (step === failed) {
      checks.push({ name: `${store} ${step}`, ok: false, detail: `${failure._tag}: ${failure.message}` })
      break
    }
    checks.push({ name: `${store} ${step}`, ok: true, detail: "ok" })
  }
  return checks
}

/**
 * The checks of one store: its connectivity and migrations (both pass when `run` builds it), then
 * `last`, whose detail is what `run` found; a failure is reported at the step it belongs to.
 */
const probe = <E extends { readonly _tag: string; readonly message: string }>(
  store: string,
  where: string,
  last: Step,
  run: Effect.Effect<string, E, Scope.Scope>
): Effect.Effect<ReadonlyArray<Check>> =>
  Effect.map(Effect.exit(Effect.scoped(run)), (exit) =>
    Exit.isSuccess(exit)
      ? [
        { name: `${store} connectivity`, ok: true, detail: where },
        { name: `${store} migrations`, ok: true, detail: "schema up to date" },
        { name: last, ok: true, detail: exit.value }
      ]
      : report(
        store,
        ["connectivity", "migrations", last],
        exit.cause._tag === "Fail" ? exit.cause.error : { _tag: "Defect", message: describe(exit.cause) }
      ))

/** Run every check against the configured stores. */
export const doctor = (c: MemoryConfig): Effect.Effect<ReadonlyArray<Check>> =>
  Effect.gen(function*() {
    const main = yield* probe(
      "main",
      storeLocation(c, c.backend),
      "audit chain",
      Effect.gen(function*() {
        const verified = yield* (yield* AuditLog).verify()
        return `${verified.entries} entries verified, head ${verified.headHash.slice(0, 16)}…`
      }).pipe(Effect.provide(mainLayerFromConfig(c)))
    )
    const semantic = yield* probe(
      "semantic",
      storeLocation(c, c.semanticBackend),
      "embedding space",
      Effect.gen(function*() {
        const space = (yield* SemanticStore).embeddingSpace
        const agents = yield* (yield* SemanticStoreAdmin).agents()
        return `${space.model}/${space.dimensions}, ${agents.length} agents hold memories`
      }).pipe(Effect.provide(semanticLayerFromConfig(c)))
    )
    return [...main, ...semantic]
  })
