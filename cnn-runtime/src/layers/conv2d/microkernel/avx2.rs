//! The AVX2 + FMA version of the micro-kernel: 8-lane vectors and 16
//! registers, so blocks are `6 x 16` (12 accumulators, two vectors of the
//! right operand's row, one broadcast) or, for a column block of at most 8,
//! up to 13 rows of one vector. Wider blocks fit fewer rows and were no
//! faster on ResNet-20's shapes (`4 x 24` and `3 x 32`: the same or slower
//! than `6 x 16`; `13 x 8` everywhere: a fifth slower). A partial last
//! vector goes through `vmaskmovps` with a lane mask; full-width blocks are
//! a separate instance, so that their inner loop carries no masked load.

use super::{Blocking, Post, Walk};
use std::arch::x86_64::*;

pub(super) const BLOCKING: Blocking = Blocking {
    lanes: 8,
    max_vectors: 2,
    max_rows,
    block,
};

/// How many B rows ahead the kernel prefetches. Measured on ResNet-20's
/// 8x8x64 stage, whose kernel (147 KB) overflows L1: forward 61 -> 77
/// GFLOP/s per CPU second with any distance from 4 to 16; no change on the
/// stages whose kernel fits.
const PREFETCH: usize = 8;

/// Rows per register block for `nv` vectors of 8 columns: accumulators,
/// `nv` vectors of B and the broadcast within 16 registers (13 + 1 + 1
/// leaves the compiler one).
fn max_rows(nv: usize) -> usize {
    match nv {
        1 => 13,
        _ => 6,
    }
}

/// Picks the kernel instance for `rows x (nv * 8)`.
///
/// # Safety
/// As [`Blocking::block`], with `rows <= max_rows(nv)`.
unsafe fn block(
    rows: usize,
    nv: usize,
    a: *const f32,
    w: Walk,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    width: usize,
    post: Post,
) {
    macro_rules! go {
        ($nv:literal, $tail:literal: $($r:literal)*) => {
            match rows {
                // SAFETY: forwarded from the caller.
                $($r => unsafe { kernel::<$r, $nv, $tail>(a, w, b, ldb, c, ldc, width, post) },)*
                _ => unreachable!("microkernel: {rows} rows for {} vectors", $nv),
            }
        };
    }
    match (nv, !width.is_multiple_of(8)) {
        (1, false) => go!(1, false: 1 2 3 4 5 6 7 8 9 10 11 12 13),
        (1, true) => go!(1, true: 1 2 3 4 5 6 7 8 9 10 11 12 13),
        (_, false) => go!(2, false: 1 2 3 4 5 6),
        (_, true) => go!(2, true: 1 2 3 4 5 6),
    }
}

/// Loads vector `j` of a block's row at `p`: with `TAIL`, the last one
/// (`j + 1 == NV`) only in the lanes `mask` sets, the others read as zero
/// and their memory untouched.
///
/// # Safety
/// AVX2 must be available; `p` readable at the loaded lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load<const NV: usize, const TAIL: bool>(
    p: *const f32,
    j: usize,
    mask: __m256i,
) -> __m256 {
    // SAFETY: the caller's promise.
    unsafe {
        if TAIL && j + 1 == NV {
            _mm256_maskload_ps(p, mask)
        } else {
            _mm256_loadu_ps(p)
        }
    }
}

/// Stores vector `j` of a block's row at `p`, masked as [`load`] reads.
///
/// # Safety
/// AVX2 must be available; `p` writable at the stored lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store<const NV: usize, const TAIL: bool>(
    p: *mut f32,
    j: usize,
    mask: __m256i,
    v: __m256,
) {
    // SAFETY: the caller's promise.
    unsafe {
        if TAIL && j + 1 == NV {
            _mm256_maskstore_ps(p, mask, v)
        } else {
            _mm256_storeu_ps(p, v)
        }
    }
}

