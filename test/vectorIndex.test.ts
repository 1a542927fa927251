/**
 * The resident vector index against brute force: the SIMD kernels compute what plain loops compute,
 * and a search returns exactly the top k of an exact cosine scan (ties broken by the caller's
 * order), whatever the data, the filter, removals and updates — never an approximation.
 */
import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { cosine } from "../src/core/vector.js"
import { Kernel } from "../src/core/vectors/kernel.js"
import { CHUNK_ROWS, type Scored, VectorIndex } from "../src/core/vectors/vectorIndex.js"

/** A seeded generator (mulberry32), so failures reproduce. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const gaussian = (rand: () => number) => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())

/** `n` vectors around `clusters` centres (float32 values, as stored). */
const clustered = (rand: () => number, n: number, dims: number, clusters: number) => {
  const centres = Array.from({ length: clusters }, () => Array.from({ length: dims }, () => gaussian(rand)))
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(rand() * clusters)]!
    return c.map((x) => Math.fround(x + 0.3 * gaussian(rand)))
  })
}

interface Hit extends Scored {
  readonly createdAt: number
}

const order = (a: Hit, b: Hit) => b.score - a.score || b.createdAt - a.createdAt || a.key - b.key

describe("the SIMD kernel", () => {
  it("the committed module is the one kernel.wat compiles to", () => {
    execFileSync(process.execPath, ["scripts/build-kernel.mjs", "--check"])
  })

  it("dot_f32 computes the plain sums", () => {
    const dim = 64
    const rows = 5
    const k = new Kernel(1024 * 4, 1024 * 4)
    const rowsAt = k.alloc()
    const rand = random(7)
    const q = Array.from({ length: dim }, () => rand() - 0.5)
    const r = Array.from({ length: rows }, () => Array.from({ length: dim }, () => rand() - 0.5))
    const f32 = k.f32()
    q.forEach((v, d) => (f32[d] = v))
    r.forEach((row, i) => row.forEach((v, d) => (f32[rowsAt / 4 + i * dim + d] = v)))
    k.dotF32(0, rowsAt, rows, dim, 2048)
    for (let i = 0; i < rows; i++) {
      const expected = q.reduce((s, v, d) => s + Math.fround(v) * Math.fround(r[i]![d]!), 0)
      expect(k.f32()[512 + i]).toBeCloseTo(expected, 4)
    }
  })
})

describe("the integer kernels", () => {
  for (const dim of [48, 2064]) {
    it(`dot_hi and dot_lo_at compute Σ q·hi and Σ q·lo exactly in integers (${dim} components)`, () => {
      const k = new Kernel(1024 * 64, 1024 * 16)
      const hiAt = k.alloc()
      const loAt = hiAt + 8 * dim
      const rand = random(dim)
      const count = 7
      // The extremes of the ranges too: an i32 lane must not overflow, even past 1,024 components.
      const q = Array.from({ length: dim }, (_, d) => d < 8 ? -32767 : Math.round((rand() - 0.5) * 65534))
      const hi = Array.from(
        { length: count },
        (_, i) => Array.from({ length: dim }, () => i === 0 ? -128 : Math.floor(rand() * 256) - 128)
      )
      const lo = Array.from(
        { length: count },
        (_, i) => Array.from({ length: dim }, () => i === 0 ? 255 : Math.floor(rand() * 256))
      )
      q.forEach((v, d) => (k.i16()[d] = v))
      hi.forEach((row, i) => row.forEach((v, d) => (k.i8()[hiAt + i * dim + d] = v)))
      lo.forEach((row, i) => row.forEach((v, d) => (k.bytes()[loAt + i * dim + d] = v)))
      const out = dim * 2
      const check = (rows: ReadonlyArray<ReadonlyArray<number>>, i: number) => {
        const expected = q.reduce((s, v, d) => s + v * rows[i]![d]!, 0)
        const magnitude = q.reduce((s, v, d) => s + Math.abs(v * rows[i]![d]!), 0)
        // Only float32 rounding of the sums.
        expect(Math.abs(k.f32()[out / 4 + i]! - expected)).toBeLessThanOrEqual(magnitude * 2 ** -20)
      }
      k.dotHi(0, hiAt, count, dim, out)
      for (let i = 0; i < count; i++) check(hi, i)
      // Low rows in another order, by address.
      const order = [3, 0, 6, 1]
      const addresses = out + 64
      order.forEach((row, i) => (k.i32()[addresses / 4 + i] = loAt + row * dim))
      k.dotLoAt(0, addresses, order.length, dim, out)
      order.forEach((_, i) => check(order.map((r) => lo[r]!), i))
    })
  }
})

