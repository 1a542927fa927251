/**
 * `engram mcp` over stdio: the official MCP SDK client spawns the command as a host would, lists
 * engram's tools, remembers and recalls through them (embedded by the configured OpenAI-compatible
 * endpoint), and is confined to the agents given with `--agent` or `ENGRAM_MCP_AGENTS`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { callTool, stdioClient } from "../support/mcpClient.js"
import { openAiServer } from "../support/openAiServer.js"
import { tempDir } from "../support/sqlite.js"

const CLI = fileURLToPath(new URL("../support/engramCli.ts", import.meta.url))

/** `engram mcp <args>` on a fresh SQLite file, with `env` added. */
const spawnMcp = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    return yield* stdioClient(process.execPath, ["--import", "tsx", CLI, "mcp", ...args], {
      ENGRAM_SQLITE_PATH: join(dir, "engram.db"),
      ...env
    })
  })

describe("engram mcp over stdio", () => {
  it.live(
    "a host lists the tools, remembers and recalls semantically, confined to --agent",
    () =>
      Effect.gen(function*() {
        const embeddings = yield* openAiServer(16)
        const client = yield* spawnMcp(["--agent", "alice"], {
          ENGRAM_EMBEDDING_MODEL: "fake-embed",
          ENGRAM_EMBEDDING_DIMENSIONS: "16",
          ENGRAM_EMBEDDER_URL: embeddings.url
        })
        const { tools } = yield* Effect.promise(() => client.listTools())
        assert.includeMembers(tools.map((t) => t.name), [
          "remember",
          "recall",
          "forget",
          "kv_get",
          "kv_set",
          "kv_list",
          "task_post"
        ])
        yield* callTool(client, "remember", {
          agentId: "alice",
          content: "The user prefers dark mode",
          source: "user_provided"
        })
        yield* callTool(client, "remember", {
          agentId: "alice",
          content: "Quarterly revenue forecast",
          source: "document"
        })
        const recalled = yield* callTool(client, "recall", {
          agentId: "alice",
          text: "what does the user prefer",
          limit: 1
        })
        assert.isFalse(recalled.isError, recalled.text)
        assert.strictEqual(
          (recalled.json["results"] as Array<{ content: string }>)[0]?.content,
          "The user prefers dark mode"
        )
        assert.isAtLeast(embeddings.requests.length, 3, "content and query embedded by the configured endpoint")
        const bob = yield* callTool(client, "remember", { agentId: "bob", content: "x", source: "system" })
        assert.isTrue(bob.isError)
        assert.include(bob.text, "Forbidden")
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "without --agent every agent may be used; resources list no agent but the template reads any",
    () =>
      Effect.gen(function*() {
        const client = yield* spawnMcp([])
        const set = yield* callTool(client, "kv_set", { agentId: "bob", key: "k", value: [1, 2] })
        assert.isFalse(set.isError, set.text)
        assert.deepStrictEqual((yield* callTool(client, "kv_get", { agentId: "bob", key: "k" })).json, {
          found: true,
          value: [1, 2]
        })
        const { resourceTemplates } = yield* Effect.promise(() => client.listResourceTemplates())
        assert.include(resourceTemplates.map((t) => t.uriTemplate), "engram://agents/{agentId}/canonical-session")
        const read = yield* Effect.promise(() => client.readResource({ uri: "engram://agents/bob/canonical-session" }))
        assert.deepStrictEqual(JSON.parse((read.contents[0] as { text: string }).text), { summary: null, messages: [] })
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "ENGRAM_MCP_AGENTS confines the server when no --agent is given; --agent overrides it",
    () =>
      Effect.gen(function*() {
        const fromEnv = yield* spawnMcp([], { ENGRAM_MCP_AGENTS: "alice, carol" })
        for (const agentId of ["alice", "carol"]) {
          const ok = yield* callTool(fromEnv, "kv_set", { agentId, key: "k", value: 1 })
          assert.isFalse(ok.isError, ok.text)
        }
        const bob = yield* callTool(fromEnv, "kv_set", { agentId: "bob", key: "k", value: 1 })
        assert.isTrue(bob.isError)
        assert.include(bob.text, "Forbidden")
        const overridden = yield* spawnMcp(["--agent", "bob"], { ENGRAM_MCP_AGENTS: "alice" })
        assert.isFalse((yield* callTool(overridden, "kv_set", { agentId: "bob", key: "k", value: 1 })).isError)
        assert.isTrue((yield* callTool(overridden, "kv_set", { agentId: "alice", key: "k", value: 1 })).isError)
      }).pipe(Effect.scoped),
    60_000
  )
})
