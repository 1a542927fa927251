/**
 * Wire forms decoded without the Schema when they are plainly valid: the remember bodies of the hot
 * routes (fastRoutes.ts) and the recall answer HttpSemanticLive reads. The structure-only request
 * schema cost ~30–70 µs per memory (most of a batch's time in the gateway) and the answer's ~15 µs
 * per memory; the plain checks (the core's `plainlyValid` for an input, `plainMemoryFields` for a
 * memory: the same predicates as the Schemas, stricter where the structure-only schema is looser)
 * cost about 1 µs. A value that is not plainly valid gets `undefined`, and the Schema decodes it as
 * before — so what is accepted, and every error, is unchanged. A vector in a remember body becomes a
 * Float32Array, which the core takes as it is (its values are float32 already).
 */
import { plainlyValid } from "../core/memoryInputs.js"
import { isPlainObject } from "../domain/json.js"
import { type Memory, plainMemoryFields } from "../domain/memory.js"
import { float32OfBase64, numbersOfBase64, type RecallAnswer, type RememberBody, type RememberManyBody } from "./Api.js"

/** One memory of a body, its vector decoded, when plainly valid. */
export const plainRememberBody = (u: unknown): typeof RememberBody.Type | undefined => {
  if (!isPlainObject(u)) return undefined
  const wire = u["embedding"]
  let item: Record<string, unknown> = u
  if (typeof wire === "string") {
    const embedding = float32OfBase64(wire)
    if (embedding === undefined) return undefined
    item = { ...u, embedding }
  }
  return plainlyValid(item) === undefined ? undefined : item as typeof RememberBody.Type
}

/** A batch body, every memory's vector decoded, when every memory is plainly valid. */
export const plainRememberManyBody = (u: unknown): typeof RememberManyBody.Type | undefined => {
  if (!isPlainObject(u) || Object.keys(u).length !== 1 || !Array.isArray(u["inputs"])) return undefined
  const inputs: Array<typeof RememberBody.Type> = []
  for (const x of u["inputs"]) {
    const item = plainRememberBody(x)
    if (item === undefined) return undefined
    inputs.push(item)
  }
  return { inputs }
}

/** A memory of an answer (`WireMemory`: its vector in Float32Base64), when plainly valid. */
const plainWireMemory = (u: unknown): Memory | undefined => {
  if (!isPlainObject(u)) return undefined
  const fields = plainMemoryFields(u)
  if (fields === undefined) return undefined
  const wire = u["embedding"]
  if (wire === null) return { ...fields, embedding: null }
  const embedding = typeof wire === "string" ? numbersOfBase64(wire) : undefined
  return embedding === undefined ? undefined : { ...fields, embedding }
}

/** A recall answer, when every hit is plainly valid. */
export const plainRecallAnswer = (u: unknown): typeof RecallAnswer.Type | undefined => {
  if (!isPlainObject(u) || !Array.isArray(u["hits"])) return undefined
  const hits: Array<typeof RecallAnswer.Type["hits"][number]> = []
  for (const h of u["hits"]) {
    if (!isPlainObject(h) || typeof h["score"] !== "number") return undefined
    const memory = plainWireMemory(h["memory"])
    if (memory === undefined) return undefined
    hits.push({ memory, score: h["score"] })
  }
  return { hits }
}