describe("the fused scan kernel", () => {
  it("scan_hi hands back exactly the rows whose coarse bound reaches the floor, with dot_hi's sums", () => {
    const dim = 64
    const count = 200
    const k = new Kernel(1024 * 64, 1024 * 16)
    const rowsAt = k.alloc()
    const scalesAt = rowsAt + count * dim
    const rand = random(11)
    Array.from({ length: dim }, () => Math.round((rand() - 0.5) * 65534)).forEach((v, d) => (k.i16()[d] = v))
    for (let i = 0; i < count * dim; i++) k.i8()[rowsAt + i] = Math.floor(rand() * 256) - 128
    for (let i = 0; i < count; i++) k.f32()[scalesAt / 4 + i] = 1e-5 * (0.5 + rand())
    const bounds = { a: 3e-3, b: 0.25, rough: 40, fixed: 1e-4 }
    const sumsAt = 2048
    k.dotHi(0, rowsAt, count, dim, sumsAt)
    const sums = Array.from(k.f32().subarray(sumsAt / 4, sumsAt / 4 + count))
    const upper = (i: number) =>
      k.f32()[scalesAt / 4 + i]! * (bounds.a * sums[i]! + bounds.b + bounds.rough) + bounds.fixed
    const uppers = sums.map((_, i) => upper(i)).sort((x, y) => x - y)
    const idxAt = 4096
    const hiAt = 8192
    const whole = { pre: dim, rest: 0, norms: 0, qRest: 0 }
    // Every row, none, and the floor at a row's own bound (kept: the test is ≥).
    for (const floor of [Number.NEGATIVE_INFINITY, uppers[count - 1]! + 1, uppers[count / 2]!]) {
      const n = k.scanHi(0, rowsAt, count, dim, scalesAt, bounds, floor, idxAt, hiAt, whole)
      const expected = sums.flatMap((_, i) => (upper(i) >= floor ? [i] : []))
      const got = Array.from(k.i32().subarray(idxAt / 4, idxAt / 4 + n))
      expect(got).toEqual(expected)
      got.forEach((i, j) => expect(k.f32()[hiAt / 4 + j]).toBe(sums[i]))
    }
    // The same rows held in two parts (the first `pre` bytes of every row together, then the
    // others), as quantise writes them: a row is dropped after its first part only when its bound
    // is below the floor anyway, so the rows handed back are the same, their sums within f32 rounding.
    const pre = 48
    const firstAt = k.alloc()
    const restAt = firstAt + count * pre
    const normsAt = restAt + count * (dim - pre)
    for (let i = 0; i < count; i++) {
      k.bytes().copyWithin(firstAt + i * pre, rowsAt + i * dim, rowsAt + i * dim + pre)
      k.bytes().copyWithin(restAt + i * (dim - pre), rowsAt + i * dim + pre, rowsAt + (i + 1) * dim)
    }
    k.normsHi(restAt, count, dim - pre, 0, normsAt)
    const q = Array.from(k.i16().subarray(0, dim))
    for (let i = 0; i < count; i++) {
      let squares = 0
      for (let d = pre; d < dim; d++) squares += k.i8()[rowsAt + i * dim + d]! ** 2
      expect(k.f32()[normsAt / 4 + i]).toBe(Math.fround(Math.sqrt(squares)))
    }
    const qRest = Math.sqrt(q.slice(pre).reduce((t, v) => t + v * v, 0)) * (1 + 2 ** -20)
    const split = { pre, rest: restAt, norms: normsAt, qRest }
    let dropped = 0
    for (let f = 1; f < 20; f++) {
      // Between two rows' bounds, so that f32 rounding cannot move a row across the floor.
      const at = Math.floor((count * f) / 20)
      const floor = (uppers[at - 1]! + uppers[at]!) / 2
      const n = k.scanHi(0, firstAt, count, dim, scalesAt, bounds, floor, idxAt, hiAt, split)
      const got = Array.from(k.i32().subarray(idxAt / 4, idxAt / 4 + n))
      expect(got).toEqual(sums.flatMap((_, i) => (upper(i) >= floor ? [i] : [])))
      got.forEach((i, j) =>
        expect(Math.abs(k.f32()[hiAt / 4 + j]! - sums[i]!)).toBeLessThanOrEqual(Math.abs(sums[i]!) * 2 ** -20 + 1)
      )
      // How many rows a bound on their first part alone drops.
      for (let i = 0; i < count; i++) {
        let head = 0
        for (let d = 0; d < pre; d++) head += q[d]! * k.i8()[rowsAt + i * dim + d]!
        const early = k.f32()[scalesAt / 4 + i]! *
            (bounds.a * (head + qRest * k.f32()[normsAt / 4 + i]!) + bounds.b + bounds.rough) +
          bounds.fixed
        if (early < floor) dropped++
      }
    }
    // The early test had rows to drop.
    expect(dropped).toBeGreaterThan(0)
  })
})

