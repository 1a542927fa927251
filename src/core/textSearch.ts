/**
 * Full-text matching rules shared by every backend: a memory matches when its content
 * contains every word of the query; words are maximal runs of Unicode letters and digits (with their combining marks), compared
 * after Unicode case folding (`foldCase`), with no stemming and no accent folding. Backends index the
 * output of `tokenize`, so they all match exactly the same set. The stored content stays as written.
 */

const WORD = /[\p{L}\p{N}\p{M}]+/gu

/**
 * Unicode full case folding, in NFC: "STRASSE", "Straße" and "strasse" fold alike, as do "ﬁnance" and
 * "finance", and "ΣΟΦΟΣ" and "σοφος". Lower-casing alone keeps "ß" and "ﬁ" apart from "ss" and "fi".
 * Folding is lower-casing the upper-cased text: the upper-casing applies the one-to-many special
 * casings (ß → SS, ﬁ → FI), and the pair yields the equivalence classes of Unicode's CaseFolding
 * (C + F) for every code point except dotless ı, which folds with i here (more matches, never fewer).
 * Lower-casing picks final ς or σ from the context, so σ is written for both, as case folding does.
 * Every backend (and any index a backend builds, e.g. Qdrant's token payload) must call this — or
 * `tokenize`, which does — on both the indexed text and the query.
 */
export const foldCase = (text: string): string =>
  text.normalize("NFC").toUpperCase().toLowerCase().replaceAll("ς", "σ").normalize("NFC")

/** Only ASCII characters. */
const ASCII = /^[\u0000-\u007f]*$/

/** A word of ASCII text once lower-cased: the only letters, digits and marks ASCII has. */
const ASCII_WORD = /[a-z0-9]+/g

/** The case-folded words of `text` (see `foldCase`), in order (with repeats). */
export const tokenize = (text: string): ReadonlyArray<string> => {
  // ASCII text folds by lower-casing alone (NFC leaves it as it is; no special casing applies), and
  // its only letters, digits and marks are [a-z0-9] then: the same words, without the Unicode
  // passes (~4 % of a rememberMany, which tokenizes every memory).
  if (ASCII.test(text)) return text.toLowerCase().match(ASCII_WORD) ?? []
  const out: Array<string> = []
  for (const m of foldCase(text).matchAll(WORD)) out.push(m[0])
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
