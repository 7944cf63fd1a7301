//! Bilinear sampling, the inner loop of every geometric augmentation:
//! each output row is read at the points `A(D(p))` of its pixels
//! ([`Sampler::row`]). A pixel costs a handful of multiplies and four
//! reads, so per-pixel overheads (a channel loop, bounds checks, a floor
//! through the integers) used to be most of it. One channel, the common
//! case (digits), has its own loop, and AVX-512 and AVX2 versions that
//! gather 16 or 8 pixels at a time straight from the image, testing which
//! neighbours are inside (masked gathers) or clamping them (`Nearest`);
//! the other paths read a copy of the image with a border around it
//! ([`pad`]), made once per image, so that no pixel needs a test.
//!
//! Every version does the same operations in the same order, without
//! fused multiply-adds, and reads the same four values: all give the same
//! bits on every instruction set.

use super::warp::Border;
use crate::isa::Isa;

/// Rows and columns of border around the image that the padded paths read.
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

impl Points<'_> {
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

/// Samples one source image (`[h, w, c]`) with a border.
pub(crate) struct Sampler<'a> {
    isa: Isa,
    src: &'a [f32],
    shape: [usize; 3],
    border: Border,
    /// Whether a vector version reads `src` itself (one channel).
    plain: bool,
    /// The [`pad`]ded source, for the other versions.
    padded: &'a [f32],
}

impl<'a> Sampler<'a> {
    /// A sampler of `src` for instruction set `isa` (the portable version
    /// if the CPU does not run it); `buf` (grow-only) holds the padded copy
    /// if the version needs one.
    pub(crate) fn new(
        isa: Isa,
        src: &'a [f32],
        shape: [usize; 3],
        border: Border,
        buf: &'a mut Vec<f32>,
    ) -> Self {
        let [h, w, c] = shape;
        assert_eq!(src.len(), h * w * c, "sampler: image size");
        let plain = cfg!(target_arch = "x86_64")
            && c == 1
            && isa != Isa::Portable
            && isa.supported()
            && (h + 2 * PAD) * (w + 2 * PAD) <= i32::MAX as usize;
        let padded = if plain {
            &[][..]
        } else {
            pad(src, shape, border, buf);
            &buf[..]
        };
        Sampler {
            isa,
            src,
            shape,
            border,
            plain,
            padded,
        }
    }

