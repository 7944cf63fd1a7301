//! Bilinear sampling, the inner loop of every geometric augmentation: the
//! source is [`pad`]ded once per image, then each output row is read at
//! the points `A(D(p))` of its pixels ([`sample_row`]). A pixel costs a
//! handful of multiplies and four reads, so the per-pixel overheads
//! (a channel loop, bounds checks, a floor through the integers) used to
//! be most of it: one channel, the common case (digits), has its own
//! loop, gathered 16 or 8 pixels at a time with AVX-512 or AVX2.
//!
//! Every version does the same operations in the same order, without
//! fused multiply-adds, so all give the same bits on every instruction
//! set (and the same as before this file had vector versions).

use super::warp::Border;
use crate::isa::Isa;

/// Rows and columns of border around the image that [`sample_row`] reads.
pub(crate) const PAD: usize = 2;

/// `src` (`[h, w, c]`) with `PAD` rows and columns of border around it:
/// the constant, or copies of the edge pixels for `Nearest` (which makes
/// bilinear sampling of the padded image the same as clamping the point
/// into the image first). Written a row at a time.
pub(crate) fn pad(src: &[f32], [h, w, c]: [usize; 3], border: Border, out: &mut Vec<f32>) {
    let (ph, pw) = (h + 2 * PAD, w + 2 * PAD);
    let (row, prow) = (w * c, pw * c);
    out.resize(ph * prow, 0.0);
    for (r, dst) in out.chunks_exact_mut(prow).enumerate() {
        let inside = r >= PAD && r < h + PAD;
        match border {
            Border::Constant(v) if !inside => dst.fill(v),
            Border::Constant(v) => {
                let s = &src[(r - PAD) * row..(r - PAD + 1) * row];
                dst[..PAD * c].fill(v);
                dst[PAD * c..PAD * c + row].copy_from_slice(s);
                dst[PAD * c + row..].fill(v);
            }
            Border::Nearest => {
                let sr = r.clamp(PAD, h + PAD - 1) - PAD;
                let s = &src[sr * row..(sr + 1) * row];
                let (left, rest) = dst.split_at_mut(PAD * c);
                let (mid, right) = rest.split_at_mut(row);
                mid.copy_from_slice(s);
                for px in left.chunks_exact_mut(c) {
                    px.copy_from_slice(&s[..c]);
                }
                for px in right.chunks_exact_mut(c) {
                    px.copy_from_slice(&s[row - c..]);
                }
            }
        }
    }
}

/// Where the pixels `x0..x0 + n` of output row `y` read, before the
/// affine part `A` is applied.
#[derive(Clone, Copy)]
pub(crate) enum Points<'a> {
    /// At themselves: `(y, x)`.
    Grid,
    /// Moved by a displacement: `(y + dy[k], x + dx[k])`.
    Displaced(&'a [f32], &'a [f32]),
    /// At a map's values: `(qy[k], qx[k])`.
    Mapped(&'a [f32], &'a [f32]),
}

impl<'a> Points<'a> {
    /// The points of the same run from its pixel `k` on.
    fn skip(self, k: usize) -> Points<'a> {
        match self {
            Points::Grid => Points::Grid,
            Points::Displaced(dy, dx) => Points::Displaced(&dy[k..], &dx[k..]),
            Points::Mapped(qy, qx) => Points::Mapped(&qy[k..], &qx[k..]),
        }
    }

    /// The point of pixel `k` of a run starting at (y, x0).
    #[inline(always)]
    fn at(&self, y: f32, x0: usize, k: usize) -> (f32, f32) {
        match *self {
            Points::Grid => (y, (x0 + k) as f32),
            Points::Displaced(dy, dx) => (y + dy[k], (x0 + k) as f32 + dx[k]),
            Points::Mapped(qy, qx) => (qy[k], qx[k]),
        }
    }
}

/// Pixels whose coordinates the generic version computes per batch.
const CHUNK: usize = 64;

