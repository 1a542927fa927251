/**
 * The `devices` table: one row per device. The push token is stored as its text and is `Redacted`
 * everywhere else: `values` reveals it only for the driver, and a row that does not decode is
 * reported by column name alone, because a decode message would quote the offending value and the
 * error carrying it could end up in a log.
 */
import { ParseResult, Redacted, Schema } from "effect"
import { Device } from "../domain/device.js"
import { columnCodec, recordTable } from "./table.js"

const codec = recordTable({
  name: "devices",
  fields: Device.fields,
  key: ["device_id"],
  codecs: {
    pushToken: columnCodec(
      Schema.NullOr(Schema.String),
      (token) => (token === null ? undefined : Redacted.make(token)),
      (token) => (token === undefined ? null : Redacted.value(token))
    )
  }
})

/** Where a row failed to decode, without any value of the row. */
const columnsAt = (error: unknown): string =>
  ParseResult.isParseError(error)
    ? ParseResult.ArrayFormatter.formatErrorSync(error).map((i) => i.path.join(".") || "(row)").join(", ")
    : "(row)"

/** The codec of `devices`: rows ⇄ `Device`, the push token `Redacted` on the domain side. */
export const devicesTable: typeof codec = {
  ...codec,
  decode: (row) => {
    try {
      return codec.decode(row)
    } catch (error) {
      throw new Error(`a devices row does not decode at ${columnsAt(error)} (values not shown)`)
    }
  }
}
