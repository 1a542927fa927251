/**
 * The in-memory "database" behind MemoryTest. Every operation reads and writes it inside one
 * `Effect.sync` block; JavaScript runs such a block to completion, so each operation is atomic with
 * respect to every other fiber, which is what the cross-process guarantees of the real backends
 * reduce to in one process. Stored objects are never mutated in place, only replaced.
 */
import type { AuditEntry } from "../../domain/audit.js"
import type { Device } from "../../domain/device.js"
import type { Json } from "../../domain/json.js"
import type { Entity, Relation } from "../../domain/knowledge.js"
import type { Memory } from "../../domain/memory.js"
import type { CanonicalSession, Session } from "../../domain/session.js"
import type { AgentRecord } from "../../domain/structured.js"
import type { Task } from "../../domain/task.js"
import type { UsageEvent } from "../../domain/usage.js"

export interface KvRow {
  readonly value: Json
  readonly version: number
  readonly updatedAt: number
}

export interface MemoryDb {
  readonly kv: Map<string, Map<string, KvRow>>
  readonly agents: Map<string, AgentRecord>
  readonly memories: Map<string, Memory>
  readonly entities: Map<string, Map<string, Entity>>
  readonly relations: Map<string, Map<string, Relation>>
  readonly sessions: Map<string, Session>
  readonly canonical: Map<string, CanonicalSession>
  readonly usage: Array<UsageEvent>
  readonly devices: Map<string, Device>
  readonly tasks: Map<string, Task>
  readonly audit: Array<AuditEntry>
}

/** A fresh, empty database. */
export const makeDb = (): MemoryDb => ({
  kv: new Map(),
  agents: new Map(),
  memories: new Map(),
  entities: new Map(),
  relations: new Map(),
  sessions: new Map(),
  canonical: new Map(),
  usage: [],
  devices: new Map(),
  tasks: new Map(),
  audit: []
})

/** Delete every entry of `map` whose value is `owned`; how many. */
export const deleteWhere = <K, V>(map: Map<K, V>, owned: (v: V) => boolean): number => {
  let n = 0
  for (const [k, v] of map) {
    if (owned(v)) {
      map.delete(k)
      n++
    }
  }
  return n
}

/** The map under `key`, created on first use. */
export const bucket = <K, V>(outer: Map<string, Map<K, V>>, key: string): Map<K, V> => {
  let inner = outer.get(key)
  if (inner === undefined) {
    inner = new Map()
    outer.set(key, inner)
  }
  return inner
}
