//! The windows of max pooling that lie inside the input
//! ([`super::max_interior`], a region of the outputs) with
//! vector instructions: AVX-512 (16 channels under a mask) and AVX2 (8
//! channels, the last block under a lane mask), each with four output
//! pixels in flight.

use super::Region;
use crate::geom::PoolGeom;

/// Checks that `region`'s windows are inside an input of `x_len`
/// elements and its outputs inside `out_len`, then visits its pixels a
/// row at a time: `four(oh, ow)` for pixels `ow..ow + 4`, `one(oh, ow)`
/// for the last few. Both instruction sets' drivers.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn walk(
    g: &PoolGeom,
    region: Region,
    [x_len, out_len]: [usize; 2],
    mut four: impl FnMut(usize, usize),
    mut one: impl FnMut(usize, usize),
) {
    // The last window ends at the example's last element at most.
    assert!(region.inside(g), "max pool: {region:?} is not inside {g:?}");
    let row = g.in_w * g.c;
    let last_in = ((region.oh1 - 1) * g.sh - g.pad_top + g.fh - 1) * row
        + ((region.ow1 - 1) * g.sw - g.pad_left + g.fw) * g.c;
    assert!(last_in <= x_len && g.out_h * g.out_w * g.c <= out_len);
    assert!(x_len <= i32::MAX as usize);
    for oh in region.oh0..region.oh1 {
        let mut ow = region.ow0;
        while ow + 4 <= region.ow1 {
            four(oh, ow);
            ow += 4;
        }
        while ow < region.ow1 {
            one(oh, ow);
            ow += 1;
        }
    }
}

/// [`super::max_interior`] with AVX-512: 16 channels per masked vector; a
/// compare mask picks the new max and its index. Four output pixels go
/// through the window together, so that four compare-and-select chains
/// overlap instead of each waiting on the last.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) fn max_interior_avx512<const TRACK: bool>(
    g: &PoolGeom,
    region: Region,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) {
    let (xp, yp, ap) = (x.as_ptr(), y.as_mut_ptr(), argmax.as_mut_ptr());
    let out_len = if TRACK {
        y.len().min(argmax.len())
    } else {
        y.len()
    };
    walk(
        g,
        region,
        [x.len(), out_len],
        // SAFETY: `walk` checked that the pixels exist and their windows
        // are inside x (and, when TRACK, that argmax holds them).
        |oh, ow| unsafe { max_pixels_avx512::<4, TRACK>(g, xp, yp, ap, oh, ow) },
        |oh, ow| unsafe { max_pixels_avx512::<1, TRACK>(g, xp, yp, ap, oh, ow) },
    );
}

/// Output pixels `ow..ow + P` of row `oh` of [`max_interior_avx512`].
///
/// # Safety
/// The CPU has AVX-512F; those pixels exist; every window is inside x
/// (whose elements `xp` points to), and `yp`, `ap` hold the outputs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn max_pixels_avx512<const P: usize, const TRACK: bool>(
    g: &PoolGeom,
    xp: *const f32,
    yp: *mut f32,
    ap: *mut u32,
    oh: usize,
    ow: usize,
) {
    use std::arch::x86_64::*;
    let c = g.c;
    let row = g.in_w * c;
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut c0 = 0;
    while c0 < c {
        let lanes = (c - c0).min(16);
        let mask: __mmask16 = if lanes == 16 { !0 } else { (1 << lanes) - 1 };
        let p0: [usize; P] = std::array::from_fn(|j| {
            (oh * g.sh - g.pad_top) * row + ((ow + j) * g.sw - g.pad_left) * c + c0
        });
        let i0: [__m512i; P] =
            std::array::from_fn(|j| _mm512_add_epi32(_mm512_set1_epi32(p0[j] as i32), iota));
        // SAFETY (every load and store below): the lanes under `mask` are
        // channels c0..c0 + lanes of a cell inside the window or of the
        // output pixel, in bounds by the caller's promise; masked-off lanes
        // are not accessed.
        let mut m: [__m512; P] =
            std::array::from_fn(|j| unsafe { _mm512_maskz_loadu_ps(mask, xp.add(p0[j])) });
        let mut a = i0;
        for dh in 0..g.fh {
            for dw in usize::from(dh == 0)..g.fw {
                let off = dh * row + dw * c;
                let offv = _mm512_set1_epi32(off as i32);
                for j in 0..P {
                    let v = unsafe { _mm512_maskz_loadu_ps(mask, xp.add(p0[j] + off)) };
                    if !TRACK {
                        // maxps returns its second operand on a tie or a
                        // NaN: the same value as the select below.
                        m[j] = _mm512_max_ps(v, m[j]);
                        continue;
                    }
                    // Ordered greater-than: a NaN never wins.
                    let wins = _mm512_mask_cmp_ps_mask::<_CMP_GT_OQ>(mask, v, m[j]);
                    m[j] = _mm512_mask_mov_ps(m[j], wins, v);
                    a[j] = _mm512_mask_mov_epi32(a[j], wins, _mm512_add_epi32(i0[j], offv));
                }
            }
        }
        for j in 0..P {
            let out = (oh * g.out_w + ow + j) * c + c0;
            unsafe {
                _mm512_mask_storeu_ps(yp.add(out), mask, m[j]);
                if TRACK {
                    _mm512_mask_storeu_epi32(ap.add(out).cast(), mask, a[j]);
                }
            }
        }
        c0 += lanes;
    }
}

