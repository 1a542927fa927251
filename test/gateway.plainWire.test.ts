/**
 * Wire forms decoded without the Schema (gateway/plainWire.ts): a plainly valid value must decode to
 * what the Schema gives (vectors compared by value: a remember body's becomes a Float32Array), and a
 * value with anything the Schema refuses must not be plainly valid — it goes to the Schema, which
 * names the problem.
 */
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { base64OfFloat32, RecallAnswer, RememberManyBody } from "../src/gateway/Api.js"
import { plainRecallAnswer, plainRememberManyBody } from "../src/gateway/plainWire.js"

const vector = [0.5, -1.25, 3, 0.125]
const memory = {
  id: "01900000-0000-7000-8000-0000000000a1",
  agentId: "agent-1",
  content: "a memory",
  source: "document",
  scope: "episodic",
  metadata: { n: 1, tags: ["x"], nested: { ok: true } },
  confidence: 0.75,
  createdAt: 1_700_000_000_000,
  accessedAt: 1_700_000_000_500,
  accessCount: 3,
  embedding: base64OfFloat32(vector)
}
const answer = (m: Record<string, unknown>, score: unknown = 0.9) => ({ hits: [{ memory: m, score }] })
const input = {
  agentId: "agent-1",
  content: "to remember",
  source: "system",
  scope: "work",
  metadata: { k: "v" },
  id: "01900000-0000-7000-8000-0000000000b2",
  embedding: base64OfFloat32(vector)
}

/** Vectors as plain arrays, so a Float32Array and an array of the same numbers compare equal. */
const plain = (u: unknown): unknown => JSON.parse(JSON.stringify(u, (_, v) => (v instanceof Float32Array ? [...v] : v)))

const without = (o: Record<string, unknown>, key: string) =>
  Object.fromEntries(Object.entries(o).filter(([k]) => k !== key))

describe("plain wire decoding", () => {
  it("a plainly valid recall answer decodes as the Schema decodes it", () => {
    for (const m of [memory, { ...memory, embedding: null }, { ...memory, metadata: {} }]) {
      const given = plainRecallAnswer(answer(m))
      expect(given).toBeDefined()
      expect(given).toEqual(Schema.decodeUnknownSync(RecallAnswer)(answer(m)))
    }
    expect(plainRecallAnswer({ hits: [] })).toEqual({ hits: [] })
  })

  it("a recall answer the Schema refuses is never plainly valid", () => {
    const bad: Array<unknown> = [
      answer({ ...memory, id: "not-a-uuid" }),
      answer({ ...memory, id: "01900000-0000-7000-8000-0000000000A1" }),
      answer({ ...memory, agentId: "" }),
      answer({ ...memory, agentId: "a\u0001b" }),
      answer({ ...memory, content: "nul \u0000" }),
      answer({ ...memory, content: "lone \ud800" }),
      answer({ ...memory, source: "rumour" }),
      answer({ ...memory, scope: "x".repeat(257) }),
      answer({ ...memory, metadata: [] }),
      answer({ ...memory, confidence: "1" }),
      answer({ ...memory, createdAt: 1.5 }),
      answer({ ...memory, accessedAt: -1 }),
      answer({ ...memory, accessCount: null }),
      answer({ ...memory, embedding: "AAA" }),
      answer({ ...memory, embedding: vector }),
      answer(without(memory, "scope")),
      answer(memory, "0.9"),
      { hits: [null] },
      { hits: "none" },
      null
    ]
    for (const u of bad) {
      expect(plainRecallAnswer(u), JSON.stringify(u)).toBeUndefined()
      expect(Either.isLeft(Schema.decodeUnknownEither(RecallAnswer)(u)), JSON.stringify(u)).toBe(true)
    }
  })

  it("a plainly valid remember batch decodes as the Schema decodes it, its vectors as Float32Array", () => {
    for (const item of [input, without(input, "embedding"), without(without(input, "id"), "scope")]) {
      const body = { inputs: [item, { ...item, content: "another" }] }
      const given = plainRememberManyBody(body)
      expect(given).toBeDefined()
      if (item.embedding !== undefined) expect(given!.inputs[0]!.embedding).toBeInstanceOf(Float32Array)
      expect(plain(given)).toEqual(plain(Schema.decodeUnknownSync(RememberManyBody)(body)))
    }
  })

  it("a remember batch that is not plainly valid goes to the Schema", () => {
    const cases: Array<unknown> = [
      { inputs: [{ ...input, colour: "red" }] },
      { inputs: [{ ...input, content: 7 }] },
      { inputs: [{ ...input, embedding: "AAA" }] },
      { inputs: [{ ...input, source: "rumour" }] },
      { inputs: [{ ...input, id: "x" }] },
      { inputs: [input], extra: 1 },
      { inputs: "none" }
    ]
    for (const body of cases) expect(plainRememberManyBody(body), JSON.stringify(body)).toBeUndefined()
  })
})
