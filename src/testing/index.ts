/**
 * engram's conformance suites (`engram/testing`): one suite per service, each a function of a Layer
 * that gives a fresh, empty store on every build. Run them against your own backend to prove it
 * behaves like every other engram backend.
 */
import type { AuditLog } from "../services/AuditLog.js"
import type { MainServices, SemanticServices } from "../services/index.js"
import { mainAdminSuite, semanticAdminSuite } from "./admin.js"
import { auditLogSuite } from "./audit.js"
import type { AuditTamper } from "./auditTamper.js"
import { consolidationSuite } from "./consolidation.js"
import { deviceStoreSuite } from "./devices.js"
import type { FreshLayer } from "./harness.js"
import { knowledgeStoreSuite } from "./knowledge.js"
import { semanticStoreSuite } from "./semantic.js"
import { sessionStoreSuite } from "./sessions.js"
import { structuredStoreSuite } from "./structured.js"
import { taskQueueSuite } from "./tasks.js"
import { usageStoreSuite } from "./usage.js"

export { AuditTamper } from "./auditTamper.js"
export { conformance, type FreshLayer, type StoreTest, storeTest } from "./harness.js"
export { memoryStoreWithTamper } from "./memoryStore.js"
export {
  auditLogSuite,
  consolidationSuite,
  deviceStoreSuite,
  knowledgeStoreSuite,
  mainAdminSuite,
  semanticAdminSuite,
  semanticStoreSuite,
  sessionStoreSuite,
  structuredStoreSuite,
  taskQueueSuite,
  usageStoreSuite
}

/**
 * The seven main-store suites. `audit` must build the same kind of store and also provide an
 * `AuditTamper` over its stored audit rows; `anchored` when its audit log keeps an anchor.
 */
export const mainStoreSuites = (
  name: string,
  layer: FreshLayer<MainServices>,
  audit: FreshLayer<AuditLog | AuditTamper>,
  options: { readonly anchored?: boolean } = {}
): void => {
  structuredStoreSuite(name, layer)
  knowledgeStoreSuite(name, layer)
  sessionStoreSuite(name, layer)
  usageStoreSuite(name, layer)
  deviceStoreSuite(name, layer)
  taskQueueSuite(name, layer)
  auditLogSuite(name, audit, options)
}

/** The semantic-store suites (SemanticStore and its Consolidation). */
export const semanticStoreSuites = (name: string, layer: FreshLayer<SemanticServices>): void => {
  semanticStoreSuite(name, layer)
  consolidationSuite(name, layer)
}
