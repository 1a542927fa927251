/**
 * How an embedding is kept on Qdrant: once, as its unit vector in the collection's `Dot` vector
 * (a dot product of unit vectors is their cosine, and Qdrant never rescales `Dot` vectors — with
 * `Cosine` it normalises only vectors longer than ~3.45e-4), plus, in the payload, its length as a
 * float32 and the components the unit vector times that length does not give back exactly (as
 * float32 bit patterns: integers, which Qdrant's JSON parser reads exactly). About one component
 * in ten needs such a fix (where a float32 step of the unit component is wider than the
 * embedding component's), measured on random embeddings of every magnitude.
 *
 * Every number sent is a float32 value, read back with `Math.fround`: Qdrant parses JSON doubles
 * with up to one unit of error in the last place, far below a float32 step, so the embedding comes
 * back bit for bit as it was given.
 */

/** The stored form of one embedding. */
export interface StoredEmbedding {
  /** The unit vector (float32 values) written as the point's vector. */
  readonly unit: Array<number>
  /** The embedding's length, as a float32. */
  readonly norm: number
  /** `[index, float32 bits]` of each component that `unit[i] * norm` does not reproduce. */
  readonly fix: Array<[number, number]>
}

const F32_MAX = 3.4028234663852886e38

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

const bitsOf = (x: number): number => {
  f32[0] = x
  return u32[0]!
}

const fromBits = (bits: number): number => {
  u32[0] = bits >>> 0
  return f32[0]!
}

/** The float32 next to `x` (towards +∞ when `up`); `x` is a float32 value. */
const step = (x: number, up: boolean): number => {
  if (x === 0) return up ? fromBits(1) : -fromBits(1)
  const bits = bitsOf(x)
  // Float32 bit patterns of one sign are ordered like the magnitudes they encode.
  return fromBits(x > 0 === up ? bits + 1 : bits - 1)
}

const length = (v: ReadonlyArray<number>): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0))

/** The float32 unit vector of a non-zero vector (the query side of a recall). */
export const unitVector = (v: ReadonlyArray<number>): Array<number> => {
  const n = length(v)
  return v.map((x) => Math.fround(x / n))
}

const rebuilt = (unit: number, norm: number): number => Math.fround(unit * norm)

/** Encode a validated embedding (float32 values, not all zero). */
export const encodeEmbedding = (embedding: ReadonlyArray<number>): StoredEmbedding => {
  const exactLength = length(embedding)
  const rounded = Math.fround(exactLength)
  const norm = Number.isFinite(rounded) ? rounded : F32_MAX
  const unit: Array<number> = []
  const fix: Array<[number, number]> = []
  embedding.forEach((x, i) => {
    const u = Math.fround(x / exactLength)
    // A neighbour of the rounded unit component often rebuilds the exact value; the ranking
    // cannot tell a difference of one float32 step (the core ranks by the exact embeddings).
    const chosen = [u, step(u, true), step(u, false)].find((c) => rebuilt(c, norm) === x)
    unit.push(chosen ?? u)
    if (chosen === undefined) fix.push([i, bitsOf(x)])
  })
  return { unit, norm, fix }
}

/** The embedding back from its stored form; undefined when the parts do not fit together. */
export const decodeEmbedding = (
  unit: ReadonlyArray<number>,
  norm: number,
  fix: ReadonlyArray<readonly [number, number]>
): Array<number> | undefined => {
  const n = Math.fround(norm)
  const out = unit.map((u) => rebuilt(Math.fround(u), n))
  for (const [i, bits] of fix) {
    if (!Number.isInteger(i) || i < 0 || i >= out.length) return undefined
    out[i] = fromBits(bits)
  }
  return out
}
