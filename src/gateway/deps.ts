/** What the gateway's routes call, built once per gateway and shared by both of its paths. */
import { Effect } from "effect"
import { SemanticStoreAdmin } from "../services/Admin.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { type GatewayEmbedding, gatewayEmbedding } from "./embedding.js"
import { GroupCommit } from "./groupCommit.js"

/** The gateway's store, the store's administration, its embedder and its group commit. */
export interface GatewayDeps {
  readonly store: SemanticStore["Type"]
  readonly admin: SemanticStoreAdmin["Type"]
  readonly embedding: GatewayEmbedding
  readonly grouped: GroupCommit["Type"]
}

/** The gateway's dependencies from its context. */
export const gatewayDeps: Effect.Effect<GatewayDeps, never, SemanticStore | SemanticStoreAdmin | GroupCommit> = Effect
  .all({ store: SemanticStore, admin: SemanticStoreAdmin, embedding: gatewayEmbedding, grouped: GroupCommit })
