/**
 * `engram doctor`: one line per check — connectivity, migrations, embedding space, audit chain — for
 * the main and the semantic store. Building a store runs these steps in order (connect, migrate,
 * check the embedding space, load and verify the audit chain), so the error a build stops with tells
 * which step failed and that the earlier ones passed.
 */
import { Effect, Exit, Layer } from "effect"
import type { MemoryConfig } from "../config.js"
import { describe } from "../core/storage.js"
import { mainLayerFromConfig, semanticLayerFromConfig } from "../composition/layer.js"
import { AuditLog } from "../services/AuditLog.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { SemanticStoreAdmin } from "../services/Admin.js"

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const where = (c: MemoryConfig, kind: string): string => {
  switch (kind) {
    case "sqlite":
      return `sqlite ${c.sqlite.path}`
    case "postgres":
      return "postgres (url redacted)"
    case "qdrant":
      return `qdrant ${c.qdrant?.url} collection ${c.qdrant?.collection}`
    default:
      return `http ${c.http?.url}`
  }
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

const report = (store: string, steps: ReadonlyArray<Step>, failure: { readonly _tag: string; readonly message: string }) => {
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

/** Run every check against the configured stores. */
export const doctor = (c: MemoryConfig): Effect.Effect<ReadonlyArray<Check>> =>
  Effect.gen(function*() {
    const checks: Array<Check> = []
    const mainWhere = where(c, c.backend)
    const main = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(mainLayerFromConfig(c))
      return yield* Effect.flatMap(AuditLog, (a) => a.verify()).pipe(Effect.provide(ctx))
    })))
    if (Exit.isSuccess(main)) {
      checks.push(
        { name: "main connectivity", ok: true, detail: mainWhere },
        { name: "main migrations", ok: true, detail: "schema up to date" },
        {
          name: "audit chain",
          ok: true,
          detail: `${main.value.entries} entries verified, head ${main.value.headHash.slice(0, 16)}…`
        }
      )
    } else {
      const error = main.cause._tag === "Fail" ? main.cause.error : { _tag: "Defect", message: describe(main.cause) }
      checks.push(...report("main", ["connectivity", "migrations", "audit chain"], error))
    }
    const semWhere = where(c, c.semanticBackend)
    const semantic = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(semanticLayerFromConfig(c))
      const store = yield* Effect.provide(SemanticStore, ctx)
      const agents = yield* Effect.flatMap(SemanticStoreAdmin, (a) => a.agents()).pipe(Effect.provide(ctx))
      return { space: store.embeddingSpace, agents: agents.length }
    })))
    if (Exit.isSuccess(semantic)) {
      checks.push(
        { name: "semantic connectivity", ok: true, detail: semWhere },
        { name: "semantic migrations", ok: true, detail: "schema up to date" },
        {
          name: "embedding space",
          ok: true,
          detail: `${semantic.value.space.model}/${semantic.value.space.dimensions}, ${semantic.value.agents} agents hold memories`
        }
      )
    } else {
      const error = semantic.cause._tag === "Fail" ? semantic.cause.error : { _tag: "Defect", message: describe(semantic.cause) }
      checks.push(...report("semantic", ["connectivity", "migrations", "embedding space"], error))
    }
    return checks
  })

