/** DeviceStore on PostgreSQL. Push tokens are stored as given and only ever returned `Redacted`. */
import { Clock, Effect, Option, Redacted } from "effect"
import { deviceInputs } from "../../core/inputs.js"
import type { Device } from "../../domain/device.js"
import { DeviceNotFound } from "../../domain/errors.js"
import { DeviceStore } from "../../services/DeviceStore.js"
import type { PgClient } from "./client.js"

const { deviceId, deviceInput } = deviceInputs

export interface DeviceRow {
  device_id: string
  display_name: string
  platform: string
  paired_at: number
  last_seen: number
  push_token: string | null
}

export const DEVICE_COLUMNS = "device_id, display_name, platform, paired_at, last_seen, push_token"

export const toDevice = (r: DeviceRow): Device => ({
  deviceId: r.device_id as Device["deviceId"],
  displayName: r.display_name,
  platform: r.platform,
  pairedAt: r.paired_at,
  lastSeen: r.last_seen,
  ...(r.push_token === null ? {} : { pushToken: Redacted.make(r.push_token) })
})

export const make = (client: PgClient) =>
  DeviceStore.of({
    list: () =>
      Effect.map(
        client.query<DeviceRow>("DeviceStore.list", `SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY paired_at, device_id`),
        (rows) => rows.map(toDevice)
      ),
    get: (i) =>
      Effect.gen(function*() {
        const id = yield* deviceId(i)
        const rows = yield* client.query<DeviceRow>("DeviceStore.get", {
          text: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE device_id = $1`,
          values: [id]
        })
        return Option.map(Option.fromNullable(rows[0]), toDevice)
      }),
    save: (input) =>
      Effect.gen(function*() {
        const d = yield* deviceInput(input)
        yield* client.execute("DeviceStore.save", {
          text: `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (device_id) DO UPDATE SET display_name = excluded.display_name,
                   platform = excluded.platform, paired_at = excluded.paired_at,
                   last_seen = excluded.last_seen, push_token = excluded.push_token`,
          values: [
            d.deviceId,
            d.displayName,
            d.platform,
            d.pairedAt,
            d.lastSeen,
            d.pushToken === undefined ? null : Redacted.value(d.pushToken)
          ]
        })
        return d
      }),
    remove: (i) =>
      Effect.gen(function*() {
        const id = yield* deviceId(i)
        const n = yield* client.execute("DeviceStore.remove", { text: "DELETE FROM devices WHERE device_id = $1", values: [id] })
        return n > 0
      }),
    touch: (i) =>
      Effect.gen(function*() {
        const id = yield* deviceId(i)
        const now = yield* Clock.currentTimeMillis
        const rows = yield* client.query<DeviceRow>("DeviceStore.touch", {
          text: `UPDATE devices SET last_seen = $2 WHERE device_id = $1 RETURNING ${DEVICE_COLUMNS}`,
          values: [id, now]
        })
        if (rows[0] === undefined) return yield* new DeviceNotFound({ deviceId: id })
        return toDevice(rows[0])
      })
  })
