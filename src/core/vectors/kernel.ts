/**
 * The scan kernel: WebAssembly SIMD dot products (kernel.wat) over one linear memory, with a chunk
 * allocator on top of it. Rows of one store live in fixed-size chunks; a chunk freed by a removal
 * is reused by the next allocation, and the memory grows (never shrinks) when none is free.
 *
 * Growing a WebAssembly memory detaches every typed-array view of it, so views are always taken
 * through `bytes()`/`f32()`/`i16()` after any allocation, never kept across one.
 */
import { KERNEL_BASE64 } from "./kernelModule.js"

const PAGE = 65_536

/**
 * The part of the WebAssembly JS API used here. TypeScript declares WebAssembly only in its DOM
 * library, which a Node package must not require of its users, so the shape is stated here.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WasmApi {
  readonly Module: new(bytes: Uint8Array) => object
  readonly Instance: new(module: object, imports: object) => { readonly exports: object }
  readonly Memory: new(descriptor: { readonly initial: number; readonly maximum: number }) => WasmMemory
}
const wasm = (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly

/** The compiled module, shared by every kernel of the process (compiling is the expensive part). */
let compiled: object | undefined

interface Exports {
  readonly dot_f32: (query: number, rows: number, count: number, dim: number, out: number) => void
  readonly dot_hi: (query: number, rows: number, count: number, dim: number, out: number) => void
  readonly scan_hi: (
    query: number,
    rows: number,
    rest: number,
    count: number,
    dim: number,
    pre: number,
    scales: number,
    norms: number,
    a: number,
    b: number,
    rough: number,
    fixed: number,
    floor: number,
    qRest: number,
    outIdx: number,
    outHi: number
  ) => number
  readonly norms_hi: (hi: number, count: number, dim: number, from: number, out: number) => void
  readonly dot_lo_at: (query: number, addresses: number, count: number, dim: number, out: number) => void
  readonly quantise: (
    src: number,
    count: number,
    dim: number,
    hi: number,
    lo: number,
    scales: number,
    pre: number,
    hiRest: number
  ) => number
}

/** One linear memory with the kernel's functions and a fixed-size chunk allocator. */
export class Kernel {
  readonly memory: WasmMemory
  private readonly exports: Exports
  private readonly free: Array<number> = []
  /** Views of the memory, remade when a growth has detached them. */
  private readonly views = new Map<new(buffer: ArrayBufferLike) => ArrayBufferView, ArrayBufferView>()
  /** The first byte never handed out. */
  private top: number

  /**
   * @param chunkBytes size of every chunk (a multiple of 16)
   * @param reservedBytes bytes at the start kept for the caller's scratch (query, scores)
   */
  constructor(readonly chunkBytes: number, readonly reservedBytes: number) {
    if (chunkBytes % 16 !== 0 || reservedBytes % 16 !== 0) {
      throw new Error("chunk and reserved sizes must be multiples of 16")
    }
    compiled ??= new wasm.Module(Buffer.from(KERNEL_BASE64, "base64"))
    this.memory = new wasm.Memory({ initial: Math.ceil((reservedBytes + chunkBytes) / PAGE) + 1, maximum: 65_536 })
    this.exports = new wasm.Instance(compiled, { engram: { memory: this.memory } }).exports as unknown as Exports
    this.top = reservedBytes
  }

  /** A chunk's address: a freed one, or a new one (growing the memory if needed). */
  alloc(): number {
    const reused = this.free.pop()
    if (reused !== undefined) return reused
    const address = this.top
    const end = address + this.chunkBytes
    if (end > this.memory.buffer.byteLength) {
      const pages = Math.ceil((end - this.memory.buffer.byteLength) / PAGE)
      // Grow in large steps: growth copies nothing in V8, but each grow detaches the views.
      this.memory.grow(Math.max(pages, Math.ceil(this.memory.buffer.byteLength / PAGE / 4)))
    }
    this.top = end
    return address
  }

  /** Return a chunk to the free list. */
  release(address: number): void {
    this.free.push(address)
  }

  /** Bytes handed out as chunks (in use or free), for memory accounting. */
  get allocatedBytes(): number {
    return this.top - this.reservedBytes
  }

