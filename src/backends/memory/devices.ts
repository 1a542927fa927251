/** DeviceStore in memory. */
import { Clock, Effect, Option } from "effect"
import { deviceInputs } from "../../core/inputs.js"
import { compareCodePoints } from "../../core/order.js"
import { DeviceNotFound } from "../../domain/errors.js"
import { DeviceStore } from "../../services/DeviceStore.js"
import type { MemoryDb } from "./client.js"

const { deviceId, deviceInput } = deviceInputs

export const make = (db: MemoryDb) =>
  DeviceStore.of({
    list: () =>
      Effect.sync(() =>
        [...db.devices.values()].sort((a, b) => a.pairedAt - b.pairedAt || compareCodePoints(a.deviceId, b.deviceId))
      ),
    get: (i) => Effect.map(deviceId(i), (id) => Option.fromNullable(db.devices.get(id))),
    save: (input) =>
      Effect.gen(function*() {
        const d = yield* deviceInput(input)
        yield* Effect.sync(() => db.devices.set(d.deviceId, d))
        return d
      }),
    remove: (i) => Effect.flatMap(deviceId(i), (id) => Effect.sync(() => db.devices.delete(id))),
    touch: (i) =>
      Effect.gen(function*() {
        const id = yield* deviceId(i)
        const now = yield* Clock.currentTimeMillis
        const d = db.devices.get(id)
        if (d === undefined) return yield* new DeviceNotFound({ deviceId: id })
        const touched = { ...d, lastSeen: now }
        db.devices.set(id, touched)
        return touched
      })
  })