/// One `R x (NV * 8)` block of C, of which the first `width` columns are
/// real; with `TAIL` the last vector is partial and masked in every load
/// and store, without it `width` is `NV * 8`.
///
/// # Safety
/// AVX2 and FMA must be available; `a` must be readable at every
/// `i * ia + u * us + v * vs` (`i < R`, `u < ulen`, `v < vlen`), `b` at
/// `p * ldb + j` and `c` writable at `i * ldc + j` for `j < width`; the
/// non-null pointers of `post` readable at `j < width`.
#[target_feature(enable = "avx2,fma")]
// The row index also offsets the A and C pointers; iterators would hide that.
#[allow(clippy::needless_range_loop)]
unsafe fn kernel<const R: usize, const NV: usize, const TAIL: bool>(
    a: *const f32,
    w: Walk,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    width: usize,
    post: Post,
) {
    // Lane l of the last vector is real when l < last.
    let last = width - 8 * (NV - 1);
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(last as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let mut acc = [[_mm256_setzero_ps(); NV]; R];
    // SAFETY: every pointer formed below stays within the ranges the caller
    // guarantees; masked lanes are never read or written.
    unsafe {
        let mut brow = b;
        for u in 0..w.ulen {
            let au = a.add(u * w.us);
            for v in 0..w.vlen {
                let ap = au.add(v * w.vs);
                // B rows `PREFETCH` ahead: a kernel too large for L1
                // (ResNet-20's last stage, 147 KB) streams from L2 with
                // one B row per step, faster than the prefetchers follow.
                // Near the end the address lies past B: `wrapping_add`
                // forms it without a claim on the allocation, and a
                // prefetch never faults.
                _mm_prefetch::<_MM_HINT_T0>(brow.wrapping_add(PREFETCH * ldb) as *const i8);
                let mut bv = [_mm256_setzero_ps(); NV];
                for j in 0..NV {
                    bv[j] = load::<NV, TAIL>(brow.add(8 * j), j, mask);
                }
                for i in 0..R {
                    let av = _mm256_broadcast_ss(&*ap.add(i * w.ia));
                    for j in 0..NV {
                        acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
                    }
                }
                brow = brow.add(ldb);
            }
        }
        // The per-column epilogue vectors, loaded once per block.
        let zero = _mm256_setzero_ps();
        let ones = _mm256_set1_ps(1.0);
        let (mut bias, mut scale, mut shift) = ([zero; NV], [ones; NV], [zero; NV]);
        for j in 0..NV {
            // Non-null vectors hold the block's columns (the caller's promise).
            for (v, p) in [
                (&mut bias[j], post.bias),
                (&mut scale[j], post.scale),
                (&mut shift[j], post.shift),
            ] {
                if !p.is_null() {
                    *v = load::<NV, TAIL>(p.add(8 * j), j, mask);
                }
            }
        }
        for i in 0..R {
            for j in 0..NV {
                let cp = c.add(i * ldc + 8 * j);
                let mut r = acc[i][j];
                match post.kind {
                    0 => {}
                    1 => r = _mm256_add_ps(r, load::<NV, TAIL>(cp, j, mask)),
                    _ => {
                        r = _mm256_fmadd_ps(_mm256_add_ps(r, bias[j]), scale[j], shift[j]);
                        // As `layers::activation`: `if v < 0 { alpha * v } else { v }`,
                        // so a NaN passes through (and shows up in the loss).
                        r = match post.slope {
                            None => r,
                            // maxps returns its second operand when one is NaN.
                            Some(0.0) => _mm256_max_ps(zero, r),
                            Some(alpha) => {
                                // Ordered: false for NaN, which keeps r.
                                let negative = _mm256_cmp_ps::<_CMP_LT_OQ>(r, zero);
                                let scaled = _mm256_mul_ps(r, _mm256_set1_ps(alpha));
                                _mm256_blendv_ps(r, scaled, negative)
                            }
                        };
                    }
                }
                store::<NV, TAIL>(cp, j, mask, r);
            }
        }
    }
}
