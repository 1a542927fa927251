/** DeviceStore conformance (the contract is the JSDoc of src/services/DeviceStore.ts). */
import { assert } from "@effect/vitest"
import { Effect, Logger, Option, Redacted, TestClock } from "effect"
import { inspect } from "node:util"
import type { Device, DeviceInput } from "../domain/device.js"
import { DeviceStore } from "../services/DeviceStore.js"
import { conformance, expectInvalidInputs } from "./harness.js"

/** A device with its push token revealed, for comparing with what was saved. */
const revealed = (d: Device): DeviceInput => ({
  deviceId: d.deviceId,
  displayName: d.displayName,
  platform: d.platform,
  pairedAt: d.pairedAt,
  lastSeen: d.lastSeen,
  ...(d.pushToken === undefined ? {} : { pushToken: Redacted.value(d.pushToken) })
})

const TOKEN = "apns-7f3c9a1e-secret-push-token"

const phone: DeviceInput = {
  deviceId: "phone-1",
  displayName: "Ana's phone ☎",
  platform: "ios",
  pairedAt: 1_000,
  lastSeen: 2_000,
  pushToken: TOKEN
}

/** Every rendering of `value` a log line or an error report could contain. */
const renderings = (value: unknown): ReadonlyArray<string> => [
  String(value),
  JSON.stringify(value) ?? "",
  inspect(value, { depth: 10 }),
  value instanceof Error ? value.message : ""
]

