/** MainStoreAdmin in memory, and SemanticStoreAdmin's port. */
import { Effect, Option, Stream } from "effect"
import { headOf } from "../../core/audit.js"
import { adminInputs } from "../../core/inputs.js"
import { compareCodePoints } from "../../core/order.js"
import type { SemanticAdminPort } from "../../core/semanticAdmin.js"
import { auditAppends } from "../../core/transfer.js"
import { AuditIntegrityError } from "../../domain/errors.js"
import type { AgentId } from "../../domain/ids.js"
import type { MainRecord } from "../../domain/transfer.js"
import { MainStoreAdmin } from "../../services/Admin.js"
import { bucket, type MemoryDb } from "./client.js"

const { agentId } = adminInputs
const byCodePoint = <A>(key: (a: A) => string) => (a: A, b: A) => compareCodePoints(key(a), key(b))

export const makeMain = (db: MemoryDb) =>
  MainStoreAdmin.of({
    export: () =>
      Stream.suspend(() => {
        const records: Array<MainRecord> = [
          ...[...db.agents.values()].sort(byCodePoint((a) => a.id)).map((a) => ({ kind: "agent" as const, ...a })),
          ...[...db.kv].sort(byCodePoint(([a]) => a)).flatMap(([agent, rows]) =>
            [...rows].sort(byCodePoint(([k]) => k)).map(([key, r]) => ({ kind: "kv" as const, agentId: agent as AgentId, key, ...r }))
          ),
          ...[...db.entities.values()].flatMap((m) => [...m.values()]).map((e) => ({ kind: "entity" as const, ...e })),
          ...[...db.relations.values()].flatMap((m) => [...m.values()]).map((r) => ({ kind: "relation" as const, ...r })),
          ...[...db.sessions.values()].map((s) => ({ kind: "session" as const, ...s })),
          ...[...db.canonical.values()].map((c) => ({ kind: "canonical" as const, ...c })),
          ...db.usage.map((u) => ({ kind: "usage" as const, ...u })),
          ...[...db.devices.values()].map((d) => ({ kind: "device" as const, ...d })),
          ...[...db.tasks.values()].map((t) => ({ kind: "task" as const, ...t })),
          ...[...db.audit].sort((a, b) => a.seq - b.seq).map((e) => ({ kind: "audit" as const, ...e }))
        ]
        return Stream.fromIterable(records)
      }),
    import: (records) =>
      Effect.suspend(() => {
        // Check the audit records first, so a refused import writes nothing (one call, one transaction).
        const appends = auditAppends(
          headOf(Option.fromNullable(db.audit[db.audit.length - 1])),
          records,
          (seq) => db.audit.find((e) => e.seq === seq)?.hash
        )
        if (appends instanceof AuditIntegrityError) return Effect.fail(appends)
        for (const r of records) {
          const { kind: _, ...row } = r
          switch (r.kind) {
            case "agent":
              db.agents.set(r.id, row as typeof r)
              break
            case "kv":
              bucket(db.kv, r.agentId).set(r.key, { value: r.value, version: r.version, updatedAt: r.updatedAt })
              break
            case "entity":
              bucket(db.entities, r.agentId).set(r.id, row as typeof r)
              break
            case "relation":
              bucket(db.relations, r.agentId).set(r.id, row as typeof r)
              break
            case "session":
              db.sessions.set(r.id, row as typeof r)
              break
            case "canonical":
              db.canonical.set(r.agentId, row as typeof r)
              break
            case "usage":
              if (!db.usage.some((u) => u.id === r.id)) db.usage.push(row as typeof r)
              break
            case "device":
              db.devices.set(r.deviceId, row as typeof r)
              break
            case "task":
              db.tasks.set(r.id, row as typeof r)
              break
            case "audit":
              break
          }
        }
        for (const { kind: _, ...e } of appends) db.audit.push(e)
        return Effect.void
      }),
    purgeAgent: (a) =>
      Effect.flatMap(agentId(a), (agent) =>
        Effect.sync(() => {
          const kv = db.kv.get(agent)?.size ?? 0
          db.kv.delete(agent)
          const agents = db.agents.delete(agent) ? 1 : 0
          const entities = db.entities.get(agent)?.size ?? 0
          const relations = db.relations.get(agent)?.size ?? 0
          db.entities.delete(agent)
          db.relations.delete(agent)
          let sessions = 0
          for (const [id, s] of db.sessions) {
            if (s.agentId === agent) {
              db.sessions.delete(id)
              sessions++
            }
          }
          const canonical = db.canonical.delete(agent) ? 1 : 0
          const before = db.usage.length
          const kept = db.usage.filter((u) => u.agentId !== agent)
          db.usage.length = 0
          for (const u of kept) db.usage.push(u)
          return { kv, agents, entities, relations, sessions, canonical, usage: before - kept.length }
        }))
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
  purgeAgent: (agent) =>
    Effect.sync(() => {
      let n = 0
      for (const [id, m] of db.memories) {
        if (m.agentId === agent) {
          db.memories.delete(id)
          n++
        }
      }
      return n
    }),
  agents: () => Effect.sync(() => [...new Set([...db.memories.values()].map((m) => m.agentId))])
})
