/**
 * The gateway's handlers: the API of `Api.ts` implemented over the SemanticStore, Consolidation and
 * SemanticStoreAdmin tags (every semantic backend provides all three), so any semantic backend can
 * sit behind the gateway. The handlers add only what the gateway owns: agent confinement per token
 * (agentAccess.ts), the memory-api mapping (memoryApi.ts), paging of the export (exportCursor.ts),
 * and the public (cause-free) error forms (publicErrors.ts).
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Effect, Layer, Option } from "effect"
import { SemanticStoreAdmin } from "../services/Admin.js"
import { Consolidation } from "../services/Consolidation.js"
import { allowAgent, allowEveryAgent } from "./agentAccess.js"
import {
  Caller,
  EngramApi,
  GATEWAY_VERSION,
  MAX_EXPORT_PAGE,
  type RecallBody,
  type RememberBody,
  type RememberManyBody
} from "./Api.js"
import { type Authenticate, AuthorizationLive } from "./auth.js"
import { type GatewayDeps, gatewayDeps } from "./deps.js"
import { publicEmbedderError } from "./embedding.js"
import { makeExporter } from "./exportCursor.js"
import { GroupCommit } from "./groupCommit.js"
import { MemoryApiGroupLive } from "./memoryApi.js"
import { publicErrors } from "./publicErrors.js"

/**
 * The flows of the hot semantic routes, written once for HttpApi's handlers (below) and the routes
 * answered in front of it (fastRoutes.ts): confinement to the token's agents, the gateway's
 * embedder, the grouped commit of single stores, and the public error forms.
 */
export const semanticFlows = ({ embedding, grouped, store }: GatewayDeps) => ({
  remember: (payload: typeof RememberBody.Type) =>
    allowAgent(payload.agentId).pipe(
      Effect.zipRight(embedding.fill([payload])),
      Effect.flatMap(([input]) => grouped.remember(input!)),
      publicEmbedderError("remember"),
      publicErrors("remember")
    ),
  rememberMany: (payload: typeof RememberManyBody.Type) =>
    Effect.forEach(payload.inputs, (input) => allowAgent(input.agentId), { discard: true }).pipe(
      Effect.zipRight(embedding.fill(payload.inputs)),
      Effect.flatMap(store.rememberMany),
      publicEmbedderError("rememberMany"),
      publicErrors("rememberMany")
    ),
  recall: (payload: typeof RecallBody.Type) =>
    allowAgent(payload.agentId).pipe(
      Effect.zipRight(embedding.embedQuery(payload)),
      Effect.flatMap(store.recall),
      publicEmbedderError("recall"),
      publicErrors("recall")
    )
})

/** The semantic API. `maxBodyBytes` is reported by `/v1/info` so clients can size their requests. */
export const SemanticGroupLive = (settings: { readonly maxBodyBytes: number }) =>
  HttpApiBuilder.group(EngramApi, "semantic", (handlers) =>
    Effect.gen(function*() {
      const deps = yield* gatewayDeps
      const { embedding, store } = deps
      const flows = semanticFlows(deps)
      return handlers
        .handle("remember", ({ payload }) => Effect.map(flows.remember(payload), (id) => ({ id })))
        .handle("rememberMany", ({ payload }) => Effect.map(flows.rememberMany(payload), (ids) => ({ ids })))
        .handle("recall", ({ payload }) => Effect.map(flows.recall(payload), (hits) => ({ hits })))
        .handle("recallAgents", ({ payload }) =>
          Effect.forEach(payload.agentIds, allowAgent, { discard: true }).pipe(
            Effect.zipRight(embedding.embedQuery(payload.query)),
            Effect.flatMap((query) => store.recallAgents(payload.agentIds, query)),
            Effect.map((hits) => ({ hits })),
            publicEmbedderError("recallAgents"),
            publicErrors("recallAgents")
          ))
        .handle("get", ({ path, urlParams }) =>
          allowAgent(urlParams.agentId).pipe(
            Effect.zipRight(store.get(urlParams.agentId, path.id)),
            Effect.map((memory) => ({ memory: Option.getOrNull(memory) })),
            publicErrors("get")
          ))
        .handle("forget", ({ path, urlParams }) =>
          allowAgent(urlParams.agentId).pipe(
            Effect.zipRight(store.forget(urlParams.agentId, path.id)),
            Effect.map((forgotten) => ({ forgotten })),
            publicErrors("forget")
          ))
        .handle("updateEmbedding", ({ path, payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.updateEmbedding(payload.agentId, path.id, payload.embedding)),
            publicErrors("updateEmbedding")
          ))
        .handle("count", ({ payload }) =>
          allowAgent(payload.agentId).pipe(
            Effect.zipRight(store.count(payload.agentId, payload.filter)),
            Effect.map((count) => ({ count })),
            publicErrors("count")
          ))
        .handle(
          "info",
          () =>
            Effect.succeed({
              embedding: store.embeddingSpace,
              maxBodyBytes: settings.maxBodyBytes,
              version: GATEWAY_VERSION
            })
        )
    }))

