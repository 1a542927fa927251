/**
 * DeviceStore written once: decoding, the Clock and the typed refusal of an unknown device live
 * here; a backend provides `DevicePort`, the storage primitives over decoded values. Push tokens stay
 * `Redacted` throughout; only a backend's table codec reveals one, to its driver.
 */
import { Clock, type Context, Effect, Option } from "effect"
import type { Device } from "../domain/device.js"
import { type BackendName, DeviceNotFound, type StoreFailure } from "../domain/errors.js"
import type { DeviceId } from "../domain/ids.js"
import { DeviceStore } from "../services/DeviceStore.js"
import { deviceInputs } from "./inputs.js"
import { instrumentService } from "./instrument.js"

const { deviceId, deviceInput } = deviceInputs

/** The storage primitives of DeviceStore. Every argument is already decoded. */
export interface DevicePort {
  readonly backend: BackendName
  /** Every device, ordered by pairedAt, then deviceId (code point order). */
  readonly list: () => Effect.Effect<ReadonlyArray<Device>, StoreFailure>
  readonly get: (id: DeviceId) => Effect.Effect<Option.Option<Device>, StoreFailure>
  /** Upsert replacing every field: a token left out is removed. */
  readonly save: (device: Device) => Effect.Effect<void, StoreFailure>
  readonly remove: (id: DeviceId) => Effect.Effect<boolean, StoreFailure>
  /** Set lastSeen = now, atomically; the updated device, or None when there is no such device. */
  readonly touch: (id: DeviceId, now: number) => Effect.Effect<Option.Option<Device>, StoreFailure>
}

/** DeviceStore over a backend's port. */
export const makeDeviceStore = (port: DevicePort): Context.Tag.Service<typeof DeviceStore> =>
  instrumentService(DeviceStore, port.backend)({
    list: () => port.list(),
    get: (i) => Effect.flatMap(deviceId(i), port.get),
    save: (input) => Effect.flatMap(deviceInput(input), (d) => Effect.as(port.save(d), d)),
    remove: (i) => Effect.flatMap(deviceId(i), port.remove),
    touch: (i) =>
      Effect.gen(function*() {
        const id = yield* deviceId(i)
        const now = yield* Clock.currentTimeMillis
        const touched = yield* port.touch(id, now)
        if (Option.isNone(touched)) return yield* new DeviceNotFound({ deviceId: id })
        return touched.value
      })
  })