/// [`super::max_interior`] with AVX2: 8 channels per vector (the last block under
/// a lane mask); a compare and two blends pick the new max and its index.
/// Four output pixels go through the window together, as in
/// [`max_interior_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) fn max_interior_avx2<const TRACK: bool>(
    g: &PoolGeom,
    region: Region,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) {
    let (xp, yp, ap) = (x.as_ptr(), y.as_mut_ptr(), argmax.as_mut_ptr());
    let out_len = if TRACK {
        y.len().min(argmax.len())
    } else {
        y.len()
    };
    walk(
        g,
        region,
        [x.len(), out_len],
        // SAFETY: `walk` checked that the pixels exist and their windows
        // are inside x (and, when TRACK, that argmax holds them).
        |oh, ow| unsafe { max_pixels_avx2::<4, TRACK>(g, xp, yp, ap, oh, ow) },
        |oh, ow| unsafe { max_pixels_avx2::<1, TRACK>(g, xp, yp, ap, oh, ow) },
    );
}

/// Output pixels `ow..ow + P` of row `oh` of [`max_interior_avx2`].
///
/// # Safety
/// The CPU has AVX2; those pixels exist; every window is inside x (whose
/// elements `xp` points to), and `yp`, `ap` hold the outputs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn max_pixels_avx2<const P: usize, const TRACK: bool>(
    g: &PoolGeom,
    xp: *const f32,
    yp: *mut f32,
    ap: *mut u32,
    oh: usize,
    ow: usize,
) {
    use std::arch::x86_64::*;
    let c = g.c;
    let row = g.in_w * c;
    let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut c0 = 0;
    while c0 < c {
        let lanes = (c - c0).min(8);
        // All ones in the lanes below `lanes`: the maskload/maskstore mask.
        let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes as i32), iota);
        let p0: [usize; P] = std::array::from_fn(|j| {
            (oh * g.sh - g.pad_top) * row + ((ow + j) * g.sw - g.pad_left) * c + c0
        });
        let i0: [__m256i; P] =
            std::array::from_fn(|j| _mm256_add_epi32(_mm256_set1_epi32(p0[j] as i32), iota));
        // SAFETY (every load and store below): the lanes under `mask` are
        // channels c0..c0 + lanes of a cell inside the window or of the
        // output pixel, in bounds by the caller's promise; masked-off lanes
        // are not accessed (they read as 0, and 0 > 0 is false, so they
        // never win either).
        let mut m: [__m256; P] =
            std::array::from_fn(|j| unsafe { _mm256_maskload_ps(xp.add(p0[j]), mask) });
        let mut a: [__m256; P] = std::array::from_fn(|j| _mm256_castsi256_ps(i0[j]));
        for dh in 0..g.fh {
            for dw in usize::from(dh == 0)..g.fw {
                let off = dh * row + dw * c;
                let offv = _mm256_set1_epi32(off as i32);
                for j in 0..P {
                    let v = unsafe { _mm256_maskload_ps(xp.add(p0[j] + off), mask) };
                    if !TRACK {
                        // maxps returns its second operand on a tie or a
                        // NaN: the same value as the select below.
                        m[j] = _mm256_max_ps(v, m[j]);
                        continue;
                    }
                    // Ordered greater-than: a NaN never wins.
                    let wins = _mm256_cmp_ps::<_CMP_GT_OQ>(v, m[j]);
                    m[j] = _mm256_blendv_ps(m[j], v, wins);
                    let idx = _mm256_castsi256_ps(_mm256_add_epi32(i0[j], offv));
                    a[j] = _mm256_blendv_ps(a[j], idx, wins);
                }
            }
        }
        for j in 0..P {
            let out = (oh * g.out_w + ow + j) * c + c0;
            unsafe {
                _mm256_maskstore_ps(yp.add(out), mask, m[j]);
                if TRACK {
                    _mm256_maskstore_epi32(ap.add(out).cast(), mask, _mm256_castps_si256(a[j]));
                }
            }
        }
        c0 += lanes;
    }
}
