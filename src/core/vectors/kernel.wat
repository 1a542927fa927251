;; Dot products of one query against many rows, and the quantiser that makes the rows, with
;; WebAssembly SIMD (128-bit lanes). Built into kernelModule.ts by scripts/build-kernel.mjs; the test
;; suite rebuilds it and compares.
;;
;; All addresses are byte offsets into the imported memory, 16-byte aligned. A row has `dim`
;; components; `dim` is a multiple of 16 (callers pad with zeros).
;;
;; A row is held as int16 components R (see quantise) split into two planes of bytes: its high
;; bytes H = R >> 8 (int8) and its low bytes L = R & 255 (uint8), so R = 256·H + L exactly. A scan
;; reads the high plane only (half the bytes: the scan is bound by memory bandwidth); the low plane
;; is read for the few rows whose coarse score may reach the top.
;;
;;   dot_f32 (query, rows, count, dim, out)        out[i] = Σ query[d] · rows[i][d]            (f32 · f32)
;;   dot_hi (query, rows, count, dim, out)         out[i] = Σ query[d] · H[i][d]  (i16 query, f32 out)
;;   scan_hi (query, rows, rest, count, dim, pre, scales, norms, a, b, rough, fixed, floor, qRest,
;;            outIdx, outHi) → n                   dot_hi of each row (its high bytes in two parts),
;;                                                 then its coarse upper bound
;;                                                 scales[i]·(a·h + b + rough) + fixed in f64; the
;;                                                 rows whose bound is ≥ floor are written out (index
;;                                                 i32, h f32), n of them; a row is dropped after its
;;                                                 first part when a bound on the rest shows it
;;                                                 cannot reach the floor
;;   norms_hi (hi, count, dim, from, out)           out[i] = ‖H[i][from..dim)‖ (f32)
;;   dot_lo_at (query, addresses, count, dim, out) out[i] = Σ query[d] · L_i[d], the low row of
;;                                                 index i at the i32 address addresses[i]
;;   quantise (src, count, dim, hi, lo, scales, pre, hiRest) → n
;;                                                 each f32 row of src unit-normalised and rounded to
;;                                                 int16 with one scale per row, written as its two
;;                                                 planes; n = count, or the index of the first row
;;                                                 that cannot be held
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

  ;; High bytes against an i16 query, 16 components per step: the bytes widened to i16, then
  ;; i32x4.dot_i16x8_s (exact products, neighbours added). Each i32 lane gathers four products per
  ;; step, |each| ≤ 128·32767, so a block of 1,024 components (256 products a lane) cannot
  ;; overflow; a block's sums are converted to f32 and added.
  (func (export "dot_hi")
    (param $query i32) (param $rows i32) (param $count i32) (param $dim i32) (param $out i32)
    (local $rowEnd i32) (local $blockEnd i32) (local $outEnd i32) (local $q i32)
    (local $h v128) (local $acc v128) (local $sum v128)
    (local.set $outEnd (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))))
    (block $finished
      (loop $eachRow
        (br_if $finished (i32.ge_u (local.get $out) (local.get $outEnd)))
        (local.set $rowEnd (i32.add (local.get $rows) (local.get $dim)))
        (local.set $q (local.get $query))
        (local.set $sum (v128.const i32x4 0 0 0 0))
        (loop $eachBlock
          (local.set $blockEnd (select
            (local.get $rowEnd)
            (i32.add (local.get $rows) (i32.const 1024))
            (i32.lt_u (local.get $rowEnd) (i32.add (local.get $rows) (i32.const 1024)))))
          (local.set $acc (v128.const i32x4 0 0 0 0))
          (loop $eachStep
            (local.set $h (v128.load (local.get $rows)))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $h)) (v128.load offset=0 (local.get $q)))
                (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $h)) (v128.load offset=16 (local.get $q))))))
            (local.set $rows (i32.add (local.get $rows) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 32)))
            (br_if $eachStep (i32.lt_u (local.get $rows) (local.get $blockEnd))))
          (local.set $sum (f32x4.add (local.get $sum) (f32x4.convert_i32x4_s (local.get $acc))))
          (br_if $eachBlock (i32.lt_u (local.get $rows) (local.get $rowEnd))))
        (f32.store (local.get $out)
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $sum)) (f32x4.extract_lane 1 (local.get $sum)))
            (f32.add (f32x4.extract_lane 2 (local.get $sum)) (f32x4.extract_lane 3 (local.get $sum)))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $eachRow))))

  ;; dot_hi fused with the coarse upper bound of VectorIndex.search (the same f64 operations in the
  ;; same order as there): only the rows that may still reach the top — bound ≥ floor — are written
  ;; out, so the caller's JavaScript touches tens of rows of a scan instead of every row.
  ;;
  ;; The high bytes of a row are held in two parts (see quantise): its first `pre` components at
  ;; rows + i·pre, the others at rest + i·(dim − pre). A row is first summed over its first part;
  ;; the sum of the others is at most qRest · norms[i] (Cauchy–Schwarz: qRest ≥ the query's norm
  ;; over those components, norms[i] the row's), so a row whose bound with that in place of the sum
  ;; of its second part is below the floor is dropped without reading that part — the first parts
  ;; of all rows lie together, so a scan that drops most rows reads little more than them.
  (func (export "scan_hi")
    (param $query i32) (param $rows i32) (param $rest i32) (param $count i32) (param $dim i32) (param $pre i32)
    (param $scales i32) (param $norms i32)
    (param $a f64) (param $b f64) (param $rough f64) (param $fixed f64) (param $floor f64) (param $qRest f64)
    (param $outIdx i32) (param $outHi i32)
    (result i32)
    (local $i i32) (local $n i32) (local $p i32) (local $q i32) (local $end i32) (local $blockEnd i32)
    (local $h v128) (local $acc v128) (local $sum v128) (local $s f32) (local $scale f64)
    (block $finished
      (loop $eachRow
        (br_if $finished (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $scale
          (f64.promote_f32 (f32.load (i32.add (local.get $scales) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $sum (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $rows) (i32.mul (local.get $i) (local.get $pre))))
        (local.set $end (i32.add (local.get $p) (local.get $pre)))
        (local.set $q (local.get $query))
        (loop $eachBlock$p
          (local.set $blockEnd (select
            (local.get $end)
            (i32.add (local.get $p) (i32.const 1024))
            (i32.lt_u (local.get $end) (i32.add (local.get $p) (i32.const 1024)))))
          (local.set $acc (v128.const i32x4 0 0 0 0))
          (loop $eachStep$p
            (local.set $h (v128.load (local.get $p)))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $h)) (v128.load offset=0 (local.get $q)))
                (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $h)) (v128.load offset=16 (local.get $q))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 32)))
            (br_if $eachStep$p (i32.lt_u (local.get $p) (local.get $blockEnd))))
          (local.set $sum (f32x4.add (local.get $sum) (f32x4.convert_i32x4_s (local.get $acc))))
          (br_if $eachBlock$p (i32.lt_u (local.get $p) (local.get $end))))
        (block $dropped
          (if (i32.lt_u (local.get $pre) (local.get $dim))
            (then
              (br_if $dropped (f64.lt
                (f64.add
                  (f64.mul (local.get $scale)
                    (f64.add
                      (f64.add
                        (f64.mul (local.get $a)
                          (f64.add (f64.promote_f32 (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $sum)) (f32x4.extract_lane 1 (local.get $sum)))
              (f32.add (f32x4.extract_lane 2 (local.get $sum)) (f32x4.extract_lane 3 (local.get $sum)))))
                            (f64.mul (local.get $qRest)
                              (f64.promote_f32
                                (f32.load (i32.add (local.get $norms) (i32.shl (local.get $i) (i32.const 2))))))))
                        (local.get $b))
                      (local.get $rough)))
                  (local.get $fixed))
                (local.get $floor)))
              (local.set $p (i32.add (local.get $rest)
                (i32.mul (local.get $i) (i32.sub (local.get $dim) (local.get $pre)))))
              (local.set $end (i32.add (local.get $p) (i32.sub (local.get $dim) (local.get $pre))))
        (loop $eachBlock$p
          (local.set $blockEnd (select
            (local.get $end)
            (i32.add (local.get $p) (i32.const 1024))
            (i32.lt_u (local.get $end) (i32.add (local.get $p) (i32.const 1024)))))
          (local.set $acc (v128.const i32x4 0 0 0 0))
          (loop $eachStep$p
            (local.set $h (v128.load (local.get $p)))
            (local.set $acc (i32x4.add (local.get $acc)
              (i32x4.add
                (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $h)) (v128.load offset=0 (local.get $q)))
                (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $h)) (v128.load offset=16 (local.get $q))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 32)))
            (br_if $eachStep$p (i32.lt_u (local.get $p) (local.get $blockEnd))))
          (local.set $sum (f32x4.add (local.get $sum) (f32x4.convert_i32x4_s (local.get $acc))))
          (br_if $eachBlock$p (i32.lt_u (local.get $p) (local.get $end))))
))
          (local.set $s (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $sum)) (f32x4.extract_lane 1 (local.get $sum)))
              (f32.add (f32x4.extract_lane 2 (local.get $sum)) (f32x4.extract_lane 3 (local.get $sum)))))
          (if (f64.ge
                (f64.add
                  (f64.mul (local.get $scale)
                    (f64.add
                      (f64.add (f64.mul (local.get $a) (f64.promote_f32 (local.get $s))) (local.get $b))
                      (local.get $rough)))
                  (local.get $fixed))
                (local.get $floor))
            (then
              (i32.store (i32.add (local.get $outIdx) (i32.shl (local.get $n) (i32.const 2))) (local.get $i))
              (f32.store (i32.add (local.get $outHi) (i32.shl (local.get $n) (i32.const 2))) (local.get $s))
              (local.set $n (i32.add (local.get $n) (i32.const 1))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $eachRow)))
    (local.get $n))

  ;; out[i] = √(Σ H[i][d]², d ≥ from), f32: the norm of each high-byte row (`dim` bytes apart) past
  ;; its first `from` components (exact integer sum, f64 root).
  (func (export "norms_hi") (param $hi i32) (param $count i32) (param $dim i32) (param $from i32) (param $out i32)
    (local $i i32) (local $p i32) (local $end i32) (local $acc v128) (local $h v128) (local $w v128)
    (block $finished
      (loop $eachRow
        (br_if $finished (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $p (i32.add (local.get $hi) (i32.add (i32.mul (local.get $i) (local.get $dim)) (local.get $from))))
        (local.set $end (i32.add (local.get $hi) (i32.mul (i32.add (local.get $i) (i32.const 1)) (local.get $dim))))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (block $done
          (loop $eachStep
            (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $h (v128.load (local.get $p)))
            (local.set $w (i16x8.extend_low_i8x16_s (local.get $h)))
            (local.set $acc (i32x4.add (local.get $acc) (i32x4.dot_i16x8_s (local.get $w) (local.get $w))))
            (local.set $w (i16x8.extend_high_i8x16_s (local.get $h)))
            (local.set $acc (i32x4.add (local.get $acc) (i32x4.dot_i16x8_s (local.get $w) (local.get $w))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $eachStep)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (f32.demote_f64 (f64.sqrt (f64.add
            (f64.add
              (f64.convert_i32_u (i32x4.extract_lane 0 (local.get $acc)))
              (f64.convert_i32_u (i32x4.extract_lane 1 (local.get $acc))))
            (f64.add
              (f64.convert_i32_u (i32x4.extract_lane 2 (local.get $acc)))
              (f64.convert_i32_u (i32x4.extract_lane 3 (local.get $acc))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $eachRow))))

  ;; Low bytes (unsigned) of the rows at the given addresses against an i16 query, 16 components
  ;; per step; each step's i32 lanes (|each| ≤ 2·255·32767) are converted to f32 at once.
  (func (export "dot_lo_at")
    (param $query i32) (param $addresses i32) (param $count i32) (param $dim i32) (param $out i32)
    (local $row i32) (local $rowEnd i32) (local $outEnd i32) (local $q i32) (local $l v128) (local $sum v128)
    (local.set $outEnd (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))))
    (block $finished
      (loop $eachRow
        (br_if $finished (i32.ge_u (local.get $out) (local.get $outEnd)))
        (local.set $row (i32.load (local.get $addresses)))
        (local.set $rowEnd (i32.add (local.get $row) (local.get $dim)))
        (local.set $q (local.get $query))
        (local.set $sum (v128.const i32x4 0 0 0 0))
        (loop $eachStep
          (local.set $l (v128.load (local.get $row)))
          (local.set $sum (f32x4.add (local.get $sum) (f32x4.convert_i32x4_s
            (i32x4.add
              (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $l)) (v128.load offset=0 (local.get $q)))
              (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $l)) (v128.load offset=16 (local.get $q)))))))
          (local.set $row (i32.add (local.get $row) (i32.const 16)))
          (local.set $q (i32.add (local.get $q) (i32.const 32)))
          (br_if $eachStep (i32.lt_u (local.get $row) (local.get $rowEnd))))
        (f32.store (local.get $out)
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $sum)) (f32x4.extract_lane 1 (local.get $sum)))
            (f32.add (f32x4.extract_lane 2 (local.get $sum)) (f32x4.extract_lane 3 (local.get $sum)))))
        (local.set $addresses (i32.add (local.get $addresses) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $eachRow))))

  ;; f32 rows (at src, `dim` components apart) to int16 rows R, written as their high and low byte
  ;; planes, and f32 scales: row i is v/‖v‖ ≈ scales[i] · R, with
  ;; scale = top/‖v‖/32767 and R[d] = v[d]·(32767/top) rounded to the nearest integer, top the
  ;; largest |v[d]|. Everything is computed in f64 (the norm's sum of
  ;; squares, the product, the rounding), so each component is off by at most half a step plus f64
  ;; rounding: the error bound of VectorIndex.search. Padding components must be zero (they stay 0).
  ;; A row whose sum of squares is not positive and finite (all zero, or a component NaN or infinite)
  ;; stops the run before anything of it is written: the result is its index (count when none).
  ;; The low bytes of row i go to lo + i·dim; its high bytes in two parts (`pre` a multiple of 16,
  ;; at most dim): the first `pre` to hi + i·pre, the others to hiRest + i·(dim − pre).
  (func (export "quantise")
    (param $src i32) (param $count i32) (param $dim i32) (param $hi i32) (param $lo i32) (param $scales i32)
    (param $pre i32) (param $hiRest i32)
    (result i32)
    (local $i i32) (local $p i32) (local $end i32) (local $outHi i32) (local $outLo i32)
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
        ;; Pass 2: 16 components per step, v·k rounded in f64 and narrowed to i16 (|v·k| ≤ 32767),
        ;; then split: the high bytes (arithmetic shift: -128..127) and the low bytes (0..255).
        (local.set $p (local.get $src))
        (local.set $outHi (local.get $hi))
        (local.set $outLo (local.get $lo))
        (loop $write
          (local.set $a (call $round8 (local.get $p) (local.get $k)))
          (local.set $b (call $round8 (i32.add (local.get $p) (i32.const 32)) (local.get $k)))
          (v128.store (local.get $outHi)
            (i8x16.narrow_i16x8_s (i16x8.shr_s (local.get $a) (i32.const 8)) (i16x8.shr_s (local.get $b) (i32.const 8))))
          (v128.store (local.get $outLo)
            (i8x16.narrow_i16x8_u
              (v128.and (local.get $a) (v128.const i16x8 255 255 255 255 255 255 255 255))
              (v128.and (local.get $b) (v128.const i16x8 255 255 255 255 255 255 255 255))))
          (local.set $p (i32.add (local.get $p) (i32.const 64)))
          (local.set $outHi (i32.add (local.get $outHi) (i32.const 16)))
          ;; Past the first `pre` components, the high bytes go on in the second part.
          (if (i32.eq (local.get $outHi) (i32.add (local.get $hi) (local.get $pre)))
            (then (local.set $outHi (local.get $hiRest))))
          (local.set $outLo (i32.add (local.get $outLo) (i32.const 16)))
          (br_if $write (i32.lt_u (local.get $p) (local.get $end))))
        (local.set $src (local.get $end))
        (local.set $hi (i32.add (local.get $hi) (local.get $pre)))
        (local.set $hiRest (i32.add (local.get $hiRest) (i32.sub (local.get $dim) (local.get $pre))))
        (local.set $lo (i32.add (local.get $lo) (local.get $dim)))
        (local.set $scales (i32.add (local.get $scales) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $eachRow)))
    (local.get $i))

;; Eight f32 components at p, times k in f64, rounded to the nearest integers, as i16x8.
  (func $round8 (param $p i32) (param $k v128) (result v128)
    (local $x v128) (local $lo v128) (local $hi v128)
    (local.set $x (v128.load offset=0 (local.get $p)))
    (local.set $lo (call $round4 (local.get $x) (local.get $k)))
    (local.set $x (v128.load offset=16 (local.get $p)))
    (local.set $hi (call $round4 (local.get $x) (local.get $k)))
    (i16x8.narrow_i32x4_s (local.get $lo) (local.get $hi)))

  ;; Four f32 lanes times k in f64, rounded to the nearest integers, as i32x4.
  (func $round4 (param $x v128) (param $k v128) (result v128)
    (local $a v128) (local $b v128)
    (local.set $a (i32x4.trunc_sat_f64x2_s_zero (f64x2.nearest
      (f64x2.mul (local.get $k) (f64x2.promote_low_f32x4 (local.get $x))))))
    (local.set $b (i32x4.trunc_sat_f64x2_s_zero (f64x2.nearest
      (f64x2.mul (local.get $k) (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))))))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b)))
)
