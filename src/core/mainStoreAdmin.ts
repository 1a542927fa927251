/**
 * MainStoreAdmin written once: the export stream (every kind in dependency order, each read in
 * pages), the import flow (records put in dependency order, the audit records checked against the
 * target's chain by the core's rule inside the store's transaction, before anything is written),
 * decoding of the agent to purge, and instrumentation. A store provides `MainAdminPort`.
 */
import { Chunk, type Context, Effect, Option, Stream } from "effect"
import type { AuditEntry } from "../domain/audit.js"
import { type AuditIntegrityError, type BackendName, type StoreFailure } from "../domain/errors.js"
import type { AgentId } from "../domain/ids.js"
import type { MainRecord } from "../domain/transfer.js"
import { MainStoreAdmin, type PurgeCounts } from "../services/Admin.js"
import { headOf } from "./audit.js"
import { adminInputs } from "./inputs.js"
import { instrumentService } from "./instrument.js"
import { auditAppends, MAIN_KIND_ORDER } from "./transfer.js"

/** A kind of main-store record. */
export type MainKind = MainRecord["kind"]

/** An audit record of an import. */
export type AuditRecord = Extract<MainRecord, { readonly kind: "audit" }>

/** A main-store record other than an audit entry: written verbatim by an upsert on its key. */
export type TableRecord = Exclude<MainRecord, { readonly kind: "audit" }>

/** One page of an export of one kind, and where the next one starts (undefined: this was the last). */
export interface MainPage {
  readonly records: ReadonlyArray<MainRecord>
  /** The store's own cursor, handed back to `exportPage` as it is. */
  readonly next: unknown
}

/**
 * Which audit records of an import continue the chain, given the target's last entry and its stored
 * hashes (by seq): the core's rule, which the store runs inside its import transaction.
 */
export type AuditPlan = (
  last: Option.Option<AuditEntry>,
  storedHashAt: (seq: number) => string | undefined
) => ReadonlyArray<AuditRecord> | AuditIntegrityError

/** The storage primitives of MainStoreAdmin. */
export interface MainAdminPort {
  readonly backend: BackendName
  /**
   * A page of the records of `kind` in primary-key order, from `cursor` (undefined: the first page;
   * otherwise the `next` of the previous page).
   */
  readonly exportPage: (kind: MainKind, cursor: unknown) => Effect.Effect<MainPage, StoreFailure>
  /**
   * In one transaction (serialised with AuditLog.append): read the last audit entry and the stored
   * hashes of the seqs of `audits`, run `plan`, and when it refuses fail with its error and write
   * nothing; otherwise write `records` verbatim in the given order (each replacing the row with the
   * same key) and append the planned audit entries.
   */
  readonly import: (
    records: ReadonlyArray<TableRecord>,
    audits: ReadonlyArray<AuditRecord>,
    plan: AuditPlan
  ) => Effect.Effect<void, AuditIntegrityError | StoreFailure>
  /**
   * In one transaction, remove the agent's key-value entries, registry entry, entities, relations,
   * sessions, canonical session and usage events; how many of each, named as in `PURGED`.
   */
  readonly purgeAgent: (agentId: AgentId) => Effect.Effect<PurgeCounts, StoreFailure>
}

/** The names of purgeAgent's counts, in the order they are reported. */
export const PURGED = ["kv", "agents", "entities", "relations", "sessions", "canonical", "usage"] as const

const kindRank = new Map(MAIN_KIND_ORDER.map((k, i) => [k, i]))

/** MainStoreAdmin over a store's port. */
export const makeMainStoreAdmin = (port: MainAdminPort): Context.Tag.Service<typeof MainStoreAdmin> =>
  instrumentService(MainStoreAdmin, port.backend, { purgeAgent: 0 })({
    export: () =>
      Stream.concatAll(
        Chunk.fromIterable(
          MAIN_KIND_ORDER.map((kind) =>
            Stream.paginateChunkEffect<unknown, MainRecord, StoreFailure, never>(
              undefined,
              (cursor) =>
                Effect.map(port.exportPage(kind, cursor), (page) =>
                  [
                    Chunk.fromIterable(page.records),
                    page.next === undefined ? Option.none() : Option.some(page.next)
                  ] as const)
            )
          )
        )
      ),
    import: (records) =>
      Effect.suspend(() => {
        // Dependencies first (entities before their relations), whatever order the batch has; the
        // sort is stable, so of two records with the same key the later one wins, as it would in order.
        const rows = records.filter((r): r is TableRecord => r.kind !== "audit")
          .sort((a, b) => kindRank.get(a.kind)! - kindRank.get(b.kind)!)
        const audits = records.filter((r): r is AuditRecord => r.kind === "audit")
        return port.import(rows, audits, (last, storedHashAt) => auditAppends(headOf(last), audits, storedHashAt))
      }),
    purgeAgent: (a) =>
      Effect.map(
        Effect.flatMap(adminInputs.agentId(a), port.purgeAgent),
        (counts): PurgeCounts => Object.fromEntries(PURGED.map((k) => [k, counts[k] ?? 0]))
      )
  })
