/** DeviceStore's port on PostgreSQL: one named statement per primitive. */
import { Effect, Option } from "effect"
import type { DevicePort } from "../../core/devices.js"
import { devicesTable } from "../../tables/devices.js"
import { selectFrom, upsertInto } from "../../tables/table.js"
import type { PgClient } from "./client.js"

const first = <A>(rows: ReadonlyArray<A>): Option.Option<A> => Option.fromNullable(rows[0])

/** The port over the pool of `client`. */
export const port = (client: PgClient): DevicePort => ({
  backend: "postgres",
  list: () =>
    client.rows("list", {
      name: "engram_devices_list",
      text: `${selectFrom(devicesTable)} ORDER BY paired_at, device_id`
    }, devicesTable.decode),
  get: (id) =>
    Effect.map(
      client.rows("get", {
        name: "engram_devices_get",
        text: `${selectFrom(devicesTable)} WHERE device_id = $1`,
        values: [id]
      }, devicesTable.decode),
      first
    ),
  save: (d) =>
    Effect.asVoid(client.execute("save", {
      name: "engram_devices_save",
      text: upsertInto(devicesTable, "postgres"),
      values: devicesTable.values(d)
    })),
  remove: (id) =>
    Effect.map(
      client.execute("remove", {
        name: "engram_devices_remove",
        text: "DELETE FROM devices WHERE device_id = $1",
        values: [id]
      }),
      (n) => n > 0
    ),
  touch: (id, now) =>
    Effect.map(
      client.rows("touch", {
        name: "engram_devices_touch",
        text: `UPDATE devices SET last_seen = $2 WHERE device_id = $1 RETURNING ${devicesTable.columnList}`,
        values: [id, now]
      }, devicesTable.decode),
      first
    )
})
