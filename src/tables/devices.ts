/**
 * The `devices` table: one row per device. The push token is stored as its text and is `Redacted`
 * everywhere else: `values` reveals it only for the driver, and a row that does not decode is
 * reported by column name alone, because a decode message would quote the offending value and the
 * error carrying it could end up in a log.
 */
import { ParseResult, Redacted, Schema } from "effect"
import type { Device } from "../domain/device.js"
import { DeviceId } from "../domain/ids.js"
import { type Table, table } from "./table.js"

/** A row of `devices` as the driver returns it. */
export const DeviceRow = Schema.Struct({
  device_id: DeviceId,
  display_name: Schema.String,
  platform: Schema.String,
  paired_at: Schema.Number,
  last_seen: Schema.Number,
  push_token: Schema.NullOr(Schema.String)
})
export type DeviceRow = typeof DeviceRow.Type

const codec = table({
  name: "devices",
  row: DeviceRow,
  key: ["device_id"],
  fromRow: (r): Device => ({
    deviceId: r.device_id,
    displayName: r.display_name,
    platform: r.platform,
    pairedAt: r.paired_at,
    lastSeen: r.last_seen,
    ...(r.push_token === null ? {} : { pushToken: Redacted.make(r.push_token) })
  }),
  toRow: (d) => ({
    device_id: d.deviceId,
    display_name: d.displayName,
    platform: d.platform,
    paired_at: d.pairedAt,
    last_seen: d.lastSeen,
    push_token: d.pushToken === undefined ? null : Redacted.value(d.pushToken)
  })
})

/** Where a row failed to decode, without any value of the row. */
const columnsAt = (error: unknown): string =>
  ParseResult.isParseError(error)
    ? ParseResult.ArrayFormatter.formatErrorSync(error).map((i) => i.path.join(".") || "(row)").join(", ")
    : "(row)"

/** The codec of `devices`: rows ⇄ `Device`, the push token `Redacted` on the domain side. */
export const devicesTable: Table<DeviceRow, Device> = {
  ...codec,
  decode: (row) => {
    try {
      return codec.decode(row)
    } catch (error) {
      throw new Error(`a devices row does not decode at ${columnsAt(error)} (values not shown)`)
    }
  }
}
