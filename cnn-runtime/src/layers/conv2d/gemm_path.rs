//! The im2col convolution: im2col + a GEMM, on every CPU (matrixmultiply's
//! `sgemm`, or where the micro-kernel runs the allocation-free blocked
//! product of `packed.rs`). It is the only path of a dilated layer or a
//! CPU without AVX2, and elsewhere a candidate `tune.rs` measures.
//!
//! - Forward: `y = col W` per chunk of output pixels (a 1x1 stride-1
//!   unpadded convolution uses the input rows as `col`).
//! - Weight gradient: `dw += col^T dY`, with `col^T` a strided view.
//! - Input gradient: `dcol = dY W^T`, scattered back with col2im (a 1x1
//!   stride-1 unpadded convolution writes `dx = dY W^T` directly).

use super::{epilogue, im2col, microkernel, packed, Epilogue};
use crate::gemm::Mat;
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
            Mat::rows(&x[r0 * k..(r0 + rows) * k], rows, k),
            wm,
            0.0,
            y,
            n,
        );
    } else {
        scratch::with(Slot::Cols, chunk * k, |col| {
            im2col::im2col(g, x, r0, rows, col);
            sgemm(Mat::rows(col, rows, k), wm, 0.0, y, n);
        });
    }
    epilogue::apply(ep, n, y);
}

/// Overwrites `dw` (`[k, c_out]`) with `col^T dY` over whole images `x`,
/// `dy`, in chunks of `chunk` output pixels ([`backward_chunk`]).
pub(super) fn weight_grad(g: &Conv2dGeom, x: &[f32], dy: &[f32], chunk: usize, dw: &mut [f32]) {
    let (k, n) = (g.k(), g.c_out);
    let total = dy.len() / n;
    let chunk = backward_chunk(g, chunk, total);
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        let dyc = Mat::rows(&dy[r0 * n..(r0 + rows) * n], rows, n);
        let beta = if r0 == 0 { 0.0 } else { 1.0 };
        if g.is_pointwise() {
            sgemm(
                Mat::transposed(&x[r0 * k..(r0 + rows) * k], k, rows),
                dyc,
                beta,
                dw,
                n,
            );
        } else {
            scratch::with(Slot::Cols, chunk * k, |col| {
                im2col::im2col(g, x, r0, rows, col);
                sgemm(Mat::transposed(col, k, rows), dyc, beta, dw, n);
            });
        }
        r0 += rows;
    }
}

/// Overwrites `dx` (whole images) with the input gradient of `dy`, in
/// chunks of `chunk` output pixels. `wt` is the `c_out x k` matrix `W^T`:
/// a transposed view of the weights, or (for the blocked product, which
/// wants B's columns contiguous) a row-major copy made once per call.
pub(super) fn input_grad(g: &Conv2dGeom, dy: &[f32], wt: Mat<'_>, chunk: usize, dx: &mut [f32]) {
    let (k, n) = (g.k(), g.c_out);
    let total = dy.len() / n;
    let pointwise = g.is_pointwise();
    let chunk = backward_chunk(g, chunk, total);
    if !pointwise {
        dx.fill(0.0);
    }
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        if pointwise {
            let dyc = Mat::rows(&dy[r0 * n..(r0 + rows) * n], rows, n);
            sgemm(dyc, wt, 0.0, &mut dx[r0 * k..(r0 + rows) * k], k);
            r0 += rows;
            continue;
        }
        scratch::with(Slot::Cols, chunk * k, |dcol| {
            sgemm(
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

/// Output pixels per product in the backward passes: `chunk`, except that
/// a 1x1 stride-1 convolution on the blocked product (which cuts the depth
/// itself) takes all `total` in one, so that it packs `W^T` once and reads
/// and writes `dw` once per `KC` pixels rather than once per chunk.
fn backward_chunk(g: &Conv2dGeom, chunk: usize, total: usize) -> usize {
    if g.is_pointwise() && microkernel::available() {
        total
    } else {
        chunk
    }
}

/// `C <- A B + beta C` (`beta` 0 or 1): the blocked product over the
/// micro-kernel where it runs (it allocates nothing), matrixmultiply
/// elsewhere.
pub(crate) fn sgemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: &mut [f32], ldc: usize) {
    if microkernel::available() {
        packed::sgemm(a, b, beta, c, ldc);
    } else {
        crate::gemm::sgemm(1.0, a, b, beta, c, ldc);
    }
}
