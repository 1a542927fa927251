/** DeviceStore's port on SQLite: one prepared statement per primitive. */
import { Option } from "effect"
import type { DevicePort } from "../../core/devices.js"
import { devicesTable } from "../../tables/devices.js"
import { selectFrom, upsertInto } from "../../tables/table.js"
import { attempt, type SqliteConnection } from "./client.js"

/** The port over `conn`; prepares its statements (and so may throw, at layer build). */
export const port = (conn: SqliteConnection): DevicePort => {
  const list = conn.db.prepare(`${selectFrom(devicesTable)} ORDER BY paired_at, device_id`)
  const get = conn.db.prepare(`${selectFrom(devicesTable)} WHERE device_id = ?`)
  const save = conn.db.prepare(upsertInto(devicesTable, "sqlite"))
  const remove = conn.db.prepare(`DELETE FROM devices WHERE device_id = ?`)
  const touch = conn.db.prepare(
    `UPDATE devices SET last_seen = ? WHERE device_id = ? RETURNING ${devicesTable.columnList}`
  )
  return {
    backend: "sqlite",
    list: () => attempt("list", () => list.all().map(devicesTable.decode)),
    get: (id) => attempt("get", () => Option.map(Option.fromNullable(get.get(id)), devicesTable.decode)),
    save: (d) =>
      attempt("save", () => {
        save.run(...devicesTable.values(d))
      }),
    remove: (id) => attempt("remove", () => remove.run(id).changes > 0),
    touch: (id, now) => attempt("touch", () => Option.map(Option.fromNullable(touch.get(now, id)), devicesTable.decode))
  }
}
