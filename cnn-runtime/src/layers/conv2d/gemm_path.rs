//! The portable convolution: im2col + matrixmultiply's `sgemm`, used on
//! CPUs without AVX-512 and for the input gradient of strided layers.
//!
//! - Forward: `y = col W` per chunk of output pixels (a 1x1 stride-1
//!   unpadded convolution uses the input rows as `col`).
//! - Weight gradient: `dw += col^T dY`, with `col^T` a strided view.
//! - Input gradient: `dcol = dY W^T`, scattered back with col2im (a 1x1
//!   stride-1 unpadded convolution writes `dx = dY W^T` directly).

use super::{epilogue, im2col, Epilogue};
use crate::gemm::{sgemm, Mat};
use crate::geom::Conv2dGeom;
use crate::scratch::{self, Slot};

/// Output pixels `r0..r0 + rows` of the batch into `y` (exactly those rows),
/// then the epilogue. `chunk` is the largest `rows` any call uses, so every
/// call asks the same scratch size.
pub(super) fn forward_rows(
    g: &Conv2dGeom,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    r0: usize,
    rows: usize,
    chunk: usize,
    y: &mut [f32],
) {
    let (k, n) = (g.k(), g.c_out);
    let wm = Mat::rows(w, k, n);
    if g.is_pointwise() {
        sgemm(
            1.0,
            Mat::rows(&x[r0 * k..(r0 + rows) * k], rows, k),
            wm,
            0.0,
            y,
            n,
        );
    } else {
        scratch::with(Slot::Cols, chunk * k, |col| {
            im2col::im2col(g, x, r0, rows, col);
            sgemm(1.0, Mat::rows(col, rows, k), wm, 0.0, y, n);
        });
    }
    epilogue::apply(ep, n, y);
}

/// Overwrites `dw` (`[k, c_out]`) with `col^T dY` over whole images `x`,
/// `dy`, in chunks of `chunk` output pixels.
pub(super) fn weight_grad(g: &Conv2dGeom, x: &[f32], dy: &[f32], chunk: usize, dw: &mut [f32]) {
    let (k, n) = (g.k(), g.c_out);
    let total = dy.len() / n;
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        let dyc = Mat::rows(&dy[r0 * n..(r0 + rows) * n], rows, n);
        let beta = if r0 == 0 { 0.0 } else { 1.0 };
        if g.is_pointwise() {
            sgemm(
                1.0,
                Mat::transposed(&x[r0 * k..(r0 + rows) * k], k, rows),
                dyc,
                beta,
                dw,
                n,
            );
        } else {
            scratch::with(Slot::Cols, chunk * k, |col| {
                im2col::im2col(g, x, r0, rows, col);
                sgemm(1.0, Mat::transposed(col, k, rows), dyc, beta, dw, n);
            });
        }
        r0 += rows;
    }
}

/// Overwrites `dx` (whole images) with the input gradient of `dy`, in
/// chunks of `chunk` output pixels.
pub(super) fn input_grad(g: &Conv2dGeom, dy: &[f32], w: &[f32], chunk: usize, dx: &mut [f32]) {
    let (k, n) = (g.k(), g.c_out);
    let total = dy.len() / n;
    let wt = Mat::transposed(w, n, k);
    let pointwise = g.is_pointwise();
    if !pointwise {
        dx.fill(0.0);
    }
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        if pointwise {
            let dyc = Mat::rows(&dy[r0 * n..(r0 + rows) * n], rows, n);
            sgemm(1.0, dyc, wt, 0.0, &mut dx[r0 * k..(r0 + rows) * k], k);
            r0 += rows;
            continue;
        }
        scratch::with(Slot::Cols, chunk * k, |dcol| {
            sgemm(
                1.0,
                Mat::rows(&dy[r0 * n..(r0 + rows) * n], rows, n),
                wt,
                0.0,
                dcol,
                k,
            );
            im2col::col2im_add(g, dcol, r0, rows, dx);
        });
        r0 += rows;
    }
}
