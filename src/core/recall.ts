/**
 * How a recall is answered, the same on every backend: the plan (which mode, which filters), the
 * order of results, the exact ranking of candidates a store read, hybrid fusion, and the access
 * counters of what is returned. A store only reads candidates (see `Candidates`) and counts the
 * access of the hits `pickHits` chose.
 */
import { Clock, Effect } from "effect"
import type { EmbeddingInput } from "../domain/embedding.js"
import type { InvalidEmbedding, InvalidInput } from "../domain/errors.js"
import type { AgentId } from "../domain/ids.js"
import { isJsonObject, isPlainObject, type JsonObject } from "../domain/json.js"
import {
  DEFAULT_RECALL_LIMIT,
  isMemorySource,
  MAX_RECALL_LIMIT,
  type Memory,
  type MemorySource,
  RecallMode,
  RecallQuery
} from "../domain/memory.js"
import { isName, textProblem } from "../domain/text.js"
import { decode, invalid } from "./decode.js"
import { type Filter, filterOf } from "./memoryFilter.js"
import type { SemanticLimits } from "./memoryInputs.js"
import { reciprocalRankFusion } from "./rrf.js"
import { queryTerms } from "./textSearch.js"
import { cosine, validateEmbedding } from "./vector.js"

/** A memory with its score. */
export interface Hit {
  readonly memory: Memory
  readonly score: number
}

/** How a recall is answered. */
export type RecallPlan =
  & {
    readonly agentId: AgentId
    readonly limit: number
    readonly filter: Filter
    readonly now: number
  }
  & (
    | { readonly mode: "vector"; readonly embedding: ReadonlyArray<number> }
    | {
      readonly mode: "text"
      readonly text: string
      readonly terms: ReadonlyArray<string>
      /** Whether the query asked for text only (rather than giving text without a vector). */
      readonly asked: boolean
    }
    | {
      readonly mode: "hybrid"
      readonly embedding: ReadonlyArray<number>
      readonly text: string
      readonly terms: ReadonlyArray<string>
    }
    | { readonly mode: "newest" }
  )

const decodeQuery = decode(RecallQuery, "query")

const MODES: ReadonlySet<unknown> = new Set<unknown>(RecallMode.literals)
const QUERY_KEYS: ReadonlySet<string> = new Set(Object.keys(RecallQuery.fields))

/** A decoded query, as `RecallQuery` gives it. */
type DecodedQuery = typeof RecallQuery.Type

const isEpochMillis = (u: unknown): boolean =>
  Number.isSafeInteger(u) && (u as number) >= 0 && (u as number) <= MAX_EPOCH

/** The largest instant `EpochMillis` accepts. */
const MAX_EPOCH = 8_640_000_000_000_000

/**
 * The decoded query when it plainly passes every check of `RecallQuery` (the same predicates its
 * fields apply), else undefined — and then the Schema decodes it and names what is wrong, so a bad
 * query gets exactly the Schema's error. Decoding a query with the Schema was ~5–7 % of a recall
 * answered from memory. Anything unusual (a key set to `undefined`, an unknown key, a class
 * instance, symbol keys) takes the Schema's path.
 */