/// Bilinear samples, into `out` (`c` values per pixel), of the image
/// whose [`pad`]ded copy is `padded` (the image is `[h, w, c]`) at
/// `A(points)` for the `n = out.len() / c` pixels `x0..x0 + n` of output
/// row `y`. Points are first clamped to [-2, h + 1/2] x [-2, w + 1/2],
/// where all four neighbours are in the padded copy and, outside the
/// image, are border; so no pixel needs a test (NaN lands on -2: border).
pub(crate) fn sample_row(
    isa: Isa,
    padded: &[f32],
    [h, w, c]: [usize; 3],
    a: [f32; 6],
    y: usize,
    x0: usize,
    points: Points<'_>,
    out: &mut [f32],
) {
    let (ph, pw) = (h + 2 * PAD, w + 2 * PAD);
    assert!(
        padded.len() >= ph * pw * c,
        "sample_row: padded image too short"
    );
    if let Points::Displaced(p, q) | Points::Mapped(p, q) = points {
        assert!(p.len() * c >= out.len() && q.len() * c >= out.len());
    }
    if c == 1 {
        #[cfg(target_arch = "x86_64")]
        if padded.len() <= i32::MAX as usize {
            match isa {
                // SAFETY: `isa` is one the CPU runs (crate::isa); the
                // lengths are checked above.
                Isa::Avx512 => {
                    return unsafe { one_channel_avx512(padded, [h, w], a, y, x0, points, out) }
                }
                Isa::Avx2 => {
                    return unsafe { one_channel_avx2(padded, [h, w], a, y, x0, points, out) }
                }
                Isa::Portable => {}
            }
        }
        let _ = isa;
        return one_channel(padded, [h, w], a, y, x0, points, out);
    }
    let _ = isa;
    // Several channels: the coordinates of a batch of pixels, then the
    // samples, so that the first loop vectorises.
    let (mut u, mut v) = ([0f32; CHUNK], [0f32; CHUNK]);
    let yf = y as f32;
    let n_px = out.len() / c;
    let mut k0 = 0;
    while k0 < n_px {
        let n = (n_px - k0).min(CHUNK);
        for k in 0..n {
            let (qy, qx) = points.at(yf, x0, k0 + k);
            u[k] = a[0] * qy + a[1] * qx + a[2];
            v[k] = a[3] * qy + a[4] * qx + a[5];
        }
        let dst = &mut out[k0 * c..(k0 + n) * c];
        match c {
            3 => samples::<3>(padded, [h, w, c], &u[..n], &v[..n], dst),
            _ => samples::<0>(padded, [h, w, c], &u[..n], &v[..n], dst),
        }
        k0 += n;
    }
}

/// The padded index of the top-left neighbour of (y, x) (see
/// [`sample_row`] for the clamp) and the fractions towards the others.
#[inline(always)]
fn corner(pw: usize, [hi_y, hi_x]: [f32; 2], y: f32, x: f32) -> (usize, f32, f32) {
    let lo = -(PAD as f32);
    // `max` drops a NaN.
    let y = y.max(lo).min(hi_y);
    let x = x.max(lo).min(hi_x);
    // floor by truncation: a call into libm on baseline x86-64 otherwise.
    let (ty, tx) = (y as i32, x as i32);
    let y0 = ty - i32::from(ty as f32 > y);
    let x0 = tx - i32::from(tx as f32 > x);
    let at = (y0 + PAD as i32) as usize * pw + (x0 + PAD as i32) as usize;
    (at, y - y0 as f32, x - x0 as f32)
}

/// `p00 .. p11` mixed by the fractions: across first, then down.
#[inline(always)]
fn mix(p00: f32, p01: f32, p10: f32, p11: f32, fy: f32, fx: f32) -> f32 {
    let top = p00 + fx * (p01 - p00);
    let bottom = p10 + fx * (p11 - p10);
    top + fy * (bottom - top)
}

/// [`sample_row`] with one channel, in plain Rust.
fn one_channel(
    padded: &[f32],
    [h, w]: [usize; 2],
    a: [f32; 6],
    y: usize,
    x0: usize,
    points: Points<'_>,
    out: &mut [f32],
) {
    let pw = w + 2 * PAD;
    let hi = [h as f32 + 0.5, w as f32 + 0.5];
    let yf = y as f32;
    for (k, o) in out.iter_mut().enumerate() {
        let (qy, qx) = points.at(yf, x0, k);
        let u = a[0] * qy + a[1] * qx + a[2];
        let v = a[3] * qy + a[4] * qx + a[5];
        let (at, fy, fx) = corner(pw, hi, u, v);
        // One bounds check for the four reads.
        let q = &padded[at..at + pw + 2];
        *o = mix(q[0], q[1], q[pw], q[pw + 1], fy, fx);
    }
}

/// Bilinear samples with `C` channels (`C = 0`: `shape[2]`) at `(ys[k],
/// xs[k])` into `out` (`c` values per point); a constant `C` unrolls the
/// channel loop.
#[allow(clippy::needless_range_loop)] // k indexes ys, xs and out together
fn samples<const C: usize>(
    padded: &[f32],
    [h, w, c]: [usize; 3],
    ys: &[f32],
    xs: &[f32],
    out: &mut [f32],
) {
    let c = if C == 0 { c } else { C };
    let pw = w + 2 * PAD;
    let hi = [h as f32 + 0.5, w as f32 + 0.5];
    for k in 0..ys.len() {
        let (at, fy, fx) = corner(pw, hi, ys[k], xs[k]);
        let q = &padded[at * c..(at + pw + 2) * c];
        let o = &mut out[k * c..(k + 1) * c];
        for ch in 0..c {
            let (p00, p01) = (q[ch], q[c + ch]);
            let (p10, p11) = (q[pw * c + ch], q[(pw + 1) * c + ch]);
            o[ch] = mix(p00, p01, p10, p11, fy, fx);
        }
    }
}

