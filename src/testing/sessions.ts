/** SessionStore conformance (the contract is the JSDoc of src/services/SessionStore.ts and src/core/compaction.ts). */
import { assert } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import { isUuidV7 } from "../domain/ids.js"
import type { Message, MessageInput, Role } from "../domain/session.js"
import { SessionStore } from "../services/SessionStore.js"
import { conformance, expectInvalidInputs, failsWith } from "./harness.js"

const ROLES: ReadonlyArray<Role> = ["user", "assistant", "system"]
const ROLE_NAME: Record<Role, string> = { user: "User", assistant: "Assistant", system: "System" }

/** A message with string content: the same as input and as stored, so it compares with either. */
interface PlainMessage {
  readonly role: Role
  readonly content: string
}

/** `n` plain-text messages `<prefix>-<from + i>`, roles cycling user, assistant, system. */
const numbered = (n: number, prefix = "m", from = 0): Array<PlainMessage> =>
  Array.from({ length: n }, (_, i) => ({ role: ROLES[(from + i) % 3]!, content: `${prefix}-${from + i}` }))

/** The summary line compaction writes for a short plain-text message. */
const lineOf = (m: PlainMessage): string => `${ROLE_NAME[m.role]}: ${m.content}`

const utf8 = (s: string): number => Buffer.byteLength(s, "utf8")

/** The longest suffix of `s`, in whole characters, of at most `max` UTF-8 bytes. */
const newestBytes = (s: string, max: number): string => {
  const chars = [...s]
  let bytes = 0
  let i = chars.length
  while (i > 0 && bytes + utf8(chars[i - 1]!) <= max) bytes += utf8(chars[--i]!)
  return chars.slice(i).join("")
}

const summaryKeys = ["agentId", "createdAt", "id", "label", "messageCount", "updatedAt"]