export const plainQuery = (u: unknown): DecodedQuery | undefined => {
  if (!isPlainObject(u) || Object.getOwnPropertySymbols(u).length > 0) return undefined
  for (const k in u) if (!QUERY_KEYS.has(k) || u[k] === undefined) return undefined
  const { after, agentId, before, embedding, limit, metadata, minConfidence, mode, scope, source, text } = u
  if (typeof agentId !== "string" || !isName(agentId)) return undefined
  if (text !== undefined && (typeof text !== "string" || textProblem(text) !== undefined)) return undefined
  if (
    embedding !== undefined &&
    !(embedding instanceof Float32Array || (Array.isArray(embedding) && embedding.every(isNumber)))
  ) return undefined
  if (
    limit !== undefined &&
    !(Number.isSafeInteger(limit) && (limit as number) >= 1 && (limit as number) <= MAX_RECALL_LIMIT)
  ) {
    return undefined
  }
  if (mode !== undefined && !MODES.has(mode)) return undefined
  if (scope !== undefined && (typeof scope !== "string" || !isName(scope))) return undefined
  if (source !== undefined && !isMemorySource(source)) return undefined
  if (
    minConfidence !== undefined &&
    !(typeof minConfidence === "number" && minConfidence >= 0 && minConfidence <= 1)
  ) return undefined
  if (after !== undefined && !isEpochMillis(after)) return undefined
  if (before !== undefined && !isEpochMillis(before)) return undefined
  if (metadata !== undefined && !isJsonObject(metadata)) return undefined
  // Fields set one by one: ten conditional spreads cost more than the checks above.
  const q: { -readonly [K in keyof DecodedQuery]: DecodedQuery[K] } = {
    agentId: agentId as AgentId,
    limit: (limit as number | undefined) ?? DEFAULT_RECALL_LIMIT
  }
  if (text !== undefined) q.text = text
  if (embedding !== undefined) q.embedding = embedding as EmbeddingInput
  if (mode !== undefined) q.mode = mode as RecallMode
  if (scope !== undefined) q.scope = scope
  if (source !== undefined) q.source = source as MemorySource
  if (minConfidence !== undefined) q.minConfidence = minConfidence
  if (after !== undefined) q.after = after as number
  if (before !== undefined) q.before = before as number
  if (metadata !== undefined) q.metadata = metadata as JsonObject
  return q
}

const isNumber = (x: unknown): boolean => typeof x === "number"

/**
 * Decide how to answer a query. The mode defaults to hybrid when both text and an embedding are
 * given, vector with an embedding, text with text, and "newest" with neither. Asking for a mode
 * whose input is missing is an InvalidInput, and so is text without any word in it.
 */
export const planRecall = (
  query: RecallQuery,
  limits: SemanticLimits
): Effect.Effect<RecallPlan, InvalidInput | InvalidEmbedding> =>
  Effect.gen(function*() {
    const q = plainQuery(query) ?? (yield* decodeQuery(query))
    const now = yield* Clock.currentTimeMillis
    const base = { agentId: q.agentId, limit: q.limit, filter: filterOf(q), now }
    const embedding = q.embedding === undefined ? undefined : yield* validateEmbedding(q.embedding, limits.space)
    let terms: ReadonlyArray<string> | undefined
    if (q.text !== undefined) {
      terms = queryTerms(q.text)
      if (terms.length === 0) return yield* invalid("query.text", "contains no words to search for")
    }
    const text = q.text ?? ""
    const mode = q.mode ?? (embedding !== undefined && terms !== undefined
      ? "hybrid"
      : embedding !== undefined
      ? "vector"
      : terms !== undefined
      ? "text"
      : undefined)
    switch (mode) {
      case undefined:
        return { ...base, mode: "newest" as const }
      case "vector":
        if (embedding === undefined) return yield* invalid("query.embedding", "is required for vector recall")
        return { ...base, mode: "vector" as const, embedding }
      case "text":
        if (terms === undefined) return yield* invalid("query.text", "is required for text recall")
        return { ...base, mode: "text" as const, text, terms, asked: q.mode === "text" }
      case "hybrid":
        if (embedding === undefined) return yield* invalid("query.embedding", "is required for hybrid recall")
        if (terms === undefined) return yield* invalid("query.text", "is required for hybrid recall")
        return { ...base, mode: "hybrid" as const, embedding, text, terms }
    }
  })

const byIdDesc = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0)

/** Result order: score desc, then createdAt desc, then id desc (newest first on ties). */
export const hitOrder = (a: Hit, b: Hit): number =>
  b.score - a.score || b.memory.createdAt - a.memory.createdAt || byIdDesc(a.memory.id, b.memory.id)

