/** Where a configured store is, in words for a person (never a URL that may carry a password). */
import type { MemoryConfig, SemanticBackendKind } from "../config.js"

/** The store of `kind` as `config` locates it, e.g. "SQLite .engram/engram.db". */
export const storeLocation = (config: MemoryConfig, kind: SemanticBackendKind): string => {
  switch (kind) {
    case "sqlite":
      return `SQLite ${config.sqlite.path}`
    case "postgres":
      return "PostgreSQL (url redacted)"
    case "qdrant":
      return `Qdrant ${config.qdrant?.url} collection ${config.qdrant?.collection}`
    case "http":
      return `the engram gateway at ${config.http?.url}`
  }
}
