/**
 * The SQLite form of a memory filter: each condition of core/memoryFilter.ts (`meets` is the rule)
 * as a condition on `memories m`.
 */
import { type Filter, type FilterCondition, filterConditions } from "../../core/memoryFilter.js"
import { canonicalJson } from "../../domain/json.js"

/**
 * ` AND …` conditions on `memories m` for the filter; appends their parameters. Metadata is stored as
 * canonical JSON, so a top-level value's JSON text (`->` returns the stored text of the subtree)
 * equals the canonical JSON of an equal filter value: JSON types stay distinct (1 vs "1" vs true) and
 * nested objects compare whole, whatever their key order. json_each finds the key without building
 * a JSON path from caller text.
 */
export const memoryFilterSql = (f: Filter, params: Array<unknown>): string => {
  let sql = ""
  for (const c of filterConditions(f)) {
    sql += ` AND ${conditionSql(c, "m.", params)}`
  }
  return sql
}

const conditionSql = (c: FilterCondition, column: string, params: Array<unknown>): string => {
  switch (c.kind) {
    case "scope":
      params.push(c.value)
      return `${column}scope = ?`
    case "source":
      params.push(c.value)
      return `${column}source = ?`
    case "minConfidence":
      params.push(c.value)
      return `${column}confidence >= ?`
    case "after":
      params.push(c.value)
      return `${column}created_at > ?`
    case "before":
      params.push(c.value)
      return `${column}created_at < ?`
    case "metadata":
      params.push(c.key, canonicalJson(c.value))
      return `EXISTS (SELECT 1 FROM json_each(m.metadata) j WHERE j.key = ? AND (m.metadata -> j.fullkey) = ?)`
  }
}
