/**
 * engram's MCP tools as an @effect/ai `Toolkit`: remember, recall, forget, kv get/set/list, knowledge
 * upsert/query, task post/claim/complete. Each tool's parameters are engram's own input Schemas (so
 * an MCP host sees the same rules the stores enforce), and every call is confined to the agents its
 * server was opened for: a call naming another agent fails with `Forbidden` before touching a store.
 */
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { Cause, Effect, Option, Schema } from "effect"
import { AgentId, TaskId } from "../domain/ids.js"
import { Json } from "../domain/json.js"
import { EntityInput, GraphQuery } from "../domain/knowledge.js"
import { RecallQuery, RememberInput } from "../domain/memory.js"
import { KvListOptions } from "../domain/structured.js"
import { ClaimOptions, CompleteInput, TaskInput } from "../domain/task.js"
import { Text } from "../domain/text.js"
import { Embedder } from "../embedder.js"
import * as Operations from "../operations.js"
import { KnowledgeStore } from "../services/KnowledgeStore.js"
import { SemanticStore } from "../services/SemanticStore.js"
import { StructuredStore } from "../services/StructuredStore.js"
import { TaskQueue } from "../services/TaskQueue.js"

/**
 * A tool call failed: `tag` is the engram error's tag (InvalidInput, Forbidden, TaskNotClaimed, …) and
 * `message` says why. Store failures carry no detail (no SQL text or driver message reaches the host).
 */
export class ToolError extends Schema.TaggedError<ToolError>()("ToolError", {
  tag: Schema.String,
  message: Schema.String
}) {}

/** The agents a server may act for: None for every agent. */
export type Confinement = Option.Option<ReadonlySet<string>>

/** Fail with Forbidden unless the confinement allows `agentId`. */
export const allow = (confinement: Confinement, agentId: string): Effect.Effect<void, ToolError> =>
  Option.isNone(confinement) || confinement.value.has(agentId)
    ? Effect.void
    : Effect.fail(
      new ToolError({ tag: "Forbidden", message: `this MCP server may not use agent ${JSON.stringify(agentId)}` })
    )

const agent = { agentId: AgentId }

/** A recalled memory as a tool returns it (without its vector, which no host needs). */
const RecalledMemory = Schema.Struct({
  id: Schema.String,
  content: Schema.String,
  scope: Schema.String,
  source: Schema.String,
  metadata: Schema.Unknown,
  createdAt: Schema.Number,
  score: Schema.Number
})

const failure = ToolError

/**
 * Any JSON value, described so that JSON Schema generation accepts it (an empty description is not
 * taken as one, and MCP needs every parameter described).
 */
const AnyJson = Json.annotations({
  jsonSchema: {
    anyOf: [
      { type: "object" },
      { type: "array" },
      { type: "string" },
      { type: "number" },
      { type: "boolean" },
      { type: "null" }
    ]
  }
})

export const Remember = Tool.make("remember", {
  description: "Store a memory for an agent (embedded when the server has an embedding model).",
  parameters: RememberInput.fields,
  success: Schema.Struct({ id: Schema.String }),
  failure
})

export const Recall = Tool.make("recall", {
  description: "Recall an agent's memories: by text (hybrid with the embedding model), by vector, or the newest.",
  parameters: RecallQuery.fields,
  success: Schema.Struct({ results: Schema.Array(RecalledMemory) }),
  failure
})

export const Forget = Tool.make("forget", {
  description: "Delete one of an agent's memories by id.",
  parameters: { ...agent, memoryId: Schema.String },
  success: Schema.Struct({ forgotten: Schema.Boolean }),
  failure
})

export const KvGet = Tool.make("kv_get", {
  description: "Read an agent's key-value entry.",
  parameters: { ...agent, key: Text },
  success: Schema.Struct({ found: Schema.Boolean, value: Schema.optional(Schema.Unknown) }),
  failure
})

export const KvSet = Tool.make("kv_set", {
  description: "Write an agent's key-value entry (any JSON value); answers the entry's new version.",
  parameters: { ...agent, key: Text, value: AnyJson },
  success: Schema.Struct({ version: Schema.Number }),
  failure
})

export const KvList = Tool.make("kv_list", {
  description: "List an agent's key-value entries in key order, optionally under a prefix, a page at a time.",
  parameters: { ...agent, ...KvListOptions.fields },
  success: Schema.Struct({
    entries: Schema.Array(Schema.Struct({ key: Schema.String, value: Schema.Unknown, version: Schema.Number })),
    nextCursor: Schema.NullOr(Schema.String)
  }),
  failure
})

export const KnowledgeUpsert = Tool.make("knowledge_upsert", {
  description: "Create or update an entity of an agent's knowledge graph; answers its id.",
  parameters: EntityInput.fields,
  success: Schema.Struct({ id: Schema.String }),
  failure
})

export const KnowledgeQuery = Tool.make("knowledge_query", {
  description: "Find paths in an agent's knowledge graph from a source and/or to a target, by relation.",
  parameters: GraphQuery.fields,
  success: Schema.Struct({ matches: Schema.Array(Schema.Unknown) }),
  failure
})

export const TaskPost = Tool.make("task_post", {
  description: "Post a task to the shared queue, as `agentId` (optionally assigned to an agent).",
  parameters: { ...agent, ...TaskInput.fields },
  success: Schema.Struct({ id: Schema.String }),
  failure
})

export const TaskClaim = Tool.make("task_claim", {
  description: "Claim the best pending task for an agent, with a lease; null when there is none.",
  parameters: { ...agent, ...ClaimOptions.fields },
  success: Schema.Struct({ task: Schema.NullOr(Schema.Unknown) }),
  failure
})

