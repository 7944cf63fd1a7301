//! The AVX-512 version of the micro-kernel: 16-lane vectors, up to four
//! per block row, with as many rows as the 32 registers hold; a partial
//! last vector is masked in every load and store.

use super::{Blocking, Post, Walk};
use std::arch::x86_64::*;

pub(super) const BLOCKING: Blocking = Blocking {
    lanes: 16,
    max_vectors: 4,
    max_rows,
    block,
};

/// Rows per register block for `nv` vectors of 16 columns: as many
/// accumulators as fit beside the right operand's row in 32 registers.
fn max_rows(nv: usize) -> usize {
    match nv {
        1 => 14,
        2 => 12,
        3 => 8,
        _ => 6,
    }
}

/// Picks the kernel instance for `rows x (nv * 16)`.
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
        ($nv:literal: $($r:literal)*) => {
            match rows {
                // SAFETY: forwarded from the caller.
                $($r => unsafe { kernel::<$r, $nv>(a, w, b, ldb, c, ldc, width, post) },)*
                _ => unreachable!("microkernel: {rows} rows for {} vectors", $nv),
            }
        };
    }
    match nv {
        1 => go!(1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14),
        2 => go!(2: 1 2 3 4 5 6 7 8 9 10 11 12),
        3 => go!(3: 1 2 3 4 5 6 7 8),
        _ => go!(4: 1 2 3 4 5 6),
    }
}

/// One `R x (NV * 16)` block of C, of which the first `width` columns are
/// real (the rest are masked off in every load and store).
///
/// # Safety
/// AVX-512F must be available; `a` must be readable at every
/// `i * ia + u * us + v * vs` (`i < R`, `u < ulen`, `v < vlen`), `b` at
/// `p * ldb + j` and `c` writable at `i * ldc + j` for `j < width`; the
/// non-null pointers of `post` readable at `j < width`.
#[target_feature(enable = "avx512f")]
// The row index also offsets the A and C pointers; iterators would hide that.
#[allow(clippy::needless_range_loop)]
unsafe fn kernel<const R: usize, const NV: usize>(
    a: *const f32,
    w: Walk,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    width: usize,
    post: Post,
) {
    let mut masks = [0xFFFFu16; NV];
    let last = width - 16 * (NV - 1);
    masks[NV - 1] = if last >= 16 {
        0xFFFF
    } else {
        (1u16 << last) - 1
    };
    let mut acc = [[_mm512_setzero_ps(); NV]; R];
    // SAFETY: every pointer formed below stays within the ranges the caller
    // guarantees; masked lanes are never read or written.
    unsafe {
        let mut brow = b;
        for u in 0..w.ulen {
            let au = a.add(u * w.us);
            for v in 0..w.vlen {
                let ap = au.add(v * w.vs);
                let mut bv = [_mm512_setzero_ps(); NV];
                for j in 0..NV {
                    bv[j] = _mm512_maskz_loadu_ps(masks[j], brow.add(16 * j));
                }
                for i in 0..R {
                    let av = _mm512_set1_ps(*ap.add(i * w.ia));
                    for j in 0..NV {
                        acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
                    }
                }
                brow = brow.add(ldb);
            }
        }
        // The per-column epilogue vectors, loaded once per block.
        let zero = _mm512_setzero_ps();
        let ones = _mm512_set1_ps(1.0);
        let load = |p: *const f32, j: usize, default| {
            if p.is_null() {
                default
            } else {
                // Non-null vectors hold the block's columns (the caller's promise).
                _mm512_maskz_loadu_ps(masks[j], p.add(16 * j))
            }
        };
        let bias: [__m512; NV] = std::array::from_fn(|j| load(post.bias, j, zero));
        let scale: [__m512; NV] = std::array::from_fn(|j| load(post.scale, j, ones));
        let shift: [__m512; NV] = std::array::from_fn(|j| load(post.shift, j, zero));
        for i in 0..R {
            for j in 0..NV {
                let cp = c.add(i * ldc + 16 * j);
                let mut r = acc[i][j];
                match post.kind {
                    0 => {}
                    1 => r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(masks[j], cp)),
                    _ => {
                        r = _mm512_fmadd_ps(_mm512_add_ps(r, bias[j]), scale[j], shift[j]);
                        // As `layers::activation`: `if v < 0 { alpha * v } else { v }`,
                        // so a NaN passes through (and shows up in the loss).
                        r = match post.slope {
                            None => r,
                            // maxps returns its second operand when one is NaN.
                            Some(0.0) => _mm512_max_ps(zero, r),
                            Some(alpha) => {
                                let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(r, zero);
                                let scaled = _mm512_mul_ps(r, _mm512_set1_ps(alpha));
                                _mm512_mask_blend_ps(negative, r, scaled)
                            }
                        };
                    }
                }
                _mm512_mask_storeu_ps(cp, masks[j], r);
            }
        }
    }
}
