/**
 * The official MCP TypeScript SDK client, as a real MCP host connects: over streamable HTTP (with a
 * bearer token) or over stdio (spawning the `engram mcp` command). Each client is closed with the scope.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Effect } from "effect"

const connected = (transport: StdioClientTransport | StreamableHTTPClientTransport) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Client({ name: "engram-test-host", version: "1.0.0" })
      await client.connect(transport)
      return client
    }),
    (client) => Effect.promise(() => client.close())
  )

/** A client of the MCP endpoint at `url`, sending `token`. */
export const httpClient = (url: string, token: string) =>
  connected(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } })
  )

/** A client of a spawned MCP server (`command args`), with `env` added to this process's environment. */
export const stdioClient = (command: string, args: ReadonlyArray<string>, env: Record<string, string>, cwd?: string) =>
  connected(new StdioClientTransport({
    command,
    args: [...args],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: "pipe",
    ...(cwd === undefined ? {} : { cwd })
  }))

/** The JSON a tool answered (its structured content), or the failure text when it failed. */
export const callTool = (client: Client, name: string, args: Record<string, unknown>) =>
  Effect.promise(async () => {
    const result = await client.callTool({ name, arguments: args })
    const text = Array.isArray(result.content) && result.content[0]?.type === "text"
      ? String(result.content[0].text)
      : ""
    return { isError: result.isError === true, json: (result.structuredContent ?? {}) as Record<string, unknown>, text }
  })
