/** Hostile shapes of input shared by the hardening suites, all built without recursion. */

/** `[[[…]]]` nested `depth` levels. */
export const nested = (depth: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

/** `{ k: { k: … } }` nested `depth` levels. */
export const nestedObject = (depth: number): unknown => {
  let v: unknown = "leaf"
  for (let i = 0; i < depth; i++) v = { k: v }
  return v
}

/** A value whose tree has 2^levels leaves but only `levels` distinct arrays. */
export const doubling = (levels: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = [v, v]
  return v
}

/** An object that contains itself, twice. */
export const cyclic = (): unknown => {
  const a: Record<string, unknown> = { name: "loop" }
  a["self"] = a
  a["again"] = a
  return a
}
