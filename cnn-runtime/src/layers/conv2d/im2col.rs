//! im2col and col2im for NHWC tensors: the bridge between a convolution and
//! one matrix product. Row `r` of the column matrix is output pixel `r`
//! (images back to back, then `out_h`, then `out_w`), and its `k = fh*fw*c_in`
//! entries are the input window in `[ky, kx, c]` order, which is exactly the
//! row order of the weight tensor `[fh, fw, c_in, c_out]` read as a `k x c_out`
//! matrix. Padding is `pad_top` / `pad_left` zeros before the input; rows and
//! columns past the input's end are zeros too (implicit bottom/right padding).
//!
//! A dilated geometry (taps `dh` rows and `dw` columns apart) reads each
//! tap where it falls, `c_in` floats at a time; the undilated one copies
//! whole window rows.
//!
//! In `groups` groups the column matrix is group-major: row `r`'s
//! `groups * k` entries (`k = fh * fw * c_in / groups`) are the window
//! `[group, ky, kx, ci]`, so a group's columns are one contiguous run of
//! each row and its product is a strided view of the matrix. With one
//! group this is the layout above, and the one-group case copies whole
//! window rows as before; several groups copy one group's `cg` channels
//! per tap (any dilation).
//!
//! Both functions take a range of column rows, so a kernel can walk the
//! batch in cache-sized chunks that may start and end inside an image. The
//! geometry must have passed `Conv2dGeom::validate`; slices are indexed
//! with bounds checks, so a bad call panics rather than reading out of bounds.

use super::Groups;
use crate::geom::Conv2dGeom;

/// The input columns of one window row, clipped to the input: for output
/// column `ox`, kernel columns `kx_lo..kx_hi` read input columns
/// `ix0 + kx_lo .. ix0 + kx_hi`, where `ix0 = ox * sw - pad_left`.
#[derive(Clone, Copy)]
struct Span {
    kx_lo: usize,
    kx_hi: usize,
    /// Input column of `kx_lo` (only meaningful when `kx_lo < kx_hi`).
    ix_lo: usize,
}

#[inline(always)]
fn span(g: &Conv2dGeom, ox: usize) -> Span {
    let start = (ox * g.sw) as isize - g.pad_left as isize;
    let kx_lo = (-start).clamp(0, g.fw as isize) as usize;
    let kx_hi = (g.in_w as isize - start).clamp(0, g.fw as isize) as usize;
    let ix_lo = (start + kx_lo as isize).max(0) as usize;
    Span {
        kx_lo,
        kx_hi,
        ix_lo,
    }
}

/// Walks output pixels `row0..row0 + rows` in order, yielding
/// `(index in the range, image, oy, ox)` without a division per pixel.
#[inline(always)]
pub(super) fn for_each_pixel(
    g: &Conv2dGeom,
    row0: usize,
    rows: usize,
    mut f: impl FnMut(usize, usize, usize, usize),
) {
    let plane = g.out_h * g.out_w;
    let (mut n, pix) = (row0 / plane, row0 % plane);
    let (mut oy, mut ox) = (pix / g.out_w, pix % g.out_w);
    for i in 0..rows {
        f(i, n, oy, ox);
        ox += 1;
        if ox == g.out_w {
            ox = 0;
            oy += 1;
            if oy == g.out_h {
                oy = 0;
                n += 1;
            }
        }
    }
}

/// Copies a run of floats. Short runs (the few floats of a window row
/// with one to three channels) are copied in fixed-size pieces, which
/// compile to a few vector moves; a loop or `copy_from_slice` here would
/// become a `memcpy` call, which costs more than the copy itself.
#[inline(always)]
pub(crate) fn copy_run(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    if n >= 64 {
        dst.copy_from_slice(src);
        return;
    }
    let src = &src[..n];
    let mut i = 0;
    while i + 8 <= n {
        let d: &mut [f32; 8] = (&mut dst[i..i + 8]).try_into().unwrap();
        *d = src[i..i + 8].try_into().unwrap();
        i += 8;
    }
    if i + 4 <= n {
        let d: &mut [f32; 4] = (&mut dst[i..i + 4]).try_into().unwrap();
        *d = src[i..i + 4].try_into().unwrap();
        i += 4;
    }
    if i + 2 <= n {
        let d: &mut [f32; 2] = (&mut dst[i..i + 2]).try_into().unwrap();
        *d = src[i..i + 2].try_into().unwrap();
        i += 2;
    }
    if i < n {
        dst[i] = src[i];
    }
}

