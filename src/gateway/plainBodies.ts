/**
 * The remember bodies of the hot routes (fastRoutes.ts) decoded without the Schema when they are
 * plainly valid. The endpoint's structure-only schema cost ~30–70 µs per memory (most of a batch's
 * time in the gateway); the core's own plain check (`plainlyValid`, the predicates of
 * `RememberInput`, which is stricter than the structure-only schema) costs about 1 µs. A body that is
 * not plainly valid gets `undefined`, and the Schema decodes it as before — so what it accepts, and
 * every error, is unchanged. A vector sent as `Float32Base64` becomes a Float32Array, which the core
 * takes as it is (its values are float32 already).
 */
import { plainlyValid } from "../core/memoryInputs.js"
import { isPlainObject } from "../domain/json.js"
import { float32OfBase64, type RememberBody, type RememberManyBody } from "./Api.js"

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
