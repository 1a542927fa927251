import { Context, type Effect, type Option } from "effect"
import type { Device, DeviceInput } from "../domain/device.js"
import type { DeviceNotFound, InvalidInput, StoreFailure } from "../domain/errors.js"

type E = InvalidInput | StoreFailure

/** Paired devices. Push tokens are `Redacted` and never appear in logs or error messages. */
export class DeviceStore extends Context.Tag("engram/DeviceStore")<DeviceStore, {
  /** Every device, ordered by pairedAt then deviceId. */
  readonly list: () => Effect.Effect<ReadonlyArray<Device>, E>
  readonly get: (deviceId: string) => Effect.Effect<Option.Option<Device>, E>
  /** Upsert replacing every field. */
  readonly save: (device: DeviceInput) => Effect.Effect<Device, E>
  readonly remove: (deviceId: string) => Effect.Effect<boolean, E>
  /** lastSeen = Clock now. */
  readonly touch: (deviceId: string) => Effect.Effect<Device, E | DeviceNotFound>
}>() {}