/// [`one_channel`] with AVX-512: 16 pixels a vector, their four
/// neighbours gathered, the end of the row under a mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn one_channel_avx512(
    padded: &[f32],
    [h, w]: [usize; 2],
    a: [f32; 6],
    y: usize,
    x0: usize,
    points: Points<'_>,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let pw = w + 2 * PAD;
    let n = out.len();
    let lo = _mm512_set1_ps(-(PAD as f32));
    let (hi_y, hi_x) = (
        _mm512_set1_ps(h as f32 + 0.5),
        _mm512_set1_ps(w as f32 + 0.5),
    );
    let pad = _mm512_set1_ps(PAD as f32);
    let pwv = _mm512_set1_epi32(pw as i32);
    let (one, below) = (_mm512_set1_epi32(1), _mm512_set1_epi32(pw as i32));
    let iota = _mm512_setr_ps(
        0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
    );
    let [a0, a1, a2, a3, a4, a5] = [
        _mm512_set1_ps(a[0]),
        _mm512_set1_ps(a[1]),
        _mm512_set1_ps(a[2]),
        _mm512_set1_ps(a[3]),
        _mm512_set1_ps(a[4]),
        _mm512_set1_ps(a[5]),
    ];
    let yf = _mm512_set1_ps(y as f32);
    let base = padded.as_ptr();
    let mut k = 0;
    while k < n {
        let lanes = (n - k).min(16);
        let mask: __mmask16 = if lanes == 16 { !0 } else { (1 << lanes) - 1 };
        let xs = _mm512_add_ps(_mm512_set1_ps((x0 + k) as f32), iota);
        // SAFETY: the lanes under `mask` are points k..k + lanes of the
        // run, which the maps hold (asserted by `sample_row`); the others
        // are not read.
        let (qy, qx) = match points {
            Points::Grid => (yf, xs),
            Points::Displaced(dy, dx) => unsafe {
                let dy = _mm512_maskz_loadu_ps(mask, dy.as_ptr().add(k));
                let dx = _mm512_maskz_loadu_ps(mask, dx.as_ptr().add(k));
                (_mm512_add_ps(yf, dy), _mm512_add_ps(xs, dx))
            },
            Points::Mapped(qy, qx) => unsafe {
                (
                    _mm512_maskz_loadu_ps(mask, qy.as_ptr().add(k)),
                    _mm512_maskz_loadu_ps(mask, qx.as_ptr().add(k)),
                )
            },
        };
        let u = _mm512_add_ps(
            _mm512_add_ps(_mm512_mul_ps(a0, qy), _mm512_mul_ps(a1, qx)),
            a2,
        );
        let v = _mm512_add_ps(
            _mm512_add_ps(_mm512_mul_ps(a3, qy), _mm512_mul_ps(a4, qx)),
            a5,
        );
        // max(NaN, lo) is lo: the second operand wins when one is NaN.
        let u = _mm512_min_ps(_mm512_max_ps(u, lo), hi_y);
        let v = _mm512_min_ps(_mm512_max_ps(v, lo), hi_x);
        const FLOOR: i32 = _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC;
        let (u0, v0) = (
            _mm512_roundscale_ps::<FLOOR>(u),
            _mm512_roundscale_ps::<FLOOR>(v),
        );
        let (fy, fx) = (_mm512_sub_ps(u, u0), _mm512_sub_ps(v, v0));
        let row = _mm512_cvttps_epi32(_mm512_add_ps(u0, pad));
        let col = _mm512_cvttps_epi32(_mm512_add_ps(v0, pad));
        let at = _mm512_add_epi32(_mm512_mullo_epi32(row, pwv), col);
        // SAFETY: every lane, masked or not, holds a clamped point, whose
        // four neighbours are inside the padded image (see `sample_row`;
        // its length, below i32::MAX, was checked there).
        let (p00, p01, p10, p11) = unsafe {
            (
                _mm512_i32gather_ps::<4>(at, base),
                _mm512_i32gather_ps::<4>(_mm512_add_epi32(at, one), base),
                _mm512_i32gather_ps::<4>(_mm512_add_epi32(at, below), base),
                _mm512_i32gather_ps::<4>(_mm512_add_epi32(at, _mm512_add_epi32(below, one)), base),
            )
        };
        let top = _mm512_add_ps(p00, _mm512_mul_ps(fx, _mm512_sub_ps(p01, p00)));
        let bottom = _mm512_add_ps(p10, _mm512_mul_ps(fx, _mm512_sub_ps(p11, p10)));
        let px = _mm512_add_ps(top, _mm512_mul_ps(fy, _mm512_sub_ps(bottom, top)));
        // SAFETY: the lanes under `mask` are out[k..k + lanes].
        unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr().add(k), mask, px) };
        k += lanes;
    }
}