/// Zeroes a run; short runs without a `memset` call, as in [`copy_run`].
#[inline(always)]
pub(crate) fn zero_run(dst: &mut [f32]) {
    if dst.len() >= 64 {
        dst.fill(0.0);
    } else {
        for v in dst {
            *v = 0.0;
            // Keeps LLVM from turning the loop into a `memset` call.
            std::hint::black_box(());
        }
    }
}

#[inline(always)]
pub(super) fn add_run(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += *s;
    }
}

/// Writes column rows `row0..row0 + rows` into `col` (`rows * groups * k`
/// elements, overwritten; group-major, see the module doc). `x` holds
/// whole images starting at image 0 of `row0`'s numbering:
/// `[n, in_h, in_w, c_in]`.
pub(super) fn im2col(
    g: &Conv2dGeom,
    gr: &Groups,
    x: &[f32],
    row0: usize,
    rows: usize,
    col: &mut [f32],
) {
    if gr.groups > 1 || g.is_dilated() {
        return im2col_taps(g, gr, x, row0, rows, col);
    }
    let k = g.k();
    let seg = g.fw * g.c_in;
    let img_len = g.in_len();
    let line = g.in_w * g.c_in;
    let c = g.c_in;
    let col = &mut col[..rows * k];
    for_each_pixel(g, row0, rows, |i, n, oy, ox| {
        let dst = &mut col[i * k..(i + 1) * k];
        let img = &x[n * img_len..(n + 1) * img_len];
        let s = span(g, ox);
        let top = (oy * g.sh) as isize - g.pad_top as isize;
        for ky in 0..g.fh {
            let d = &mut dst[ky * seg..(ky + 1) * seg];
            let iy = top + ky as isize;
            if iy < 0 || iy >= g.in_h as isize || s.kx_lo >= s.kx_hi {
                zero_run(d);
                continue;
            }
            let src = &img[iy as usize * line..(iy as usize + 1) * line];
            let len = (s.kx_hi - s.kx_lo) * c;
            if len == seg {
                copy_run(d, &src[s.ix_lo * c..s.ix_lo * c + len]);
                continue;
            }
            zero_run(&mut d[..s.kx_lo * c]);
            copy_run(
                &mut d[s.kx_lo * c..s.kx_lo * c + len],
                &src[s.ix_lo * c..s.ix_lo * c + len],
            );
            zero_run(&mut d[s.kx_hi * c..]);
        }
    });
}

/// Adds column rows `row0..row0 + rows` of `col` (group-major) back onto
/// the input positions they were read from (the adjoint of [`im2col`]);
/// padded positions are dropped. `dx` is `[n, in_h, in_w, c_in]` and is
/// added into.
pub(super) fn col2im_add(
    g: &Conv2dGeom,
    gr: &Groups,
    col: &[f32],
    row0: usize,
    rows: usize,
    dx: &mut [f32],
) {
    if gr.groups > 1 || g.is_dilated() {
        return col2im_add_taps(g, gr, col, row0, rows, dx);
    }
    #[cfg(target_arch = "x86_64")]
    match crate::isa::current() {
        // SAFETY: `current` is an instruction set the CPU runs; AVX-512F
        // and AVX2 are these clones' only requirements.
        crate::isa::Isa::Avx512 => return unsafe { col2im_add_avx512(g, col, row0, rows, dx) },
        crate::isa::Isa::Avx2 => return unsafe { col2im_add_avx2(g, col, row0, rows, dx) },
        crate::isa::Isa::Portable => {}
    }
    col2im_add_body::<false>(g, col, row0, rows, dx);
}

/// [`col2im_add`] compiled for AVX-512, where the runs of additions (a few
/// dozen floats each) take one or two 16-lane operations.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn col2im_add_avx512(g: &Conv2dGeom, col: &[f32], row0: usize, rows: usize, dx: &mut [f32]) {
    col2im_add_body::<true>(g, col, row0, rows, dx);
}

