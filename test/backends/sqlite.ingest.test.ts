/**
 * SqliteLive's batch write (backends/sqlite/memories.ts `storeMemories`): the rows of `memories`
 * are written first and the FTS5 rows after them, so a batch's words reach the text index once, at
 * commit. Every stored memory must still have exactly its words indexed — with replays and a
 * rolled-back conflict in the batches — and the index must pass FTS5's own integrity check.
 */
import { Effect } from "effect"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { layerSemantic } from "../../src/backends/sqlite/index.js"
import { SemanticStore } from "../../src/services/SemanticStore.js"
import { makeTempDir, openRaw, removeDir, TEST_SPACE } from "../support/sqlite.js"

let dir: string
beforeAll(() => {
  dir = makeTempDir()
})
afterAll(() => removeDir(dir))

const D = TEST_SPACE.dimensions
const embedding = (i: number) => Array.from({ length: D }, (_, d) => Math.sin(i * 7 + d) + 0.01)
const id = (i: number) => `01900000-0000-7000-8000-${i.toString(16).padStart(12, "0")}`

describe("SqliteLive rememberMany", () => {
  it("indexes exactly the words of every stored memory, across replays and a rolled-back conflict", async () => {
    const path = join(dir, "ingest.sqlite")
    const program = Effect.gen(function*() {
      const store = yield* SemanticStore
      const item = (i: number, agentId = "writer") => ({
        id: id(i),
        agentId,
        content: `note word${i} shared`,
        source: "document" as const,
        embedding: embedding(i)
      })
      yield* store.rememberMany(Array.from({ length: 300 }, (_, i) => item(i)))
      // Replays of stored ids (no-ops) mixed with new ones.
      yield* store.rememberMany(Array.from({ length: 100 }, (_, i) => item(250 + i)))
      // An id of another agent anywhere in a batch rolls the whole batch back, words included.
      const conflict = yield* Effect.flip(
        store.rememberMany([item(400, "intruder"), item(401, "intruder"), item(5, "intruder")])
      )
      expect(conflict._tag).toBe("InvalidInput")
      for (const i of [0, 137, 299, 349]) {
        const hits = yield* store.recall({ agentId: "writer", text: `word${i}`, limit: 5 })
        expect(hits.map((h) => h.memory.id)).toEqual([id(i)])
      }
      expect(yield* store.recall({ agentId: "intruder", text: "word400", limit: 5 })).toEqual([])
      expect((yield* store.recall({ agentId: "writer", text: "shared", limit: 500 })).length).toBe(350)
    })
    await Effect.runPromise(Effect.scoped(Effect.provide(program, layerSemantic({ path, embedding: TEST_SPACE }))))
    const db = openRaw(path)
    try {
      db.exec(`INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')`)
      const fts = db.prepare(`SELECT rowid FROM memories_fts ORDER BY rowid`).pluck().all()
      const rows = db.prepare(`SELECT rid FROM memories ORDER BY rid`).pluck().all()
      expect(fts).toEqual(rows)
    } finally {
      db.close()
    }
  }, 30_000)
})
