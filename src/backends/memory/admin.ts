/** The admin ports in memory (the flows are core/mainStoreAdmin.ts and core/semanticAdmin.ts). */
import { Effect, Option } from "effect"
import type { MainAdminPort, MainKind, TableRecord } from "../../core/mainStoreAdmin.js"
import { compareCodePoints } from "../../core/order.js"
import type { SemanticAdminPort } from "../../core/semanticAdmin.js"
import { AuditIntegrityError } from "../../domain/errors.js"
import type { AgentId } from "../../domain/ids.js"
import type { MainRecord } from "../../domain/transfer.js"
import { bucket, deleteWhere, type MemoryDb } from "./client.js"

const byCodePoint = <A>(key: (a: A) => string) => (a: A, b: A) => compareCodePoints(key(a), key(b))

/** Every record of `kind`. */
const recordsOf = (db: MemoryDb, kind: MainKind): ReadonlyArray<MainRecord> => {
  switch (kind) {
    case "agent":
      return [...db.agents.values()].sort(byCodePoint((a) => a.id)).map((a) => ({ kind, ...a }))
    case "kv":
      return [...db.kv].sort(byCodePoint(([a]) => a)).flatMap(([agent, rows]) =>
        [...rows].sort(byCodePoint(([k]) => k)).map(([key, r]) => ({ kind, agentId: agent as AgentId, key, ...r }))
      )
    case "entity":
      return [...db.entities.values()].flatMap((m) => [...m.values()]).map((e) => ({ kind, ...e }))
    case "relation":
      return [...db.relations.values()].flatMap((m) => [...m.values()]).map((r) => ({ kind, ...r }))
    case "session":
      return [...db.sessions.values()].map((s) => ({ kind, ...s }))
    case "canonical":
      return [...db.canonical.values()].map((c) => ({ kind, ...c }))
    case "usage":
      return db.usage.map((u) => ({ kind, ...u }))
    case "device":
      return [...db.devices.values()].map((d) => ({ kind, ...d }))
    case "task":
      return [...db.tasks.values()].map((t) => ({ kind, ...t }))
    case "audit":
      return [...db.audit].sort((a, b) => a.seq - b.seq).map((e) => ({ kind, ...e }))
  }
}

/** Write one record verbatim, replacing the record with the same key. */
const write = (db: MemoryDb, r: TableRecord): void => {
  const { kind: _, ...row } = r
  switch (r.kind) {
    case "agent":
      return void db.agents.set(r.id, row as typeof r)
    case "kv":
      return void bucket(db.kv, r.agentId).set(r.key, { value: r.value, version: r.version, updatedAt: r.updatedAt })
    case "entity":
      return void bucket(db.entities, r.agentId).set(r.id, row as typeof r)
    case "relation":
      return void bucket(db.relations, r.agentId).set(r.id, row as typeof r)
    case "session":
      return void db.sessions.set(r.id, row as typeof r)
    case "canonical":
      return void db.canonical.set(r.agentId, row as typeof r)
    // Usage events are immutable: one already held is kept.
    case "usage":
      return void (db.usage.some((u) => u.id === r.id) || db.usage.push(row as typeof r))
    case "device":
      return void db.devices.set(r.deviceId, row as typeof r)
    case "task":
      return void db.tasks.set(r.id, row as typeof r)
  }
}

/** MainStoreAdmin's port in memory: each kind is one page; every call runs without yielding. */
export const mainPort = (db: MemoryDb): MainAdminPort => ({
  backend: "memory",
  exportPage: (kind) => Effect.sync(() => ({ records: recordsOf(db, kind), next: undefined })),
  import: (records, _audits, plan) =>
    Effect.suspend(() => {
      const appends = plan(
        Option.fromNullable(db.audit[db.audit.length - 1]),
        (seq) => db.audit.find((e) => e.seq === seq)?.hash
      )
      if (appends instanceof AuditIntegrityError) return Effect.fail(appends)
      for (const r of records) write(db, r)
      for (const { kind: _, ...e } of appends) db.audit.push(e)
      return Effect.void
    }),
  purgeAgent: (agent) =>
    Effect.sync(() => {
      const kv = db.kv.get(agent)?.size ?? 0
      db.kv.delete(agent)
      const agents = db.agents.delete(agent) ? 1 : 0
      const entities = db.entities.get(agent)?.size ?? 0
      const relations = db.relations.get(agent)?.size ?? 0
      db.entities.delete(agent)
      db.relations.delete(agent)
      const sessions = deleteWhere(db.sessions, (s) => s.agentId === agent)
      const canonical = db.canonical.delete(agent) ? 1 : 0
      const before = db.usage.length
      const kept = db.usage.filter((u) => u.agentId !== agent)
      db.usage.length = 0
      for (const u of kept) db.usage.push(u)
      return { kv, agents, entities, relations, sessions, canonical, usage: before - kept.length }
    })
})

/** SemanticStoreAdmin's port in memory: the whole export is one page. */
export const semanticPort = (db: MemoryDb): SemanticAdminPort => ({
  backend: "memory",
  exportPage: () =>
    Effect.sync(() => ({ memories: [...db.memories.values()].sort(byCodePoint((m) => m.id)), next: undefined })),
  import: (memories) =>
    Effect.sync(() => {
      for (const m of memories) db.memories.set(m.id, m)
    }),
  purgeAgent: (agent) => Effect.sync(() => deleteWhere(db.memories, (m) => m.agentId === agent)),
  agents: () => Effect.sync(() => [...new Set([...db.memories.values()].map((m) => m.agentId))])
})
