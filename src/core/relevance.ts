/**
 * Relevance on one scale in [0, 1], computed from a memory and the query alone, so it is the same on
 * every backend (a store's own ranking scores — SQLite's bm25, PostgreSQL's rank, RRF — are not
 * comparable across backends, nor meaningful to threshold). Two parts:
 *
 * - lexical: the mean over the query's words of f / (f + 1.2 · (0.25 + 0.75 · len / 100)), where f is
 *   how often the word occurs in the memory and len the memory's length in words (0 for a word it
 *   lacks): the BM25-shaped weight of `textScore`, averaged so that it stays below 1;
 * - semantic: the cosine of the query's and the memory's vectors, negative values taken as 0.
 *
 * With both a vector and words the relevance is their mean; with one of them, that one; with
 * neither, 0.
 */
import { tokenize } from "./textSearch.js"
import { cosine } from "./vector.js"

/** The lexical part: 0 when no word of the query occurs in the text. */
export const lexicalRelevance = (terms: ReadonlyArray<string>, text: string): number => {
  if (terms.length === 0) return 0
  const words = tokenize(text)
  const tf = new Map<string, number>()
  for (const w of words) tf.set(w, (tf.get(w) ?? 0) + 1)
  const lengthNorm = 1.2 * (0.25 + 0.75 * words.length / 100)
  let sum = 0
  for (const term of terms) {
    const f = tf.get(term) ?? 0
    sum += f / (f + lengthNorm)
  }
  return sum / terms.length
}

/** The semantic part: 0 for a memory without a vector. */
export const semanticRelevance = (query: ReadonlyArray<number>, memory: ReadonlyArray<number> | null): number =>
  memory === null || memory.length !== query.length ? 0 : Math.max(0, cosine(query, memory))

/** The relevance of a memory's content and vector for a query's words and vector. */
export const relevance = (
  query: { readonly terms: ReadonlyArray<string>; readonly embedding?: ReadonlyArray<number> | undefined },
  memory: { readonly content: string; readonly embedding: ReadonlyArray<number> | null }
): number => {
  const lexical = query.terms.length > 0 ? lexicalRelevance(query.terms, memory.content) : undefined
  const semantic = query.embedding === undefined ? undefined : semanticRelevance(query.embedding, memory.embedding)
  const score = lexical !== undefined && semantic !== undefined ? (lexical + semantic) / 2 : lexical ?? semantic ?? 0
  return Math.min(1, Math.max(0, score))
}
