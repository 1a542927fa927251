import { Effect, Layer, Redacted } from "effect"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import { serve } from "../src/gateway/server.js"
import { McpHttpLive } from "../src/mcp/server.js"

const prog = Effect.gen(function*() {
  const context = yield* Layer.build(McpHttpLive.pipe(Layer.provideMerge(memoryLayer({}))))
  const a = yield* serve({ port: 0, tokens: [{ token: Redacted.make("t") }] }).pipe(Effect.provide(context))
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } })
  const r = yield* Effect.promise(() => fetch(`${a.url}/mcp`, { method: "POST", headers: { authorization: "Bearer t", "content-type": "application/json", accept: "application/json, text/event-stream" }, body, signal: AbortSignal.timeout(5000) }).then(async (r) => `${r.status} ${r.headers.get("content-type")} ${await r.text()}`, (e) => `ERR ${e}`))
  console.error("RESULT", r)
})
Effect.runPromise(Effect.scoped(prog)).then(() => process.exit(0))
