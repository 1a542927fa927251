/**
 * The engram side: the same loops over engram's services, whatever backend provides them
 * (SqliteLive, PgLive, or HttpSemanticLive in front of a gateway). Each loop is one Effect program,
 * run once; only the service call sits inside the timed region, exactly as in an application that
 * calls engram from its own Effect code.
 */
import { Effect, Option } from "effect"
import { nextEntry } from "../../src/core/audit.js"
import type { AuditEntry } from "../../src/domain/audit.js"
import type { AuditLog } from "../../src/services/AuditLog.js"
import type { SemanticStore } from "../../src/services/SemanticStore.js"
import type { SessionStore } from "../../src/services/SessionStore.js"
import type { StructuredStore } from "../../src/services/StructuredStore.js"
import type { TaskQueue } from "../../src/services/TaskQueue.js"
import type { UsageStore } from "../../src/services/UsageStore.js"
import type {
  Driver,
  KvOp,
  MainDriver,
  Measured,
  MemoryInput,
  TaskDriver,
  TextRecall,
  VectorRecall
} from "../protocol.js"
import { now, since } from "../stats.js"
import { indexOfId, SOLO_AGENT, TOP_K } from "../workload.js"

/** The main services a SQLite or PostgreSQL store provides, and how to extend its audit log. */
export interface EngramMain {
  readonly structured: StructuredStore["Type"]
  readonly sessions: SessionStore["Type"]
  readonly usage: UsageStore["Type"]
  readonly audit: AuditLog["Type"]
  /** Store already-chained entries directly in the backend's audit table (untimed setup). */
  readonly storeAuditEntries: (entries: Iterable<AuditEntry>) => Promise<void>
}

export interface EngramStores {
  /** The store holding the 10-agent workload. */
  readonly semantic: SemanticStore["Type"]
  /** The store holding the same memories under one agent (absent: no recall without an agent filter). */
  readonly solo?: SemanticStore["Type"] | undefined
  readonly main?: EngramMain | undefined
  readonly afterLoad?: (() => Promise<void>) | undefined
  /** Bulk loads into empty stores of their own (PostgreSQL). */
  readonly bulk?: Driver["bulk"] | undefined
  readonly close: () => Promise<void>
}

