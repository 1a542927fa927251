/**
 * The PostgreSQL form of a memory filter: each condition of core/memoryFilter.ts (`meets` is the
 * rule) as a condition on `memories`.
 */
import { type Filter, type FilterCondition, filterConditions } from "../../core/memoryFilter.js"
import type { AgentId } from "../../domain/ids.js"
import type { Params } from "./params.js"

/** The WHERE clause of an agent's memories passing `f`. */
export const filterSql = (agentId: AgentId, f: Filter, p: Params): string => agentFilterSql(p.add(agentId), f, p)

/** The WHERE clause of the memories passing `f` of the agent that the SQL expression `agent` names. */
export const agentFilterSql = (agent: string, f: Filter, p: Params): string =>
  [`agent_id = ${agent}`, ...filterConditions(f).map((c) => conditionSql(c, p))].join(" AND ")

const conditionSql = (c: FilterCondition, p: Params): string => {
  switch (c.kind) {
    case "scope":
      return `scope = ${p.add(c.value)}`
    case "source":
      return `source = ${p.add(c.value)}`
    case "minConfidence":
      return `confidence >= ${p.add(c.value)}::float8`
    case "after":
      return `created_at > ${p.add(c.value)}::bigint`
    case "before":
      return `created_at < ${p.add(c.value)}::bigint`
    case "metadata":
      // jsonb equality is structural (key order and number spelling do not matter), like jsonEquals;
      // a missing key gives NULL, which fails the test, like Object.hasOwn.
      return `(metadata::jsonb -> ${p.add(c.key)}::text) = ${p.add(JSON.stringify(c.value))}::jsonb`
  }
}
