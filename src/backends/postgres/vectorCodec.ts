/**
 * pgvector's two forms of a vector: the text form a parameter is sent in (`[1,2,3]`, cast with
 * `::vector`), and the binary form a vector is read in (`vector_send`: int16 dimensions, int16
 * unused, then big-endian float32 values), which decodes an order of magnitude faster than the text
 * form and is exactly the stored float32 values.
 */

/** pgvector's parameter form of a vector. */
export const vectorText = (v: ReadonlyArray<number>): string => JSON.stringify(v)

/** Decode a vector in pgvector's binary form. */
export const decodeVector = (bytes: Uint8Array): ReadonlyArray<number> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dimensions = view.getInt16(0)
  const out = new Array<number>(dimensions)
  for (let i = 0; i < dimensions; i++) out[i] = view.getFloat32(4 + 4 * i)
  return out
}
