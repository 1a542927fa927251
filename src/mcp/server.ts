/**
 * engram as an MCP server, built on @effect/ai's `McpServer`: the tools of tools.ts and, as
 * resources, each agent's canonical session. Two transports: stdio (`engram mcp`, for hosts that
 * spawn the server) and streamable HTTP on the gateway (`POST /mcp`, behind the gateway's bearer
 * tokens). A server is confined to a set of agents fixed when it is built — by `engram mcp --agent`,
 * or by the token of the HTTP request — because McpServer's tool handlers see only their parameters,
 * never the transport's request; the gateway therefore keeps one McpServer per set of agents.
 */
import * as McpSchema from "@effect/ai/McpSchema"
import * as McpServer from "@effect/ai/McpServer"
import * as NodeSink from "@effect/platform-node/NodeSink"
import * as NodeStream from "@effect/platform-node/NodeStream"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import { Context, Effect, Layer, Option, Runtime, Schema, type Scope } from "effect"
import type { KnowledgeStore } from "../services/KnowledgeStore.js"
import type { SemanticStore } from "../services/SemanticStore.js"
import { SessionStore } from "../services/SessionStore.js"
import type { StructuredStore } from "../services/StructuredStore.js"
import type { TaskQueue } from "../services/TaskQueue.js"
import { allow, type Confinement, EngramToolkit, toolHandlers } from "./tools.js"

/** The stores the MCP server reaches. */
export type McpStores = SemanticStore | StructuredStore | KnowledgeStore | TaskQueue | SessionStore

/** How the server names itself to MCP hosts. */
export const MCP_SERVER_INFO = { name: "engram", version: "1" } as const

const canonicalUri = (agentId: string) => `engram://agents/${encodeURIComponent(agentId)}/canonical-session`

/** An agent's canonical session (summary and messages) as JSON, if the confinement allows the agent. */
const canonicalSession = (confinement: Confinement, agentId: string) =>
  Effect.gen(function*() {
    yield* allow(confinement, agentId)
    const context = yield* (yield* SessionStore).canonicalContext(agentId)
    return JSON.stringify(context)
  })

const agentParam = McpSchema.param("agentId", Schema.String)

/**
 * The canonical sessions as resources: a template for any agent, and for a confined server one
 * listed resource per allowed agent (so a host can show them without knowing the agents).
 */
const canonicalSessionResources = (confinement: Confinement): Layer.Layer<never, never, SessionStore> => {
  const template = McpServer.resource`engram://agents/${agentParam}/canonical-session`({
    name: "canonical session",
    description: "An agent's canonical session: its running summary and recent messages (JSON).",
    mimeType: "application/json",
    content: (_uri, agentId) => canonicalSession(confinement, agentId)
  })
  const listed = Option.match(confinement, {
    onNone: () => [],
    onSome: (agents) =>
      [...agents].map((agentId) =>
        McpServer.resource({
          uri: canonicalUri(agentId),
          name: `canonical session of ${agentId}`,
          mimeType: "application/json",
          content: canonicalSession(confinement, agentId)
        })
      )
  })
  return listed.reduce((all, one) => Layer.merge(all, one), template)
}

/** engram's tools and resources, registered on the McpServer of the layer they are provided with. */
export const engramMcp = (confinement: Confinement): Layer.Layer<never, never, McpStores> =>
  Layer.mergeAll(McpServer.toolkit(EngramToolkit), canonicalSessionResources(confinement)).pipe(
    Layer.provide(toolHandlers(confinement))
  )

/** The MCP server on this process's stdin and stdout (the transport of hosts that spawn it). */
export const McpStdioLive = (confinement: Confinement): Layer.Layer<never, never, McpStores> =>
  engramMcp(confinement).pipe(
    Layer.provide(McpServer.layerStdio({ ...MCP_SERVER_INFO, stdin: NodeStream.stdin, stdout: NodeSink.stdout }))
  )

/** The HTTP app of an MCP server confined to `confinement`, built into `scope`. */
const httpServerFor = (confinement: Confinement, scope: Scope.Scope) =>
  Effect.gen(function*() {
    const { httpApp, protocol } = yield* RpcServer.makeProtocolWithHttpApp.pipe(
      Effect.provide(RpcSerialization.layerJsonRpc())
    )
    const server = engramMcp(confinement).pipe(
      Layer.provide(McpServer.layer(MCP_SERVER_INFO)),
      Layer.provide(Layer.succeed(RpcServer.Protocol, protocol))
    )
    yield* Layer.buildWithScope(server, scope)
    return httpApp
  })

/** Streamable-HTTP MCP apps, one per set of agents (built on first use, kept for the server's life). */
export class McpHttp extends Context.Tag("engram/mcp/McpHttp")<McpHttp, {
  readonly appFor: (confinement: Confinement) => Effect.Effect<HttpApp.Default<never, Scope.Scope>>
}>() {}

const keyOf = (confinement: Confinement): string =>
  Option.match(confinement, { onNone: () => "*", onSome: (agents) => JSON.stringify([...agents].sort()) })

/** McpHttp over the stores (and the Embedder, if any) of the context. */
export const McpHttpLive: Layer.Layer<McpHttp, never, McpStores> = Layer.scoped(
  McpHttp,
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    // Servers are built on first use, from within a request: they run on this layer's runtime, not as
    // children of that request's fiber (which the HTTP server interrupts and awaits at shutdown).
    const runtime = yield* Effect.runtime<McpStores>()
    const apps = new Map<string, HttpApp.Default<never, Scope.Scope>>()
    const lock = yield* Effect.makeSemaphore(1)
    return McpHttp.of({
      appFor: (confinement) =>
        lock.withPermits(1)(Effect.suspend(() => {
          const key = keyOf(confinement)
          const known = apps.get(key)
          if (known !== undefined) return Effect.succeed(known)
          return Effect.promise(() => Runtime.runPromise(runtime, httpServerFor(confinement, scope))).pipe(
            Effect.tap((app) => Effect.sync(() => apps.set(key, app)))
          )
        }))
    })
  })
)