    /// Bilinear samples, into `out` (`c` values per pixel), at `A(points)`
    /// for the `n = out.len() / c` pixels `x0..x0 + n` of output row `y`.
    /// Points are first clamped to [-2, h + 1/2] x [-2, w + 1/2], where
    /// all four neighbours are in the padded image and, outside the image,
    /// are border (NaN lands on -2: border).
    pub(crate) fn row(
        &self,
        a: [f32; 6],
        y: usize,
        x0: usize,
        points: Points<'_>,
        out: &mut [f32],
    ) {
        let [h, w, c] = self.shape;
        if let Points::Displaced(p, q) | Points::Mapped(p, q) = points {
            assert!(p.len() * c >= out.len() && q.len() * c >= out.len());
        }
        if self.plain {
            // SAFETY: `new` checked that the CPU runs `isa` and the sizes
            // (one channel, indices in i32).
            #[cfg(target_arch = "x86_64")]
            match self.isa {
                Isa::Avx512 => unsafe {
                    return one_channel_avx512(
                        self.src,
                        [h, w],
                        self.border,
                        a,
                        y,
                        x0,
                        points,
                        out,
                    );
                },
                Isa::Avx2 => unsafe {
                    return one_channel_avx2(self.src, [h, w], self.border, a, y, x0, points, out);
                },
                Isa::Portable => {}
            }
            unreachable!("sampler: no padded image for {}", self.isa);
        }
        let padded = self.padded;
        if c == 1 {
            return one_channel(padded, [h, w], a, y, x0, points, out);
        }
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
}

/// The padded index of the top-left neighbour of (y, x) (see
/// [`Sampler::row`] for the clamp) and the fractions towards the others.
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

/// [`Sampler::row`] with one channel, from the padded image, in plain Rust.
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

/// [`one_channel`] with AVX-512, from the image itself: 16 pixels a
/// vector, the end of the row under a mask. Each neighbour is gathered
/// under the mask of the lanes where it is inside the image, the others
/// reading the constant; with `Nearest` the neighbours' rows and columns
/// are clamped into the image, which reads what the padded copy holds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn one_channel_avx512(
    src: &[f32],
    [h, w]: [usize; 2],
    border: Border,
    a: [f32; 6],
    y: usize,
    x0: usize,
    points: Points<'_>,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let n = out.len();
    let lo = _mm512_set1_ps(-(PAD as f32));
    let (hi_y, hi_x) = (
        _mm512_set1_ps(h as f32 + 0.5),
        _mm512_set1_ps(w as f32 + 0.5),
    );
    let (hv, wv) = (_mm512_set1_epi32(h as i32), _mm512_set1_epi32(w as i32));
    let (h1, w1) = (
        _mm512_set1_epi32(h as i32 - 1),
        _mm512_set1_epi32(w as i32 - 1),
    );
    let (zero, one) = (_mm512_setzero_si512(), _mm512_set1_epi32(1));
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
    let base = src.as_ptr();
    let mut k = 0;
    while k < n {
        let lanes = (n - k).min(16);
        let mask: __mmask16 = if lanes == 16 { !0 } else { (1 << lanes) - 1 };
        let xs = _mm512_add_ps(_mm512_set1_ps((x0 + k) as f32), iota);
        // SAFETY: the lanes under `mask` are points k..k + lanes of the
        // run, which the maps hold (asserted by `Sampler::row`); the
        // others are not read.
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
        // Rows and columns of the neighbours, in [-2, h + 1] x [-2, w + 1].
        let (r0, c0) = (_mm512_cvttps_epi32(u0), _mm512_cvttps_epi32(v0));
        let (r1, c1) = (_mm512_add_epi32(r0, one), _mm512_add_epi32(c0, one));
        // SAFETY: the gathers read only lanes whose row and column are
        // inside the image: under the masks, or clamped.
        let (p00, p01, p10, p11) = match border {
            Border::Constant(value) => unsafe {
                let fill = _mm512_set1_ps(value);
                // Unsigned: a negative row is above h too.
                let (in_r0, in_r1) = (
                    _mm512_cmplt_epu32_mask(r0, hv),
                    _mm512_cmplt_epu32_mask(r1, hv),
                );
                let (in_c0, in_c1) = (
                    _mm512_cmplt_epu32_mask(c0, wv),
                    _mm512_cmplt_epu32_mask(c1, wv),
                );
                let at = _mm512_add_epi32(_mm512_mullo_epi32(r0, wv), c0);
                let at10 = _mm512_add_epi32(at, wv);
                (
                    _mm512_mask_i32gather_ps::<4>(fill, in_r0 & in_c0, at, base),
                    _mm512_mask_i32gather_ps::<4>(
                        fill,
                        in_r0 & in_c1,
                        _mm512_add_epi32(at, one),
                        base,
                    ),
                    _mm512_mask_i32gather_ps::<4>(fill, in_r1 & in_c0, at10, base),
                    _mm512_mask_i32gather_ps::<4>(
                        fill,
                        in_r1 & in_c1,
                        _mm512_add_epi32(at10, one),
                        base,
                    ),
                )
            },
            Border::Nearest => unsafe {
                let clamp = |v, hi| _mm512_min_epi32(_mm512_max_epi32(v, zero), hi);
                let (r0, r1) = (
                    _mm512_mullo_epi32(clamp(r0, h1), wv),
                    _mm512_mullo_epi32(clamp(r1, h1), wv),
                );
                let (c0, c1) = (clamp(c0, w1), clamp(c1, w1));
                (
                    _mm512_i32gather_ps::<4>(_mm512_add_epi32(r0, c0), base),
                    _mm512_i32gather_ps::<4>(_mm512_add_epi32(r0, c1), base),
                    _mm512_i32gather_ps::<4>(_mm512_add_epi32(r1, c0), base),
                    _mm512_i32gather_ps::<4>(_mm512_add_epi32(r1, c1), base),
                )
            },
        };
        let top = _mm512_add_ps(p00, _mm512_mul_ps(fx, _mm512_sub_ps(p01, p00)));
        let bottom = _mm512_add_ps(p10, _mm512_mul_ps(fx, _mm512_sub_ps(p11, p10)));
        let px = _mm512_add_ps(top, _mm512_mul_ps(fy, _mm512_sub_ps(bottom, top)));
        // SAFETY: the lanes under `mask` are out[k..k + lanes].
        unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr().add(k), mask, px) };
        k += lanes;
    }
}

