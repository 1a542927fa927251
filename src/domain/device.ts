/** Paired devices. Push tokens are `Redacted`: they never print in logs or errors. */
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
  // One fixed message for every failure: the default "Expected string, actual …" would echo the token.
  pushToken: Schema.optional(
    Schema.Redacted(Text).annotations({
      message: () => ({ message: "must be well-formed Unicode text without NUL (value not shown)", override: true })
    })
  )
})
export type Device = typeof Device.Type
export type DeviceInput = typeof Device.Encoded