/// [`col2im_add`] compiled for AVX2: the portable body, whose run additions
/// the compiler vectorises to 8 lanes here.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn col2im_add_avx2(g: &Conv2dGeom, col: &[f32], row0: usize, rows: usize, dx: &mut [f32]) {
    col2im_add_body::<false>(g, col, row0, rows, dx);
}

/// `dst += src` in 16-lane steps, the tail under a mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn add_run_avx512(dst: &mut [f32], src: &[f32]) {
    use std::arch::x86_64::*;
    let n = dst.len();
    assert_eq!(src.len(), n);
    let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
    let mut i = 0;
    // SAFETY: every access is below `n`, the length of both slices; the
    // masked tail touches only lanes below `n` too.
    unsafe {
        while i + 16 <= n {
            _mm512_storeu_ps(
                d.add(i),
                _mm512_add_ps(_mm512_loadu_ps(d.add(i)), _mm512_loadu_ps(s.add(i))),
            );
            i += 16;
        }
        if i < n {
            let m: __mmask16 = (1u16 << (n - i)) - 1;
            let sum = _mm512_add_ps(
                _mm512_maskz_loadu_ps(m, d.add(i)),
                _mm512_maskz_loadu_ps(m, s.add(i)),
            );
            _mm512_mask_storeu_ps(d.add(i), m, sum);
        }
    }
}

// Plain loops rather than `for_each_pixel`: a closure would be compiled
// apart from the AVX-512 clone, without its target feature.
#[inline(always)]
fn col2im_add_body<const AVX512: bool>(
    g: &Conv2dGeom,
    col: &[f32],
    row0: usize,
    rows: usize,
    dx: &mut [f32],
) {
    let k = g.k();
    let seg = g.fw * g.c_in;
    let img_len = g.in_len();
    let line = g.in_w * g.c_in;
    let c = g.c_in;
    let plane = g.out_h * g.out_w;
    let mut r = row0;
    while r < row0 + rows {
        // One output row's pixels ox0..ox1, all inside the range.
        let (n, pix) = (r / plane, r % plane);
        let (oy, ox0) = (pix / g.out_w, pix % g.out_w);
        let ox1 = g.out_w.min(ox0 + row0 + rows - r);
        let img = &mut dx[n * img_len..(n + 1) * img_len];
        let top = (oy * g.sh) as isize - g.pad_top as isize;
        for ox in ox0..ox1 {
            let src_row = &col[(r - row0 + ox - ox0) * k..][..k];
            let s = span(g, ox);
            if s.kx_lo >= s.kx_hi {
                continue;
            }
            let len = (s.kx_hi - s.kx_lo) * c;
            for ky in 0..g.fh {
                let iy = top + ky as isize;
                if iy < 0 || iy >= g.in_h as isize {
                    continue;
                }
                let d = &mut img[iy as usize * line..(iy as usize + 1) * line];
                let from = ky * seg + s.kx_lo * c;
                let (dst, src) = (
                    &mut d[s.ix_lo * c..s.ix_lo * c + len],
                    &src_row[from..from + len],
                );
                #[cfg(target_arch = "x86_64")]
                if AVX512 {
                    // SAFETY: `AVX512` is true only in the AVX-512 clone.
                    unsafe { add_run_avx512(dst, src) };
                    continue;
                }
                add_run(dst, src);
            }
        }
        r += ox1 - ox0;
    }
}

/// [`im2col`] one tap at a time, for several groups or a dilated kernel
/// (whose taps are not one run of the input row): per tap, each group's
/// `cg` channels into its own run of the row (one group: all `c_in`).
fn im2col_taps(g: &Conv2dGeom, gr: &Groups, x: &[f32], row0: usize, rows: usize, col: &mut [f32]) {
    let (k, cg) = (gr.k, gr.cg);
    let kt = gr.groups * k;
    let seg = g.fw * cg;
    let img_len = g.in_len();
    let col = &mut col[..rows * kt];
    for_each_pixel(g, row0, rows, |i, n, oy, ox| {
        let img = &x[n * img_len..(n + 1) * img_len];
        let (ky_lo, ky_hi, iy_lo) = window_dilated(oy, g.sh, g.dh, g.pad_top, g.fh, g.in_h);
        let (kx_lo, kx_hi, ix_lo) = window_dilated(ox, g.sw, g.dw, g.pad_left, g.fw, g.in_w);
        for (gi, dst) in col[i * kt..(i + 1) * kt].chunks_exact_mut(k).enumerate() {
            for (ky, d) in dst.chunks_exact_mut(seg).enumerate() {
                if ky < ky_lo || ky >= ky_hi {
                    zero_run(d);
                    continue;
                }
                let src = &img[(iy_lo + (ky - ky_lo) * g.dh) * g.in_w * g.c_in..];
                zero_run(&mut d[..kx_lo * cg]);
                for kx in kx_lo..kx_hi {
                    let at = (ix_lo + (kx - kx_lo) * g.dw) * g.c_in + gi * cg;
                    copy_run(&mut d[kx * cg..(kx + 1) * cg], &src[at..at + cg]);
                }
                zero_run(&mut d[kx_hi.max(kx_lo) * cg..]);
            }
        }
    });
}

