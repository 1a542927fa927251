/** DeviceStore on SQLite. The push token is stored as given and comes back `Redacted`. */
import { Clock, Effect, Option, Redacted } from "effect"
import { deviceInputs } from "../../core/inputs.js"
import type { Device } from "../../domain/device.js"
import { DeviceNotFound } from "../../domain/errors.js"
import { DeviceStore } from "../../services/DeviceStore.js"
import { attempt, type SqliteConnection } from "./client.js"

const { deviceId, deviceInput } = deviceInputs

export interface DeviceRow {
  readonly device_id: string
  readonly display_name: string
  readonly platform: string
  readonly paired_at: number
  readonly last_seen: number
  readonly push_token: string | null
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

/** The service over `conn`. */
export const make = (conn: SqliteConnection) =>
  DeviceStore.of({
    list: () =>
      attempt("DeviceStore.list", () =>
        conn.all<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY paired_at, device_id`).map(toDevice)),
    get: (i) =>
      Effect.flatMap(deviceId(i), (id) =>
        attempt("DeviceStore.get", () =>
          Option.map(
            Option.fromNullable(conn.get<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE device_id = ?`, [id])),
            toDevice
          ))),
    save: (input) =>
      Effect.gen(function*() {
        const d = yield* deviceInput(input)
        yield* attempt("DeviceStore.save", () =>
          conn.run(
            `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (device_id) DO UPDATE SET
               display_name = excluded.display_name, platform = excluded.platform, paired_at = excluded.paired_at,
               last_seen = excluded.last_seen, push_token = excluded.push_token`,
            [
              d.deviceId,
              d.displayName,
              d.platform,
              d.pairedAt,
              d.lastSeen,
              d.pushToken === undefined ? null : Redacted.value(d.pushToken)
            ]
          ))
        return d
      }),
    remove: (i) =>
      Effect.flatMap(deviceId(i), (id) =>
        attempt("DeviceStore.remove", () => conn.run(`DELETE FROM devices WHERE device_id = ?`, [id]).changes > 0)),
    touch: (i) =>
      Effect.gen(function*() {
        const id = yield* deviceId(i)
        const now = yield* Clock.currentTimeMillis
        const row = yield* attempt("DeviceStore.touch", () =>
          conn.get<DeviceRow>(`UPDATE devices SET last_seen = ? WHERE device_id = ? RETURNING ${DEVICE_COLUMNS}`, [now, id]))
        if (row === undefined) return yield* new DeviceNotFound({ deviceId: id })
        return toDevice(row)
      })
  })
