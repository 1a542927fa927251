/** The nine service contracts. Each is a `Context.Tag` with no default implementation. */
export * from "./Admin.js"
export * from "./AuditLog.js"
export * from "./Consolidation.js"
export * from "./DeviceStore.js"
export * from "./KnowledgeStore.js"
export * from "./SemanticStore.js"
export * from "./SessionStore.js"
export * from "./StructuredStore.js"
export * from "./TaskQueue.js"
export * from "./UsageStore.js"

import type { AuditLog } from "./AuditLog.js"
import type { Consolidation } from "./Consolidation.js"
import type { DeviceStore } from "./DeviceStore.js"
import type { KnowledgeStore } from "./KnowledgeStore.js"
import type { SemanticStore } from "./SemanticStore.js"
import type { SessionStore } from "./SessionStore.js"
import type { StructuredStore } from "./StructuredStore.js"
import type { TaskQueue } from "./TaskQueue.js"
import type { UsageStore } from "./UsageStore.js"

/** The services of the main store (everything except semantic memory and its consolidation). */
export type MainServices =
  | StructuredStore
  | KnowledgeStore
  | SessionStore
  | UsageStore
  | DeviceStore
  | TaskQueue
  | AuditLog

/** The services of a semantic store. */
export type SemanticServices = SemanticStore | Consolidation

/** All nine services. */
export type EngramServices = MainServices | SemanticServices