const run = <A, E>(program: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(program)

const rememberInputs = (batch: ReadonlyArray<MemoryInput>, agent?: string) =>
  batch.map((m) => ({
    id: m.id,
    agentId: agent ?? m.agentId,
    content: m.content,
    source: "document" as const,
    metadata: { n: m.metadata.n, cluster: m.metadata.cluster },
    embedding: m.embedding
  }))

/** Time one rememberMany of `batch` (the inputs are built before the clock starts). */
const insertInto = (store: SemanticStore["Type"], batch: ReadonlyArray<MemoryInput>, agent?: string) => {
  const inputs = rememberInputs(batch, agent)
  return run(Effect.gen(function*() {
    const start = now()
    const ids = yield* store.rememberMany(inputs)
    const ns = since(start)
    if (ids.length !== inputs.length) throw new Error(`rememberMany stored ${ids.length} of ${inputs.length}`)
    return ns
  }))
}

/** Time each recall; keep the item indices it returned. */
const recallEach = (
  store: SemanticStore["Type"],
  queries: ReadonlyArray<Parameters<SemanticStore["Type"]["recall"]>[0]>
): Promise<Measured> =>
  run(Effect.gen(function*() {
    const ns: Array<number> = []
    const returned: Array<ReadonlyArray<number>> = []
    for (const q of queries) {
      const start = now()
      const hits = yield* store.recall(q)
      ns.push(since(start))
      returned.push(hits.map((h) => indexOfId(h.memory.id)))
    }
    return { ns, returned }
  }))

/** Time a loop of `count` operations as a whole. */
const timeLoop = <E>(count: number, op: (i: number) => Effect.Effect<unknown, E>): Promise<number> =>
  run(Effect.gen(function*() {
    const start = now()
    for (let i = 0; i < count; i++) yield* op(i)
    return since(start)
  }))

const mainDriver = (m: EngramMain): MainDriver => ({
  kvSet: (ops: ReadonlyArray<KvOp>) =>
    timeLoop(ops.length, (i) => m.structured.set(ops[i]!.agent, ops[i]!.key, ops[i]!.value)),
  kvGet: (ops: ReadonlyArray<KvOp>) =>
    timeLoop(
      ops.length,
      (i) =>
        Effect.flatMap(
          m.structured.get(ops[i]!.agent, ops[i]!.key),
          (v) => Option.isNone(v) ? Effect.die(new Error(`kv get found no value for ${ops[i]!.key}`)) : Effect.void
        )
    ),
  canonicalAppend: (agents, text) =>
    timeLoop(agents.length, (i) => m.sessions.appendCanonical(agents[i]!, [{ role: "user", content: text(i) }])),
  usage: (agents) =>
    timeLoop(agents.length, (i) =>
      Effect.zipRight(
        m.usage.record({
          agentId: agents[i]!,
          model: "bench-model",
          inputTokens: 1200,
          outputTokens: 300,
          costUsd: 0.0042,
          toolCalls: 1
        }),
        m.usage.spend({ agentId: agents[i]!, window: "hour" })
      )),
  auditAppend: (count) =>
    timeLoop(
      count,
      (i) =>
        m.audit.append({
          agentId: `agent-${i % 10}`,
          action: "tool.call",
          detail: `called tool ${i % 37} with 3 arguments`,
          outcome: "ok"
        })
    ),
  auditFill: (total) =>
    run(Effect.gen(function*() {
      const first: { readonly seq: number; readonly hash: string } = yield* m.audit.head()
      const timestamp = Date.now()
      // Entries made one at a time as the writer takes them (the raw drivers' fill streams too), so
      // the setup holds no batch of entries in this process.
      function* entries(): Generator<AuditEntry> {
        let head = first
        while (head.seq < total) {
          const i = head.seq
          const entry = nextEntry(head, {
            agentId: `agent-${i % 10}`,
            action: "tool.call",
            detail: `called tool ${i % 37} with 3 arguments`,
            outcome: "ok"
          }, timestamp)
          yield entry
          head = entry
        }
      }
      yield* Effect.promise(() => m.storeAuditEntries(entries()))
    })),
  auditVerify: () =>
    run(Effect.gen(function*() {
      const start = now()
      const v = yield* m.audit.verify()
      return { entries: v.entries, ns: since(start) }
    }))
})

const soloOf = (stores: EngramStores): SemanticStore["Type"] => {
  if (stores.solo === undefined) throw new Error("this engram driver holds no single-agent store")
  return stores.solo
}

/**
 * engram's single-agent store alone (SQLite: its own process): the single-agent load and the
 * recalls without an agent filter.
 */
export const engramSoloDriver = (solo: SemanticStore["Type"], close: () => Promise<void>): Driver => {
  const d = engramDriver({ semantic: solo, solo, close })
  return { insertSolo: d.insertSolo!, vector: d.vector, filters: ["all"], variants: d.variants, close }
}

/** engram over the given services. */
export const engramDriver = (stores: EngramStores): Driver => ({
  insert: (batch) => insertInto(stores.semantic, batch),
  ...(stores.solo === undefined
    ? { filters: ["agent"] as const }
    : { insertSolo: (batch: ReadonlyArray<MemoryInput>) => insertInto(soloOf(stores), batch, SOLO_AGENT) }),
  vector: (queries: ReadonlyArray<VectorRecall>, filter) =>
    recallEach(
      filter === "agent" ? stores.semantic : soloOf(stores),
      queries.map((q) => ({
        agentId: filter === "agent" ? q.agentId : SOLO_AGENT,
        embedding: q.embedding,
        limit: TOP_K
      }))
    ),
  text: (queries: ReadonlyArray<TextRecall>) =>
    recallEach(stores.semantic, queries.map((q) => ({ agentId: q.agentId, text: q.text, limit: TOP_K }))),
  // engram's recall always updates the access counters; there is no ranking-only call.
  variants: ["full"],
  ...(stores.main === undefined ? {} : { main: mainDriver(stores.main) }),
  ...(stores.afterLoad === undefined ? {} : { afterLoad: stores.afterLoad }),
  ...(stores.bulk === undefined ? {} : { bulk: stores.bulk }),
  close: stores.close
})

/** engram's TaskQueue: post → claim → complete, as one worker. */
export const engramTaskDriver = (tasks: TaskQueue["Type"], close: () => Promise<void>): TaskDriver => ({
  cycles: (worker, count) =>
    timeLoop(count, (i) =>
      Effect.gen(function*() {
        yield* tasks.post({
          title: `task ${worker} ${i}`,
          description: "summarise the last conversation",
          priority: i % 3
        })
        // Another worker may have taken the task just posted; there is always one more to take.
        let claimed = yield* tasks.claim(worker)
        for (let tries = 1; Option.isNone(claimed); tries++) {
          if (tries === 1000) return yield* Effect.die(new Error("claim found no task 1000 times in a row"))
          claimed = yield* tasks.claim(worker)
        }
        yield* tasks.complete(claimed.value.id, { agentId: worker, attempt: claimed.value.attempt, result: "done" })
      })),
  close
})
