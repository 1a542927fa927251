/**
 * Full-text matching rules shared by every backend: a memory matches when its content
 * contains every word of the query; words are maximal runs of Unicode letters and digits (with their combining marks), compared
 * after Unicode lower-casing, with no stemming and no accent folding. Backends index the output of
 * `tokenize`, so they all match exactly the same set.
 */

const WORD = /[\p{L}\p{N}\p{M}]+/gu

/** The lower-cased words of `text`, in order (with repeats). */
export const tokenize = (text: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const m of text.normalize("NFC").toLowerCase().matchAll(WORD)) out.push(m[0])
  return out
}

/** The distinct words of a query, in first-seen order. */
export const queryTerms = (text: string): ReadonlyArray<string> => [...new Set(tokenize(text))]

/**
 * Relevance of a document for the query terms, or undefined when it does not contain every term:
 * the sum over terms of tf / (tf + 1.2 · (0.25 + 0.75 · len / 100)) — a BM25-shaped weight that
 * needs no corpus statistics, so every backend can compute it from the document alone.
 */
export const textScore = (terms: ReadonlyArray<string>, docTokens: ReadonlyArray<string>): number | undefined => {
  if (terms.length === 0) return undefined
  const tf = new Map<string, number>()
  for (const t of docTokens) tf.set(t, (tf.get(t) ?? 0) + 1)
  const lengthNorm = 1.2 * (0.25 + 0.75 * docTokens.length / 100)
  let score = 0
  for (const term of terms) {
    const f = tf.get(term)
    if (f === undefined) return undefined
    score += f / (f + lengthNorm)
  }
  return score
}
