/**
 * SemanticStoreAdmin written once: export paging, the checks of imported records (each decoded as
 * the `MemoryRecord` schema says, every embedding in the store's space) before anything is written,
 * decoding of the agent to purge, the order of the agent list, and instrumentation. A store provides
 * `SemanticAdminPort`.
 */
import { Chunk, type Context, Effect, Option, Stream } from "effect"
import type { EmbeddingSpace } from "../domain/embedding.js"
import { type BackendName, InvalidInput, type StoreFailure } from "../domain/errors.js"
import type { AgentId } from "../domain/ids.js"
import type { Memory } from "../domain/memory.js"
import { MemoryRecord } from "../domain/transfer.js"
import { SemanticStoreAdmin } from "../services/Admin.js"
import { decodeSync } from "./decode.js"
import { instrumentService } from "./instrument.js"
import { decodeAgentId } from "./memoryInputs.js"
import { compareCodePoints } from "./order.js"
import { checkMemoryRecords } from "./transfer.js"

/** One page of an export, and where the next one starts (undefined: this was the last). */
export interface ExportPage {
  readonly memories: ReadonlyArray<Memory>
  readonly next: string | undefined
}

/** The storage primitives of SemanticStoreAdmin. */
export interface SemanticAdminPort {
  readonly backend: BackendName
  /**
   * A page of memories in id order (code point order), from `cursor` (undefined: the first page; the
   * store's own cursors otherwise).
   */
  readonly exportPage: (cursor: string | undefined) => Effect.Effect<ExportPage, StoreFailure>
  /**
   * Write checked memories verbatim (ids, counters and times kept), replacing a memory with the same
   * id; one transaction where the store has them. A store may refuse a memory by a rule of its own.
   */
  readonly import: (memories: ReadonlyArray<Memory>) => Effect.Effect<void, InvalidInput | StoreFailure>
  /** Forget every memory of the agent; how many. */
  readonly purgeAgent: (agentId: AgentId) => Effect.Effect<number, InvalidInput | StoreFailure>
  /** The agents holding at least one memory, each once, in any order. */
  readonly agents: () => Effect.Effect<ReadonlyArray<AgentId>, StoreFailure>
}

const decodeRecord = decodeSync(MemoryRecord)

/**
 * Each record as its schema says (text without NUL, a UUID id, finite JSON metadata…), named by its
 * position, before anything is written.
 */
const checkRecords = (records: ReadonlyArray<MemoryRecord>): Effect.Effect<ReadonlyArray<Memory>, InvalidInput> =>
  Effect.suspend(() => {
    if (!Array.isArray(records)) return Effect.fail(new InvalidInput({ field: "records", message: "must be an array" }))
    const memories: Array<Memory> = []
    for (const [i, record] of records.entries()) {
      const decoded = decodeRecord(record)
      if (decoded instanceof InvalidInput) {
        const at = decoded.field === "input" ? "" : `.${decoded.field}`
        return Effect.fail(new InvalidInput({ field: `records[${i}]${at}`, message: decoded.message }))
      }
      const { kind: _, ...memory } = decoded
      memories.push(memory)
    }
    return Effect.succeed(memories)
  })

/** SemanticStoreAdmin over a store's port; imported vectors must fit `space`. */
export const makeSemanticStoreAdmin = (
  port: SemanticAdminPort,
  space: EmbeddingSpace
): Context.Tag.Service<typeof SemanticStoreAdmin> =>
  instrumentService(SemanticStoreAdmin, port.backend, { purgeAgent: 0 })({
    export: () =>
      Stream.paginateChunkEffect(
        Option.none<string>(),
        (cursor) =>
          Effect.map(port.exportPage(Option.getOrUndefined(cursor)), (page) =>
            [
              Chunk.fromIterable(page.memories.map((m): MemoryRecord => ({ kind: "memory", ...m }))),
              page.next === undefined ? Option.none() : Option.some(Option.some(page.next))
            ] as const)
      ),
    import: (records) =>
      Effect.gen(function*() {
        const memories = yield* checkRecords(records)
        yield* checkMemoryRecords(records, space)
        if (memories.length > 0) yield* port.import(memories)
      }),
    purgeAgent: (a) => Effect.flatMap(decodeAgentId(a), port.purgeAgent),
    agents: () => Effect.map(port.agents(), (agents) => [...agents].sort(compareCodePoints))
  })
