/**
 * engram's public surface: the domain Schemas and errors, the nine service contracts (and the two
 * admin services), configuration and composition, the Embedder, the convenience operations and
 * MemoryTest. Backends are separate entry points (`engram/sqlite`, `engram/postgres`,
 * `engram/qdrant`, `engram/http`) so that importing this module loads no database driver.
 */
export { DEFAULT_TEST_SPACE, layer as memoryLayer, MemoryTest } from "./backends/memory/index.js"
export { embedderLayerFromConfig } from "./composition/embedder.js"
export * from "./composition/layer.js"
export * from "./config.js"
export { AuditAnchor, AuditAnchorError, type AuditAnchorStore, fileAnchor } from "./core/auditAnchor.js"
export * from "./domain/index.js"
export * from "./embedder.js"
export * as Operations from "./operations.js"
export * from "./services/index.js"
