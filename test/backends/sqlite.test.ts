/** Every conformance suite against SqliteLive, each test on a fresh database file. */
import { Layer } from "effect"
import { layer } from "../../src/backends/sqlite/index.js"
import {
  auditLogSuite,
  mainAdminSuite,
  mainStoreSuites,
  semanticAdminSuite,
  semanticStoreSuites
} from "../../src/testing/index.js"
import { auditTamper, freshFile, TEST_SPACE } from "../support/sqlite.js"

const Fresh = freshFile((path) => layer({ path, embedding: TEST_SPACE }))

/** The store and a raw-SQL tamper tool over the same file. */
const FreshWithTamper = freshFile((path) => Layer.merge(layer({ path, embedding: TEST_SPACE }), auditTamper(path)))

/** The same without an anchor file (`auditAnchorPath: false`): what the chain alone detects. */
const FreshUnanchored = freshFile((path) =>
  Layer.merge(layer({ path, embedding: TEST_SPACE, auditAnchorPath: false }), auditTamper(path))
)

mainStoreSuites("sqlite", Fresh, FreshWithTamper, { anchored: true })
auditLogSuite("sqlite", FreshUnanchored)
semanticStoreSuites("sqlite", Fresh)
mainAdminSuite("sqlite", Fresh)
semanticAdminSuite("sqlite", Fresh)