/// [`col2im_add`] one tap at a time, the adjoint of [`im2col_taps`].
fn col2im_add_taps(
    g: &Conv2dGeom,
    gr: &Groups,
    col: &[f32],
    row0: usize,
    rows: usize,
    dx: &mut [f32],
) {
    let (k, cg) = (gr.k, gr.cg);
    let kt = gr.groups * k;
    let img_len = g.in_len();
    for_each_pixel(g, row0, rows, |i, n, oy, ox| {
        let src = &col[i * kt..(i + 1) * kt];
        let img = &mut dx[n * img_len..(n + 1) * img_len];
        let (ky_lo, ky_hi, iy_lo) = window_dilated(oy, g.sh, g.dh, g.pad_top, g.fh, g.in_h);
        let (kx_lo, kx_hi, ix_lo) = window_dilated(ox, g.sw, g.dw, g.pad_left, g.fw, g.in_w);
        for ky in ky_lo..ky_hi {
            let iy = iy_lo + (ky - ky_lo) * g.dh;
            for kx in kx_lo..kx_hi {
                let ix = ix_lo + (kx - kx_lo) * g.dw;
                let d = &mut img[(iy * g.in_w + ix) * g.c_in..(iy * g.in_w + ix + 1) * g.c_in];
                let tap = (ky * g.fw + kx) * cg;
                for (gi, dg) in d.chunks_exact_mut(cg).enumerate() {
                    add_run(dg, &src[gi * k + tap..gi * k + tap + cg]);
                }
            }
        }
    });
}

/// The taps of a window along one axis that fall inside the input: output
/// index `o` (stride `s`, `pad` leading zeros, window `f`, input length
/// `n`) reads taps `lo..hi`, tap `lo` at input index `i_lo` (meaningful
/// only when `lo < hi`). Undilated; see [`window_dilated`].
#[inline(always)]
pub(super) fn window(o: usize, s: usize, pad: usize, f: usize, n: usize) -> (usize, usize, usize) {
    let start = (o * s) as isize - pad as isize;
    let lo = (-start).clamp(0, f as isize) as usize;
    let hi = (n as isize - start).clamp(0, f as isize) as usize;
    let i_lo = (start + lo as isize).max(0) as usize;
    (lo, hi, i_lo)
}

