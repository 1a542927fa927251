/**
 * The record-table codec: a row is decoded with the Schema derived from the domain record (not cast),
 * JSON fields are stored as text, computed columns are written and not read back, and a field whose
 * column codec reads `undefined` is left out of the record.
 */
import { assert, describe, it } from "@effect/vitest"
import { Redacted } from "effect"
import { devicesTable } from "../../src/tables/devices.js"
import { entitiesTable } from "../../src/tables/entities.js"
import { sessionsTable } from "../../src/tables/sessions.js"
import { snake } from "../../src/tables/table.js"
import { tasksTable } from "../../src/tables/tasks.js"

const entityRow = {
  agent_id: "agent-1",
  id: "alice",
  type: "person",
  name: "Alice Ünger",
  name_folded: "alice ünger",
  properties: "{\"age\":34,\"tags\":[\"eng\"]}",
  created_at: 1000,
  updated_at: 2000
}

describe("recordTable", () => {
  it("columns are the snake_case fields in record order, computed columns after their field", () => {
    assert.deepStrictEqual(entitiesTable.columns, [
      "agent_id",
      "id",
      "type",
      "name",
      "name_folded",
      "properties",
      "created_at",
      "updated_at"
    ])
    assert.deepStrictEqual(sessionsTable.columns, [
      "id",
      "agent_id",
      "label",
      "messages",
      "message_count",
      "created_at",
      "updated_at"
    ])
    assert.strictEqual(snake("leaseExpiresAt"), "lease_expires_at")
  })

  it("a row decodes to the record (JSON parsed, computed column not read) and writes back to the same values", () => {
    const entity = entitiesTable.decode(entityRow)
    assert.deepStrictEqual<unknown>(entity, {
      agentId: "agent-1",
      id: "alice",
      type: "person",
      name: "Alice Ünger",
      properties: { age: 34, tags: ["eng"] },
      createdAt: 1000,
      updatedAt: 2000
    })
    assert.deepStrictEqual(entitiesTable.values(entity), Object.values(entityRow))
  })

  it("a row whose column does not have its field's type is refused, not cast", () => {
    assert.throws(() => entitiesTable.decode({ ...entityRow, created_at: "1000" }))
    assert.throws(() => entitiesTable.decode({ ...entityRow, properties: null }))
    const { name_folded: _, ...withoutFolded } = entityRow
    assert.throws(() => entitiesTable.decode(withoutFolded))
    const task = {
      id: "0190f3a0-0000-7000-8000-000000000000",
      title: "t",
      description: "",
      status: "running",
      priority: 0,
      assigned_to: null,
      created_by: null,
      claimed_by: null,
      attempt: 0,
      lease_expires_at: null,
      result: null,
      error: null,
      created_at: 1,
      updated_at: 1,
      completed_at: null
    }
    assert.throws(() => tasksTable.decode(task)) // not a task status
    assert.strictEqual(tasksTable.decode({ ...task, status: "pending" }).status, "pending")
  })

  it("a column codec maps a null column to an absent optional field and back", () => {
    const row = {
      device_id: "d1",
      display_name: "Phone",
      platform: "ios",
      paired_at: 1,
      last_seen: 2,
      push_token: null
    }
    const device = devicesTable.decode(row)
    assert.isFalse("pushToken" in device)
    assert.deepStrictEqual(devicesTable.values(device), Object.values(row))
    const withToken = devicesTable.decode({ ...row, push_token: "secret" })
    assert.strictEqual(Redacted.value(withToken.pushToken!), "secret")
    assert.strictEqual(devicesTable.values(withToken)[5], "secret")
  })
})