/// [`one_channel`] with AVX2: 8 pixels a vector, their four neighbours
/// gathered; the last pixels of a row that is not a multiple of 8 go
/// through the plain loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn one_channel_avx2(
    padded: &[f32],
    [h, w]: [usize; 2],
    a: [f32; 6],
    y: usize,
    x0: usize,
    points: Points<'_>,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let pw = w + 2 * PAD;
    let n = out.len();
    let lo = _mm256_set1_ps(-(PAD as f32));
    let (hi_y, hi_x) = (
        _mm256_set1_ps(h as f32 + 0.5),
        _mm256_set1_ps(w as f32 + 0.5),
    );
    let pad = _mm256_set1_ps(PAD as f32);
    let pwv = _mm256_set1_epi32(pw as i32);
    let (one, below) = (_mm256_set1_epi32(1), _mm256_set1_epi32(pw as i32));
    let iota = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
    let [a0, a1, a2, a3, a4, a5] = [
        _mm256_set1_ps(a[0]),
        _mm256_set1_ps(a[1]),
        _mm256_set1_ps(a[2]),
        _mm256_set1_ps(a[3]),
        _mm256_set1_ps(a[4]),
        _mm256_set1_ps(a[5]),
    ];
    let yf = _mm256_set1_ps(y as f32);
    let base = padded.as_ptr();
    let mut k = 0;
    while k + 8 <= n {
        let xs = _mm256_add_ps(_mm256_set1_ps((x0 + k) as f32), iota);
        // SAFETY: points k..k + 8 of the run exist (asserted by `sample_row`).
        let (qy, qx) = match points {
            Points::Grid => (yf, xs),
            Points::Displaced(dy, dx) => unsafe {
                let dy = _mm256_loadu_ps(dy.as_ptr().add(k));
                let dx = _mm256_loadu_ps(dx.as_ptr().add(k));
                (_mm256_add_ps(yf, dy), _mm256_add_ps(xs, dx))
            },
            Points::Mapped(qy, qx) => unsafe {
                (
                    _mm256_loadu_ps(qy.as_ptr().add(k)),
                    _mm256_loadu_ps(qx.as_ptr().add(k)),
                )
            },
        };
        let u = _mm256_add_ps(
            _mm256_add_ps(_mm256_mul_ps(a0, qy), _mm256_mul_ps(a1, qx)),
            a2,
        );
        let v = _mm256_add_ps(
            _mm256_add_ps(_mm256_mul_ps(a3, qy), _mm256_mul_ps(a4, qx)),
            a5,
        );
        // max(NaN, lo) is lo: the second operand wins when one is NaN.
        let u = _mm256_min_ps(_mm256_max_ps(u, lo), hi_y);
        let v = _mm256_min_ps(_mm256_max_ps(v, lo), hi_x);
        let (u0, v0) = (_mm256_floor_ps(u), _mm256_floor_ps(v));
        let (fy, fx) = (_mm256_sub_ps(u, u0), _mm256_sub_ps(v, v0));
        let row = _mm256_cvttps_epi32(_mm256_add_ps(u0, pad));
        let col = _mm256_cvttps_epi32(_mm256_add_ps(v0, pad));
        let at = _mm256_add_epi32(_mm256_mullo_epi32(row, pwv), col);
        // SAFETY: each lane holds a clamped point, whose four neighbours
        // are inside the padded image (see `sample_row`; its length, below
        // i32::MAX, was checked there).
        let (p00, p01, p10, p11) = unsafe {
            (
                _mm256_i32gather_ps::<4>(base, at),
                _mm256_i32gather_ps::<4>(base, _mm256_add_epi32(at, one)),
                _mm256_i32gather_ps::<4>(base, _mm256_add_epi32(at, below)),
                _mm256_i32gather_ps::<4>(base, _mm256_add_epi32(at, _mm256_add_epi32(below, one))),
            )
        };
        let top = _mm256_add_ps(p00, _mm256_mul_ps(fx, _mm256_sub_ps(p01, p00)));
        let bottom = _mm256_add_ps(p10, _mm256_mul_ps(fx, _mm256_sub_ps(p11, p10)));
        let px = _mm256_add_ps(top, _mm256_mul_ps(fy, _mm256_sub_ps(bottom, top)));
        // SAFETY: out[k..k + 8] exists.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(k), px) };
        k += 8;
    }
    if k < n {
        one_channel(padded, [h, w], a, y, x0 + k, points.skip(k), &mut out[k..]);
    }
}
