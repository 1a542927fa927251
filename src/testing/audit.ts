/**
 * AuditLog conformance (the contract is the JSDoc of src/services/AuditLog.ts). The tamper tests write
 * to the stored rows through `AuditTamper`, the way someone with write access to the table would,
 * and expect `verify()` to name the first broken seq.
 */
import { assert, describe } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { hashEntry } from "../core/audit.js"
import { type AuditEntry, GENESIS_HASH } from "../domain/audit.js"
import { AuditLog } from "../services/AuditLog.js"
import { AuditTamper } from "./auditTamper.js"
import { expectInvalidInputs, type FreshLayer, storeTest } from "./harness.js"

type Log = AuditLog["Type"]

const HEX64 = /^[0-9a-f]{64}$/

/** Append `n` entries, one second apart, spread over three agents; returns them as appended. */
const seed = (log: Log, n: number) =>
  Effect.gen(function*() {
    const out: Array<AuditEntry> = []
    for (let i = 0; i < n; i++) {
      yield* TestClock.adjust("1 second")
      out.push(
        yield* log.append({ agentId: `agent-${i % 3}`, action: `action-${i}`, detail: `detail ${i}`, outcome: "ok" })
      )
    }
    return out
  })

/** The chain `entries` would be if it started from `prevHash`: every hash recomputed, consistently. */
const rechain = (entries: ReadonlyArray<AuditEntry>, prevHash: string): Array<AuditEntry> => {
  const out: Array<AuditEntry> = []
  let prev = prevHash
  for (const e of entries) {
    const hash = hashEntry({ ...e, prevHash: prev })
    out.push({ ...e, prevHash: prev, hash })
    prev = hash
  }
  return out
}

/** Write rewritten entries back over the rows with the same seq. */
const overwrite = (tamper: AuditTamper["Type"], entries: ReadonlyArray<AuditEntry>) =>
  Effect.forEach(entries, (e) => tamper.update(e.seq, e), { discard: true })

/** verify() must fail with AuditIntegrityError at `seq`. */
const expectBrokenAt = (log: Log, seq: number) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(log.verify())
    assert.strictEqual(error._tag, "AuditIntegrityError", `expected the chain to be reported broken at ${seq}`)
    if (error._tag === "AuditIntegrityError") {
      assert.strictEqual(error.seq, seq)
      assert.isAbove(error.reason.length, 0, "the reason says what is wrong")
    }
  })

/**
 * `anchored`: the layer keeps an audit anchor outside the table (see core/auditAnchor.ts), so deleting
 * the last entries and consistent rewrites are detected too.
 */
