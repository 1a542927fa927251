/**
 * Vectors cross the gateway's store thread as typed arrays (src/gateway/threadWire.ts): what arrives
 * equals what was sent, through a real structured clone, and nothing but a method's vector places is
 * touched.
 */
import { assert, describe, it } from "@effect/vitest"
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads"
import { packArguments, type Packed, packResult, unpack } from "../src/gateway/threadWire.js"

/** `packed` after a real structured clone, as the other thread receives it. */
const cross = (packed: Packed): Packed => {
  const { port1, port2 } = new MessageChannel()
  try {
    port1.postMessage(packed)
    return receiveMessageOnPort(port2)!.message as Packed
  } finally {
    port1.close()
  }
}

const awkward = [0.1, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e308, 5e-324, -3.4028235677973366e38]

describe("the store thread's wire", () => {
  it("arguments: every vector place of every method arrives exact, the caller's values untouched", () => {
    const input = { agentId: "a", content: "c", embedding: [...awkward] }
    const before = structuredClone(input)
    const cases: Array<[string, ReadonlyArray<unknown>]> = [
      ["remember", [input]],
      ["rememberMany", [[input, { ...input, embedding: [1, 2] }, { agentId: "b", content: "no vector" }]]],
      ["recall", [{ agentId: "a", embedding: [...awkward], limit: 3 }]],
      ["recallAgents", [["a", "b"], { embedding: [...awkward] }]],
      ["updateEmbedding", ["a", "id", [...awkward]]],
      ["count", ["a", { scope: "episodic" }]]
    ]
    for (const [method, args] of cases) {
      const packed = packArguments(method, args)
      assert.deepStrictEqual(unpack(cross(packed)), args, method)
      // Object.is distinguishes -0 and NaN, which deepStrictEqual also checks; the payload is typed.
      if (method !== "count") assert.isAbove(packed.vectors.length, 0, method)
      for (const v of packed.vectors) assert.instanceOf(v.data, Float64Array)
    }
    assert.deepStrictEqual(input, before)
  })

  it("anything that is not a plain array of numbers crosses as it is", () => {
    const odd: ReadonlyArray<unknown> = [
      [1, "2", 3],
      // A hole is not a number: the store must see the same sparse array a direct call would.
      [1, , 3],
      new Float32Array([1, 2]),
      { 0: 1, length: 1 },
      "1,2,3",
      null
    ]
    for (const embedding of odd) {
      const args = [{ agentId: "a", content: "c", embedding }]
      const packed = packArguments("remember", args)
      assert.strictEqual(packed.vectors.length, 0)
      assert.deepStrictEqual(unpack(cross(packed)), args)
    }
    // A non-object argument, or one without the field, has no vector place.
    for (const args of [[null], ["text"], [{ agentId: "a" }], []]) {
      assert.deepStrictEqual(unpack(cross(packArguments("remember", args))), args)
    }
  })

  it("results: hits, per-agent hits and a memory or null arrive exact", () => {
    const memory = { id: "m", agentId: "a", content: "c", embedding: [...awkward] }
    const textOnly = { ...memory, id: "t", embedding: null }
    const hits = [{ memory, score: 0.5 }, { memory: textOnly, score: 0.25 }]
    for (
      const [method, value] of [
        ["recall", hits],
        ["recallAgents", [hits, [], [{ memory, score: 1 }]]],
        ["get", memory],
        ["get", null],
        ["remember", "01900000-0000-7000-8000-000000000001"],
        ["count", 3]
      ] as const
    ) {
      const packed = packResult(method, value)
      assert.deepStrictEqual(unpack(cross(packed)), value, method)
    }
    const both = packResult("recallAgents", [hits, hits])
    assert.strictEqual(both.vectors.length, 2)
    // One buffer for the message's vectors (the clone copies it once), each vector a view of its own part.
    assert.strictEqual(both.vectors[0]!.data.buffer, both.vectors[1]!.data.buffer)
    const arrived = cross(both)
    assert.strictEqual(arrived.vectors[0]!.data.buffer, arrived.vectors[1]!.data.buffer)
  })
})
