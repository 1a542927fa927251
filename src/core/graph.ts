/**
 * Knowledge-graph traversal, written once: breadth-first over outgoing relations, no entity repeated
 * on a path (a self-relation is still a depth-1 match), results ordered by depth and then by the
 * (createdAt, id) of each hop. A backend supplies two lookups (indexed reads, see knowledge.ts's
 * `GraphView`); the ordering, cycle and limit rules live here only.
 */
import { Effect } from "effect"
import type { Entity, GraphMatch, Relation } from "../domain/knowledge.js"
import { foldCase } from "./textSearch.js"

/** Case-insensitive (Unicode case-folded) form of an entity name, as stored for lookups. */
export const foldName = (name: string): string => foldCase(name)

/** True when `ref` names `entity`: its exact id or its name, case-insensitively. */
export const entityMatches = (entity: Entity, ref: string): boolean =>
  entity.id === ref || foldName(entity.name) === foldName(ref)

/** Relation order used everywhere: createdAt asc, then id asc. */
const relationOrder = (a: Relation, b: Relation): number =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** Largest number of partial paths kept between two depths. */
const MAX_FRONTIER = 10_000

export interface GraphLookups<E> {
  /** Relations whose source is one of `sourceIds` (all relations of the agent when null), with the relation filter applied. */
  readonly outgoing: (sourceIds: ReadonlyArray<string> | null) => Effect.Effect<ReadonlyArray<Relation>, E>
  /** The agent's entities with these ids. */
  readonly entities: (ids: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Entity>, E>
}

interface Partial {
  readonly start: Entity
  readonly path: ReadonlyArray<Relation>
  readonly visited: ReadonlySet<string>
  readonly end: string
}

/**
 * Paths of 1..maxDepth relations starting at one of `startEntities` (any entity when null) and
 * ending at an entity matching `target` (any when absent), at most `limit` of them. Paths come in
 * order of depth, then of their hops compared one by one; because the frontier is kept in that
 * order and each extension adds hops in relation order, the output is sorted without a final sort
 * and can stop at `limit`.
 */
export const traverse = <E>(
  q: { readonly target?: string | undefined; readonly maxDepth: number; readonly limit: number },
  lookups: GraphLookups<E>,
  startEntities: ReadonlyArray<Entity> | null
): Effect.Effect<ReadonlyArray<GraphMatch>, E> =>
  Effect.gen(function*() {
    const cache = new Map<string, Entity>()
    for (const e of startEntities ?? []) cache.set(e.id, e)
    const resolve = (ids: Iterable<string>) =>
      Effect.gen(function*() {
        const missing = [...new Set(ids)].filter((id) => !cache.has(id))
        if (missing.length > 0) { for (const e of yield* lookups.entities(missing)) cache.set(e.id, e) }
      })
    const results: Array<GraphMatch> = []
    if (startEntities !== null && startEntities.length === 0) return results
    const startIds = startEntities === null ? null : new Set(startEntities.map((e) => e.id))

    // Depth 1: every relation from a start entity, in relation order.
    const first = [...yield* lookups.outgoing(startIds === null ? null : [...startIds])].sort(relationOrder)
    yield* resolve(first.flatMap((r) => [r.source, r.target]))
    let frontier: Array<Partial> = []
    const visit = (p: Partial, r: Relation, depth: number, next: Array<Partial>) => {
      // No path comes back to an entity it has visited (no cycles). The one exception is a
      // self-relation at depth 1: it is a stored relation, and a depth-1 match is exactly one stored
      // relation, so dropping it would hide data; it is returned but never extended.
      const revisits = p.visited.has(r.target)
      if (revisits && depth > 1) return
      const target = cache.get(r.target)
      if (target === undefined) return
      const path = [...p.path, r]
      if ((q.target === undefined || entityMatches(target, q.target)) && results.length < q.limit) {
        results.push({ source: p.start, relation: r, target, depth, path })
      }
      if (!revisits && next.length < MAX_FRONTIER) {
        next.push({ start: p.start, path, visited: new Set([...p.visited, r.target]), end: r.target })
      }
    }
    for (const r of first) {
      const start = cache.get(r.source)
      if (start === undefined || (startIds !== null && !startIds.has(r.source))) continue
      visit({ start, path: [], visited: new Set([start.id]), end: start.id }, r, 1, frontier)
    }

    for (let depth = 2; depth <= q.maxDepth && results.length < q.limit && frontier.length > 0; depth++) {
      const relations = [...yield* lookups.outgoing([...new Set(frontier.map((p) => p.end))])].sort(relationOrder)
      yield* resolve(relations.map((r) => r.target))
      const bySource = new Map<string, Array<Relation>>()
      for (const r of relations) {
        const list = bySource.get(r.source)
        if (list === undefined) bySource.set(r.source, [r])
        else list.push(r)
      }
      const next: Array<Partial> = []
      for (const p of frontier) for (const r of bySource.get(p.end) ?? []) visit(p, r, depth, next)
      frontier = next
    }
    return results
  })
