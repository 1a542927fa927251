/** StructuredStore in memory. */
import { Clock, Effect, Option } from "effect"
import { decodeCursor, pageOf } from "../../core/cursor.js"
import { structuredInputs } from "../../core/inputs.js"
import { compareCodePoints } from "../../core/order.js"
import { StructuredStore } from "../../services/StructuredStore.js"
import { bucket, type MemoryDb } from "./client.js"

const { agentId, agentInput, agentRef, key, listOptions, value } = structuredInputs

export const make = (db: MemoryDb) =>
  StructuredStore.of({
    get: (a, k) =>
      Effect.gen(function*() {
        const [agent, name] = [yield* agentId(a), yield* key(k)]
        return Option.fromNullable(db.kv.get(agent)?.get(name)?.value)
      }),
    set: (a, k, v) =>
      Effect.gen(function*() {
        const [agent, name, json] = [yield* agentId(a), yield* key(k), yield* value(v)]
        const now = yield* Clock.currentTimeMillis
        return yield* Effect.sync(() => {
          const rows = bucket(db.kv, agent)
          const version = (rows.get(name)?.version ?? 0) + 1
          rows.set(name, { value: structuredClone(json), version, updatedAt: now })
          return version
        })
      }),
    delete: (a, k) =>
      Effect.gen(function*() {
        const [agent, name] = [yield* agentId(a), yield* key(k)]
        return yield* Effect.sync(() => db.kv.get(agent)?.delete(name) ?? false)
      }),
    list: (a, options) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const o = yield* listOptions(options)
        const after = o.cursor === undefined ? undefined : (yield* decodeCursor(o.cursor, ["string"]))[0]
        const prefix = o.prefix ?? ""
        const keys = [...(db.kv.get(agent)?.keys() ?? [])]
          .filter((k) => k.startsWith(prefix) && (after === undefined || compareCodePoints(k, after) > 0))
          .sort(compareCodePoints)
        const page = pageOf(keys, o.limit, (k) => [k])
        const rows = db.kv.get(agent)!
        return { items: page.items.map((k) => ({ key: k, ...rows.get(k)! })), nextCursor: page.nextCursor }
      }),
    saveAgent: (input) =>
      Effect.gen(function*() {
        const a = yield* agentInput(input)
        const now = yield* Clock.currentTimeMillis
        return yield* Effect.sync(() => {
          const record = {
            ...structuredClone(a),
            createdAt: db.agents.get(a.id)?.createdAt ?? now,
            updatedAt: now
          }
          db.agents.set(a.id, record)
          return record
        })
      }),
    loadAgent: (id) => Effect.map(agentRef(id), (a) => Option.fromNullable(db.agents.get(a))),
    listAgents: () =>
      Effect.sync(() => [...db.agents.values()].sort((x, y) => compareCodePoints(x.id, y.id))),
    removeAgent: (id) => Effect.flatMap(agentRef(id), (a) => Effect.sync(() => db.agents.delete(a)))
  })