export const auditLogSuite = (
  name: string,
  layer: FreshLayer<AuditLog | AuditTamper>,
  options: { readonly anchored?: boolean } = {}
) =>
  describe(`AuditLog conformance: ${name}${options.anchored === true ? " (anchored)" : ""}`, () => {
    const test = storeTest(layer)

    test("append returns the persisted entry: seq from 1, contiguous, timestamp from the Clock", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        yield* TestClock.setTime(1_700_000_000_000)
        const a = yield* log.append({ agentId: "agent-1", action: "tool_invoke", detail: "ls -la", outcome: "ok" })
        yield* TestClock.adjust(250)
        const b = yield* log.append({
          agentId: "agent-2",
          action: "memory_write",
          detail: "{\"k\":1}",
          outcome: "denied"
        })
        yield* TestClock.adjust(1)
        const c = yield* log.append({ agentId: "agent-1", action: "shell" })
        assert.deepStrictEqual([a.seq, b.seq, c.seq], [1, 2, 3])
        assert.deepStrictEqual(
          [a.timestamp, b.timestamp, c.timestamp],
          [1_700_000_000_000, 1_700_000_000_250, 1_700_000_000_251]
        )
        assert.deepStrictEqual(
          [b.agentId, b.action, b.detail, b.outcome],
          ["agent-2", "memory_write", "{\"k\":1}", "denied"]
        )
        assert.deepStrictEqual([c.detail, c.outcome], ["", "ok"], "detail defaults to empty and outcome to ok")
        assert.deepStrictEqual(yield* log.entries(), [a, b, c], "exactly the returned entries are stored")
      }))

    test("the first prevHash is 64 zeros and each prevHash is the previous entry's hash", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const entries = yield* seed(log, 6)
        assert.strictEqual(GENESIS_HASH, "0".repeat(64))
        assert.strictEqual(entries[0]!.prevHash, "0".repeat(64))
        for (let i = 1; i < entries.length; i++) {
          assert.strictEqual(entries[i]!.prevHash, entries[i - 1]!.hash, `prevHash of seq ${i + 1}`)
        }
      }))

    test("every hash is 64 lower-case hex digits and recomputes from the entry's fields", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        yield* log.append({
          agentId: "agent-ü",
          action: "unicode",
          detail: "😀 \"quoted\" \\ back\nslash",
          outcome: "ok"
        })
        yield* seed(log, 4)
        const stored = yield* log.entries()
        assert.strictEqual(stored.length, 5)
        for (const e of stored) {
          assert.match(e.hash, HEX64)
          assert.strictEqual(e.hash, hashEntry(e), `hash of seq ${e.seq}`)
        }
        assert.strictEqual(new Set(stored.map((e) => e.hash)).size, 5)
      }))

    test("the hash encoding is unambiguous: fields that concatenate alike hash differently", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const a = yield* log.append({ agentId: "ab", action: "c", detail: "d", outcome: "ok" })
        const b = yield* log.append({ agentId: "a", action: "bc", detail: "d", outcome: "ok" })
        // Same seq, timestamp and prevHash as `a`, so only the framing of the fields can differ.
        const shifted = hashEntry({ ...a, agentId: "a", action: "bc" })
        assert.notStrictEqual(shifted, a.hash)
        assert.strictEqual(b.hash, hashEntry(b))
        yield* log.verify()
      }))

    test("entries are ascending by seq; fromSeq and limit select a window", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const all = yield* seed(log, 10)
        assert.deepStrictEqual(yield* log.entries(), all)
        assert.deepStrictEqual(yield* log.entries({ fromSeq: 4 }), all.slice(3))
        assert.deepStrictEqual(yield* log.entries({ limit: 3 }), all.slice(0, 3))
        assert.deepStrictEqual(yield* log.entries({ fromSeq: 5, limit: 2 }), all.slice(4, 6))
        assert.deepStrictEqual(yield* log.entries({ fromSeq: 11 }), [])
      }))

    test("entries filter by exact agent id, including with fromSeq and limit", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const agents = ["acme", "acme-corp", "acme", "Acme", "acme", "acme-corp", "acme"]
        for (const agentId of agents) yield* log.append({ agentId, action: "act" })
        const seqsOf = (entries: ReadonlyArray<AuditEntry>) => entries.map((e) => e.seq)
        assert.deepStrictEqual(seqsOf(yield* log.entries({ agentId: "acme" })), [1, 3, 5, 7])
        assert.deepStrictEqual(seqsOf(yield* log.entries({ agentId: "acme-corp" })), [2, 6])
        assert.deepStrictEqual(seqsOf(yield* log.entries({ agentId: "Acme" })), [4])
        assert.deepStrictEqual(seqsOf(yield* log.entries({ agentId: "acm" })), [])
        assert.deepStrictEqual(seqsOf(yield* log.entries({ agentId: "acme", fromSeq: 2, limit: 2 })), [3, 5])
      }))

    test("head is seq 0 and the genesis hash when empty, then the last entry", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        assert.deepStrictEqual(yield* log.head(), { seq: 0, hash: GENESIS_HASH })
        const first = yield* log.append({ agentId: "agent-1", action: "one" })
        assert.deepStrictEqual(yield* log.head(), { seq: 1, hash: first.hash })
        const entries = yield* seed(log, 3)
        assert.deepStrictEqual(yield* log.head(), { seq: 4, hash: entries[2]!.hash })
      }))

    test("verify of an empty log is zero entries ending at the genesis hash", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        assert.deepStrictEqual(yield* log.verify(), { entries: 0, headHash: GENESIS_HASH })
      }))

    test("verify walks 200 entries and reports the head hash", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const entries = yield* seed(log, 200)
        assert.deepStrictEqual(yield* log.verify(), { entries: 200, headHash: entries[199]!.hash })
        assert.deepStrictEqual(yield* log.head(), { seq: 200, hash: entries[199]!.hash })
        const next = yield* log.append({ agentId: "agent-1", action: "after-verify" })
        assert.deepStrictEqual([next.seq, next.prevHash], [201, entries[199]!.hash])
      }))

    test("50 concurrent appends keep one linear chain, seq 1..50", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const returned = yield* Effect.all(
          Array.from({ length: 50 }, (_, i) => log.append({ agentId: `agent-${i % 5}`, action: `concurrent-${i}` })),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(
          returned.map((e) => e.seq).sort((a, b) => a - b),
          Array.from({ length: 50 }, (_, i) => i + 1)
        )
        const stored = yield* log.entries()
        assert.deepStrictEqual(stored.map((e) => e.seq), Array.from({ length: 50 }, (_, i) => i + 1))
        const bySeq = new Map(stored.map((e) => [e.seq, e]))
        for (const e of returned) assert.deepStrictEqual(bySeq.get(e.seq), e, `seq ${e.seq} is stored as returned`)
        assert.deepStrictEqual(yield* log.verify(), { entries: 50, headHash: stored[49]!.hash })
      }))

    // One test per stored field: a changed value anywhere in an entry breaks the chain at that entry.
    const fieldChanges: ReadonlyArray<
      readonly [string, (e: AuditEntry, all: ReadonlyArray<AuditEntry>) => Partial<AuditEntry>]
    > = [
      ["timestamp", (e) => ({ timestamp: e.timestamp + 1 })],
      ["agentId", (e) => ({ agentId: `${e.agentId}-intruder` })],
      ["action", (e) => ({ action: `${e.action}x` })],
      ["detail", (e) => ({ detail: `${e.detail} ` })],
      ["outcome", (e) => ({ outcome: e.outcome === "ok" ? "denied" : "ok" })],
      ["prevHash", (_, all) => ({ prevHash: all[0]!.hash })],
      ["hash", (_, all) => ({ hash: all[4]!.hash })],
      ["seq", () => ({ seq: 1_000 })]
    ]
    for (const [field, change] of fieldChanges) {
      test(`a changed ${field} in a middle entry is detected at its seq`, () =>
        Effect.gen(function*() {
          const log = yield* AuditLog
          const tamper = yield* AuditTamper
          const all = yield* seed(log, 6)
          assert.strictEqual((yield* log.verify()).entries, 6)
          yield* tamper.update(3, change(all[2]!, all))
          yield* expectBrokenAt(log, 3)
        }))
    }

    test("deleting a middle entry is detected at the missing seq", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const tamper = yield* AuditTamper
        yield* seed(log, 6)
        yield* tamper.remove(4)
        yield* expectBrokenAt(log, 4)
      }))

    test("deleting the first entry is detected at seq 1", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const tamper = yield* AuditTamper
        yield* seed(log, 4)
        yield* tamper.remove(1)
        yield* expectBrokenAt(log, 1)
      }))

    test("swapping the contents of two entries (keeping their seqs) is detected at the earlier one", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const tamper = yield* AuditTamper
        const all = yield* seed(log, 6)
        const { seq: _s2, ...second } = all[1]!
        const { seq: _s5, ...fifth } = all[4]!
        yield* tamper.update(2, fifth)
        yield* tamper.update(5, second)
        yield* expectBrokenAt(log, 2)
      }))

    test("a copy of an entry appended at the end is detected at the new seq", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const tamper = yield* AuditTamper
        const all = yield* seed(log, 5)
        // A replay of entry 3 under the next free seq: its prevHash points into the middle of the chain.
        yield* tamper.insert({ ...all[2]!, seq: 6 })
        yield* expectBrokenAt(log, 6)
      }))

    test("a chain that does not start from the genesis hash is detected at seq 1", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        const tamper = yield* AuditTamper
        const all = yield* seed(log, 5)
        // Re-hashed from a foreign start, so every link is consistent and only the genesis is wrong.
        const rewritten = rechain(all, "f".repeat(64))
        yield* overwrite(tamper, rewritten)
        assert.deepStrictEqual(rewritten.slice(1).map((e, i) => e.prevHash === rewritten[i]!.hash), [
          true,
          true,
          true,
          true
        ])
        yield* expectBrokenAt(log, 1)
      }))

    if (options.anchored === true) {
      test("with an anchor: a consistently re-hashed rewrite is detected at the anchored head", () =>
        Effect.gen(function*() {
          const log = yield* AuditLog
          const tamper = yield* AuditTamper
          const all = yield* seed(log, 5)
          const rewritten = rechain([{ ...all[1]!, detail: "rewritten history" }, ...all.slice(2)], all[0]!.hash)
          yield* overwrite(tamper, rewritten)
          yield* expectBrokenAt(log, 5)
        }))

      test("with an anchor: deleting the last entries is detected (the log ends before the anchor)", () =>
        Effect.gen(function*() {
          const log = yield* AuditLog
          const tamper = yield* AuditTamper
          yield* seed(log, 5)
          yield* tamper.remove(5)
          yield* tamper.remove(4)
          const error = yield* Effect.flip(log.verify())
          assert.strictEqual(error._tag, "AuditIntegrityError")
          if (error._tag === "AuditIntegrityError") {
            assert.strictEqual(error.seq, 4)
            assert.include(error.reason, "truncated")
          }
        }))

      test("with an anchor: the anchor follows appends (a new entry after a verified head is not a truncation)", () =>
        Effect.gen(function*() {
          const log = yield* AuditLog
          yield* seed(log, 3)
          assert.strictEqual((yield* log.verify()).entries, 3)
          yield* seed(log, 2)
          assert.strictEqual((yield* log.verify()).entries, 5)
        }))
    } else {
      test("a consistently re-hashed rewrite is not detectable without an anchor (expected)", () =>
        Effect.gen(function*() {
          const log = yield* AuditLog
          const tamper = yield* AuditTamper
          const all = yield* seed(log, 5)
          const original = yield* log.head()
          // Rewrite entry 2 and re-hash everything after it: the chain is valid again. Only an anchor
          // kept outside the table can tell; verify() alone is expected to pass.
          const rewritten = rechain([{ ...all[1]!, detail: "rewritten history" }, ...all.slice(2)], all[0]!.hash)
          yield* overwrite(tamper, rewritten)
          const verified = yield* log.verify()
          assert.deepStrictEqual(verified, { entries: 5, headHash: rewritten[3]!.hash })
          assert.notStrictEqual(verified.headHash, original.hash, "the head hash is what an anchor would compare")
          assert.strictEqual((yield* log.entries({ fromSeq: 2, limit: 1 }))[0]!.detail, "rewritten history")
        }))
    }

    test("invalid input is a typed InvalidInput naming the field, and nothing is appended", () =>
      Effect.gen(function*() {
        const log = yield* AuditLog
        yield* log.append({ agentId: "agent-1", action: "ok" })
        yield* expectInvalidInputs([
          [log.append({ agentId: "agent-1", action: "" }), "input.action"],
          [log.append({ agentId: "agent-1", action: "tab\there" }), "input.action"],
          [log.append({ agentId: "agent-1", action: "x", detail: "nul\u0000" }), "input.detail"],
          [log.append({ agentId: "agent-1", action: "x", outcome: "\udc00" }), "input.outcome"],
          [log.append({ agentId: "", action: "x" }), "input.agentId"],
          [log.entries({ limit: 0 }), "query.limit"],
          [log.entries({ fromSeq: 0 }), "query.fromSeq"],
          [log.entries({ agentId: "" }), "query.agentId"]
        ])
        assert.strictEqual((yield* log.verify()).entries, 1)
      }))
  })