export const TaskComplete = Tool.make("task_complete", {
  description: "Complete a claimed task (the claim's agentId and attempt are required).",
  parameters: { taskId: TaskId, ...CompleteInput.fields },
  success: Schema.Struct({ task: Schema.Unknown }),
  failure
})

/** Every engram tool. */
export const EngramToolkit = Toolkit.make(
  Remember,
  Recall,
  Forget,
  KvGet,
  KvSet,
  KvList,
  KnowledgeUpsert,
  KnowledgeQuery,
  TaskPost,
  TaskClaim,
  TaskComplete
)

const tagOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" ? e._tag : "Error"

const messageOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)

/** The public form of an engram failure: its tag and message, never its cause. */
const toToolError = (operation: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, ToolError, R> =>
  Effect.catchAllCause(self, (cause) => {
    const failed = Cause.failureOption(cause)
    if (Option.isNone(failed)) {
      return Effect.zipRight(
        Effect.logError(`mcp ${operation}: defect`, cause),
        Effect.fail(new ToolError({ tag: "Defect", message: `${operation} failed unexpectedly` }))
      )
    }
    const e: unknown = failed.value
    if (e instanceof ToolError) return Effect.fail(e)
    const tag = tagOf(e)
    // Store failures are logged in full and answered without their detail.
    if (tag === "StorageError" || tag === "BackendUnavailable") {
      return Effect.zipRight(
        Effect.logError(`mcp ${operation}: ${tag}`, cause),
        Effect.fail(new ToolError({ tag, message: `the store failed (${operation})` }))
      )
    }
    return Effect.fail(new ToolError({ tag, message: messageOf(e) }))
  })

/** The tools' handlers over the stores in the context, confined to `confinement`. */
export const toolHandlers = (confinement: Confinement) =>
  EngramToolkit.toLayer(Effect.gen(function*() {
    const semantic = yield* SemanticStore
    const kv = yield* StructuredStore
    const knowledge = yield* KnowledgeStore
    const tasks = yield* TaskQueue
    const embedder = yield* Effect.serviceOption(Embedder)
    // The operations embed through the Embedder when the server has one, and pass through otherwise.
    const operation = <A, E>(self: Effect.Effect<A, E, SemanticStore>): Effect.Effect<A, E> => {
      const withStore = Effect.provideService(self, SemanticStore, semantic)
      return Option.match(embedder, {
        onNone: () => withStore,
        onSome: (e) => Effect.provideService(withStore, Embedder, e)
      })
    }
    return {
      remember: (p) =>
        allow(confinement, p.agentId).pipe(
          Effect.zipRight(operation(Operations.remember(p))),
          Effect.map((id) => ({ id })),
          toToolError("remember")
        ),
      recall: (p) =>
        allow(confinement, p.agentId).pipe(
          Effect.zipRight(operation(Operations.recall(p))),
          Effect.map((hits) => ({
            results: hits.map(({ memory: m, score }) => ({
              id: m.id,
              content: m.content,
              scope: m.scope,
              source: m.source,
              metadata: m.metadata,
              createdAt: m.createdAt,
              score
            }))
          })),
          toToolError("recall")
        ),
      forget: (p) =>
        allow(confinement, p.agentId).pipe(
          Effect.zipRight(semantic.forget(p.agentId, p.memoryId)),
          Effect.map((forgotten) => ({ forgotten })),
          toToolError("forget")
        ),
      kv_get: (p) =>
        allow(confinement, p.agentId).pipe(
          Effect.zipRight(kv.get(p.agentId, p.key)),
          Effect.map(Option.match({
            onNone: (): { found: boolean; value?: unknown } => ({ found: false }),
            onSome: (value) => ({ found: true, value })
          })),
          toToolError("kv_get")
        ),
      kv_set: (p) =>
        allow(confinement, p.agentId).pipe(
          Effect.zipRight(kv.set(p.agentId, p.key, p.value)),
          Effect.map((version) => ({ version })),
          toToolError("kv_set")
        ),
      kv_list: ({ agentId, ...options }) =>
        allow(confinement, agentId).pipe(
          Effect.zipRight(kv.list(agentId, options)),
          Effect.map((page) => ({
            entries: page.items.map((e) => ({ key: e.key, value: e.value, version: e.version })),
            nextCursor: page.nextCursor
          })),
          toToolError("kv_list")
        ),
      knowledge_upsert: (p) =>
        allow(confinement, p.agentId).pipe(
          Effect.zipRight(knowledge.upsertEntity(p)),
          Effect.map((id) => ({ id })),
          toToolError("knowledge_upsert")
        ),
      knowledge_query: (p) =>
        allow(confinement, p.agentId).pipe(
          Effect.zipRight(knowledge.query(p)),
          Effect.map((matches) => ({ matches })),
          toToolError("knowledge_query")
        ),
      task_post: ({ agentId, ...input }) =>
        allow(confinement, agentId).pipe(
          // Assigning work to an agent acts for it too: it must be allowed as well.
          Effect.zipRight(input.assignedTo === undefined ? Effect.void : allow(confinement, input.assignedTo)),
          Effect.zipRight(tasks.post({ ...input, createdBy: agentId })),
          Effect.map((id) => ({ id })),
          toToolError("task_post")
        ),
      task_claim: ({ agentId, ...options }) =>
        allow(confinement, agentId).pipe(
          Effect.zipRight(tasks.claim(agentId, options)),
          Effect.map((task) => ({ task: Option.getOrNull(task) })),
          toToolError("task_claim")
        ),
      task_complete: ({ taskId, ...input }) =>
        allow(confinement, input.agentId).pipe(
          Effect.zipRight(tasks.complete(taskId, input)),
          Effect.map((task) => ({ task })),
          toToolError("task_complete")
        )
    }
  }))
