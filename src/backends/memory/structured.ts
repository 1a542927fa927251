/** StructuredStore's port in memory. */
import { Effect, Option } from "effect"
import { compareCodePoints } from "../../core/order.js"
import type { StructuredPort } from "../../core/structured.js"
import { bucket, type MemoryDb } from "./client.js"

export const port = (db: MemoryDb): StructuredPort => ({
  backend: "memory",
  get: (agent, key) => Effect.sync(() => Option.fromNullable(db.kv.get(agent)?.get(key)?.value)),
  set: (agent, key, value, now) =>
    Effect.sync(() => {
      const rows = bucket(db.kv, agent)
      const version = (rows.get(key)?.version ?? 0) + 1
      rows.set(key, { value: structuredClone(value), version, updatedAt: now })
      return version
    }),
  delete: (agent, key) => Effect.sync(() => db.kv.get(agent)?.delete(key) ?? false),
  list: (agent, range) =>
    Effect.sync(() => {
      const rows = db.kv.get(agent)
      if (rows === undefined) return []
      const prefix = range.prefix ?? ""
      return [...rows.keys()]
        .filter((k) => k.startsWith(prefix) && (range.after === undefined || compareCodePoints(k, range.after) > 0))
        .sort(compareCodePoints)
        .slice(0, range.limit)
        .map((k) => ({ key: k, ...rows.get(k)! }))
    }),
  saveAgent: (a, now) =>
    Effect.sync(() => {
      const record = { ...structuredClone(a), createdAt: db.agents.get(a.id)?.createdAt ?? now, updatedAt: now }
      db.agents.set(a.id, record)
      return record
    }),
  loadAgent: (id) => Effect.sync(() => Option.fromNullable(db.agents.get(id))),
  listAgents: () => Effect.sync(() => [...db.agents.values()].sort((x, y) => compareCodePoints(x.id, y.id))),
  removeAgent: (id) => Effect.sync(() => db.agents.delete(id))
})
