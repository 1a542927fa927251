/**
 * The in-memory peer of the SQLite side: usearch (native SIMD, prebuilt) with one HNSW index per
 * agent, vectors held in RAM and nothing persisted — the kind of index an agent embeds when it gives
 * up durability for speed. It stores the vectors only (no rows, no text, no counters), so its figures
 * bound what a durable store could reach. The single-agent store of the "no agent filter" rows is a
 * plain array searched with usearch's exact (brute-force) kernel: the native exact-scan bound.
 */
import * as usearch from "usearch"
import type { Driver, Measured, MemoryInput, VectorRecall } from "../protocol.js"
import { now, since } from "../stats.js"
import { DIMENSIONS, TOP_K } from "../workload.js"

/** HNSW parameters: generous enough that recall@10 stays near 1 on the clustered workload. */
const CONNECTIVITY = 16
const EXPANSION_ADD = 128
const EXPANSION_SEARCH = 128

const packed = (batch: ReadonlyArray<MemoryInput>): Float32Array => {
  const out = new Float32Array(batch.length * DIMENSIONS)
  batch.forEach((m, i) => out.set(m.embedding, i * DIMENSIONS))
  return out
}

export const usearchDriver = (): Driver => {
  const indexes = new Map<string, usearch.Index>()
  // The single-agent store: every vector in one growable array, scanned exactly.
  let all = new Float32Array(1024 * DIMENSIONS)
  let allCount = 0
  /** Item index of each row of `all`. */
  const allKeys: Array<number> = []

  const indexOf = (agent: string): usearch.Index => {
    let index = indexes.get(agent)
    if (index === undefined) {
      index = new usearch.Index({
        dimensions: DIMENSIONS,
        metric: usearch.MetricKind.Cos,
        quantization: usearch.ScalarKind.F32,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
        expansion_search: EXPANSION_SEARCH,
        multi: false
      })
      indexes.set(agent, index)
    }
    return index
  }

  const insert = async (batch: ReadonlyArray<MemoryInput>): Promise<number> => {
    const start = now()
    const byAgent = new Map<string, Array<MemoryInput>>()
    for (const m of batch) {
      const list = byAgent.get(m.agentId) ?? []
      list.push(m)
      byAgent.set(m.agentId, list)
    }
    for (const [agent, list] of byAgent) {
      // One thread: the other sides are single-threaded too.
      indexOf(agent).add(BigUint64Array.from(list.map((m) => BigInt(m.metadata.n))), packed(list), 1)
    }
    return since(start)
  }

  const insertSolo = async (batch: ReadonlyArray<MemoryInput>): Promise<number> => {
    const start = now()
    if ((allCount + batch.length) * DIMENSIONS > all.length) {
      const grown = new Float32Array(Math.max(all.length * 2, (allCount + batch.length) * DIMENSIONS))
      grown.set(all.subarray(0, allCount * DIMENSIONS))
      all = grown
    }
    all.set(packed(batch), allCount * DIMENSIONS)
    for (const m of batch) allKeys.push(m.metadata.n)
    allCount += batch.length
    return since(start)
  }

  const vector = async (queries: ReadonlyArray<VectorRecall>, filter: "agent" | "all"): Promise<Measured> => {
    const ns: Array<number> = []
    const returned: Array<ReadonlyArray<number>> = []
    for (const q of queries) {
      const query = Float32Array.from(q.embedding)
      const start = now()
      const found = filter === "agent"
        ? indexOf(q.agentId).search(query, TOP_K, 1)
        : usearch.exactSearch(
          all.subarray(0, allCount * DIMENSIONS),
          query,
          DIMENSIONS,
          TOP_K,
          usearch.MetricKind.Cos,
          1
        )
      ns.push(since(start))
      const keys = Array.from((found as usearch.Matches).keys, (k) => Number(k))
      returned.push(filter === "agent" ? keys : keys.map((k) => allKeys[k]!))
    }
    return { ns, returned }
  }

  return {
    insert,
    insertSolo,
    vector: (queries, filter) => vector(queries, filter),
    variants: ["full"],
    close: async () => {}
  }
}
