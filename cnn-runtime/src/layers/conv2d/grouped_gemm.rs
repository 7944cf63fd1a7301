//! The portable grouped convolution: a group-major im2col into scratch and
//! one GEMM per group (`gemm_path::sgemm`: allocation-free where the
//! micro-kernel runs), wherever it measures fastest, or with `CNN_CONV=gemm`.
//!
//! Row `r` of the column matrix is output pixel `r`, its `groups * k`
//! entries the window `[group, ky, kx, ci]` (`k = fh * fw * cg`), so group
//! `g`'s columns are one contiguous run of each row and its product is
//! `col[:, g*k..(g+1)*k]` (row stride `groups * k`) times the weights'
//! columns `g*og..(g+1)*og` (row stride `c_out`), written into the output's
//! columns `g*og..` (row stride `c_out`): strided views, no copies.
//!
//! - Forward: `y_g = col_g W_g` per group, then the epilogue.
//! - Weight gradient: `dw_g += col_g^T dY_g`.
//! - Input gradient: `dcol_g = dY_g W_g^T`, scattered back by [`col2im_add`]
//!   (also used by the AVX-512 path at strides other than 1).
//!
//! Window taps `dh` rows and `dw` columns apart (dilation) are read where
//! they fall, so this is also the path of every dilated grouped or
//! depthwise convolution.

use super::gemm_path::sgemm;
use super::grouped::{window_dilated, Groups};
use super::im2col::{add_run, copy_run, for_each_pixel, zero_run};
use super::{epilogue, Epilogue};
use crate::gemm::Mat;
use crate::geom::Conv2dGeom;
use crate::scratch::{self, Slot};

/// Writes column rows `row0..row0 + rows` (group-major, see the module
/// doc) into `col` (`rows * groups * k`, overwritten). `x` holds whole
/// images starting at image 0 of `row0`'s numbering.
pub(super) fn im2col(
    g: &Conv2dGeom,
    gr: &Groups,
    x: &[f32],
    row0: usize,
    rows: usize,
    col: &mut [f32],
) {
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

/// Adds column rows `row0..row0 + rows` of `col` (group-major) back onto
/// the input positions they were read from, the adjoint of [`im2col`];
/// padded positions are dropped. `dx` is `[n, in_h, in_w, c_in]`.
pub(super) fn col2im_add(
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

/// Output pixels `r0..r0 + rows` of the batch into `y` (exactly those
/// rows), then the epilogue. `chunk` is the largest `rows` any call uses,
/// so every call asks the same scratch size.
pub(super) fn forward_rows(
    g: &Conv2dGeom,
    gr: &Groups,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    r0: usize,
    rows: usize,
    chunk: usize,
    y: &mut [f32],
) {
    let (k, n, og) = (gr.k, g.c_out, gr.og);
    let kt = gr.groups * k;
    scratch::with(Slot::Cols, chunk * kt, |col| {
        im2col(g, gr, x, r0, rows, col);
        for gi in 0..gr.groups {
            let a = Mat {
                data: &col[gi * k..],
                rows,
                cols: k,
                row_stride: kt,
                col_stride: 1,
            };
            let b = Mat {
                data: &w[gi * og..],
                rows: k,
                cols: og,
                row_stride: n,
                col_stride: 1,
            };
            sgemm(a, b, 0.0, &mut y[gi * og..], n);
        }
    });
    epilogue::apply(ep, n, y);
}

/// Overwrites `dw` (`[fh, fw, cg, c_out]`) with `col^T dY` per group over
/// whole images `x`, `dy`, in chunks of `chunk` output pixels.
pub(super) fn weight_grad(
    g: &Conv2dGeom,
    gr: &Groups,
    x: &[f32],
    dy: &[f32],
    chunk: usize,
    dw: &mut [f32],
) {
    let (k, n, og) = (gr.k, g.c_out, gr.og);
    let kt = gr.groups * k;
    let total = dy.len() / n;
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        let beta = if r0 == 0 { 0.0 } else { 1.0 };
        scratch::with(Slot::Cols, chunk * kt, |col| {
            im2col(g, gr, x, r0, rows, col);
            for gi in 0..gr.groups {
                let a = Mat {
                    data: &col[gi * k..],
                    rows: k,
                    cols: rows,
                    row_stride: 1,
                    col_stride: kt,
                };
                let b = Mat {
                    data: &dy[r0 * n + gi * og..],
                    rows,
                    cols: og,
                    row_stride: n,
                    col_stride: 1,
                };
                sgemm(a, b, beta, &mut dw[gi * og..], n);
            }
        });
        r0 += rows;
    }
}

/// Overwrites `dx` (whole images) with the input gradient of `dy`, in
/// chunks of `chunk` output pixels.
pub(super) fn input_grad(
    g: &Conv2dGeom,
    gr: &Groups,
    dy: &[f32],
    w: &[f32],
    chunk: usize,
    dx: &mut [f32],
) {
    let (k, n, og) = (gr.k, g.c_out, gr.og);
    let kt = gr.groups * k;
    let total = dy.len() / n;
    dx.fill(0.0);
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        scratch::with(Slot::Cols, chunk * kt, |dcol| {
            for gi in 0..gr.groups {
                let a = Mat {
                    data: &dy[r0 * n + gi * og..],
                    rows,
                    cols: og,
                    row_stride: n,
                    col_stride: 1,
                };
                // W_g^T: element (j, q) is w[q, gi*og + j].
                let b = Mat {
                    data: &w[gi * og..],
                    rows: og,
                    cols: k,
                    row_stride: 1,
                    col_stride: n,
                };
                sgemm(a, b, 0.0, &mut dcol[gi * k..], kt);
            }
            col2im_add(g, gr, dcol, r0, rows, dx);
        });
        r0 += rows;
    }
}
