import * as HttpApp from "@effect/platform/HttpApp"
import { Context, Effect, Layer, Option } from "effect"
import { layer as memoryLayer } from "../src/backends/memory/index.js"
import { McpHttp, McpHttpLive } from "../src/mcp/server.js"

const prog = Effect.gen(function*() {
  const ctx = yield* Layer.build(McpHttpLive.pipe(Layer.provideMerge(memoryLayer({}))))
  const mcp = Context.get(ctx, McpHttp)
  const app = yield* mcp.appFor(Option.none())
  yield* Effect.sleep(200)
  const handler = HttpApp.toWebHandler(Effect.scoped(app))
  const body = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })
  const res = yield* Effect.promise(() => Promise.race([handler(new Request("http://x/mcp", { method: "POST", body, headers: { "content-type": "application/json" } })).then(async (r) => `${r.status} ${await r.text()}`), new Promise((r) => setTimeout(() => r("TIMEOUT"), 3000))]))
  console.error("RESULT", res)
})
Effect.runPromise(Effect.scoped(prog)).then(() => process.exit(0), (e) => { console.error(e); process.exit(1) })