/** Order of "newest" recall: createdAt desc, then id desc. */
const newestOrder = (a: Memory, b: Memory): number => b.createdAt - a.createdAt || byIdDesc(a.id, b.id)

/** The best `limit` hits in result order. */
export const topHits = (hits: ReadonlyArray<Hit>, limit: number): Array<Hit> => [...hits].sort(hitOrder).slice(0, limit)

/**
 * The exact vector ranking: memories with an embedding scored by the double-precision cosine of
 * their stored vector with the query, the best `limit` in result order.
 */
export const rankNearest = (
  embedding: ReadonlyArray<number>,
  memories: ReadonlyArray<Memory>,
  limit: number
): Array<Hit> =>
  topHits(
    memories.flatMap((m) => (m.embedding === null ? [] : [{ memory: m, score: cosine(embedding, m.embedding) }])),
    limit
  )

/**
 * Hybrid results: the vector and text rankings (each taken to depth `limit`, which is enough for
 * `limit` fused results whenever that many memories match) fused by reciprocal rank fusion.
 */
const fuseHybrid = (vector: ReadonlyArray<Hit>, text: ReadonlyArray<Hit>, limit: number): Array<Hit> => {
  const byId = new Map<string, Memory>()
  for (const h of [...vector, ...text]) byId.set(h.memory.id, h.memory)
  return topHits(
    reciprocalRankFusion([vector.map((h) => h.memory.id), text.map((h) => h.memory.id)])
      .map(({ id, score }) => ({ memory: byId.get(id)!, score })),
    limit
  )
}

/**
 * What a store read for a plan; each kind is read only when the plan's mode needs it. Every
 * candidate belongs to the plan's agent and passes its filter.
 */
export interface Candidates {
  /**
   * Vector and hybrid: memories with an embedding, including at least every memory of the exact top
   * `limit` by `rankNearest` (more are fine: they are ranked here).
   */
  readonly nearest?: ReadonlyArray<Memory>
  /**
   * Text and hybrid: memories containing every query term, each with its relevance score, including
   * at least the `limit` most relevant (score desc, then createdAt desc, id desc).
   */
  readonly matches?: ReadonlyArray<Hit>
  /** Newest: at least the `limit` newest memories (createdAt desc, id desc). */
  readonly newest?: ReadonlyArray<Memory>
}

/** The memory as returned by recall: accessed now, one more access. */
export const accessed = (m: Memory, now: number): Memory => ({
  // Every field written out: a spread of the memory cost more (every hit of every recall passes here).
  id: m.id,
  agentId: m.agentId,
  content: m.content,
  source: m.source,
  scope: m.scope,
  metadata: m.metadata,
  confidence: m.confidence,
  createdAt: m.createdAt,
  accessedAt: now,
  accessCount: m.accessCount + 1,
  embedding: m.embedding
})

/**
 * The hits a recall returns from the candidates a store read: ranked, cut to `limit`, and each
 * memory as it is after this access (the store records that access for exactly these memories).
 */
export const pickHits = (plan: RecallPlan) => (found: Candidates): ReadonlyArray<Hit> => {
  let hits: ReadonlyArray<Hit>
  switch (plan.mode) {
    case "vector":
      hits = rankNearest(plan.embedding, found.nearest ?? [], plan.limit)
      break
    case "text":
      hits = topHits(found.matches ?? [], plan.limit)
      break
    case "hybrid":
      hits = fuseHybrid(
        rankNearest(plan.embedding, found.nearest ?? [], plan.limit),
        topHits(found.matches ?? [], plan.limit),
        plan.limit
      )
      break
    case "newest":
      hits = [...(found.newest ?? [])].sort(newestOrder).slice(0, plan.limit).map((memory) => ({ memory, score: 0 }))
      break
  }
  return hits.map((h) => ({ memory: accessed(h.memory, plan.now), score: h.score }))
}
