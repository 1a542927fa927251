import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Effect, Layer, Redacted } from "effect"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import { serve } from "../src/gateway/server.js"
import { McpHttpLive } from "../src/mcp/server.js"
import { EmbedderChecked, HashEmbedderLive, hashModelName } from "../src/embedder.js"

const prog = Effect.gen(function*() {
  const context = yield* Layer.build(Layer.mergeAll(McpHttpLive, EmbedderChecked(HashEmbedderLive(64))).pipe(Layer.provideMerge(memoryLayer({ embedding: { model: hashModelName, dimensions: 64 } }))))
  const a = yield* serve({ port: 0, tokens: [{ token: Redacted.make("t") }] }).pipe(Effect.provide(context))
  const logFetch: typeof fetch = async (input, init) => {
    console.error(">>", init?.method, String(input), init?.body)
    const r = await fetch(input, { ...init, signal: AbortSignal.timeout(4000) })
    console.error("<<", r.status, r.headers.get("content-type"))
    return r
  }
  const client = new Client({ name: "x", version: "1" })
  const t = new StreamableHTTPClientTransport(new URL(`${a.url}/mcp`), { requestInit: { headers: { authorization: "Bearer t" } }, fetch: logFetch })
  const r = yield* Effect.promise(() => client.connect(t).then(() => client.listTools()).then((x) => JSON.stringify(x).slice(0, 200), (e) => `ERR ${e}`))
  console.error("RESULT", r)
  yield* Effect.promise(() => client.close())
  console.error("CLOSED")
})
Effect.runPromise(Effect.scoped(prog)).then(() => process.exit(0), (e) => { console.error(e); process.exit(1) })
