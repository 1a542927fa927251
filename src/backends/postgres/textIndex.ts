/**
 * Text indexing on PostgreSQL. A memory's `tsv` is a tsvector built from the core's tokens
 * (core/textSearch.ts), queried with a tsquery built from the core's query terms — no PostgreSQL
 * parser, so every backend matches the same set — and ranked by the core's `textScore`, computed in
 * SQL from stored term counts (`tf`) and the length normalisation (`len_norm`).
 */
import { createHash } from "node:crypto"
import { tokenize } from "../../core/textSearch.js"
import { utf8Length } from "../../domain/text.js"
import type { Params } from "./params.js"

/**
 * tsvector lexemes are limited to 2,047 bytes; a longer token is indexed (and queried) by a digest
 * that cannot collide with a real token ('#' is never part of a word).
 */
const MAX_LEXEME_BYTES = 1000
/** Past this many bytes of distinct lexemes the document would not fit a tsvector (1 MB). */
const MAX_TSVECTOR_BYTES = 900_000

export const lexeme = (token: string): string =>
  utf8Length(token) <= MAX_LEXEME_BYTES ? token : `#${createHash("sha256").update(token).digest("hex")}`

/** What the text columns of a memory hold. */
export interface TextIndex {
  /** distinct lexemes joined by spaces, or null when they do not fit a tsvector */
  readonly lexemes: string | null
  /** lexeme → number of occurrences, as JSON */
  readonly tf: string
  /** the core's length normalisation: 1.2 · (0.25 + 0.75 · tokens / 100) (core/textSearch.ts) */
  readonly lenNorm: number
}

export const textIndex = (content: string): TextIndex => {
  const tokens = tokenize(content)
  const tf = new Map<string, number>()
  for (const t of tokens) {
    const l = lexeme(t)
    tf.set(l, (tf.get(l) ?? 0) + 1)
  }
  let bytes = 0
  for (const l of tf.keys()) bytes += utf8Length(l) + 1
  return {
    lexemes: bytes > MAX_TSVECTOR_BYTES ? null : [...tf.keys()].join(" "),
    tf: JSON.stringify(Object.fromEntries(tf)),
    lenNorm: 1.2 * (0.25 + 0.75 * tokens.length / 100)
  }
}

/** The `tsv` of a memory from its `lexemes` (an SQL expression over a text column). */
export const tsvectorOf = (lexemes: string): string =>
  `CASE WHEN ${lexemes} IS NULL THEN NULL ELSE array_to_tsvector(string_to_array(${lexemes}, ' ')) END`

/** A tsquery literal requiring every term; lexemes are quoted, so no term is read as an operator. */
const tsquery = (terms: ReadonlyArray<string>): string =>
  terms.map((t) => `'${t.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`).join(" & ")

/**
 * The SQL of the text match and of the core's relevance score, Σ tf / (tf + len_norm) summed in
 * query-term order from 0 — the same float operations as `textScore`, so ties fall identically. A
 * document whose lexemes did not fit a tsvector is matched through `tf`.
 */
export const textSql = (terms: ReadonlyArray<string>, p: Params) => {
  const lexemes = terms.map(lexeme)
  const arr = p.add(lexemes)
  const match = `(tsv @@ ${p.add(tsquery(lexemes))}::tsquery OR (tsv IS NULL AND tf ?& ${arr}::text[]))`
  const parts = lexemes.map((_, i) => {
    const tf = `(tf ->> (${arr}::text[])[${i + 1}])::float8`
    return `${tf} / (${tf} + len_norm)`
  })
  return { match, score: `(0::float8 + ${parts.join(" + ")})` }
}
