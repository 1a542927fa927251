/** Every conformance suite against MemoryTest, the in-memory reference implementation. */
import { layer } from "../../src/backends/memory/index.js"
import type { StoreOptions } from "../../src/domain/options.js"
import {
  mainAdminSuite,
  mainStoreSuites,
  memoryStoreWithTamper,
  semanticAdminSuite,
  semanticStoreSuites
} from "../../src/testing/index.js"

const options: StoreOptions = { embedding: { model: "conformance", dimensions: 8 } }

const FreshWithTamper = memoryStoreWithTamper(options)

mainStoreSuites("memory", layer(options), FreshWithTamper)
semanticStoreSuites("memory", layer(options))
mainAdminSuite("memory", layer(options))
semanticAdminSuite("memory", layer(options))