describe("the quantising kernel", () => {
  /** The int16 components of row i, from its high and low bytes. */
  const components = (k: Kernel, hi: number, lo: number, dim: number, i: number) =>
    Array.from({ length: dim }, (_, d) => 256 * k.i8()[hi + i * dim + d]! + k.bytes()[lo + i * dim + d]!)

  it("quantise rounds v·32767/top to the nearest integer, splits it into bytes, keeps top/‖v‖/32767 as the scale", () => {
    const dim = 48
    const k = new Kernel(1024 * 16, 1024 * 16)
    const rand = random(5)
    const rows = Array.from(
      { length: 6 },
      (_, i) => Array.from({ length: dim }, (_, d) => Math.fround(d < 40 ? (rand() - 0.5) * 10 ** (i - 3) : 0))
    )
    const src = k.alloc()
    const out = k.alloc()
    const [hi, lo, scales] = [out, out + 1024, out + 2048]
    rows.forEach((row, i) => row.forEach((v, d) => (k.f32()[src / 4 + i * dim + d] = v)))
    expect(k.quantise(src, rows.length, dim, hi, lo, scales)).toBe(rows.length)
    rows.forEach((row, i) => {
      const top = Math.max(...row.map(Math.abs))
      const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0))
      expect(k.f32()[scales / 4 + i]).toBe(Math.fround(top / norm / 32767))
      const r = components(k, hi, lo, dim, i)
      row.forEach((v, d) => {
        // Off by at most half a step; the largest component lands on ±32767.
        expect(Math.abs(r[d]! - v * (32767 / top))).toBeLessThanOrEqual(0.5)
        if (Math.abs(v) === top) expect(Math.abs(r[d]!)).toBe(32767)
      })
    })
    // In two parts, the high bytes are the same bytes: the first 16 of each row together, then the rest.
    const split = k.alloc()
    const [hi2, lo2, scales2, rest2] = [split, split + 1024, split + 2048, split + 3072]
    expect(k.quantise(src, rows.length, dim, hi2, lo2, scales2, { pre: 16, rest: rest2 })).toBe(rows.length)
    rows.forEach((_, i) => {
      const whole = Array.from(k.i8().subarray(hi + i * dim, hi + (i + 1) * dim))
      expect(Array.from(k.i8().subarray(hi2 + i * 16, hi2 + (i + 1) * 16))).toEqual(whole.slice(0, 16))
      expect(Array.from(k.i8().subarray(rest2 + i * (dim - 16), rest2 + (i + 1) * (dim - 16)))).toEqual(whole.slice(16))
      expect(Array.from(k.bytes().subarray(lo2 + i * dim, lo2 + (i + 1) * dim))).toEqual(
        Array.from(k.bytes().subarray(lo + i * dim, lo + (i + 1) * dim))
      )
    })
  })

  it("quantise stops at a row it cannot hold (all zero, NaN, infinite) without writing it", () => {
    const dim = 16
    const k = new Kernel(1024 * 4, 1024 * 4)
    const src = k.alloc()
    const out = k.alloc()
    const [hi, lo, scales] = [out, out + 512, out + 1024]
    for (const bad of [0, Number.NaN, Number.POSITIVE_INFINITY]) {
      const f32 = k.f32()
      for (let d = 0; d < 3 * dim; d++) f32[src / 4 + d] = 1
      for (let d = 0; d < dim; d++) f32[src / 4 + dim + d] = bad === 0 ? 0 : d === 3 ? bad : 1
      k.bytes().fill(7, hi, hi + 3 * dim)
      k.bytes().fill(7, lo, lo + 3 * dim)
      expect(k.quantise(src, 3, dim, hi, lo, scales)).toBe(1)
      expect(components(k, hi, lo, dim, 0)[0]).toBe(32767)
      expect(components(k, hi, lo, dim, 1)[0]).toBe(7 * 256 + 7)
    }
  })
})