  /** The current view of the memory as `type`. */
  private view<V extends ArrayBufferView>(type: new(buffer: ArrayBufferLike) => V): V {
    const held = this.views.get(type)
    if (held !== undefined && held.buffer === this.memory.buffer) return held as V
    const fresh = new type(this.memory.buffer)
    this.views.set(type, fresh)
    return fresh
  }

  bytes(): Uint8Array {
    return this.view(Uint8Array)
  }

  f32(): Float32Array {
    return this.view(Float32Array)
  }

  i16(): Int16Array {
    return this.view(Int16Array)
  }

  /** out[i] = Σ query[d] · rows[i][d] over `count` f32 rows of `dim` components (dim % 16 = 0). */
  dotF32(query: number, rows: number, count: number, dim: number, out: number): void {
    this.exports.dot_f32(query, rows, count, dim, out)
  }

  /** out[i] = Σ query[d] · hi[i][d]: i16 query, int8 high-byte rows `dim` bytes apart (dim % 16 = 0). */
  dotHi(query: number, rows: number, count: number, dim: number, out: number): void {
    this.exports.dot_hi(query, rows, count, dim, out)
  }

  /**
   * `dotHi` of each of `count` rows with its coarse upper bound, h the row's sum and s = scales[i]
   * (f32 at `scales`): s·(a·h + b + rough) + fixed, computed in f64. Writes the index (i32, at
   * `outIdx`) and h (f32, at `outHi`) of every row whose bound is ≥ `floor`; returns how many. Row
   * i's high bytes are in two parts, as `quantise` writes them: its first `pre` components at
   * rows + i·pre, the others at `split.rest` + i·(dim − pre). A row is dropped after its first part
   * when its bound with `split.qRest` · norms[i] (f32 at `split.norms`) in place of the sum of the
   * others is below `floor`: `qRest` must be at least the query's norm over those components,
   * norms[i] the row's (see `normsHi`).
   */
  scanHi(
    query: number,
    rows: number,
    count: number,
    dim: number,
    scales: number,
    bound: { readonly a: number; readonly b: number; readonly rough: number; readonly fixed: number },
    floor: number,
    outIdx: number,
    outHi: number,
    split: { readonly pre: number; readonly rest: number; readonly norms: number; readonly qRest: number }
  ): number {
    return this.exports.scan_hi(
      query,
      rows,
      split.rest,
      count,
      dim,
      split.pre,
      scales,
      split.norms,
      bound.a,
      bound.b,
      bound.rough,
      bound.fixed,
      floor,
      split.qRest,
      outIdx,
      outHi
    )
  }

  /** out[i] = ‖H[i][from..dim)‖ (f32) for `count` high-byte rows `dim` bytes apart (dim % 16 = 0). */
  normsHi(hi: number, count: number, dim: number, from: number, out: number): void {
    this.exports.norms_hi(hi, count, dim, from, out)
  }

  /**
   * out[i] = Σ query[d] · lo_i[d]: i16 query, the uint8 low-byte row at the i32 address
   * `addresses[i]` (dim % 16 = 0).
   */
  dotLoAt(query: number, addresses: number, count: number, dim: number, out: number): void {
    this.exports.dot_lo_at(query, addresses, count, dim, out)
  }

  /**
   * Rows `src` (f32, `dim` apart, padding zero) unit-normalised and rounded to int16 rows R with one
   * f32 scale each (kernel.wat states the rounding), written as their high bytes (int8, at `hi`) and
   * low bytes (uint8, at `lo`), `dim` bytes apart: R = 256·hi + lo. Returns `count`, or the index of
   * the first row that cannot be held (all zero, or a component not finite), of which nothing is
   * written. With `split`, the high bytes of row i are written in two parts: the first `split.pre`
   * (a multiple of 16) at hi + i·pre, the others at `split.rest` + i·(dim − pre).
   */
  quantise(
    src: number,
    count: number,
    dim: number,
    hi: number,
    lo: number,
    scales: number,
    split: { readonly pre: number; readonly rest: number } = { pre: dim, rest: 0 }
  ): number {
    return this.exports.quantise(src, count, dim, hi, lo, scales, split.pre, split.rest)
  }

  i32(): Int32Array {
    return this.view(Int32Array)
  }

  i8(): Int8Array {
    return this.view(Int8Array)
  }
}
