/** Every conformance suite against MemoryTest, the in-memory reference implementation. */
import { Effect, Layer } from "effect"
import { layer, layerFromDb, makeDb } from "../../src/backends/memory/index.js"
import type { AuditEntry } from "../../src/domain/audit.js"
import type { StoreOptions } from "../../src/domain/options.js"
import { AuditTamper, mainAdminSuite, mainStoreSuites, semanticAdminSuite, semanticStoreSuites } from "../conformance/index.js"

const options: StoreOptions = { embedding: { model: "conformance", dimensions: 8 } }

/** Raw writes to the in-memory audit rows, as an attacker with access to the table would make them. */
const tamperOver = (rows: Array<AuditEntry>) => {
  const indexOf = (seq: number) =>
    Effect.suspend(() => {
      const i = rows.findIndex((e) => e.seq === seq)
      // A tamper that silently hits nothing would make a detection test pass for the wrong reason.
      return i < 0 ? Effect.fail(new Error(`no audit row with seq ${seq}`)) : Effect.succeed(i)
    })
  return AuditTamper.of({
    update: (seq, patch) => Effect.map(indexOf(seq), (i) => void (rows[i] = { ...rows[i]!, ...patch })),
    remove: (seq) => Effect.map(indexOf(seq), (i) => void rows.splice(i, 1)),
    insert: (entry) => Effect.sync(() => void rows.push({ ...entry }))
  })
}

/** One fresh database per build, seen both by the services and by the tamper tool. */
const FreshWithTamper = Layer.unwrapEffect(Effect.sync(() => {
  const db = makeDb()
  return Layer.merge(layerFromDb(options, db), Layer.succeed(AuditTamper, tamperOver(db.audit)))
}))

mainStoreSuites("memory", layer(options), FreshWithTamper)
semanticStoreSuites("memory", layer(options))
mainAdminSuite("memory", layer(options))
semanticAdminSuite("memory", layer(options))
