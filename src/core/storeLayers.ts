/**
 * How a store's services are assembled, the same for every backend: the Context of the main-store
 * services and of the semantic services from their implementations, and the layer set a database
 * backend exports (`make`, `layer`, `layerMain`, `layerSemantic`, `layerConfig`), in which every
 * service of a layer shares one connection that closes with the layer's scope.
 */
import { type Config, type ConfigError, Context, Effect, Layer, type Scope } from "effect"
import { MainStoreAdmin, SemanticStoreAdmin } from "../services/Admin.js"
import { AuditLog } from "../services/AuditLog.js"
import { Consolidation } from "../services/Consolidation.js"
import { DeviceStore } from "../services/DeviceStore.js"
import type { MainServices, SemanticServices } from "../services/index.js"
import { KnowledgeStore } from "../services/KnowledgeStore.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { SessionStore } from "../services/SessionStore.js"
import { StructuredStore } from "../services/StructuredStore.js"
import { TaskQueue } from "../services/TaskQueue.js"
import { UsageStore } from "../services/UsageStore.js"
import { type ConsolidationPort, makeConsolidation, type RemoteConsolidationPort } from "./consolidation.js"
import { type DevicePort, makeDeviceStore } from "./devices.js"
import { type KnowledgePort, makeKnowledgeStore } from "./knowledge.js"
import { type MainAdminPort, makeMainStoreAdmin } from "./mainStoreAdmin.js"
import type { SemanticLimits } from "./memoryInputs.js"
import { makeSemanticStore, type SemanticPort } from "./semantic.js"
import { makeSemanticStoreAdmin, type SemanticAdminPort } from "./semanticAdmin.js"
import { makeSessionStore, type SessionPort } from "./sessions.js"
import { makeStructuredStore, type StructuredPort } from "./structured.js"
import { makeTaskQueue, type TaskPort } from "./taskQueue.js"
import { makeUsageStore, type UsagePort } from "./usageStore.js"

/** The main-store services and their admin service. */
export type MainStoreServices = MainServices | MainStoreAdmin

/** Semantic memory, its consolidation and its admin service. */
export type SemanticStoreServices = SemanticServices | SemanticStoreAdmin

/** The implementations of the main-store services over one store. */
export interface MainImplementations {
  readonly structured: Context.Tag.Service<typeof StructuredStore>
  readonly knowledge: Context.Tag.Service<typeof KnowledgeStore>
  readonly sessions: Context.Tag.Service<typeof SessionStore>
  readonly usage: Context.Tag.Service<typeof UsageStore>
  readonly devices: Context.Tag.Service<typeof DeviceStore>
  readonly tasks: Context.Tag.Service<typeof TaskQueue>
  readonly audit: Context.Tag.Service<typeof AuditLog>
  readonly admin: Context.Tag.Service<typeof MainStoreAdmin>
}

/** The implementations of the semantic services over one store. */
export interface SemanticImplementations {
  readonly semantic: Context.Tag.Service<typeof SemanticStore>
  readonly consolidation: Context.Tag.Service<typeof Consolidation>
  readonly admin: Context.Tag.Service<typeof SemanticStoreAdmin>
}

export const mainContext = (s: MainImplementations): Context.Context<MainStoreServices> =>
  Context.make(StructuredStore, s.structured).pipe(
    Context.add(KnowledgeStore, s.knowledge),
    Context.add(SessionStore, s.sessions),
    Context.add(UsageStore, s.usage),
    Context.add(DeviceStore, s.devices),
    Context.add(TaskQueue, s.tasks),
    Context.add(AuditLog, s.audit),
    Context.add(MainStoreAdmin, s.admin)
  )

export const semanticContext = (s: SemanticImplementations): Context.Context<SemanticStoreServices> =>
  Context.make(SemanticStore, s.semantic).pipe(
    Context.add(Consolidation, s.consolidation),
    Context.add(SemanticStoreAdmin, s.admin)
  )

/**
 * The modules of a backend folder that provide the main-store ports, each over the store's
 * connection (the house's file names: structured.ts, knowledge.ts, … admin.ts).
 */
export interface MainPortModules<Conn> {
  readonly Structured: { readonly port: (conn: Conn) => StructuredPort }
  readonly Knowledge: { readonly port: (conn: Conn) => KnowledgePort }
  readonly Sessions: { readonly port: (conn: Conn) => SessionPort }
  readonly Usage: { readonly port: (conn: Conn) => UsagePort }
  readonly Devices: { readonly port: (conn: Conn) => DevicePort }
  readonly Tasks: { readonly port: (conn: Conn) => TaskPort }
  readonly Admin: { readonly mainPort: (conn: Conn) => MainAdminPort }
}

