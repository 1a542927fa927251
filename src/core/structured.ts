/**
 * StructuredStore written once: decoding, the Clock, paging and instrumentation live here; a backend
 * provides `StructuredPort`, the storage primitives over decoded values.
 */
import { Clock, type Context, Effect, type Option } from "effect"
import type { BackendName, InvalidInput, StoreFailure } from "../domain/errors.js"
import type { AgentId } from "../domain/ids.js"
import type { Json } from "../domain/json.js"
import type { AgentInput, AgentRecord, KvEntry } from "../domain/structured.js"
import { StructuredStore } from "../services/StructuredStore.js"
import { decodeCursor, pageOf } from "./cursor.js"
import { structuredInputs } from "./inputs.js"
import { instrumentService } from "./instrument.js"

const { agentId, agentInput, agentRef, key, listOptions, value } = structuredInputs

/** An agent as `saveAgent` stores it: every field decoded and defaulted. */
export type AgentFields = typeof AgentInput.Type

/** What `list` asks of a backend: keys of one agent in code point order, after `after`, with `prefix`. */
export interface KvRange {
  readonly prefix: string | undefined
  readonly after: string | undefined
  readonly limit: number
}

/** The storage primitives of StructuredStore. Every argument is already decoded. */
export interface StructuredPort {
  readonly backend: BackendName
  readonly get: (agentId: AgentId, key: string) => Effect.Effect<Option.Option<Json>, StoreFailure>
  /** Insert at version 1 or bump the version, atomically; the new version. */
  readonly set: (agentId: AgentId, key: string, value: Json, now: number) => Effect.Effect<number, StoreFailure>
  readonly delete: (agentId: AgentId, key: string) => Effect.Effect<boolean, StoreFailure>
  /** At most `limit` entries, ordered by key (code point order). */
  readonly list: (agentId: AgentId, range: KvRange) => Effect.Effect<ReadonlyArray<KvEntry>, StoreFailure>
  /** Upsert; createdAt is kept on update, updatedAt = now. */
  readonly saveAgent: (agent: AgentFields, now: number) => Effect.Effect<AgentRecord, StoreFailure>
  readonly loadAgent: (id: AgentId) => Effect.Effect<Option.Option<AgentRecord>, StoreFailure>
  /** Ordered by id (code point order). */
  readonly listAgents: () => Effect.Effect<ReadonlyArray<AgentRecord>, StoreFailure>
  readonly removeAgent: (id: AgentId) => Effect.Effect<boolean, StoreFailure>
}

/** Most strings a validity memo holds before it starts over. */
const MEMO_SIZE = 4096

/**
 * Agent ids and keys that decoded once. A get is one indexed read, cheaper than decoding its two
 * strings, so strings that passed are remembered: decoding is pure and yields the string itself.
 */
const validMemo = () => {
  const seen = new Set<string>()
  return {
    has: (s: string) => seen.has(s),
    add: (s: string) => {
      if (seen.size >= MEMO_SIZE) seen.clear()
      seen.add(s)
    }
  }
}

/** StructuredStore over a backend's port. */
export const makeStructuredStore = (port: StructuredPort): Context.Tag.Service<typeof StructuredStore> => {
  const agents = validMemo()
  const keys = validMemo()
  const ids = (a: string, k: string): Effect.Effect<readonly [AgentId, string], InvalidInput> =>
    agents.has(a) && keys.has(k)
      ? Effect.succeed([a as AgentId, k] as const)
      : Effect.flatMap(agentId(a), (agent) =>
        Effect.map(key(k), (name) => {
          agents.add(agent)
          keys.add(name)
          return [agent, name] as const
        }))

  return instrumentService(StructuredStore, port.backend, {
    get: 0,
    set: 0,
    delete: 0,
    list: 0,
    loadAgent: 0,
    removeAgent: 0
  })({
    get: (a, k) => Effect.flatMap(ids(a, k), ([agent, name]) => port.get(agent, name)),
    set: (a, k, v) =>
      Effect.flatMap(
        ids(a, k),
        ([agent, name]) =>
          Effect.flatMap(
            value(v),
            (json) => Effect.flatMap(Clock.currentTimeMillis, (now) => port.set(agent, name, json, now))
          )
      ),
    delete: (a, k) => Effect.flatMap(ids(a, k), ([agent, name]) => port.delete(agent, name)),
    list: (a, options) =>
      Effect.gen(function*() {
        const agent = yield* agentId(a)
        const o = yield* listOptions(options)
        const after = o.cursor === undefined ? undefined : (yield* decodeCursor(o.cursor, ["string"]))[0]
        const prefix = o.prefix === undefined || o.prefix === "" ? undefined : o.prefix
        // One entry more than the page tells whether there is a next page.
        const rows = yield* port.list(agent, { prefix, after, limit: o.limit + 1 })
        return pageOf(rows, o.limit, (last) => [last.key])
      }),
    saveAgent: (input) =>
      Effect.flatMap(
        agentInput(input),
        (a) => Effect.flatMap(Clock.currentTimeMillis, (now) => port.saveAgent(a, now))
      ),
    loadAgent: (id) => Effect.flatMap(agentRef(id), port.loadAgent),
    listAgents: () => port.listAgents(),
    removeAgent: (id) => Effect.flatMap(agentRef(id), port.removeAgent)
  })
}
