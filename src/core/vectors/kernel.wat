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
;;   dot_i16i16 (query, rows, scales, count, dim, out)
;;                                                   out[i] = scales[i] · Σ query[d] · rows[i][d]
;;                                                   query and rows as i16: exact integer products
;;                                                   (i32x4.dot_i16x8_s), a third of the instructions
;;                                                   of dot_i16 (the scan is bound by them, not by memory)
;;   quantise_i16 (src, count, dim, rows, scales) → n
;;                                                   each f32 row of src unit-normalised and rounded to
;;                                                   i16 with one scale per row (see below); n = count,
;;                                                   or the index of the first row that cannot be held
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
;; i16 rows against an i16 query, four rows at a time (each query load serves four rows, and eight
  ;; independent sums keep the adds' latency hidden), then one row at a time for the rest. Per step
  ;; of 16 components, i32x4.dot_i16x8_s multiplies eight pairs exactly and adds neighbours
  ;; (|each lane| ≤ 2·32767², which fits i32); each lane is converted to f32 at once (two lanes added
  ;; in i32 could overflow) and summed in f32.
  (func (export "dot_i16i16")
    (param $query i32) (param $rows i32) (param $scales i32) (param $count i32) (param $dim i32) (param $out i32)
    (local $rowBytes i32) (local $end i32) (local $outEnd i32) (local $q i32) (local $qa v128) (local $qb v128)
    (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $a0 v128) (local $b0 v128) (local $a1 v128) (local $b1 v128)
    (local $a2 v128) (local $b2 v128) (local $a3 v128) (local $b3 v128)
    (local.set $rowBytes (i32.shl (local.get $dim) (i32.const 1)))
    (local.set $outEnd (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))))
    (block $quadsDone
      (loop $eachQuad
        (br_if $quadsDone (i32.gt_u (i32.add (local.get $out) (i32.const 16)) (local.get $outEnd)))
        (local.set $r1 (i32.add (local.get $rows) (local.get $rowBytes)))
        (local.set $r2 (i32.add (local.get $r1) (local.get $rowBytes)))
        (local.set $r3 (i32.add (local.get $r2) (local.get $rowBytes)))
        (local.set $end (local.get $r1))
        (local.set $q (local.get $query))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $b3 (v128.const i32x4 0 0 0 0))
        (loop $eachStep
          (local.set $qa (v128.load offset=0 (local.get $q)))
          (local.set $qb (v128.load offset=16 (local.get $q)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=0 (local.get $rows)) (local.get $qa)))))
          (local.set $b0 (f32x4.add (local.get $b0) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=16 (local.get $rows)) (local.get $qb)))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=0 (local.get $r1)) (local.get $qa)))))
          (local.set $b1 (f32x4.add (local.get $b1) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=16 (local.get $r1)) (local.get $qb)))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=0 (local.get $r2)) (local.get $qa)))))
          (local.set $b2 (f32x4.add (local.get $b2) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=16 (local.get $r2)) (local.get $qb)))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=0 (local.get $r3)) (local.get $qa)))))
          (local.set $b3 (f32x4.add (local.get $b3) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=16 (local.get $r3)) (local.get $qb)))))
          (local.set $rows (i32.add (local.get $rows) (i32.const 32)))
          (local.set $r1 (i32.add (local.get $r1) (i32.const 32)))
          (local.set $r2 (i32.add (local.get $r2) (i32.const 32)))
          (local.set $r3 (i32.add (local.get $r3) (i32.const 32)))
          (local.set $q (i32.add (local.get $q) (i32.const 32)))
          (br_if $eachStep (i32.lt_u (local.get $rows) (local.get $end))))
        (local.set $a0 (f32x4.add (local.get $a0) (local.get $b0)))
        (local.set $a1 (f32x4.add (local.get $a1) (local.get $b1)))
        (local.set $a2 (f32x4.add (local.get $a2) (local.get $b2)))
        (local.set $a3 (f32x4.add (local.get $a3) (local.get $b3)))
        (f32.store offset=0 (local.get $out) (f32.mul (f32.load offset=0 (local.get $scales))
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
            (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0))))))
        (f32.store offset=4 (local.get $out) (f32.mul (f32.load offset=4 (local.get $scales))
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a1)) (f32x4.extract_lane 1 (local.get $a1)))
            (f32.add (f32x4.extract_lane 2 (local.get $a1)) (f32x4.extract_lane 3 (local.get $a1))))))
        (f32.store offset=8 (local.get $out) (f32.mul (f32.load offset=8 (local.get $scales))
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a2)) (f32x4.extract_lane 1 (local.get $a2)))
            (f32.add (f32x4.extract_lane 2 (local.get $a2)) (f32x4.extract_lane 3 (local.get $a2))))))
        (f32.store offset=12 (local.get $out) (f32.mul (f32.load offset=12 (local.get $scales))
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a3)) (f32x4.extract_lane 1 (local.get $a3)))
            (f32.add (f32x4.extract_lane 2 (local.get $a3)) (f32x4.extract_lane 3 (local.get $a3))))))
        ;; The step loop left $rows at the end of row 0; the next quad starts after row 3.
        (local.set $rows (local.get $r3))
        (local.set $scales (i32.add (local.get $scales) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $eachQuad)))
    (block $finished
      (loop $eachRow
        (br_if $finished (i32.ge_u (local.get $out) (local.get $outEnd)))
        (local.set $end (i32.add (local.get $rows) (local.get $rowBytes)))
        (local.set $q (local.get $query))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (loop $eachStep
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=0 (local.get $rows)) (v128.load offset=0 (local.get $q))))))
          (local.set $b0 (f32x4.add (local.get $b0) (f32x4.convert_i32x4_s
            (i32x4.dot_i16x8_s (v128.load offset=16 (local.get $rows)) (v128.load offset=16 (local.get $q))))))
          (local.set $rows (i32.add (local.get $rows) (i32.const 32)))
          (local.set $q (i32.add (local.get $q) (i32.const 32)))
          (br_if $eachStep (i32.lt_u (local.get $rows) (local.get $end))))
        (local.set $a0 (f32x4.add (local.get $a0) (local.get $b0)))
        (f32.store (local.get $out)
          (f32.mul
            (f32.load (local.get $scales))
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
              (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0))))))
        (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $eachRow))))

  ;; f32 rows (at src, `dim` apart) to i16 rows (at rows, `dim` apart) and f32 scales: row i is
  ;; v/‖v‖ ≈ scales[i] · rows[i], with scale = top/‖v‖/32767 and rows[i][d] = v[d]·(32767/top) rounded
  ;; to the nearest integer, top the largest |v[d]|. Everything is computed in f64 (the norm's sum of
  ;; squares, the product, the rounding), so each component is off by at most half a step plus f64
  ;; rounding: the error bound of VectorIndex.search. Padding components must be zero (they stay 0).
  ;; A row whose sum of squares is not positive and finite (all zero, or a component NaN or infinite)
  ;; stops the run before anything of it is written: the result is its index (count when none).
  (func (export "quantise_i16")
    (param $src i32) (param $count i32) (param $dim i32) (param $rows i32) (param $scales i32) (result i32)
    (local $i i32) (local $p i32) (local $end i32) (local $out i32)
    (local $x v128) (local $sum v128) (local $top v128) (local $k v128) (local $a v128) (local $b v128)
    (local $sumsq f64) (local $t f64) (local $kf f64)
    (block $finished
      (loop $eachRow
        (br_if $finished (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $end (i32.add (local.get $src) (i32.shl (local.get $dim) (i32.const 2))))
        ;; Pass 1: the sum of squares (two f64 lanes) and the largest magnitude (four f32 lanes).
        (local.set $sum (v128.const i64x2 0 0))
        (local.set $top (v128.const i32x4 0 0 0 0))
        (local.set $p (local.get $src))
        (loop $measure
          (local.set $x (v128.load (local.get $p)))
          (local.set $a (f64x2.promote_low_f32x4 (local.get $x)))
          (local.set $b (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
          (local.set $sum (f64x2.add (local.get $sum)
            (f64x2.add (f64x2.mul (local.get $a) (local.get $a)) (f64x2.mul (local.get $b) (local.get $b)))))
          (local.set $top (f32x4.max (local.get $top) (f32x4.abs (local.get $x))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $measure (i32.lt_u (local.get $p) (local.get $end))))
        (local.set $sumsq (f64.add (f64x2.extract_lane 0 (local.get $sum)) (f64x2.extract_lane 1 (local.get $sum))))
        ;; Not (0 < sumsq < ∞): all zero, NaN or infinite.
        (br_if $finished (i32.eqz (i32.and
          (f64.gt (local.get $sumsq) (f64.const 0))
          (f64.lt (local.get $sumsq) (f64.const inf)))))
        (local.set $t (f64.promote_f32 (f32.max
          (f32.max (f32x4.extract_lane 0 (local.get $top)) (f32x4.extract_lane 1 (local.get $top)))
          (f32.max (f32x4.extract_lane 2 (local.get $top)) (f32x4.extract_lane 3 (local.get $top))))))
        (f32.store (local.get $scales)
          (f32.demote_f64 (f64.div (f64.div (local.get $t) (f64.sqrt (local.get $sumsq))) (f64.const 32767))))
        (local.set $kf (f64.div (f64.const 32767) (local.get $t)))
        (local.set $k (f64x2.splat (local.get $kf)))
        ;; Pass 2: eight components per step, v·k rounded in f64, narrowed to i16 (|v·k| ≤ 32767).
        (local.set $p (local.get $src))
        (local.set $out (local.get $rows))
        (loop $write
          (local.set $x (v128.load (local.get $p)))
          (local.set $a (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (i32x4.trunc_sat_f64x2_s_zero (f64x2.nearest (f64x2.mul (local.get $k)
              (f64x2.promote_low_f32x4 (local.get $x)))))
            (i32x4.trunc_sat_f64x2_s_zero (f64x2.nearest (f64x2.mul (local.get $k)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))))))
          (local.set $x (v128.load offset=16 (local.get $p)))
          (local.set $b (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (i32x4.trunc_sat_f64x2_s_zero (f64x2.nearest (f64x2.mul (local.get $k)
              (f64x2.promote_low_f32x4 (local.get $x)))))
            (i32x4.trunc_sat_f64x2_s_zero (f64x2.nearest (f64x2.mul (local.get $k)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))))))
          (v128.store (local.get $out) (i16x8.narrow_i32x4_s (local.get $a) (local.get $b)))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (local.set $out (i32.add (local.get $out) (i32.const 16)))
          (br_if $write (i32.lt_u (local.get $p) (local.get $end))))
        (local.set $src (local.get $end))
        (local.set $rows (i32.add (local.get $rows) (i32.shl (local.get $dim) (i32.const 1))))
        (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $eachRow)))
    (local.get $i))
)
