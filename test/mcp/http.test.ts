/**
 * `POST /mcp` on the gateway: the official MCP SDK client connects over streamable HTTP with a
 * gateway token, lists engram's tools and uses them; every call is confined to the token's agents.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { layer as memoryLayer } from "../../src/backends/memory/index.js"
import { EmbedderChecked, HashEmbedderLive, hashModelName } from "../../src/embedder.js"
import { serve } from "../../src/gateway/server.js"
import { McpHttpLive } from "../../src/mcp/server.js"
import { callTool, httpClient } from "../support/mcpClient.js"

const ADMIN = "mcp-admin-token"
const ALICE = "mcp-alice-token"

const gateway = Effect.gen(function*() {
  const stores = memoryLayer({ embedding: { model: hashModelName, dimensions: 64 } })
  const context = yield* Layer.build(
    Layer.mergeAll(McpHttpLive, EmbedderChecked(HashEmbedderLive(64))).pipe(Layer.provideMerge(stores))
  )
  const address = yield* serve({
    port: 0,
    tokens: [{ token: Redacted.make(ADMIN) }, { token: Redacted.make(ALICE), agents: ["alice"] }]
  }).pipe(Effect.provide(context))
  return `${address.url}/mcp`
})

describe("MCP over streamable HTTP on the gateway", () => {
  it.live("an SDK client lists engram's tools with input schemas from engram's Schemas", () =>
    Effect.gen(function*() {
      const url = yield* gateway
      const client = yield* httpClient(url, ADMIN)
      const { tools } = yield* Effect.promise(() => client.listTools())
      assert.deepStrictEqual(tools.map((t) => t.name).sort(), [
        "forget",
        "knowledge_query",
        "knowledge_upsert",
        "kv_get",
        "kv_list",
        "kv_set",
        "recall",
        "remember",
        "task_claim",
        "task_complete",
        "task_post"
      ])
      const remember = tools.find((t) => t.name === "remember")!
      assert.includeMembers(Object.keys(remember.inputSchema.properties ?? {}), [
        "agentId",
        "content",
        "source",
        "scope"
      ])
      assert.includeMembers(remember.inputSchema.required ?? [], ["agentId", "content", "source"])
    }).pipe(Effect.scoped))

  it.live("remember then recall through the tools (the memory is embedded: a paraphrase finds it)", () =>
    Effect.gen(function*() {
      const url = yield* gateway
      const client = yield* httpClient(url, ALICE)
      const stored = yield* callTool(client, "remember", {
        agentId: "alice",
        content: "The user prefers dark mode",
        source: "user_provided"
      })
      assert.isFalse(stored.isError, stored.text)
      yield* callTool(client, "remember", {
        agentId: "alice",
        content: "Quarterly revenue forecast",
        source: "document"
      })
      const recalled = yield* callTool(client, "recall", {
        agentId: "alice",
        text: "dark mode preferred",
        mode: "vector",
        limit: 1
      })
      assert.isFalse(recalled.isError, recalled.text)
      const results = recalled.json["results"] as Array<{ id: string; content: string }>
      assert.deepStrictEqual(results.map((r) => [r.id, r.content]), [[stored.json["id"], "The user prefers dark mode"]])
    }).pipe(Effect.scoped))

  it.live("a token limited to alice cannot act for bob through any tool; an unlimited token can", () =>
    Effect.gen(function*() {
      const url = yield* gateway
      const alice = yield* httpClient(url, ALICE)
      const calls: Array<[string, Record<string, unknown>]> = [
        ["remember", { agentId: "bob", content: "x", source: "system" }],
        ["recall", { agentId: "bob", text: "x" }],
        ["forget", { agentId: "bob", memoryId: "00000000-0000-4000-8000-000000000000" }],
        ["kv_get", { agentId: "bob", key: "k" }],
        ["kv_set", { agentId: "bob", key: "k", value: 1 }],
        ["kv_list", { agentId: "bob" }],
        ["knowledge_upsert", { agentId: "bob", type: "person", name: "Bob" }],
        ["knowledge_query", { agentId: "bob", source: "Bob" }],
        ["task_post", { agentId: "bob", title: "t" }],
        ["task_post", { agentId: "alice", title: "t", assignedTo: "bob" }],
        ["task_claim", { agentId: "bob" }],
        ["task_complete", { taskId: "00000000-0000-4000-8000-000000000000", agentId: "bob", attempt: 1 }]
      ]
      for (const [name, args] of calls) {
        const r = yield* callTool(alice, name, args)
        assert.isTrue(r.isError, `${name} as bob must fail`)
        assert.include(r.text, "Forbidden", name)
      }
      const admin = yield* httpClient(url, ADMIN)
      const ok = yield* callTool(admin, "kv_set", { agentId: "bob", key: "k", value: 1 })
      assert.isFalse(ok.isError, ok.text)
      const stillEmpty = yield* callTool(admin, "recall", { agentId: "bob", text: "x" })
      assert.deepStrictEqual(stillEmpty.json["results"], [], "the refused remember stored nothing")
    }).pipe(Effect.scoped))

  it.live("kv, knowledge and task tools work end to end; invalid input is a tool error naming the rule", () =>
    Effect.gen(function*() {
      const url = yield* gateway
      const c = yield* httpClient(url, ALICE)
      assert.strictEqual(
        (yield* callTool(c, "kv_set", { agentId: "alice", key: "theme", value: { dark: true } })).json["version"],
        1
      )
      assert.deepStrictEqual((yield* callTool(c, "kv_get", { agentId: "alice", key: "theme" })).json, {
        found: true,
        value: { dark: true }
      })
      assert.deepStrictEqual((yield* callTool(c, "kv_get", { agentId: "alice", key: "none" })).json, { found: false })
      const listed = yield* callTool(c, "kv_list", { agentId: "alice", prefix: "th" })
      assert.deepStrictEqual((listed.json["entries"] as Array<{ key: string }>).map((e) => e.key), ["theme"])
      const ada = yield* callTool(c, "knowledge_upsert", { agentId: "alice", type: "person", name: "Ada" })
      assert.isString(ada.json["id"])
      const query = yield* callTool(c, "knowledge_query", { agentId: "alice", source: "Ada" })
      assert.isFalse(query.isError, query.text)
      const posted = yield* callTool(c, "task_post", { agentId: "alice", title: "write report" })
      const claimed = yield* callTool(c, "task_claim", { agentId: "alice" })
      const task = claimed.json["task"] as { id: string; attempt: number }
      assert.strictEqual(task.id, posted.json["id"])
      const done = yield* callTool(c, "task_complete", {
        taskId: task.id,
        agentId: "alice",
        attempt: task.attempt,
        result: "ok"
      })
      assert.strictEqual((done.json["task"] as { status: string }).status, "completed")
      const stale = yield* callTool(c, "task_complete", {
        taskId: task.id,
        agentId: "alice",
        attempt: task.attempt + 1
      })
      assert.isTrue(stale.isError)
      const invalid = yield* callTool(c, "remember", { agentId: "alice", content: "x", source: "telepathy" })
      assert.isTrue(invalid.isError)
    }).pipe(Effect.scoped))

  it.live("the canonical session is a resource; a limited token lists its own agent's and cannot read another's", () =>
    Effect.gen(function*() {
      const url = yield* gateway
      const c = yield* httpClient(url, ALICE)
      const { resources } = yield* Effect.promise(() => c.listResources())
      assert.include(resources.map((r) => r.uri), "engram://agents/alice/canonical-session")
      const read = yield* Effect.promise(() => c.readResource({ uri: "engram://agents/alice/canonical-session" }))
      const first = read.contents[0] as { text?: string }
      assert.deepStrictEqual(JSON.parse(first.text ?? "null"), { summary: null, messages: [] })
      const other = yield* Effect.promise(() =>
        c.readResource({ uri: "engram://agents/bob/canonical-session" }).then(() => "read", (e: unknown) => String(e))
      )
      assert.notStrictEqual(other, "read")
    }).pipe(Effect.scoped))

  it.live("/mcp without a valid token is 401; GET is 405", () =>
    Effect.gen(function*() {
      const url = yield* gateway
      const none = yield* Effect.promise(() =>
        fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
      )
      assert.strictEqual(none.status, 401)
      const wrong = yield* Effect.promise(() =>
        fetch(url, { method: "POST", headers: { authorization: "Bearer nope" }, body: "{}" })
      )
      assert.strictEqual(wrong.status, 401)
      const get = yield* Effect.promise(() => fetch(url, { headers: { authorization: `Bearer ${ADMIN}` } }))
      assert.strictEqual(get.status, 405)
    }).pipe(Effect.scoped))
})
