//! Max pooling's channel loop with vector instructions: `yo = max(yo, xs)`
//! per channel, and `ao` the index of each channel where `xs` is strictly
//! larger (`idx + channel`). LLVM left the plain loop scalar, with a branch
//! on the data that missed about half the time on a ReLU's output.

use std::arch::x86_64::*;

/// With AVX-512: 16 channels per masked compare; the winners and their
/// indices are stored under the compare's mask.
///
/// # Safety
/// The CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) unsafe fn max_into_avx512(yo: &mut [f32], ao: &mut [u32], xs: &[f32], idx: u32) {
    let c = yo.len();
    assert!(
        ao.len() == c && xs.len() == c,
        "max pool3d: channel runs differ"
    );
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut j = 0;
    while j < c {
        let m: __mmask16 = if c - j >= 16 {
            0xffff
        } else {
            ((1u32 << (c - j)) - 1) as u16
        };
        // SAFETY: the mask covers channels j..min(j + 16, c) of slices of
        // c elements (asserted above).
        unsafe {
            let v = _mm512_maskz_loadu_ps(m, xs.as_ptr().add(j));
            let cur = _mm512_maskz_loadu_ps(m, yo.as_ptr().add(j));
            let wins = _mm512_mask_cmp_ps_mask::<_CMP_GT_OQ>(m, v, cur);
            _mm512_mask_storeu_ps(yo.as_mut_ptr().add(j), wins, v);
            let ids = _mm512_add_epi32(_mm512_set1_epi32(idx.wrapping_add(j as u32) as i32), lanes);
            _mm512_mask_storeu_epi32(ao.as_mut_ptr().add(j).cast(), wins, ids);
        }
        j += 16;
    }
}

/// With AVX2: 8 channels per compare and blend, the last few in plain Rust.
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn max_into_avx2(yo: &mut [f32], ao: &mut [u32], xs: &[f32], idx: u32) {
    let c = yo.len();
    assert!(
        ao.len() == c && xs.len() == c,
        "max pool3d: channel runs differ"
    );
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut j = 0;
    while j + 8 <= c {
        // SAFETY: channels j..j + 8 are inside slices of c elements.
        unsafe {
            let v = _mm256_loadu_ps(xs.as_ptr().add(j));
            let cur = _mm256_loadu_ps(yo.as_ptr().add(j));
            let wins = _mm256_cmp_ps::<_CMP_GT_OQ>(v, cur);
            _mm256_storeu_ps(yo.as_mut_ptr().add(j), _mm256_blendv_ps(cur, v, wins));
            let at = ao.as_mut_ptr().add(j).cast::<__m256i>();
            let ids = _mm256_add_epi32(_mm256_set1_epi32(idx.wrapping_add(j as u32) as i32), lanes);
            let old = _mm256_loadu_si256(at);
            _mm256_storeu_si256(at, _mm256_blendv_epi8(old, ids, _mm256_castps_si256(wins)));
        }
        j += 8;
    }
    for j in j..c {
        if xs[j] > yo[j] {
            yo[j] = xs[j];
            ao[j] = idx.wrapping_add(j as u32);
        }
    }
}