/** Consolidation on the gateway's store, for tokens not limited to agents. */
export const ConsolidationGroupLive = HttpApiBuilder.group(
  EngramApi,
  "consolidation",
  (handlers) =>
    Effect.gen(function*() {
      const consolidation = yield* Consolidation
      return handlers.handle(
        "consolidate",
        ({ payload }) =>
          allowEveryAgent("consolidation").pipe(
            Effect.zipRight(consolidation.consolidate(payload)),
            publicErrors("consolidate")
          )
      )
    })
)

/** The semantic store's administration: agents and purge per token, export and import for unrestricted tokens. */
export const AdminGroupLive = HttpApiBuilder.group(EngramApi, "admin", (handlers) =>
  Effect.gen(function*() {
    const admin = yield* SemanticStoreAdmin
    const exportPage = yield* makeExporter(admin)
    return handlers
      .handle("agents", () =>
        Effect.gen(function*() {
          const { agents: mine } = yield* Caller
          const all = yield* admin.agents()
          return { agents: Option.isSome(mine) ? all.filter((a) => mine.value.has(a)) : all }
        }).pipe(publicErrors("agents")))
      .handle("purge", ({ payload }) =>
        allowAgent(payload.agentId).pipe(
          Effect.zipRight(admin.purgeAgent(payload.agentId)),
          Effect.map((purged) => ({ purged })),
          publicErrors("purge")
        ))
      .handle("exportMemories", ({ urlParams }) =>
        allowEveryAgent("export").pipe(
          Effect.zipRight(exportPage(urlParams.after, urlParams.limit ?? MAX_EXPORT_PAGE)),
          publicErrors("export")
        ))
      .handle("importMemories", ({ payload }) =>
        allowEveryAgent("import").pipe(
          Effect.zipRight(admin.import(payload.records)),
          Effect.as({ imported: payload.records.length }),
          publicErrors("import")
        ))
  }))

/** `/health`: the process serves (the store is not probed: that is what the other routes are for). */
export const HealthGroupLive = HttpApiBuilder.group(
  EngramApi,
  "health",
  (handlers) => handlers.handle("health", () => Effect.succeed({ status: "ok" }))
)

/**
 * The whole API over the store tags, with the given authenticator and the gateway's group commit
 * (shared with the routes answered in front of HttpApi, so all single stores group together).
 */
export const ApiLive = (
  settings: { readonly maxBodyBytes: number; readonly authenticate: Authenticate },
  grouped: GroupCommit["Type"]
) =>
  HttpApiBuilder.api(EngramApi).pipe(
    Layer.provide([
      SemanticGroupLive(settings),
      ConsolidationGroupLive,
      AdminGroupLive,
      MemoryApiGroupLive,
      HealthGroupLive
    ]),
    // The groups need the middleware too (their handlers are wrapped in it), so it is provided last.
    Layer.provide([AuthorizationLive(settings.authenticate), Layer.succeed(GroupCommit, grouped)])
  )
