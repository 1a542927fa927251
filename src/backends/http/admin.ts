/**
 * SemanticStoreAdmin's port over an engram gateway (`/v1/agents`, `/v1/admin/*`), so `engram copy` can
 * stream memories from and into a gateway and an agent can be purged remotely. Export and import
 * need a token not limited to agents; agents and purge are confined to the token's agents (a
 * refusal is a StorageError naming it, as for every other call).
 *
 * Retries (see client.ts): every call here is safe to repeat and is retried after a transient failure.
 * - export: each page is a read (`after` = the last id of the previous page), so a lost page is asked
 *   for again and the stream neither skips nor repeats a memory.
 * - import: the gateway writes records verbatim and replaces a memory with the same id, so sending a
 *   batch again leaves the same state.
 * - purgeAgent: the memories are gone however often it runs; after a lost answer, the retry's count
 *   is what that attempt found (0 when the lost attempt had already removed them).
 * - agents: read only.
 *
 * Import batches: the gateway refuses a body over its limit (`maxBodyBytes` of `/v1/info`), so
 * `import` sends the records in batches of at most `MAX_IMPORT_BATCH` records whose JSON body fits
 * that limit, one store transaction each. Everything that can be checked here — each record against
 * the `MemoryRecord` schema (which the gateway decodes the body with) and every embedding against the
 * gateway's space (both by the core), and that each record fits a request on its own — is checked
 * for the whole call before the first batch is sent, so such a refusal writes nothing. A failure after some
 * batches were written (the gateway's store failed, a deadline passed) leaves those batches written;
 * running the same import again completes it, since it replaces by id.
 */
import { Effect } from "effect"
import { compareCodePoints } from "../../core/order.js"
import type { SemanticAdminPort } from "../../core/semanticAdmin.js"
import { InvalidInput, StorageError, type StoreFailure } from "../../domain/errors.js"
import type { MemoryId } from "../../domain/ids.js"
import type { MemoryRecord } from "../../domain/transfer.js"
import { MAX_EXPORT_PAGE, MAX_IMPORT_BATCH } from "../../gateway/Api.js"
import type { CallError, GatewayConnection } from "./client.js"

const retried = (field: string) => ({ idempotent: true, field }) as const

/** Memories asked for per export page (the gateway may answer fewer, e.g. for large memories). */
export const EXPORT_PAGE_SIZE = MAX_EXPORT_PAGE

/** `{"records":[` + `]}`: the body around the records of an import request. */
const ENVELOPE_BYTES = Buffer.byteLength(JSON.stringify({ records: [] }), "utf8")

/**
 * Errors a call of this service cannot end with: the gateway does not declare them for these routes
 * (or, for InvalidInput, the service's signature has no room for it), so they mean it broke the API.
 */
const unexpected = (operation: string) => <A>(self: Effect.Effect<A, CallError>): Effect.Effect<A, StoreFailure> =>
  Effect.catchIf(
    self,
    (e): e is Exclude<CallError, StoreFailure> => e._tag !== "StorageError" && e._tag !== "BackendUnavailable",
    (e) => Effect.fail(unexpectedAnswer(operation, e))
  )

/** A gateway answer the service's signature has no room for, as the StorageError it means. */
const unexpectedAnswer = (operation: string, e: CallError): StorageError =>
  new StorageError({
    backend: "http",
    operation,
    message: `unexpected answer from the gateway: ${e._tag}: ${e.message}`
  })

/** Only InvalidInput is a possible failure of import and purge besides the store's; 404 is not. */
const onlyInvalidInput =
  (operation: string) => <A>(self: Effect.Effect<A, CallError>): Effect.Effect<A, InvalidInput | StoreFailure> =>
    Effect.catchIf(
      self,
      (e): e is Exclude<CallError, StoreFailure | InvalidInput> =>
        e._tag === "InvalidEmbedding" || e._tag === "MemoryNotFound",
      (e) => Effect.fail(unexpectedAnswer(operation, e))
    )

/**
 * Split `records` into request bodies of at most `MAX_IMPORT_BATCH` records and `maxBodyBytes` bytes
 * of JSON; a record that cannot fit a request on its own is InvalidInput.
 */
export const importBatches = (
  records: ReadonlyArray<MemoryRecord>,
  maxBodyBytes: number
): Effect.Effect<ReadonlyArray<ReadonlyArray<MemoryRecord>>, InvalidInput> =>
  Effect.suspend(() => {
    const batches: Array<Array<MemoryRecord>> = []
    let batch: Array<MemoryRecord> = []
    let bytes = ENVELOPE_BYTES
    for (const [i, record] of records.entries()) {
      const size = Buffer.byteLength(JSON.stringify(record), "utf8")
      if (ENVELOPE_BYTES + size > maxBodyBytes) {
        return Effect.fail(
          new InvalidInput({
            field: `records[${i}]`,
            message: `is larger than the gateway accepts (${
              ENVELOPE_BYTES + size
            } bytes of JSON, limit ${maxBodyBytes})`
          })
        )
      }
      // A comma separates the record from the previous one.
      const added = batch.length === 0 ? size : size + 1
      if (batch.length === MAX_IMPORT_BATCH || bytes + added > maxBodyBytes) {
        batches.push(batch)
        batch = []
        bytes = ENVELOPE_BYTES
      }
      bytes += batch.length === 0 ? size : size + 1
      batch.push(record)
    }
    if (batch.length > 0) batches.push(batch)
    return Effect.succeed(batches)
  })

/** The port of the connected gateway. */
export const port = (c: GatewayConnection): SemanticAdminPort => ({
  backend: "http",
  exportPage: (cursor) =>
    Effect.gen(function*() {
      const page = yield* c.call(
        "export",
        retried("after"),
        c.api.admin.exportMemories({
          urlParams: cursor === undefined
            ? { limit: EXPORT_PAGE_SIZE }
            : { after: cursor as MemoryId, limit: EXPORT_PAGE_SIZE }
        })
      )
      // Each page must move forward in id order and end at its cursor, or a broken gateway could
      // make the stream loop or skip memories.
      let previous: string | undefined = cursor
      for (const m of page.memories) {
        if (previous !== undefined && compareCodePoints(m.id, previous) <= 0) {
          return yield* new StorageError({
            backend: "http",
            operation: "export",
            message: "the gateway's export page is not in id order"
          })
        }
        previous = m.id
      }
      if (page.next !== null && (page.memories.length === 0 || page.next !== previous)) {
        return yield* new StorageError({
          backend: "http",
          operation: "export",
          message: "the gateway's export page does not end at its cursor"
        })
      }
      return { memories: page.memories, next: page.next ?? undefined }
    }).pipe(unexpected("export")),
  import: (memories) =>
    Effect.gen(function*() {
      const records = memories.map((m): MemoryRecord => ({ kind: "memory", ...m }))
      const batches = yield* importBatches(records, c.info.maxBodyBytes)
      for (const batch of batches) {
        yield* c.call("import", retried("records"), c.api.admin.importMemories({ payload: { records: batch } }))
      }
    }).pipe(onlyInvalidInput("import")),
  purgeAgent: (agentId) =>
    Effect.map(
      c.call("purgeAgent", retried("agentId"), c.api.admin.purge({ payload: { agentId } })),
      ({ purged }) => purged
    ).pipe(onlyInvalidInput("purgeAgent")),
  agents: () =>
    c.call("agents", retried("agents"), c.api.admin.agents()).pipe(
      Effect.map(({ agents }) => agents),
      unexpected("agents")
    )
})
