/**
 * The semantic, consolidation and semantic-admin conformance suites over HTTP: HttpSemanticLive → a
 * real gateway on a random loopback port → a fresh store (in memory, and SqliteLive on a new file),
 * per test.
 *
 * The gateway is built inside each test's layer, so its handlers run with the test's services: the
 * suites' TestClock moves (createdAt stamps, decay after 8 days) are seen by the store behind the
 * gateway exactly as by a local store.
 */
import { Effect, Layer, Redacted } from "effect"
import { layer as httpLayer } from "../../src/backends/http/index.js"
import { layer as memoryLayer } from "../../src/backends/memory/index.js"
import { SqliteLive } from "../../src/backends/sqlite/index.js"
import type { EmbeddingSpace } from "../../src/domain/embedding.js"
import { serve } from "../../src/gateway/server.js"
import type { SemanticStoreAdmin } from "../../src/services/Admin.js"
import type { SemanticServices } from "../../src/services/index.js"
import { semanticAdminSuite } from "../../src/testing/admin.js"
import { consolidationSuite } from "../../src/testing/consolidation.js"
import { semanticStoreSuite } from "../../src/testing/semantic.js"
import { freshFile } from "../support/sqlite.js"

const embedding: EmbeddingSpace = { model: "conformance", dimensions: 8 }
const token = Redacted.make("http-conformance-token")

/** A fresh `store` behind a fresh gateway, reached through HttpSemanticLive. */
const behindGateway = (store: Layer.Layer<SemanticServices | SemanticStoreAdmin, unknown>) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const services = yield* Layer.build(store)
    const gateway = yield* serve({ port: 0, tokens: [{ token }] }).pipe(Effect.provide(services))
    return httpLayer({ url: gateway.url, token, embedding })
  }))

const OverMemory = behindGateway(memoryLayer({ embedding }))
const OverSqlite = behindGateway(freshFile((path) => SqliteLive({ path, embedding })))

semanticStoreSuite("http → gateway → memory", OverMemory)
consolidationSuite("http → gateway → memory", OverMemory)
semanticAdminSuite("http → gateway → memory", OverMemory)
semanticStoreSuite("http → gateway → sqlite", OverSqlite)
consolidationSuite("http → gateway → sqlite", OverSqlite)
semanticAdminSuite("http → gateway → sqlite", OverSqlite)
