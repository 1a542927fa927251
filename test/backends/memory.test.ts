/** The conformance suites against MemoryTest, the in-memory reference implementation. */
import { structuredStoreSuite } from "../conformance/structured.js"
import { layer } from "../../src/backends/memory/index.js"

const Fresh = layer({ embedding: { model: "conformance", dimensions: 8 } })

structuredStoreSuite("memory", Fresh)