export const deviceStoreSuite = conformance<DeviceStore>("DeviceStore", (test) => {
  test("save returns the device and get returns it unchanged; an unknown id is None", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      assert.deepStrictEqual(yield* store.list(), [])
      const saved = yield* store.save(phone)
      assert.deepStrictEqual(revealed(saved), phone)
      const loaded = Option.getOrThrow(yield* store.get("phone-1"))
      assert.deepStrictEqual(revealed(loaded), phone)
      const noToken: DeviceInput = {
        deviceId: "watch",
        displayName: "Watch",
        platform: "watchos",
        pairedAt: 5,
        lastSeen: 5
      }
      yield* store.save(noToken)
      const watch = Option.getOrThrow(yield* store.get("watch"))
      assert.deepStrictEqual(revealed(watch), noToken)
      assert.isUndefined(watch.pushToken)
      assert.isTrue(Option.isNone(yield* store.get("phone-2")))
    }))

  test("the push token is Redacted: it never prints, serialises or logs, and Redacted.value gives it back", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      const saved = yield* store.save(phone)
      const loaded = yield* store.get("phone-1")
      const listed = yield* store.list()
      const token = Option.getOrThrow(loaded).pushToken
      assert.isTrue(token !== undefined && Redacted.isRedacted(token), "the token is a Redacted")
      assert.strictEqual(Redacted.value(token!), TOKEN)
      for (const value of [saved, saved.pushToken, loaded, listed, { device: saved }]) {
        for (const text of renderings(value)) assert.notInclude(text, TOKEN)
      }
      const lines: Array<string> = []
      const capture = Logger.make((options) => {
        lines.push(
          Logger.stringLogger.log(options),
          Logger.logfmtLogger.log(options),
          JSON.stringify(Logger.jsonLogger.log(options))
        )
      })
      yield* Effect.log("paired", saved, listed).pipe(
        Effect.annotateLogs("device", saved),
        Effect.provide(Logger.add(capture))
      )
      assert.isAbove(lines.length, 0, "the capturing logger ran")
      for (const line of lines) assert.notInclude(line, TOKEN)
    }))

  test("error messages never contain the push token, even when the token itself is rejected", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      const attempts = [
        store.save({ ...phone, displayName: "" }),
        store.save({ ...phone, pairedAt: -1 }),
        store.save({ ...phone, pushToken: `${TOKEN}\u0000` }),
        store.save({ ...phone, pushToken: `${TOKEN}\ud800` }),
        store.save({ ...phone, pushToken: [TOKEN] as unknown as string }),
        store.save({ ...phone, pushToken: { token: TOKEN } as unknown as string })
      ]
      for (const attempt of attempts) {
        const error = yield* Effect.flip(attempt)
        assert.strictEqual(error._tag, "InvalidInput")
        for (const text of renderings(error)) assert.notInclude(text, TOKEN)
      }
      assert.deepStrictEqual(yield* store.list(), [])
    }))

  test("save replaces every field: a later save without a token removes it", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      yield* store.save(phone)
      const replacement: DeviceInput = {
        deviceId: "phone-1",
        displayName: "Tablet",
        platform: "android",
        pairedAt: 3_000,
        lastSeen: 4_000
      }
      const saved = yield* store.save(replacement)
      assert.deepStrictEqual(revealed(saved), replacement)
      const loaded = Option.getOrThrow(yield* store.get("phone-1"))
      assert.deepStrictEqual(revealed(loaded), replacement)
      assert.isUndefined(loaded.pushToken, "the omitted token is gone")
      yield* store.save({ ...replacement, pushToken: "fcm-new-token" })
      assert.strictEqual(Redacted.value(Option.getOrThrow(yield* store.get("phone-1")).pushToken!), "fcm-new-token")
      assert.strictEqual((yield* store.list()).length, 1, "an upsert, not a second device")
    }))

  test("list is ordered by pairedAt, then deviceId in code point order", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      const paired: ReadonlyArray<readonly [string, number]> = [
        ["b", 2_000],
        ["a", 3_000],
        ["c", 1_000],
        ["B", 2_000],
        ["a-2", 2_000]
      ]
      for (const [deviceId, pairedAt] of paired) {
        yield* store.save({ deviceId, displayName: deviceId, platform: "linux", pairedAt, lastSeen: pairedAt })
      }
      assert.deepStrictEqual((yield* store.list()).map((d) => d.deviceId), ["c", "B", "a-2", "b", "a"])
      assert.deepStrictEqual((yield* store.list()).map((d) => d.pairedAt), [1_000, 2_000, 2_000, 2_000, 3_000])
    }))

  test("remove returns true once, then false; only that device is gone", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      yield* store.save(phone)
      yield* store.save({ ...phone, deviceId: "phone-10" })
      assert.isTrue(yield* store.remove("phone-1"))
      assert.isFalse(yield* store.remove("phone-1"))
      assert.isFalse(yield* store.remove("never-paired"))
      assert.isTrue(Option.isNone(yield* store.get("phone-1")))
      assert.deepStrictEqual((yield* store.list()).map((d) => d.deviceId), ["phone-10"])
    }))

  test("device ids are compared exactly: similar ids, case and SQL wildcards are distinct devices", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      const ids = ["acme", "acme-corp", "Acme", "acme ", "a%", "a_", "ab"]
      for (const [i, deviceId] of ids.entries()) yield* store.save({ ...phone, deviceId, displayName: `device ${i}` })
      for (const [i, deviceId] of ids.entries()) {
        assert.strictEqual(Option.getOrThrow(yield* store.get(deviceId)).displayName, `device ${i}`)
      }
      assert.isTrue(yield* store.remove("a%"))
      assert.isTrue(Option.isSome(yield* store.get("ab")), "removing a% must not touch ab")
      yield* TestClock.setTime(9_000)
      yield* store.touch("a_")
      assert.strictEqual(
        Option.getOrThrow(yield* store.get("ab")).lastSeen,
        phone.lastSeen,
        "touching a_ must not touch ab"
      )
      assert.strictEqual((yield* store.list()).length, ids.length - 1)
    }))

  test("touch sets lastSeen to Clock now, keeps every other field and returns the device", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      yield* store.save(phone)
      yield* store.save({ ...phone, deviceId: "phone-2", pushToken: "other" })
      yield* TestClock.setTime(50_000)
      const touched = yield* store.touch("phone-1")
      assert.deepStrictEqual(revealed(touched), { ...phone, lastSeen: 50_000 })
      assert.deepStrictEqual(revealed(Option.getOrThrow(yield* store.get("phone-1"))), { ...phone, lastSeen: 50_000 })
      assert.strictEqual(
        Option.getOrThrow(yield* store.get("phone-2")).lastSeen,
        phone.lastSeen,
        "other devices untouched"
      )
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* store.touch("phone-1")).lastSeen, 110_000)
    }))

  test("touch of an unknown device fails with DeviceNotFound and creates nothing", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      const error = yield* Effect.flip(store.touch("ghost"))
      assert.strictEqual(error._tag, "DeviceNotFound")
      assert.strictEqual(error._tag === "DeviceNotFound" ? error.deviceId : "", "ghost")
      assert.deepStrictEqual(yield* store.list(), [])
      yield* store.save(phone)
      yield* store.remove("phone-1")
      assert.strictEqual(
        (yield* Effect.flip(store.touch("phone-1")))._tag,
        "DeviceNotFound",
        "a removed device cannot be touched"
      )
    }))

  test("invalid input is a typed InvalidInput naming the field, and nothing is stored", () =>
    Effect.gen(function*() {
      const store = yield* DeviceStore
      yield* expectInvalidInputs([
        [store.save({ ...phone, deviceId: "" }), "device.deviceId"],
        [store.save({ ...phone, deviceId: "d".repeat(257) }), "device.deviceId"],
        [store.save({ ...phone, deviceId: "phone\u0000" }), "device.deviceId"],
        [store.save({ ...phone, displayName: "" }), "device.displayName"],
        [store.save({ ...phone, displayName: "bell\u0007" }), "device.displayName"],
        [store.save({ ...phone, platform: "" }), "device.platform"],
        [store.save({ ...phone, pairedAt: -1 }), "device.pairedAt"],
        [store.save({ ...phone, pairedAt: 1.5 }), "device.pairedAt"],
        [store.save({ ...phone, lastSeen: Number.NaN }), "device.lastSeen"],
        [store.save({ ...phone, pushToken: "tok\u0000" }), "device.pushToken"],
        [store.get(""), "deviceId"],
        [store.remove(""), "deviceId"],
        [store.touch(""), "deviceId"],
        [store.touch("x".repeat(257)), "deviceId"]
      ])
      assert.deepStrictEqual(yield* store.list(), [])
    }))
})
