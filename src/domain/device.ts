/** Paired devices (SPEC §2.6). Push tokens are `Redacted`: they never print in logs or errors. */
import { Schema } from "effect"
import { DeviceId } from "./ids.js"
import { Name, Text } from "./text.js"
import { EpochMillis } from "./time.js"

export const Device = Schema.Struct({
  deviceId: DeviceId,
  displayName: Name,
  platform: Name,
  pairedAt: EpochMillis,
  lastSeen: EpochMillis,
  pushToken: Schema.optional(Schema.Redacted(Text))
})
export type Device = typeof Device.Type
export type DeviceInput = typeof Device.Encoded
