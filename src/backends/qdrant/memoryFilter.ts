/**
 * The Qdrant form of a memory filter: each condition of core/memoryFilter.ts (`meets` is the rule)
 * as a Qdrant condition where Qdrant can express one that keeps every memory meeting it. Metadata
 * equality is only approximated (Qdrant's `match` also accepts arrays that merely contain the value,
 * and cannot compare objects or arrays), so with a metadata condition the candidates are checked
 * again with the core's predicate.
 */
import type { Schemas } from "@qdrant/js-client-rest"
import { type Filter, type FilterCondition, filterConditions } from "../../core/memoryFilter.js"

type Condition = Schemas["Condition"]

/** A number a few units in the last place below `x` (Qdrant's JSON float reading errs by at most one). */
export const slightlyBelow = (x: number): number => x - Math.abs(x) * 8 * Number.EPSILON - Number.MIN_VALUE

export const match = (key: string, value: string | boolean): Condition => ({ key, match: { value } })

/** Metadata keys Qdrant's key syntax takes literally (others contain path syntax such as `.` or `[`). */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Qdrant conditions for the agent and a filter. `exact` is true when Qdrant's answer is exactly the
 * core's; otherwise the conditions only narrow the candidates (each keeps every memory the core
 * would accept).
 */
export const conditionsOf = (
  agentId: string,
  f: Filter
): { readonly must: ReadonlyArray<Condition>; readonly exact: boolean } => {
  const must: Array<Condition> = [match("agent_id", agentId)]
  let exact = true
  for (const c of filterConditions(f)) {
    const translated = condition(c)
    if (translated.condition !== undefined) must.push(translated.condition)
    exact &&= translated.exact
  }
  return { must, exact }
}

const condition = (c: FilterCondition): { readonly condition?: Condition; readonly exact: boolean } => {
  switch (c.kind) {
    case "scope":
      return { condition: match("scope", c.value), exact: true }
    case "source":
      return { condition: match("source", c.value), exact: true }
    case "minConfidence":
      // Qdrant may hold the confidence (and read the bound) one unit in the last place off: a bound
      // a few units lower keeps every memory meeting it, and the exact check is the core's.
      return { condition: { key: "confidence", range: { gte: slightlyBelow(c.value) } }, exact: false }
    case "after":
      return { condition: { key: "created_at", range: { gt: c.value } }, exact: true }
    case "before":
      return { condition: { key: "created_at", range: { lt: c.value } }, exact: true }
    case "metadata": {
      if (!PLAIN_KEY.test(c.key)) return { exact: false }
      const key = `metadata.${c.key}`
      const v = c.value
      if (typeof v === "string" || typeof v === "boolean") return { condition: match(key, v), exact: false }
      // A range, not an integer match: Qdrant's integer match skips values it stored as floats.
      if (typeof v === "number") return { condition: { key, range: { gte: v, lte: v } }, exact: false }
      if (v === null) return { condition: { is_null: { key } }, exact: false }
      // Arrays and objects: no Qdrant condition compares them whole; checked in code only.
      return { exact: false }
    }
  }
}
