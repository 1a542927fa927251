/**
 * How a Qdrant store is put together: the connection (health check, collection bootstrap) and the
 * semantic services over it. `index.ts` loads this module when a layer is built.
 */
import type { Context } from "effect"
import { Effect } from "effect"
import { semanticLimits } from "../../core/memoryInputs.js"
import { semanticServices } from "../../core/storeLayers.js"
import type { BackendUnavailable, EmbeddingSpaceMismatch, StorageError } from "../../domain/errors.js"
import type { SemanticStoreAdmin } from "../../services/Admin.js"
import type { SemanticServices } from "../../services/index.js"
import * as Admin from "./admin.js"
import { open } from "./client.js"
import * as Consolidate from "./consolidation.js"
import type { QdrantOptions } from "./options.js"
import * as Semantic from "./semantic.js"

/** SemanticStore, Consolidation and SemanticStoreAdmin over one Qdrant collection. */
export const make = (
  options: QdrantOptions
): Effect.Effect<
  Context.Context<SemanticServices | SemanticStoreAdmin>,
  BackendUnavailable | EmbeddingSpaceMismatch | StorageError
> =>
  Effect.map(open(options), (conn) =>
    semanticServices(
      { semantic: Semantic.port(conn), consolidation: Consolidate.port(conn), admin: Admin.port(conn) },
      semanticLimits(options),
      options
    ))
