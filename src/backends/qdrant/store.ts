/**
 * How a Qdrant store is put together: the connection (health check, collection bootstrap) and the
 * semantic services over it. `index.ts` loads this module when a layer is built.
 */
import { Context, Effect } from "effect"
import { makeConsolidation } from "../../core/consolidation.js"
import { semanticLimits } from "../../core/memoryInputs.js"
import { makeSemanticStore } from "../../core/semantic.js"
import { makeSemanticStoreAdmin } from "../../core/semanticAdmin.js"
import type { BackendUnavailable, EmbeddingSpaceMismatch, StorageError } from "../../domain/errors.js"
import { SemanticStoreAdmin } from "../../services/Admin.js"
import type { SemanticServices } from "../../services/index.js"
import { Consolidation } from "../../services/Consolidation.js"
import { SemanticStore } from "../../services/SemanticStore.js"
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
  Effect.gen(function*() {
    const conn = yield* open(options)
    return Context.make(SemanticStore, makeSemanticStore(Semantic.port(conn), semanticLimits(options))).pipe(
      Context.add(Consolidation, makeConsolidation(Consolidate.port(conn), { decayRate: options.decayRate })),
      Context.add(SemanticStoreAdmin, makeSemanticStoreAdmin(Admin.port(conn), options.embedding))
    )
  })
