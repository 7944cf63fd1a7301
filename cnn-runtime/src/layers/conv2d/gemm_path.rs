//! The im2col convolution: im2col + a GEMM per group, on every CPU
//! (matrixmultiply's `sgemm`, or where the micro-kernel runs the
//! allocation-free blocked product of `packed.rs`). It is the only path of
//! a dilated layer or a CPU without AVX2, and elsewhere a candidate
//! `tune.rs` measures.
//!
//! The column matrix is group-major (`im2col.rs`): group `gi`'s columns
//! are `col[:, gi*k..(gi+1)*k]` (row stride `groups * k`), its weights the
//! columns `gi*og..(gi+1)*og` of `[k, c_out]` (row stride `c_out`), its
//! output the columns `gi*og..` of `y`, so each group's product reads and
//! writes strided views, no copies. With one group these are the whole
//! matrices, and a 1x1 stride-1 unpadded convolution uses the input rows
//! as `col`.
//!
//! - Forward: `y_g = col_g W_g` per chunk of output pixels, then the epilogue.
//! - Weight gradient: `dw_g += col_g^T dY_g`, with `col^T` a strided view.
//! - Input gradient: `dcol_g = dY_g W_g^T`, scattered back with col2im (a 1x1
//!   stride-1 unpadded convolution in one group writes `dx = dY W^T` directly).

use super::{epilogue, im2col, microkernel, packed, Epilogue, Groups};
use crate::gemm::Mat;
use crate::geom::Conv2dGeom;
use crate::scratch::{self, Slot};

/// A 1x1 stride-1 unpadded convolution in one group: its column matrix is
/// the input itself.
fn reads_input_rows(g: &Conv2dGeom, gr: &Groups) -> bool {
    gr.groups == 1 && g.is_pointwise()
}

/// Columns `gi*k..(gi+1)*k` of `rows` column rows of `kt` floats.
fn group_cols<'a>(col: &'a [f32], gi: usize, gr: &Groups, rows: usize, kt: usize) -> Mat<'a> {
    Mat {
        data: &col[gi * gr.k..],
        rows,
        cols: gr.k,
        row_stride: kt,
        col_stride: 1,
    }
}

/// Output pixels `r0..r0 + rows` of the batch into `y` (exactly those rows),
/// then the epilogue. `chunk` is the largest `rows` any call uses, so every
/// call asks the same scratch size.
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
    if reads_input_rows(g, gr) {
        let a = Mat::rows(&x[r0 * k..(r0 + rows) * k], rows, k);
        sgemm(a, Mat::rows(w, k, n), 0.0, y, n);
    } else {
        scratch::with(Slot::Cols, chunk * kt, |col| {
            im2col::im2col(g, gr, x, r0, rows, col);
            for gi in 0..gr.groups {
                let b = Mat {
                    data: &w[gi * og..],
                    rows: k,
                    cols: og,
                    row_stride: n,
                    col_stride: 1,
                };
                sgemm(
                    group_cols(col, gi, gr, rows, kt),
                    b,
                    0.0,
                    &mut y[gi * og..],
                    n,
                );
            }
        });
    }
    epilogue::apply(ep, n, y);
}

/// Overwrites `dw` (`[fh, fw, cg, c_out]`) with `col^T dY` per group over
/// whole images `x`, `dy`, in chunks of `chunk` output pixels
/// ([`backward_chunk`]).
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
    let chunk = backward_chunk(g, gr, chunk, total);
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        let beta = if r0 == 0 { 0.0 } else { 1.0 };
        if reads_input_rows(g, gr) {
            let a = Mat::transposed(&x[r0 * k..(r0 + rows) * k], k, rows);
            let dyc = Mat::rows(&dy[r0 * n..(r0 + rows) * n], rows, n);
            sgemm(a, dyc, beta, dw, n);
            r0 += rows;
            continue;
        }
        scratch::with(Slot::Cols, chunk * kt, |col| {
            im2col::im2col(g, gr, x, r0, rows, col);
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
/// chunks of `chunk` output pixels. `wt` is the weights' transpose
/// `wt[co, q] = w[q, co]` (`c_out x k`, so group `gi`'s `og x k` matrix
/// `W_g^T` is rows `gi*og..`), made once per call for the blocked
/// product, which wants B's columns contiguous; without it, `W_g^T` is a
/// transposed view of `w`.
pub(super) fn input_grad(
    g: &Conv2dGeom,
    gr: &Groups,
    dy: &[f32],
    w: &[f32],
    wt: Option<&[f32]>,
    chunk: usize,
    dx: &mut [f32],
) {
    let (k, n, og) = (gr.k, g.c_out, gr.og);
    let kt = gr.groups * k;
    let total = dy.len() / n;
    let pointwise = reads_input_rows(g, gr);
    let chunk = backward_chunk(g, gr, chunk, total);
    let w_group = |gi: usize| match wt {
        Some(wt) => Mat::rows(&wt[gi * og * k..], og, k),
        // Element (j, q) is w[q, gi*og + j].
        None => Mat {
            data: &w[gi * og..],
            rows: og,
            cols: k,
            row_stride: 1,
            col_stride: n,
        },
    };
    if !pointwise {
        dx.fill(0.0);
    }
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        if pointwise {
            let dyc = Mat::rows(&dy[r0 * n..(r0 + rows) * n], rows, n);
            sgemm(dyc, w_group(0), 0.0, &mut dx[r0 * k..(r0 + rows) * k], k);
            r0 += rows;
            continue;
        }
        scratch::with(Slot::Cols, chunk * kt, |dcol| {
            for gi in 0..gr.groups {
                let a = Mat {
                    data: &dy[r0 * n + gi * og..],
                    rows,
                    cols: og,
                    row_stride: n,
                    col_stride: 1,
                };
                sgemm(a, w_group(gi), 0.0, &mut dcol[gi * k..], kt);
            }
            im2col::col2im_add(g, gr, dcol, r0, rows, dx);
        });
        r0 += rows;
    }
}

/// Output pixels per product in the backward passes: `chunk`, except that
/// a 1x1 stride-1 convolution on the blocked product (which cuts the depth
/// itself) takes all `total` in one, so that it packs `W^T` once and reads
/// and writes `dw` once per `KC` pixels rather than once per chunk.
fn backward_chunk(g: &Conv2dGeom, gr: &Groups, chunk: usize, total: usize) -> usize {
    if reads_input_rows(g, gr) && microkernel::available() {
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