/**
 * The main-store services over a store's port modules and its audit log (built by the backend
 * first, with `makeAuditLog`: building it verifies the chain). Building a port may throw (a SQL
 * store prepares its statements): the caller wraps this in its `attempt`.
 */
export const mainServices = <Conn>(
  conn: Conn,
  m: MainPortModules<Conn>,
  audit: Context.Tag.Service<typeof AuditLog>
): Context.Context<MainStoreServices> =>
  mainContext({
    structured: makeStructuredStore(m.Structured.port(conn)),
    knowledge: makeKnowledgeStore(m.Knowledge.port(conn)),
    sessions: makeSessionStore(m.Sessions.port(conn)),
    usage: makeUsageStore(m.Usage.port(conn)),
    devices: makeDeviceStore(m.Devices.port(conn)),
    tasks: makeTaskQueue(m.Tasks.port(conn)),
    audit,
    admin: makeMainStoreAdmin(m.Admin.mainPort(conn))
  })

/** The ports a semantic store provides. */
export interface SemanticPorts {
  readonly semantic: SemanticPort
  readonly consolidation: ConsolidationPort | RemoteConsolidationPort
  readonly admin: SemanticAdminPort
}

/** The semantic services over a store's ports, with its limits and its default decay rate. */
export const semanticServices = (
  ports: SemanticPorts,
  limits: SemanticLimits,
  options: { readonly decayRate?: number | undefined }
): Context.Context<SemanticStoreServices> =>
  semanticContext({
    semantic: makeSemanticStore(ports.semantic, limits),
    consolidation: makeConsolidation(ports.consolidation, { decayRate: options.decayRate }),
    admin: makeSemanticStoreAdmin(ports.admin, limits.space)
  })

/** What a database backend supplies: opening a migrated connection, and its services over one. */
export interface StoreParts<Options, Conn, E> {
  /** Open the connection (or pool) in the current scope and bring its schema up to date. */
  readonly connect: (options: Options) => Effect.Effect<Conn, E, Scope.Scope>
  /** The main-store services over a migrated connection (verifies the audit chain). */
  readonly makeMain: (
    conn: Conn,
    options: Options
  ) => Effect.Effect<Context.Context<MainStoreServices>, E, Scope.Scope>
  /** The semantic services over a migrated connection (records or checks the embedding space). */
  readonly makeSemantic: (
    conn: Conn,
    options: Options
  ) => Effect.Effect<Context.Context<SemanticStoreServices>, E, Scope.Scope>
}

/**
 * The layers of a database backend over its parts. `Options` (the store options and the backend's
 * connection options) and `E` (every way its layers can fail) are given explicitly: they are the
 * backend's public types, the same for each of its layers.
 */
export const storeLayers = <Options, E>() => <Conn>(parts: StoreParts<Options, Conn, E>) => {
  /** All nine services (and both admin services) over an open connection. */
  const servicesOn = (
    conn: Conn,
    options: Options
  ): Effect.Effect<Context.Context<MainStoreServices | SemanticStoreServices>, E, Scope.Scope> =>
    Effect.gen(function*() {
      const semantic = yield* parts.makeSemantic(conn, options)
      const main = yield* parts.makeMain(conn, options)
      return Context.merge(main, semantic)
    })
  /** All nine services (and both admin services) over one connection, closed with the scope. */
  const make = (
    options: Options
  ): Effect.Effect<Context.Context<MainStoreServices | SemanticStoreServices>, E, Scope.Scope> =>
    Effect.flatMap(parts.connect(options), (conn) => servicesOn(conn, options))
  /** All nine services and both admin services. */
  const layer = (options: Options): Layer.Layer<MainStoreServices | SemanticStoreServices, E> =>
    Layer.scopedContext(make(options))
  /** The main store only; the embedding space is not touched. */
  const layerMain = (options: Options): Layer.Layer<MainStoreServices, E> =>
    Layer.scopedContext(Effect.flatMap(parts.connect(options), (conn) => parts.makeMain(conn, options)))
  /** Semantic memory and its consolidation only. */
  const layerSemantic = (options: Options): Layer.Layer<SemanticStoreServices, E> =>
    Layer.scopedContext(Effect.flatMap(parts.connect(options), (conn) => parts.makeSemantic(conn, options)))
  /** `layer` with the options read from configuration. */
  const layerConfig = (
    config: Config.Config<Options>
  ): Layer.Layer<MainStoreServices | SemanticStoreServices, E | ConfigError.ConfigError> =>
    Layer.unwrapEffect(Effect.map(config, layer))
  return { make, servicesOn, layer, layerMain, layerSemantic, layerConfig }
}