/// [`window`] for taps `d` apart: tap `t` of output `o` reads input
/// `o * s - pad + t * d`, so the taps inside `0..n` are `lo..hi` with
/// `lo = ceil(max(pad - o * s, 0) / d)`, `hi = min(ceil((n + pad - o * s) / d), f)`,
/// tap `lo` at input `i_lo`, tap `t` at `i_lo + (t - lo) * d`.
#[inline(always)]
pub(super) fn window_dilated(
    o: usize,
    s: usize,
    d: usize,
    pad: usize,
    f: usize,
    n: usize,
) -> (usize, usize, usize) {
    if d == 1 {
        return window(o, s, pad, f, n);
    }
    let start = (o * s) as isize - pad as isize;
    let di = d as isize;
    let lo = ((-start).max(0) + di - 1) / di;
    let hi = ((n as isize - start).max(0) + di - 1) / di;
    let (lo, hi) = (lo.min(f as isize) as usize, hi.min(f as isize) as usize);
    let i_lo = (start + (lo * d) as isize).max(0) as usize;
    (lo, hi, i_lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Padding;
    use crate::testing::{dot, random};

    // im2col and col2im are adjoint: <im2col(x), c> == <x, col2im(c)>, in
    // one group and in two (where each row's window is group-major).
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for (case, groups) in [
            ([5, 7, 3], [3, 3], [1, 1], Padding::Explicit(1)),
            ([6, 5, 2], [2, 3], [2, 1], Padding::Same),
            ([7, 7, 1], [3, 3], [3, 2], Padding::Same),
            ([4, 4, 3], [1, 1], [2, 2], Padding::Valid),
            ([3, 3, 2], [1, 1], [1, 1], Padding::Explicit(2)),
        ]
        .into_iter()
        .map(|(i, k, s, p)| (i, k, s, [1, 1], p))
        .chain([
            ([9, 8, 3], [3, 3], [1, 1], [2, 2], Padding::Same),
            ([7, 10, 2], [2, 3], [2, 1], [3, 2], Padding::Explicit(1)),
            ([1, 12, 2], [1, 3], [1, 2], [1, 4], Padding::Same),
        ])
        .flat_map(|c| [(c, 1), (c, 2)])
        {
            let (input, kernel, stride, dilation, padding) = case;
            let input = [input[0], input[1], input[2] * groups];
            let g = Conv2dGeom::dilated(input, 4, kernel, stride, dilation, padding).unwrap();
            let gr = super::super::group_sizes(&g, groups).unwrap();
            let batch = 2;
            let rows = batch * g.out_h * g.out_w;
            let x = random(batch * g.in_len(), 1);
            let c = random(rows * g.k(), 2);
            // g.k() = groups * gr.k: a row holds every group's window.
            // Two uneven chunks, to cross an image boundary mid-image.
            let split = rows / 2 + 1;
            let mut col = vec![f32::NAN; rows * g.k()];
            im2col(&g, &gr, &x, 0, split, &mut col[..split * g.k()]);
            im2col(&g, &gr, &x, split, rows - split, &mut col[split * g.k()..]);
            let mut dx = vec![0.0; x.len()];
            col2im_add(&g, &gr, &c[..split * g.k()], 0, split, &mut dx);
            col2im_add(&g, &gr, &c[split * g.k()..], split, rows - split, &mut dx);
            // Every clone the CPU runs agrees with the one it ran.
            for isa in crate::isa::Isa::supported_here() {
                let mut dx2 = vec![0.0; x.len()];
                crate::isa::scoped(isa, || col2im_add(&g, &gr, &c, 0, rows, &mut dx2)).unwrap();
                crate::testing::assert_close(&dx2, &dx, 1e-6, 1e-6);
            }
            let lhs = dot(&col, &c);
            let rhs = dot(&x, &dx);
            assert!(
                (lhs - rhs).abs() < 1e-6 * (1.0 + lhs.abs()),
                "{g:?}: {lhs} vs {rhs}"
            );
        }
    }

    // A 2x2 kernel dilated by 2 on a 4x4 image reads the corners of each
    // 3x3 window: row 0 is inputs 0, 2, 8, 10 (indices of the row-major image).
    #[test]
    fn dilated_rows_skip_inputs() {
        let g = Conv2dGeom::dilated([4, 4, 1], 1, [2, 2], [1, 1], [2, 2], Padding::Valid).unwrap();
        let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let gr = super::super::group_sizes(&g, 1).unwrap();
        let mut col = vec![f32::NAN; 4 * 4];
        im2col(&g, &gr, &x, 0, 4, &mut col);
        assert_eq!(&col[..4], &[0.0, 2.0, 8.0, 10.0]);
        assert_eq!(&col[12..], &[5.0, 7.0, 13.0, 15.0]);
    }

    // The course's 3x3 window on a 4x4 image: row 0 is the top-left window.
    #[test]
    fn first_row_is_the_top_left_window() {
        let g = Conv2dGeom::new([4, 4, 1], 1, [3, 3], [1, 1], Padding::Valid).unwrap();
        let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let gr = super::super::group_sizes(&g, 1).unwrap();
        let mut col = vec![f32::NAN; 4 * 9];
        im2col(&g, &gr, &x, 0, 4, &mut col);
        assert_eq!(&col[..9], &[0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0]);
        assert_eq!(
            &col[27..],
            &[5.0, 6.0, 7.0, 9.0, 10.0, 11.0, 13.0, 14.0, 15.0]
        );
    }
}
