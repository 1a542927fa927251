;; Dot products of one query against many rows, with WebAssembly SIMD (128-bit lanes).
;; Built into kernelModule.ts by scripts/build-kernel.mjs; the test suite rebuilds it and compares.
;;
;; All addresses are byte offsets into the imported memory, 16-byte aligned. A row has `dim`
;; components; `dim` is a multiple of 16 (callers pad with zeros).
;; Each function writes one f32 score per row, in row order, at `out`.
;;
;;   dot_f32 (query, rows, count, dim, out)          out[i] = Σ query[d] · rows[i][d]        (f32 · f32)
;;   dot_i16 (query, rows, scales, count, dim, out)  out[i] = scales[i] · Σ query[d] · rows[i][d]
;;                                                   query as f32, rows as i16 (half the bytes of
;;                                                   f32 rows: the scan is bound by memory bandwidth)
(module
  (import "engram" "memory" (memory 1 65536))

  ;; f32 rows: 16 components (four lanes of four) per step, four independent sums.
  (func (export "dot_f32")
    (param $query i32) (param $rows i32) (param $count i32) (param $dim i32) (param $out i32)
    (local $rowEnd i32) (local $outEnd i32) (local $q i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $outEnd (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))))
    (block $finished
      (loop $eachRow
        (br_if $finished (i32.ge_u (local.get $out) (local.get $outEnd)))
        (local.set $rowEnd (i32.add (local.get $rows) (i32.shl (local.get $dim) (i32.const 2))))
        (local.set $q (local.get $query))
        (local.set $s0 (v128.const i32x4 0 0 0 0))
        (local.set $s1 (v128.const i32x4 0 0 0 0))
        (local.set $s2 (v128.const i32x4 0 0 0 0))
        (local.set $s3 (v128.const i32x4 0 0 0 0))
        (loop $eachStep
          (local.set $s0 (f32x4.add (local.get $s0)
            (f32x4.mul (v128.load offset=0 (local.get $rows)) (v128.load offset=0 (local.get $q)))))
          (local.set $s1 (f32x4.add (local.get $s1)
            (f32x4.mul (v128.load offset=16 (local.get $rows)) (v128.load offset=16 (local.get $q)))))
          (local.set $s2 (f32x4.add (local.get $s2)
            (f32x4.mul (v128.load offset=32 (local.get $rows)) (v128.load offset=32 (local.get $q)))))
          (local.set $s3 (f32x4.add (local.get $s3)
            (f32x4.mul (v128.load offset=48 (local.get $rows)) (v128.load offset=48 (local.get $q)))))
          (local.set $rows (i32.add (local.get $rows) (i32.const 64)))
          (local.set $q (i32.add (local.get $q) (i32.const 64)))
          (br_if $eachStep (i32.lt_u (local.get $rows) (local.get $rowEnd))))
        (local.set $s0 (f32x4.add (f32x4.add (local.get $s0) (local.get $s1)) (f32x4.add (local.get $s2) (local.get $s3))))
        (f32.store (local.get $out)
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
            (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $eachRow))))

  ;; i16 rows against an f32 query: 16 components per step. Each 16-byte load of a row holds eight
  ;; i16 components, widened to two i32x4 halves and converted to f32; the products with the query
  ;; are summed in four f32 accumulators, and the row's sum is multiplied by its scale.
  (func (export "dot_i16")
    (param $query i32) (param $rows i32) (param $scales i32) (param $count i32) (param $dim i32) (param $out i32)
    (local $rowEnd i32) (local $outEnd i32) (local $q i32) (local $lanes v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $outEnd (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))))
    (block $finished
      (loop $eachRow
        (br_if $finished (i32.ge_u (local.get $out) (local.get $outEnd)))
        (local.set $rowEnd (i32.add (local.get $rows) (i32.shl (local.get $dim) (i32.const 1))))
        (local.set $q (local.get $query))
        (local.set $s0 (v128.const i32x4 0 0 0 0))
        (local.set $s1 (v128.const i32x4 0 0 0 0))
        (local.set $s2 (v128.const i32x4 0 0 0 0))
        (local.set $s3 (v128.const i32x4 0 0 0 0))
        (loop $eachStep
          (local.set $lanes (v128.load offset=0 (local.get $rows)))
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul
            (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lanes))) (v128.load offset=0 (local.get $q)))))
          (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul
            (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lanes))) (v128.load offset=16 (local.get $q)))))
          (local.set $lanes (v128.load offset=16 (local.get $rows)))
          (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul
            (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $lanes))) (v128.load offset=32 (local.get $q)))))
          (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul
            (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $lanes))) (v128.load offset=48 (local.get $q)))))
          (local.set $rows (i32.add (local.get $rows) (i32.const 32)))
          (local.set $q (i32.add (local.get $q) (i32.const 64)))
          (br_if $eachStep (i32.lt_u (local.get $rows) (local.get $rowEnd))))
        (local.set $s0 (f32x4.add (f32x4.add (local.get $s0) (local.get $s1)) (f32x4.add (local.get $s2) (local.get $s3))))
        (f32.store (local.get $out)
          (f32.mul
            (f32.load (local.get $scales))
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
              (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0))))))
        (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $eachRow))))
)