describe("VectorIndex", () => {
  const exactTop = (
    data: ReadonlyArray<ReadonlyArray<number>>,
    keys: ReadonlyArray<number>,
    query: ReadonlyArray<number>,
    limit: number,
    createdAt: (key: number) => number
  ) =>
    keys.map((key) => ({ key, score: cosine(query, data[key]!), createdAt: createdAt(key) })).sort(order).slice(
      0,
      limit
    )

  for (const [dims, n] of [[8, 300], [384, 3000], [100, 1000]] as const) {
    it(`returns exactly the brute-force top k (${n} × ${dims}, across ${Math.ceil(n / CHUNK_ROWS)} chunks)`, () => {
      const rand = random(dims * 1000 + n)
      const data = clustered(rand, n, dims, 10)
      const createdAt = (key: number) => Math.floor(key / 3) // ties in time too
      const index = new VectorIndex(dims)
      data.forEach((v, key) =>
        index.put("a", key, v, { createdAt: createdAt(key), confidence: 1, scope: 0, source: 0 })
      )
      let rescored = 0
      const rescore = (keys: ReadonlyArray<number>) => {
        rescored += keys.length
        return keys.map((key) => ({ key, score: cosine(query, data[key]!), createdAt: createdAt(key) }))
      }
      let query: ReadonlyArray<number> = []
      for (let t = 0; t < 30; t++) {
        query = t % 5 === 0 ? data[Math.floor(rand() * n)]! : data[0]!.map(() => gaussian(rand))
        const limit = [1, 10, 50][t % 3]!
        const got = index.search("a", query, limit, rescore, order)
        expect(got.map((h) => h.key)).toEqual(
          exactTop(data, data.map((_, k) => k), query, limit, createdAt).map((h) => h.key)
        )
      }
      // Exact, yet most rows were never rescored.
      expect(rescored).toBeLessThan(30 * n * 0.5)
    })
  }

  it("reads in one round only the rows whose fine bound reaches the limit-th best fine lower bound", () => {
    const dims = 384
    const rand = random(23)
    const data = clustered(rand, 4000, dims, 40)
    const index = new VectorIndex(dims)
    data.forEach((v, key) => index.put("a", key, v, { createdAt: key, confidence: 1, scope: 0, source: 0 }))
    const limit = 10
    let rounds = 0
    let read = 0
    let query: ReadonlyArray<number> = []
    const rescore = (keys: ReadonlyArray<number>) => {
      rounds++
      read += keys.length
      return keys.map((key) => ({ key, score: cosine(query, data[key]!), createdAt: key }))
    }
    const searches = 40
    for (let t = 0; t < searches; t++) {
      // Near a stored row (a clustered query, as recall's usually are).
      query = data[Math.floor(rand() * data.length)]!.map((x) => x + 0.1 * gaussian(rand))
      const got = index.search("a", query, limit, rescore, order)
      expect(got.map((h) => h.key)).toEqual(
        exactTop(data, data.map((_, k) => k), query, limit, (k) => k).map((h) => h.key)
      )
    }
    // One read of exact vectors per search, of barely more than the answer's rows (a fixed margin of
    // 4 rows read 14 per search).
    expect(rounds).toBe(searches)
    expect(read).toBeLessThan(searches * (limit + 2))
  })

  for (const dims of [40, 64]) {
    it(`a bulk load from stored bytes holds what puts hold, and refuses a row it cannot hold (${dims} dimensions)`, () => {
      const rand = random(19)
      const data = clustered(rand, 700, dims, 5)
      const blob = (v: ReadonlyArray<number>) => new Uint8Array(Float32Array.from(v).buffer)
      const put = new VectorIndex(dims)
      const loaded = new VectorIndex(dims)
      const load = loaded.load("a")
      data.forEach((v, key) => put.put("a", key, v, { createdAt: key, confidence: 1, scope: key % 2, source: 0 }))
      // Batches of uneven sizes across chunk boundaries, each blob an unaligned copy, as a driver may
      // hand bytes over.
      for (let first = 0, size = 1; first < data.length; first += size, size = size * 3 + 1) {
        const keys = data.slice(first, first + size).map((_, j) => first + j)
        const bytes = new Uint8Array(keys.length * dims * 4 + 1).subarray(1)
        keys.forEach((key, j) => bytes.set(blob(data[key]!), j * dims * 4))
        expect(load.add({
          keys,
          blob: bytes,
          createdAt: keys,
          confidence: keys.map(() => 1),
          scope: keys.map((k) => k % 2),
          source: keys.map(() => 0)
        })).toBe(true)
      }
      expect(load.end()).toBe(true)
      expect(loaded.size("a")).toBe(data.length)
      expect(loaded.view("a")!.scope.subarray(0, 4)).toEqual(new Uint8Array([0, 1, 0, 1]))
      for (let t = 0; t < 10; t++) {
        const query = data[Math.floor(rand() * data.length)]!.map((x) => x + 0.1 * gaussian(rand))
        const rescore = (keys: ReadonlyArray<number>) =>
          keys.map((key) => ({ key, score: cosine(query, data[key]!), createdAt: key }))
        const accept = (i: number, view: { readonly scope: Uint8Array }) => view.scope[i] === 1
        const expected = put.search("a", query, 10, rescore, order, accept)
        expect(loaded.search("a", query, 10, rescore, order, accept)).toEqual(expected)
        expect(expected.map((h) => h.key)).toEqual(
          exactTop(data, data.map((_, k) => k).filter((k) => k % 2 === 1), query, 10, (k) => k).map((h) => h.key)
        )
      }
      // Bytes that are not whole rows, and a zero row found when its chunk is quantised.
      const one = { keys: [0], createdAt: [0], confidence: [1], scope: [0], source: [0] }
      expect(new VectorIndex(dims).load("a").add({ ...one, blob: new Uint8Array(dims * 4 - 4) })).toBe(false)
      const zero = new VectorIndex(dims).load("a")
      expect(zero.add({ ...one, blob: blob(data[0]!) })).toBe(true)
      expect(zero.add({ ...one, keys: [1], blob: new Uint8Array(dims * 4) })).toBe(true)
      expect(zero.end()).toBe(false)
      // put refuses the same rows and changes nothing.
      const index = new VectorIndex(dims)
      expect(index.put("a", 0, new Array<number>(dims).fill(0), { createdAt: 0, confidence: 1, scope: 0, source: 0 }))
        .toBe(false)
      expect(index.has("a")).toBe(false)
      // The chunk it took is free again: the next row reuses it.
      const taken = index.bytes
      expect(index.put("a", 1, data[1]!, { createdAt: 0, confidence: 1, scope: 0, source: 0 })).toBe(true)
      expect(index.bytes).toBe(taken)
      expect(index.size("a")).toBe(1)
    })
  }

  it("stays exact when rows that passed the pre-test fail at exact re-scoring (the pruning floor is rechecked)", () => {
    const rand = random(29)
    const data = clustered(rand, 3000, 64, 3)
    const index = new VectorIndex(64)
    data.forEach((v, key) => index.put("a", key, v, { createdAt: key, confidence: 1, scope: 0, source: 0 }))
    for (let t = 0; t < 10; t++) {
      const query = data[Math.floor(rand() * data.length)]!
      // The store's exact check keeps one key in 50 (as a filter the pre-test cannot decide would).
      const rescore = (keys: ReadonlyArray<number>) =>
        keys.filter((k) => k % 50 === 7).map((key) => ({ key, score: cosine(query, data[key]!), createdAt: key }))
      const got = index.search("a", query, 10, rescore, order)
      const kept = data.map((_, k) => k).filter((k) => k % 50 === 7)
      expect(got.map((h) => h.key)).toEqual(exactTop(data, kept, query, 10, (k) => k).map((h) => h.key))
    }
  })

  it("identical vectors tie exactly and the caller's order decides", () => {
    const index = new VectorIndex(8)
    const v = [1, 2, 3, 4, 5, 6, 7, 8]
    for (let key = 0; key < 40; key++) {
      index.put("a", key, v, { createdAt: key % 4, confidence: 1, scope: 0, source: 0 })
    }
    const rescore = (keys: ReadonlyArray<number>) =>
      keys.map((key) => ({ key, score: cosine(v, v), createdAt: key % 4 }))
    const got = index.search("a", v, 5, rescore, order)
    expect(got.map((h) => h.key)).toEqual([3, 7, 11, 15, 19])
  })

  it("filters apply before ranking: `limit` rows whenever that many pass", () => {
    const rand = random(3)
    const data = clustered(rand, 2000, 32, 4)
    const index = new VectorIndex(32)
    data.forEach((v, key) =>
      index.put("a", key, v, { createdAt: key, confidence: (key % 10) / 10, scope: key % 3, source: 0 })
    )
    const query = data[5]!
    const rescore = (keys: ReadonlyArray<number>) =>
      keys.map((key) => ({ key, score: cosine(query, data[key]!), createdAt: key }))
    // Only scope 2 and confidence ≥ 0.9: 1 in 30 rows, none of them near the query necessarily.
    const got = index.search(
      "a",
      query,
      20,
      rescore,
      order,
      (i, view) => view.scope[i] === 2 && view.confidence[i]! >= 0.85
    )
    const passing = data.map((_, k) => k).filter((k) => k % 3 === 2 && (k % 10) / 10 >= 0.85)
    expect(got.map((h) => h.key)).toEqual(exactTop(data, passing, query, 20, (k) => k).map((h) => h.key))
    expect(got.length).toBe(20)
  })

  it("removals, replacements and field updates keep every search exact", () => {
    const rand = random(11)
    const dims = 48
    const data = clustered(rand, 1200, dims, 6)
    const index = new VectorIndex(dims)
    const live = new Map<number, ReadonlyArray<number>>()
    const conf = new Map<number, number>()
    data.forEach((v, key) => {
      index.put("a", key, v, { createdAt: key, confidence: 1, scope: 0, source: 0 })
      live.set(key, v)
      conf.set(key, 1)
    })
    for (let round = 0; round < 400; round++) {
      const key = Math.floor(rand() * 1500)
      const action = rand()
      if (action < 0.4) {
        expect(index.remove("a", key)).toBe(live.delete(key))
      } else if (action < 0.8) {
        const v = data[0]!.map(() => gaussian(rand))
        index.put("a", key, v, { createdAt: key, confidence: conf.get(key) ?? 1, scope: 0, source: 0 })
        live.set(key, v)
        conf.set(key, conf.get(key) ?? 1)
      } else if (live.has(key)) {
        index.update("a", key, { confidence: 0.2 })
        conf.set(key, 0.2)
      }
    }
    expect(index.size("a")).toBe(live.size)
    const query = data[17]!
    const rescore = (keys: ReadonlyArray<number>) =>
      keys.map((key) => ({ key, score: cosine(query, live.get(key)!), createdAt: key }))
    const got = index.search("a", query, 25, rescore, order, (i, view) => view.confidence[i]! > 0.5)
    const expected = [...live.keys()].filter((k) => conf.get(k)! > 0.5).map((key) => ({
      key,
      score: cosine(query, live.get(key)!),
      createdAt: key
    }))
      .sort(order).slice(0, 25)
    expect(got.map((h) => h.key)).toEqual(expected.map((h) => h.key))
  })

  it("rows dropped after the first part of their high bytes never change the answer: ties, filters, removals, loads", () => {
    // 384 dimensions: the scan reads a third of each row first and drops the rows a bound on the
    // rest rules out (well-separated clusters, so most rows go early).
    const dims = 384
    const rand = random(29)
    const data = clustered(rand, 3000, dims, 30)
    // Exact ties: some rows share another row's vector.
    for (let k = 0; k + 1 < data.length; k += 50) data[k] = data[k + 1]!
    const createdAt = (key: number) => Math.floor(key / 7)
    const fields = (key: number) => ({ createdAt: createdAt(key), confidence: 1, scope: key % 3, source: 0 })
    const index = new VectorIndex(dims)
    // Half by bulk load, half by puts.
    const loader = index.load("a")
    const loadedKeys = data.map((_, k) => k).filter((k) => k % 2 === 0)
    const blob = new Uint8Array(loadedKeys.length * dims * 4)
    loadedKeys.forEach((k, j) => blob.set(new Uint8Array(Float32Array.from(data[k]!).buffer), j * dims * 4))
    expect(loader.add({
      keys: loadedKeys,
      blob,
      createdAt: loadedKeys.map(createdAt),
      confidence: loadedKeys.map(() => 1),
      scope: loadedKeys.map((k) => k % 3),
      source: loadedKeys.map(() => 0)
    })).toBe(true)
    expect(loader.end()).toBe(true)
    data.forEach((v, key) => key % 2 === 1 && index.put("a", key, v, fields(key)))
    // Removals move the last row into the hole (both parts of its high bytes and its norm).
    const live = new Set(data.map((_, k) => k))
    for (let r = 0; r < 300; r++) {
      const key = Math.floor(rand() * data.length)
      expect(index.remove("a", key)).toBe(live.delete(key))
    }
    let query: ReadonlyArray<number> = []
    const rescore = (keys: ReadonlyArray<number>) =>
      keys.map((key) => ({ key, score: cosine(query, data[key]!), createdAt: createdAt(key) }))
    for (let t = 0; t < 30; t++) {
      const near = data[Math.floor(rand() * data.length)]!
      // Queries on a stored vector (ties at the top) and near one.
      query = t % 3 === 0 ? near : near.map((x) => x + 0.05 * gaussian(rand))
      const limit = [1, 10, 50][t % 3]!
      const filtered = t % 2 === 0
      const got = index.search(
        "a",
        query,
        limit,
        rescore,
        order,
        filtered ? (i, view) => view.scope[i] !== 0 : undefined
      )
      const keys = [...live].filter((k) => !filtered || k % 3 !== 0)
      expect(got.map((h) => h.key)).toEqual(exactTop(data, keys, query, limit, createdAt).map((h) => h.key))
    }
  })

  it("agents are separate, and dropping one frees its chunks for reuse", () => {
    const index = new VectorIndex(16)
    const v = Array.from({ length: 16 }, (_, i) => i + 1)
    for (let key = 0; key < 600; key++) {
      index.put(`agent-${key % 2}`, key, v, { createdAt: 0, confidence: 1, scope: 0, source: 0 })
    }
    const before = index.bytes
    index.drop("agent-0")
    expect(index.has("agent-0")).toBe(false)
    for (let key = 0; key < 300; key++) {
      index.put("agent-2", key, v, { createdAt: 0, confidence: 1, scope: 0, source: 0 })
    }
    expect(index.bytes).toBe(before)
    const rescore = (keys: ReadonlyArray<number>) => keys.map((key) => ({ key, score: 1, createdAt: 0 }))
    expect(index.search("agent-1", v, 1000, rescore, order).every((h) => h.key % 2 === 1)).toBe(true)
    expect(index.search("agent-0", v, 10, rescore, order)).toEqual([])
  })
})
