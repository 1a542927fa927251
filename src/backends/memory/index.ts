/**
 * MemoryTest: all nine services in memory, with the same semantics as the real backends — for users'
 * own specs and as the reference the conformance suites are checked against.
 */
import { Config, Context, Effect, Layer } from "effect"
import { makeAuditLog } from "../../core/auditLog.js"
import { semanticLimits } from "../../core/memoryInputs.js"
import { mainServices, semanticServices } from "../../core/storeLayers.js"
import type { EmbeddingSpace } from "../../domain/embedding.js"
import type { AuditIntegrityError } from "../../domain/errors.js"
import type { StoreOptions } from "../../domain/options.js"
import type { MainStoreAdmin, SemanticStoreAdmin } from "../../services/Admin.js"
import type { EngramServices } from "../../services/index.js"
import * as Admin from "./admin.js"
import * as Audit from "./audit.js"
import { makeDb, type MemoryDb } from "./client.js"
import * as Consolidate from "./consolidation.js"
import * as Devices from "./devices.js"
import * as Knowledge from "./knowledge.js"
import * as Semantic from "./semantic.js"
import * as Sessions from "./sessions.js"
import * as Structured from "./structured.js"
import * as Tasks from "./tasks.js"
import * as Usage from "./usage.js"

export { makeDb, type MemoryDb } from "./client.js"

/** Everything MemoryTest provides: the nine services and both admin services. */
export type MemoryServices = EngramServices | MainStoreAdmin | SemanticStoreAdmin

/** The embedding space MemoryTest uses unless told otherwise. */
export const DEFAULT_TEST_SPACE: EmbeddingSpace = { model: "engram-test", dimensions: 8 }

/** All nine services over `db` (a fresh database unless one is given). */
export const make = (
  options: StoreOptions,
  existing?: MemoryDb
): Effect.Effect<Context.Context<MemoryServices>, AuditIntegrityError> =>
  Effect.gen(function*() {
    const db = existing ?? makeDb()
    const audit = yield* makeAuditLog(Audit.port(db))
    const main = mainServices(db, { Structured, Knowledge, Sessions, Usage, Devices, Tasks, Admin }, audit)
    const semantic = semanticServices(
      { semantic: Semantic.port(db), consolidation: Consolidate.port(db), admin: Admin.semanticPort(db) },
      semanticLimits(options),
      options
    )
    return Context.merge(main, semantic)
  })

/** A fresh in-memory store per layer build. */
export const layer = (options: StoreOptions): Layer.Layer<MemoryServices, AuditIntegrityError> =>
  Layer.effectContext(make(options))

/** An in-memory store over an existing database (lets tests inspect or tamper with the data). */
export const layerFromDb = (options: StoreOptions, db: MemoryDb): Layer.Layer<MemoryServices, AuditIntegrityError> =>
  Layer.effectContext(make(options, db))

/** The options read from configuration (e.g. `ENGRAM_EMBEDDING_MODEL`, `ENGRAM_EMBEDDING_DIMENSIONS`). */
export const layerConfig = (config: Config.Config<StoreOptions>) => Layer.unwrapEffect(Effect.map(config, layer))

/** All nine services in memory with the default test embedding space (8 dimensions). */
export const MemoryTest: Layer.Layer<MemoryServices, AuditIntegrityError> = layer({ embedding: DEFAULT_TEST_SPACE })