/// [`one_channel_avx512`] with AVX2: 8 pixels a vector; the last pixels
/// of a row that is not a multiple of 8 go through [`one_pixel`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn one_channel_avx2(
    src: &[f32],
    [h, w]: [usize; 2],
    border: Border,
    a: [f32; 6],
    y: usize,
    x0: usize,
    points: Points<'_>,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let n = out.len();
    let lo = _mm256_set1_ps(-(PAD as f32));
    let (hi_y, hi_x) = (
        _mm256_set1_ps(h as f32 + 0.5),
        _mm256_set1_ps(w as f32 + 0.5),
    );
    let (hv, wv) = (_mm256_set1_epi32(h as i32), _mm256_set1_epi32(w as i32));
    let (h1, w1) = (
        _mm256_set1_epi32(h as i32 - 1),
        _mm256_set1_epi32(w as i32 - 1),
    );
    let (zero, one, minus_one) = (
        _mm256_setzero_si256(),
        _mm256_set1_epi32(1),
        _mm256_set1_epi32(-1),
    );
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
    let base = src.as_ptr();
    let mut k = 0;
    while k + 8 <= n {
        let xs = _mm256_add_ps(_mm256_set1_ps((x0 + k) as f32), iota);
        // SAFETY: points k..k + 8 of the run exist (asserted by `Sampler::row`).
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
        let (r0, c0) = (_mm256_cvttps_epi32(u0), _mm256_cvttps_epi32(v0));
        let (r1, c1) = (_mm256_add_epi32(r0, one), _mm256_add_epi32(c0, one));
        // SAFETY: as in `one_channel_avx512`.
        let (p00, p01, p10, p11) = match border {
            Border::Constant(value) => unsafe {
                let fill = _mm256_set1_ps(value);
                let inside = |v, n| {
                    _mm256_castsi256_ps(_mm256_and_si256(
                        _mm256_cmpgt_epi32(v, minus_one),
                        _mm256_cmpgt_epi32(n, v),
                    ))
                };
                let (in_r0, in_r1) = (inside(r0, hv), inside(r1, hv));
                let (in_c0, in_c1) = (inside(c0, wv), inside(c1, wv));
                let at = _mm256_add_epi32(_mm256_mullo_epi32(r0, wv), c0);
                let at10 = _mm256_add_epi32(at, wv);
                (
                    _mm256_mask_i32gather_ps::<4>(fill, base, at, _mm256_and_ps(in_r0, in_c0)),
                    _mm256_mask_i32gather_ps::<4>(
                        fill,
                        base,
                        _mm256_add_epi32(at, one),
                        _mm256_and_ps(in_r0, in_c1),
                    ),
                    _mm256_mask_i32gather_ps::<4>(fill, base, at10, _mm256_and_ps(in_r1, in_c0)),
                    _mm256_mask_i32gather_ps::<4>(
                        fill,
                        base,
                        _mm256_add_epi32(at10, one),
                        _mm256_and_ps(in_r1, in_c1),
                    ),
                )
            },
            Border::Nearest => unsafe {
                let clamp = |v, hi| _mm256_min_epi32(_mm256_max_epi32(v, zero), hi);
                let (r0, r1) = (
                    _mm256_mullo_epi32(clamp(r0, h1), wv),
                    _mm256_mullo_epi32(clamp(r1, h1), wv),
                );
                let (c0, c1) = (clamp(c0, w1), clamp(c1, w1));
                (
                    _mm256_i32gather_ps::<4>(base, _mm256_add_epi32(r0, c0)),
                    _mm256_i32gather_ps::<4>(base, _mm256_add_epi32(r0, c1)),
                    _mm256_i32gather_ps::<4>(base, _mm256_add_epi32(r1, c0)),
                    _mm256_i32gather_ps::<4>(base, _mm256_add_epi32(r1, c1)),
                )
            },
        };
        let top = _mm256_add_ps(p00, _mm256_mul_ps(fx, _mm256_sub_ps(p01, p00)));
        let bottom = _mm256_add_ps(p10, _mm256_mul_ps(fx, _mm256_sub_ps(p11, p10)));
        let px = _mm256_add_ps(top, _mm256_mul_ps(fy, _mm256_sub_ps(bottom, top)));
        // SAFETY: out[k..k + 8] exists.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(k), px) };
        k += 8;
    }
    let (yf, hi) = (y as f32, [h as f32 + 0.5, w as f32 + 0.5]);
    for (j, o) in out.iter_mut().enumerate().skip(k) {
        let (qy, qx) = points.at(yf, x0, j);
        *o = one_pixel(src, [h, w], border, hi, a, qy, qx);
    }
}

/// One sample of the unpadded image (the end of a row in
/// [`one_channel_avx2`]): the neighbours the padded copy would give.
#[inline(always)]
fn one_pixel(
    src: &[f32],
    [h, w]: [usize; 2],
    border: Border,
    hi: [f32; 2],
    a: [f32; 6],
    qy: f32,
    qx: f32,
) -> f32 {
    let u = a[0] * qy + a[1] * qx + a[2];
    let v = a[3] * qy + a[4] * qx + a[5];
    // `corner` on an image two wider than the padded one: row and column
    // of the top-left neighbour in the padded frame, each in [0, h + 2].
    let wide = w + 2 * PAD;
    let (at, fy, fx) = corner(wide, hi, u, v);
    let (r, q) = (
        (at / wide) as isize - PAD as isize,
        (at % wide) as isize - PAD as isize,
    );
    let read = |r: isize, q: isize| -> f32 {
        match border {
            Border::Constant(value) if r < 0 || q < 0 || r >= h as isize || q >= w as isize => {
                value
            }
            _ => {
                let r = r.clamp(0, h as isize - 1) as usize;
                let q = q.clamp(0, w as isize - 1) as usize;
                src[r * w + q]
            }
        }
    };
    mix(
        read(r, q),
        read(r, q + 1),
        read(r + 1, q),
        read(r + 1, q + 1),
        fy,
        fx,
    )
}
