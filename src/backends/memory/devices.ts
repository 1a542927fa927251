/** DeviceStore's port in memory. */
import { Effect, Option } from "effect"
import type { DevicePort } from "../../core/devices.js"
import { compareCodePoints } from "../../core/order.js"
import type { MemoryDb } from "./client.js"

/** The port over `db`; every primitive is one synchronous step, so it is atomic. */
export const port = (db: MemoryDb): DevicePort => ({
  backend: "memory",
  list: () =>
    Effect.sync(() =>
      [...db.devices.values()].sort((a, b) => a.pairedAt - b.pairedAt || compareCodePoints(a.deviceId, b.deviceId))
    ),
  get: (id) => Effect.sync(() => Option.fromNullable(db.devices.get(id))),
  save: (d) => Effect.sync(() => void db.devices.set(d.deviceId, d)),
  remove: (id) => Effect.sync(() => db.devices.delete(id)),
  touch: (id, now) =>
    Effect.sync(() => {
      const d = db.devices.get(id)
      if (d === undefined) return Option.none()
      const touched = { ...d, lastSeen: now }
      db.devices.set(id, touched)
      return Option.some(touched)
    })
})