export const sessionStoreSuite = conformance<SessionStore>("SessionStore", (test) => {
  // ---- sessions -------------------------------------------------------------------------------

  test("create mints a UUIDv7 session with no messages, stamped by the Clock; get returns it", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      yield* TestClock.setTime(1_000)
      const plain = yield* store.create("agent-1")
      const labelled = yield* store.create("agent-1", "work")
      assert.isTrue(isUuidV7(plain.id), `minted id ${plain.id}`)
      assert.notStrictEqual(plain.id, labelled.id)
      assert.deepStrictEqual(plain, {
        id: plain.id,
        agentId: "agent-1" as typeof plain.agentId,
        label: null,
        messages: [],
        createdAt: 1_000,
        updatedAt: 1_000
      })
      assert.strictEqual(labelled.label, "work")
      assert.deepStrictEqual(yield* store.get(plain.id), Option.some(plain))
      assert.deepStrictEqual(yield* store.get(labelled.id), Option.some(labelled))
      assert.isTrue(Option.isNone(yield* store.get(randomUUID())), "an unknown id is None")
    }))

  test("save then get round-trips every content block type and string content", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const id = randomUUID()
      const messages: ReadonlyArray<MessageInput> = [
        { role: "system", content: "You are terse. Ünïcödé ✓ 😀" },
        {
          role: "user",
          content: [
            { type: "text", text: "What is in this picture?" },
            {
              type: "image",
              media_type: "image/png",
              data: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
            }
          ]
        },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "The user wants a description.", signature: "sig-abc" },
            { type: "thinking", thinking: "No signature on this one." },
            {
              type: "tool_use",
              id: "toolu_01",
              name: "vision",
              input: {
                image: { index: 1, crop: [0, 0, 10.5, 20] },
                options: {
                  detail: "high",
                  labels: ["cat", "ünï"],
                  nested: { deeper: { deepest: [null, true, false, -1e-9] } }
                },
                empty: {},
                list: []
              }
            }
          ]
        },
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: "toolu_01",
              tool_name: "vision",
              content: "a cat on a mat",
              is_error: false
            },
            { type: "tool_result", tool_use_id: "toolu_02", tool_name: "shell", content: "exit 1", is_error: true }
          ]
        },
        { role: "assistant", content: "A cat sitting on a mat." },
        { role: "user", content: "" },
        { role: "assistant", content: [] }
      ]
      const saved = yield* store.save({ id, agentId: "agent-1", label: "pictures", messages })
      assert.deepStrictEqual(saved.messages, messages)
      const loaded = Option.getOrThrow(yield* store.get(id))
      assert.deepStrictEqual(loaded, saved)
      assert.deepStrictEqual(loaded.messages, messages)
      assert.strictEqual(loaded.label, "pictures")
      assert.strictEqual(loaded.agentId, "agent-1")
    }))

  test("optional block fields come back with their defaults: tool_name \"\", is_error false, no signature", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const id = randomUUID()
      yield* store.save({
        id,
        agentId: "agent-1",
        messages: [{
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_9", content: "ok" },
            { type: "thinking", thinking: "hmm" }
          ]
        }]
      })
      const loaded = Option.getOrThrow(yield* store.get(id))
      assert.deepStrictEqual(loaded.messages, [{
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_9", tool_name: "", content: "ok", is_error: false },
          { type: "thinking", thinking: "hmm" }
        ]
      }])
      const block = (loaded.messages[0]!.content as ReadonlyArray<object>)[1]!
      assert.isFalse("signature" in block, "an absent signature stays absent")
    }))

  test("save on an existing id keeps createdAt and sets updatedAt to now", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const id = randomUUID()
      yield* TestClock.setTime(1_000)
      const first = yield* store.save({ id, agentId: "agent-1", messages: numbered(1) })
      assert.strictEqual(first.createdAt, 1_000)
      assert.strictEqual(first.updatedAt, 1_000)
      yield* TestClock.setTime(5_000)
      const second = yield* store.save({ id, agentId: "agent-1", messages: numbered(3) })
      assert.strictEqual(second.createdAt, 1_000)
      assert.strictEqual(second.updatedAt, 5_000)
      assert.deepStrictEqual(yield* store.get(id), Option.some(second))
      const [summary] = yield* store.list()
      assert.strictEqual(summary?.createdAt, 1_000)
      assert.strictEqual(summary?.updatedAt, 5_000)
    }))

  test("save replaces the messages and the label (an omitted label is null)", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const id = randomUUID()
      yield* store.save({ id, agentId: "agent-1", label: "draft", messages: numbered(5) })
      yield* store.save({ id, agentId: "agent-1", label: "draft", messages: numbered(2, "new") })
      assert.deepStrictEqual(Option.getOrThrow(yield* store.get(id)).messages, numbered(2, "new"))
      yield* store.save({ id, agentId: "agent-1", messages: [] })
      const loaded = Option.getOrThrow(yield* store.get(id))
      assert.deepStrictEqual(loaded.messages, [])
      assert.isNull(loaded.label)
      assert.isTrue(Option.isNone(yield* store.findByLabel("agent-1", "draft")))
    }))

  test("what is stored is a copy: changing the caller's objects afterwards changes nothing", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const id = randomUUID()
      const input = { nested: { n: 1 }, list: [1, 2] }
      const messages: Array<MessageInput> = [{
        role: "assistant",
        content: [{ type: "tool_use", id: "t1", name: "calc", input }]
      }]
      yield* store.save({ id, agentId: "agent-1", messages })
      yield* store.appendCanonical("agent-1", messages, 1_000)
      input.nested.n = 2
      input.list.push(3)
      messages.push({ role: "user", content: "added later" })
      const expected: ReadonlyArray<Message> = [
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "t1", name: "calc", input: { nested: { n: 1 }, list: [1, 2] } }]
        }
      ]
      assert.deepStrictEqual(Option.getOrThrow(yield* store.get(id)).messages, expected)
      assert.deepStrictEqual((yield* store.loadCanonical("agent-1")).messages, expected)
    }))

  test("list returns exactly the SessionSummary fields with the message count", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const id = randomUUID()
      yield* TestClock.setTime(2_000)
      yield* store.save({ id, agentId: "agent-1", label: "chat", messages: numbered(7) })
      yield* TestClock.setTime(3_000)
      const unlabelled = yield* store.create("agent-1")
      const list = yield* store.list()
      for (const s of list) assert.deepStrictEqual(Object.keys(s).sort(), summaryKeys)
      assert.deepStrictEqual(list, [
        {
          id: unlabelled.id,
          agentId: unlabelled.agentId,
          label: null,
          messageCount: 0,
          createdAt: 3_000,
          updatedAt: 3_000
        },
        {
          id: id as typeof unlabelled.id,
          agentId: unlabelled.agentId,
          label: "chat",
          messageCount: 7,
          createdAt: 2_000,
          updatedAt: 2_000
        }
      ])
    }))

  test("list is ordered by updatedAt, newest first; saving an old session moves it to the front", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const ids: Array<string> = []
      for (const t of [1_000, 2_000, 3_000]) {
        yield* TestClock.setTime(t)
        ids.push((yield* store.create("agent-1")).id)
      }
      assert.deepStrictEqual((yield* store.list()).map((s) => s.id), [ids[2], ids[1], ids[0]])
      yield* TestClock.setTime(4_000)
      yield* store.save({ id: ids[0]!, agentId: "agent-1", messages: numbered(1) })
      assert.deepStrictEqual((yield* store.list()).map((s) => s.id), [ids[0], ids[2], ids[1]])
      assert.deepStrictEqual((yield* store.list()).map((s) => s.updatedAt), [4_000, 3_000, 2_000])
    }))

  test("list filters by agent exactly (acme never sees acme-corp); without a filter it lists all", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      yield* TestClock.setTime(1_000)
      const acme = yield* store.create("acme")
      yield* TestClock.setTime(2_000)
      const corp = yield* store.create("acme-corp")
      yield* TestClock.setTime(3_000)
      const upper = yield* store.create("Acme")
      assert.deepStrictEqual((yield* store.list({ agentId: "acme" })).map((s) => s.id), [acme.id])
      assert.deepStrictEqual((yield* store.list({ agentId: "acme-corp" })).map((s) => s.id), [corp.id])
      assert.deepStrictEqual((yield* store.list({ agentId: "Acme" })).map((s) => s.id), [upper.id])
      assert.deepStrictEqual(yield* store.list({ agentId: "acm" }), [])
      assert.deepStrictEqual((yield* store.list()).map((s) => s.id), [upper.id, corp.id, acme.id])
      assert.deepStrictEqual((yield* store.list({})).map((s) => s.id), [upper.id, corp.id, acme.id])
    }))

  // ---- labels ---------------------------------------------------------------------------------

  test("setLabel then findByLabel finds the session; labels match exactly (case-sensitive)", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const session = yield* store.save({ id: randomUUID(), agentId: "agent-1", messages: numbered(2) })
      yield* store.setLabel(session.id, "Research")
      const found = Option.getOrThrow(yield* store.findByLabel("agent-1", "Research"))
      assert.strictEqual(found.id, session.id)
      assert.strictEqual(found.label, "Research")
      assert.deepStrictEqual(found.messages, numbered(2))
      assert.strictEqual(Option.getOrThrow(yield* store.get(session.id)).label, "Research")
      assert.strictEqual((yield* store.list())[0]?.label, "Research")
      assert.isTrue(Option.isNone(yield* store.findByLabel("agent-1", "research")))
      assert.isTrue(Option.isNone(yield* store.findByLabel("agent-1", "Research ")))
      assert.isTrue(Option.isNone(yield* store.findByLabel("agent-1", "Res")))
      assert.isTrue(Option.isNone(yield* store.findByLabel("agent-2", "Research")))
    }))

  test("a label taken by another session of the agent: save and create fail with DuplicateLabel", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const first = yield* store.create("agent-1", "inbox")
      const otherId = randomUUID()
      const error = yield* failsWith(
        store.save({ id: otherId, agentId: "agent-1", label: "inbox", messages: numbered(1) }),
        "DuplicateLabel"
      )
      assert.strictEqual(error.agentId, "agent-1")
      assert.strictEqual(error.label, "inbox")
      assert.isTrue(Option.isNone(yield* store.get(otherId)), "the refused session is not stored")
      const viaCreate = yield* failsWith(store.create("agent-1", "inbox"), "DuplicateLabel")
      assert.strictEqual(viaCreate.label, "inbox")
      assert.deepStrictEqual((yield* store.list()).map((s) => s.id), [first.id])
      // Re-saving the holder of the label with the same label is not a duplicate.
      yield* store.save({ id: first.id, agentId: "agent-1", label: "inbox", messages: numbered(1) })
      assert.strictEqual(Option.getOrThrow(yield* store.findByLabel("agent-1", "inbox")).id, first.id)
    }))

  test("setLabel to a label another session of the agent holds fails with DuplicateLabel and changes nothing", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const a = yield* store.create("agent-1", "alpha")
      const b = yield* store.create("agent-1", "beta")
      const error = yield* failsWith(store.setLabel(b.id, "alpha"), "DuplicateLabel")
      assert.strictEqual(error.agentId, "agent-1")
      assert.strictEqual(error.label, "alpha")
      assert.strictEqual(Option.getOrThrow(yield* store.get(a.id)).label, "alpha")
      assert.strictEqual(Option.getOrThrow(yield* store.get(b.id)).label, "beta")
      assert.strictEqual(Option.getOrThrow(yield* store.findByLabel("agent-1", "alpha")).id, a.id)
      yield* store.setLabel(a.id, "alpha")
      assert.strictEqual(
        Option.getOrThrow(yield* store.findByLabel("agent-1", "alpha")).id,
        a.id,
        "relabelling with its own label is fine"
      )
    }))

  test("the same label for two different agents is fine; findByLabel returns each agent's own", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const acme = yield* store.create("acme", "support")
      const corp = yield* store.create("acme-corp", "support")
      const other = yield* store.create("acme-corp")
      yield* store.setLabel(other.id, "billing")
      yield* store.setLabel(acme.id, "support")
      assert.strictEqual(Option.getOrThrow(yield* store.findByLabel("acme", "support")).id, acme.id)
      assert.strictEqual(Option.getOrThrow(yield* store.findByLabel("acme-corp", "support")).id, corp.id)
      assert.isTrue(Option.isNone(yield* store.findByLabel("acme", "billing")))
      const acmeBilling = yield* store.create("acme", "billing")
      assert.strictEqual(Option.getOrThrow(yield* store.findByLabel("acme", "billing")).id, acmeBilling.id)
      assert.strictEqual(Option.getOrThrow(yield* store.findByLabel("acme-corp", "billing")).id, other.id)
    }))

  test("setLabel with null clears the label and frees it for another session", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const a = yield* store.create("agent-1", "today")
      yield* store.setLabel(a.id, null)
      assert.isNull(Option.getOrThrow(yield* store.get(a.id)).label)
      assert.isNull((yield* store.list())[0]?.label)
      assert.isTrue(Option.isNone(yield* store.findByLabel("agent-1", "today")))
      const b = yield* store.create("agent-1", "today")
      assert.strictEqual(Option.getOrThrow(yield* store.findByLabel("agent-1", "today")).id, b.id)
      yield* store.setLabel(a.id, null)
      assert.isNull(Option.getOrThrow(yield* store.get(a.id)).label, "clearing twice is harmless")
    }))

  test("setLabel on an unknown session fails with SessionNotFound and creates nothing", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const id = randomUUID()
      const error = yield* failsWith(store.setLabel(id, "x"), "SessionNotFound")
      assert.strictEqual(error.sessionId, id)
      const clearing = yield* failsWith(store.setLabel(id, null), "SessionNotFound")
      assert.strictEqual(clearing.sessionId, id)
      assert.deepStrictEqual(yield* store.list(), [])
      assert.isTrue(Option.isNone(yield* store.findByLabel("agent-1", "x")))
    }))

  // ---- deletion -------------------------------------------------------------------------------

  test("delete returns true once, then false; the session and its label are gone", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const doomed = yield* store.create("agent-1", "doomed")
      const kept = yield* store.create("agent-1")
      assert.isTrue(yield* store.delete(doomed.id))
      assert.isFalse(yield* store.delete(doomed.id))
      assert.isFalse(yield* store.delete(randomUUID()))
      assert.isTrue(Option.isNone(yield* store.get(doomed.id)))
      assert.isTrue(Option.isNone(yield* store.findByLabel("agent-1", "doomed")))
      assert.deepStrictEqual((yield* store.list()).map((s) => s.id), [kept.id])
      const reuse = yield* store.create("agent-1", "doomed")
      assert.strictEqual(Option.getOrThrow(yield* store.findByLabel("agent-1", "doomed")).id, reuse.id)
    }))

  test("deleteForAgent deletes exactly that agent's sessions, returns the count, keeps the canonical session", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      for (let i = 0; i < 3; i++) yield* store.create("acme", `s${i}`)
      const corp = yield* store.create("acme-corp")
      yield* store.appendCanonical("acme", numbered(4), 1_000)
      assert.strictEqual(yield* store.deleteForAgent("acme"), 3)
      assert.deepStrictEqual(yield* store.list({ agentId: "acme" }), [])
      assert.isTrue(Option.isNone(yield* store.findByLabel("acme", "s0")))
      assert.deepStrictEqual((yield* store.list()).map((s) => s.id), [corp.id])
      assert.deepStrictEqual((yield* store.loadCanonical("acme")).messages, numbered(4))
      assert.strictEqual(yield* store.deleteForAgent("acme"), 0)
      assert.strictEqual(yield* store.deleteForAgent("nobody"), 0)
    }))

  // ---- canonical session ----------------------------------------------------------------------

  test("loadCanonical of an agent without one is empty and stores nothing", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const empty = yield* store.loadCanonical("agent-1")
      assert.strictEqual(empty.agentId, "agent-1")
      assert.deepStrictEqual(empty.messages, [])
      assert.isNull(empty.summary)
      assert.deepStrictEqual(yield* store.canonicalContext("agent-1"), { summary: null, messages: [] })
      assert.isFalse(yield* store.deleteCanonical("agent-1"), "loading did not store a row")
      assert.deepStrictEqual(yield* store.list(), [], "the canonical session is not a listed session")
    }))

  test("appendCanonical appends in order, stamps updatedAt and returns exactly the stored state", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      yield* TestClock.setTime(1_000)
      const first = yield* store.appendCanonical("acme", numbered(2))
      assert.deepStrictEqual(first, {
        agentId: "acme" as typeof first.agentId,
        messages: numbered(2),
        summary: null,
        updatedAt: 1_000
      })
      assert.deepStrictEqual(yield* store.loadCanonical("acme"), first)
      yield* TestClock.setTime(2_000)
      const second = yield* store.appendCanonical("acme", [{
        role: "assistant",
        content: [{ type: "text", text: "block" }]
      }])
      const block: Message = { role: "assistant", content: [{ type: "text", text: "block" }] }
      assert.deepStrictEqual(second.messages, [...numbered(2), block])
      assert.strictEqual(second.updatedAt, 2_000)
      assert.deepStrictEqual(yield* store.loadCanonical("acme"), second)
      assert.deepStrictEqual(
        (yield* store.loadCanonical("acme-corp")).messages,
        [],
        "another agent's canonical is separate"
      )
    }))

  test("saveCanonical stores messages and summary, stamped by the Clock, per agent", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      yield* TestClock.setTime(7_000)
      const saved = yield* store.saveCanonical({ agentId: "acme", messages: numbered(3), summary: "User: earlier" })
      assert.deepStrictEqual(saved, {
        agentId: "acme" as typeof saved.agentId,
        messages: numbered(3),
        summary: "User: earlier",
        updatedAt: 7_000
      })
      assert.deepStrictEqual(yield* store.loadCanonical("acme"), saved)
      yield* TestClock.setTime(8_000)
      const replaced = yield* store.saveCanonical({ agentId: "acme", messages: numbered(1, "x") })
      assert.deepStrictEqual(replaced, { ...saved, messages: numbered(1, "x"), summary: null, updatedAt: 8_000 })
      assert.deepStrictEqual(yield* store.loadCanonical("acme"), replaced)
      assert.deepStrictEqual((yield* store.loadCanonical("acme-corp")).messages, [])
    }))

  test("canonicalContext returns the summary and the last `window` messages (default 50)", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const all = numbered(70)
      yield* store.saveCanonical({ agentId: "agent-1", messages: all, summary: "User: before" })
      const byDefault = yield* store.canonicalContext("agent-1")
      assert.strictEqual(byDefault.summary, "User: before")
      assert.deepStrictEqual(byDefault.messages, all.slice(20))
      assert.deepStrictEqual(yield* store.canonicalContext("agent-1", 3), {
        summary: "User: before",
        messages: all.slice(67)
      })
      assert.deepStrictEqual((yield* store.canonicalContext("agent-1", 1)).messages, [all[69]!])
      assert.deepStrictEqual(
        (yield* store.canonicalContext("agent-1", 500)).messages,
        all,
        "a window larger than held gives all"
      )
      assert.deepStrictEqual((yield* store.canonicalContext("agent-1", 70)).messages, all)
      assert.deepStrictEqual((yield* store.canonicalContext("agent-1", 0)).messages, [])
      assert.deepStrictEqual(
        (yield* store.loadCanonical("agent-1")).messages,
        all,
        "reading the context modifies nothing"
      )
    }))

  test("storeSummary replaces the summary and the messages; a later compaction appends after it", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      yield* store.appendCanonical("agent-1", numbered(120))
      yield* TestClock.setTime(9_000)
      const kept = numbered(2, "kept")
      const stored = yield* store.storeSummary("agent-1", "LLM summary: the user likes tea.", kept)
      assert.deepStrictEqual(stored, {
        agentId: "agent-1" as typeof stored.agentId,
        messages: kept,
        summary: "LLM summary: the user likes tea.",
        updatedAt: 9_000
      })
      assert.deepStrictEqual(yield* store.loadCanonical("agent-1"), stored)
      const more = numbered(99, "more")
      const compacted = yield* store.appendCanonical("agent-1", more)
      const held = [...kept, ...more]
      assert.strictEqual(
        compacted.summary,
        ["LLM summary: the user likes tea.", ...held.slice(0, 51).map(lineOf)].join("\n")
      )
      assert.deepStrictEqual(compacted.messages, held.slice(51))
      const fresh = yield* store.storeSummary("agent-2", "first summary", [])
      assert.deepStrictEqual([fresh.summary, fresh.messages], ["first summary", []], "works without a stored canonical")
      yield* store.storeSummary("agent-3", "", [])
      const afterEmpty = yield* store.appendCanonical("agent-3", numbered(51), 1)
      assert.strictEqual(afterEmpty.summary, "User: m-0", "an empty summary adds no blank line")
    }))

  test("deleteCanonical removes the canonical session once and leaves the sessions", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const session = yield* store.create("agent-1")
      yield* store.saveCanonical({ agentId: "agent-1", messages: numbered(2), summary: "s" })
      yield* store.saveCanonical({ agentId: "agent-10", messages: numbered(1), summary: "t" })
      assert.isTrue(yield* store.deleteCanonical("agent-1"))
      assert.isFalse(yield* store.deleteCanonical("agent-1"))
      assert.deepStrictEqual(yield* store.canonicalContext("agent-1"), { summary: null, messages: [] })
      assert.deepStrictEqual(
        (yield* store.loadCanonical("agent-10")).messages,
        numbered(1),
        "a similar agent id is untouched"
      )
      assert.isTrue(Option.isSome(yield* store.get(session.id)))
    }))

  // ---- compaction -----------------------------------------------------------------------------

  test("120 messages with threshold 100: the newest 50 are kept, the 70 oldest become summary lines in order", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const all = numbered(120)
      const result = yield* store.appendCanonical("agent-1", all, 100)
      assert.deepStrictEqual(result.messages, all.slice(70))
      const lines = (result.summary ?? "").split("\n")
      assert.strictEqual(lines.length, 70)
      assert.deepStrictEqual(lines.slice(0, 3), ["User: m-0", "Assistant: m-1", "System: m-2"])
      assert.deepStrictEqual(lines, all.slice(0, 70).map(lineOf))
      assert.deepStrictEqual(yield* store.loadCanonical("agent-1"), result)
    }))

  test("the default threshold is 100: 100 messages are held as they are, the 101st compacts to 50", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const all = numbered(101)
      const held = yield* store.appendCanonical("agent-1", all.slice(0, 100))
      assert.strictEqual(held.messages.length, 100)
      assert.isNull(held.summary)
      const compacted = yield* store.appendCanonical("agent-1", all.slice(100))
      assert.deepStrictEqual(compacted.messages, all.slice(51))
      assert.strictEqual(compacted.summary, all.slice(0, 51).map(lineOf).join("\n"))
    }))

  test("a threshold under 50 never compacts below 50 messages: threshold 10 with 30 messages keeps all 30", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const thirty = numbered(30)
      const result = yield* store.appendCanonical("agent-1", thirty, 10)
      assert.deepStrictEqual(result.messages, thirty)
      assert.isNull(result.summary)
      const more = numbered(30, "m", 30)
      const compacted = yield* store.appendCanonical("agent-1", more, 10)
      assert.deepStrictEqual(
        compacted.messages,
        [...thirty, ...more].slice(10),
        "at 60 held, all but the newest 50 fold"
      )
      assert.strictEqual(compacted.summary, thirty.slice(0, 10).map(lineOf).join("\n"))
    }))

  test("a message over 200 bytes is cut at a character boundary at or below 200 bytes, plus \"...\"", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const specials: ReadonlyArray<MessageInput> = [
        { role: "user", content: "a" + "é".repeat(150) }, // byte 200 is the second byte of an é
        { role: "assistant", content: "ab" + "😀".repeat(60) }, // byte 200 is inside an emoji
        { role: "system", content: "漢".repeat(100) }, // 3-byte characters
        { role: "user", content: "é".repeat(100) }, // exactly 200 bytes: not cut
        { role: "assistant", content: "x".repeat(201) }
      ]
      const result = yield* store.appendCanonical("agent-1", [...specials, ...numbered(50)], 1)
      assert.deepStrictEqual(result.messages, numbered(50))
      assert.deepStrictEqual((result.summary ?? "").split("\n"), [
        "User: a" + "é".repeat(99) + "...",
        "Assistant: ab" + "😀".repeat(49) + "...",
        "System: " + "漢".repeat(66) + "...",
        "User: " + "é".repeat(100),
        "Assistant: " + "x".repeat(200) + "..."
      ])
    }))

  test("in the summary, text blocks concatenate without separator and other blocks contribute nothing", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const specials: ReadonlyArray<MessageInput> = [
        {
          role: "user",
          content: [
            { type: "text", text: "Hello, " },
            { type: "image", media_type: "image/png", data: "AAAA" },
            { type: "text", text: "world" }
          ]
        },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "secret reasoning" },
            { type: "tool_use", id: "t1", name: "search", input: { q: "tool input text" } }
          ]
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "tool output text" }] },
        { role: "assistant", content: "" },
        { role: "user", content: [] },
        { role: "system", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }
      ]
      const result = yield* store.appendCanonical("agent-1", [...specials, ...numbered(50)], 1)
      assert.strictEqual(result.summary, "User: Hello, world\nSystem: ab")
      assert.deepStrictEqual(result.messages, numbered(50))
    }))

  test("a summary over 4000 bytes keeps its newest 4000 bytes, starting on a character boundary", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      // 70 lines of 2-byte characters: ~13 KB of summary, whose 4000-byte cut falls inside a character.
      const long = Array.from({ length: 70 }, (_, i): PlainMessage => ({
        role: ROLES[i % 3]!,
        // The newest line's odd-length tail puts byte len-4000 inside an é (checked below).
        content: `${i}:` + "é".repeat(90) + (i === 69 ? " (newest)" : "")
      }))
      const full = long.map(lineOf).join("\n")
      const cut = Buffer.from(full, "utf8")[utf8(full) - 4000]!
      assert.strictEqual(cut & 0xc0, 0x80, "precondition: byte len-4000 is inside a character")
      const result = yield* store.appendCanonical("agent-1", [...long, ...numbered(50)], 100)
      const summary = result.summary ?? ""
      assert.isAtMost(utf8(summary), 4000)
      assert.isAbove(utf8(summary), 4000 - 4)
      assert.isTrue(full.endsWith(summary), "the summary is a suffix of the full summary")
      assert.strictEqual(summary, newestBytes(full, 4000))
      assert.isFalse(summary.includes("\ufffd"), "no broken character")
      assert.isTrue(summary.endsWith(lineOf(long[69]!)), "the newest line is kept whole")
      assert.deepStrictEqual(result.messages, numbered(50))
    }))

  test("a second compaction appends its lines after the existing summary", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const all = numbered(171)
      const first = yield* store.appendCanonical("agent-1", all.slice(0, 120))
      assert.strictEqual(first.summary, all.slice(0, 70).map(lineOf).join("\n"))
      const second = yield* store.appendCanonical("agent-1", all.slice(120))
      assert.strictEqual(second.summary, all.slice(0, 121).map(lineOf).join("\n"))
      assert.deepStrictEqual(second.messages, all.slice(121))
      assert.deepStrictEqual(yield* store.canonicalContext("agent-1", 5), {
        summary: second.summary,
        messages: all.slice(166)
      })
    }))

  test("50 concurrent appendCanonical calls lose nothing: every message is held exactly once", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const results = yield* Effect.all(
        Array.from(
          { length: 50 },
          (_, i) => store.appendCanonical("agent-1", [{ role: "user", content: `c-${i}` }], 1_000_000)
        ),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.length, 50)
      const held = (yield* store.loadCanonical("agent-1")).messages.map((m) => String(m.content))
      assert.strictEqual(held.length, 50)
      assert.deepStrictEqual([...held].sort(), Array.from({ length: 50 }, (_, i) => `c-${i}`).sort())
      assert.deepStrictEqual(
        results.map((r) => r.messages.length).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 1)
      )
    }))

  test("concurrent appends that compact lose nothing: every message is kept or summarised exactly once", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      yield* Effect.all(
        Array.from(
          { length: 50 },
          (_, i) =>
            store.appendCanonical(
              "agent-1",
              [0, 1, 2].map((j): MessageInput => ({ role: "user", content: `c-${i}-${j}` }))
            )
        ),
        { concurrency: "unbounded" }
      )
      const canonical = yield* store.loadCanonical("agent-1")
      const summarised = (canonical.summary ?? "").split("\n").filter((l) => l !== "").map((l) =>
        l.replace(/^User: /, "")
      )
      const everything = [...summarised, ...canonical.messages.map((m) => String(m.content))]
      assert.strictEqual(everything.length, 150)
      const expected = Array.from({ length: 50 }, (_, i) => [0, 1, 2].map((j) => `c-${i}-${j}`)).flat()
      assert.deepStrictEqual([...everything].sort(), [...expected].sort())
      for (let i = 0; i < 50; i++) {
        const at = everything.indexOf(`c-${i}-0`)
        assert.deepStrictEqual(
          everything.slice(at, at + 3),
          [`c-${i}-0`, `c-${i}-1`, `c-${i}-2`],
          "one call's messages stay together"
        )
      }
      assert.isAtMost(canonical.messages.length, 100)
    }))

  // ---- validation -----------------------------------------------------------------------------

  test("invalid input is a typed InvalidInput naming the field, and nothing is stored", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const id = randomUUID()
      const ok: ReadonlyArray<MessageInput> = [{ role: "user", content: "hi" }]
      const badRole = [{ role: "bot", content: "hi" }] as unknown as ReadonlyArray<MessageInput>
      yield* expectInvalidInputs([
        [store.save({ id, agentId: "agent-1", messages: badRole }), "session.messages.0.role"],
        [
          store.save({ id, agentId: "agent-1", messages: [ok[0]!, { role: "user", content: "nul\u0000" }] }),
          "session.messages.1.content"
        ],
        [
          store.save({
            id,
            agentId: "agent-1",
            messages: [{ role: "user", content: [{ type: "text", text: "nul\u0000" }] }]
          }),
          "session.messages.0.content"
        ],
        [
          store.save({ id, agentId: "agent-1", messages: [{ role: "user", content: "lone \ud800" }] }),
          "session.messages.0.content"
        ],
        [store.save({ id: "not-a-uuid", agentId: "agent-1", messages: ok }), "session.id"],
        [store.save({ id: "../../etc/passwd", agentId: "agent-1", messages: ok }), "session.id"],
        [store.save({ id: id.toUpperCase(), agentId: "agent-1", messages: ok }), "session.id"],
        [store.save({ id, agentId: "", messages: ok }), "session.agentId"],
        [store.save({ id, agentId: "a".repeat(257), messages: ok }), "session.agentId"],
        [store.save({ id, agentId: "agent-1", label: "", messages: ok }), "session.label"],
        [store.get("not-a-uuid"), "id"],
        [store.delete("../x"), "id"],
        [store.setLabel("nope", "x"), "id"],
        [store.setLabel(id, ""), "label"],
        [store.findByLabel("", "x"), "agentId"],
        [store.findByLabel("agent-1", ""), "label"],
        [store.list({ agentId: "" }), "options.agentId"],
        [store.deleteForAgent(""), "agentId"],
        [store.create(""), "agentId"],
        [store.create("agent\u0001"), "agentId"],
        [store.create("agent-1", ""), "label"],
        [store.loadCanonical(""), "agentId"],
        [store.deleteCanonical(""), "agentId"],
        [store.saveCanonical({ agentId: "agent-1", messages: ok, summary: "nul\u0000" }), "canonical.summary"],
        [store.saveCanonical({ agentId: "", messages: ok }), "canonical.agentId"],
        [store.appendCanonical("", ok), "agentId"],
        [store.appendCanonical("agent-1", badRole), "messages.0.role"],
        [store.appendCanonical("agent-1", [{ role: "user", content: "nul\u0000" }]), "messages.0.content"],
        [store.appendCanonical("agent-1", ok, 0), "threshold"],
        [store.appendCanonical("agent-1", ok, 1.5), "threshold"],
        [store.canonicalContext("", 5), "agentId"],
        [store.canonicalContext("agent-1", -1), "window"],
        [store.canonicalContext("agent-1", 2.5), "window"],
        [store.storeSummary("", "s", ok), "agentId"],
        [store.storeSummary("agent-1", "nul\u0000", ok), "summary"],
        [store.storeSummary("agent-1", "s", badRole), "messages.0.role"]
      ])
      assert.deepStrictEqual(yield* store.list(), [])
      assert.isFalse(yield* store.deleteCanonical("agent-1"), "no failed call stored a canonical session")
    }))
})
