//! 3-D convolution over NDHWC volumes (PyTorch's `Conv3d`), any groups,
//! stride, padding and dilation, on 3-D im2col + a GEMM (`conv2d`'s
//! allocation-free blocked product where its micro-kernel runs,
//! matrixmultiply elsewhere), one channel group at a time:
//!
//! - Forward: the output voxels of the batch are cut into chunks of rows
//!   whose column matrix stays in L2, spread over [`parallel::for_each`];
//!   each task computes `y = col W` per group into its rows and applies the
//!   epilogue (bias, a folded batch norm, the activation) while they are in
//!   cache.
//! - Backward: each task takes a group of whole volumes, so its `dx`
//!   region is its own. It writes `col^T dY` into its own weight-gradient
//!   partial, sums `dY` into its bias partial, and scatters `dcol = dY W^T`
//!   back with col2im. The partials are reduced in task order and the task
//!   count depends only on the batch (up to 8 threads), so the result does
//!   not depend on scheduling.
//!
//! A convolution with one input channel per group (a first layer on grey
//! clips) builds its column matrix tap-major, `k x rows` (`taps.rs`), where
//! a row-major one would be copied a few floats at a time; the GEMMs read
//! either through strides.
//!
//! Every buffer is a scratch slot, so a step allocates nothing once the
//! slots have grown.

mod im2col;
#[cfg(any(test, feature = "testing"))]
pub mod reference;
mod taps;
#[cfg(test)]
pub(crate) mod tests;

use crate::error::{check_len, Error, Result};
use crate::gemm::Mat;
use crate::geom3d::Conv3dGeom;
use crate::layers::conv2d::{apply_epilogue, check_epilogue, gemm_product, Epilogue};
use crate::parallel;
use crate::parallel::Disjoint;
use crate::scratch::{self, Slot};

/// Column-matrix floats a chunk aims at (512 KB), as for `conv2d`.
const COL_TARGET: usize = 1 << 17;
/// Chunks are multiples of matrixmultiply's row unit.
const ROW_QUANTUM: usize = 16;
/// Backward splits the batch into at most this many volume groups (more
/// only with more threads), so the summation order of the weight gradient
/// is the same on 1 or 2 threads.
const BACKWARD_GROUPS: usize = 8;

/// Lengths of one call: input, output, weights.
fn sizes(g: &Conv3dGeom, batch: usize) -> Result<[usize; 3]> {
    g.validate()?;
    if batch == 0 {
        return Err(Error::InvalidArgument(
            "conv3d: batch must be positive".into(),
        ));
    }
    let overflow = || Error::InvalidArgument(format!("conv3d: batch {batch} overflows"));
    Ok([
        batch.checked_mul(g.in_len()).ok_or_else(overflow)?,
        batch.checked_mul(g.out_len()).ok_or_else(overflow)?,
        g.weight_len(),
    ])
}

/// Output voxels per chunk: a column matrix (and the chunk's output rows)
/// of about [`COL_TARGET`] floats.
fn chunk_rows(g: &Conv3dGeom) -> usize {
    (COL_TARGET / (g.k() + g.c_out))
        .max(ROW_QUANTUM)
        .div_ceil(ROW_QUANTUM)
        * ROW_QUANTUM
}

/// Builds the column matrix of output voxels `row0..row0 + rows` over the
/// channels of `group`: row-major (`rows x k`) or, with one channel per
/// group, tap-major (`k x rows`, [`taps`]).
fn build_cols(g: &Conv3dGeom, group: usize, x: &[f32], row0: usize, rows: usize, col: &mut [f32]) {
    if taps::tap_major(g) {
        taps::im2col(g, group, x, row0, rows, col);
    } else {
        im2col::im2col(g, group, x, row0, rows, col);
    }
}

/// The column matrix [`build_cols`] wrote, as `rows x k`.
fn cols_of<'a>(g: &Conv3dGeom, col: &'a [f32], rows: usize) -> Mat<'a> {
    if taps::tap_major(g) {
        Mat::transposed(col, rows, g.k())
    } else {
        Mat::rows(col, rows, g.k())
    }
}

/// Its transpose, `k x rows`.
fn cols_t_of<'a>(g: &Conv3dGeom, col: &'a [f32], rows: usize) -> Mat<'a> {
    if taps::tap_major(g) {
        Mat::rows(col, g.k(), rows)
    } else {
        Mat::transposed(col, g.k(), rows)
    }
}

/// Group `group`'s columns of the weights, `k x c_out / groups`.
fn weights_of<'a>(g: &Conv3dGeom, w: &'a [f32], group: usize) -> Mat<'a> {
    let og = g.c_out / g.groups;
    Mat {
        data: &w[group * og..],
        rows: g.k(),
        cols: og,
        row_stride: g.c_out,
        col_stride: 1,
    }
}

/// Group `group`'s columns of `rows` output rows of `dy`.
fn dy_of<'a>(g: &Conv3dGeom, dy: &'a [f32], group: usize, rows: usize) -> Mat<'a> {
    let og = g.c_out / g.groups;
    Mat {
        data: &dy[group * og..],
        rows,
        cols: og,
        row_stride: g.c_out,
        col_stride: 1,
    }
}

/// `y = act((conv3d(x, w) + bias) * scale + shift)`. Overwrites y.
/// `x: [batch, in_d, in_h, in_w, c_in]  w: [fd, fh, fw, c_in / groups, c_out]  y: [batch, out_d, out_h, out_w, c_out]`
///
/// Errors: a geometry that does not validate, a zero batch, or a slice
/// of the wrong length.
pub fn forward(
    g: &Conv3dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) -> Result<()> {
    let [x_len, y_len, w_len] = sizes(g, batch)?;
    check_len("conv3d forward: x", x.len(), x_len)?;
    check_len("conv3d forward: w", w.len(), w_len)?;
    check_len("conv3d forward: y", y.len(), y_len)?;
    check_epilogue(ep, g.c_out)?;
    let (k, n) = (g.k(), g.c_out);
    let total = batch * g.out_voxels();
    let mut chunk = chunk_rows(g);
    // At least one task per thread when there is enough work.
    let threads = parallel::threads();
    if total.div_ceil(chunk) < threads {
        chunk = total.div_ceil(threads).div_ceil(ROW_QUANTUM).max(1) * ROW_QUANTUM;
    }
    let tasks = total.div_ceil(chunk);
    let out = Disjoint::new(y);
    parallel::for_each(tasks, &|t| {
        let r0 = t * chunk;
        let rows = chunk.min(total - r0);
        // SAFETY: task t alone writes output rows r0..r0 + rows.
        let yc = unsafe { out.range(r0 * n, (r0 + rows) * n) };
        scratch::with(Slot::Cols, chunk * k, |col| {
            for group in 0..g.groups {
                build_cols(g, group, x, r0, rows, col);
                let og = n / g.groups;
                gemm_product(
                    cols_of(g, col, rows),
                    weights_of(g, w, group),
                    0.0,
                    &mut yc[group * og..],
                    n,
                );
            }
        });
        apply_epilogue(ep, n, yc);
    });
    Ok(())
}

/// Gradients of a 3-D convolution. `dy` is the gradient with respect to
/// its output before any activation. Overwrites `dx` when given; adds into
/// `dw` and `db`.
/// `x, dx: [batch, in_d, in_h, in_w, c_in]  w, dw: [fd, fh, fw, c_in / groups, c_out]  dy: [batch, out_d, out_h, out_w, c_out]  db: [c_out]`
///
/// Errors: as [`forward`], for every slice given.
#[allow(clippy::too_many_arguments)] // one slice per tensor, as conv2d's
pub fn backward(
    g: &Conv3dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) -> Result<()> {
    let [x_len, y_len, w_len] = sizes(g, batch)?;
    check_len("conv3d backward: x", x.len(), x_len)?;
    check_len("conv3d backward: w", w.len(), w_len)?;
    check_len("conv3d backward: dy", dy.len(), y_len)?;
    if let Some(dx) = dx.as_deref() {
        check_len("conv3d backward: dx", dx.len(), x_len)?;
    }
    check_len("conv3d backward: dw", dw.len(), w_len)?;
    if let Some(db) = db.as_deref() {
        check_len("conv3d backward: db", db.len(), g.c_out)?;
    }
    run_backward(g, batch, x, w, dy, dx, Some((dw, db)));
    Ok(())
}

/// The input gradient alone, for a layer whose weights get no gradient.
/// Overwrites dx.
/// `w: [fd, fh, fw, c_in / groups, c_out]  dy: [batch, out_d, out_h, out_w, c_out]  dx: [batch, in_d, in_h, in_w, c_in]`
///
/// Errors: as [`forward`].
pub fn backward_input(
    g: &Conv3dGeom,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let [x_len, y_len, w_len] = sizes(g, batch)?;
    check_len("conv3d backward_input: w", w.len(), w_len)?;
    check_len("conv3d backward_input: dy", dy.len(), y_len)?;
    check_len("conv3d backward_input: dx", dx.len(), x_len)?;
    run_backward(g, batch, &[], w, dy, Some(dx), None);
    Ok(())
}

type ParamGrads<'a, 'b> = Option<(&'a mut [f32], Option<&'b mut [f32]>)>;

fn run_backward(
    g: &Conv3dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    params: ParamGrads<'_, '_>,
) {
    let (k, n) = (g.k(), g.c_out);
    let tasks = batch.min(BACKWARD_GROUPS.max(parallel::threads()));
    let per_task = batch.div_ceil(tasks);
    let tasks = batch.div_ceil(per_task);
    let chunk = chunk_rows(g);
    let w_len = g.weight_len();
    let part_len = if params.is_some() { w_len + n } else { 0 };
    let want_db = matches!(params, Some((_, Some(_))));
    scratch::with(Slot::Partial, tasks * part_len, |partials| {
        let parts = Disjoint::new(partials);
        let dx_all = dx.map(Disjoint::new);
        parallel::for_each(tasks, &|t| {
            let v0 = t * per_task;
            let vols = per_task.min(batch - v0);
            let dys = &dy[v0 * g.out_len()..(v0 + vols) * g.out_len()];
            let total = vols * g.out_voxels();
            let xs = if part_len > 0 {
                &x[v0 * g.in_len()..(v0 + vols) * g.in_len()]
            } else {
                &[]
            };
            // SAFETY: task t alone uses partial t.
            let part = unsafe { parts.range(t * part_len, (t + 1) * part_len) };
            let (pw, pb) = part.split_at_mut(if part_len > 0 { w_len } else { 0 });
            if want_db {
                pb.fill(0.0);
                for row in dys.chunks_exact(n) {
                    pb.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                }
            }
            // SAFETY: task t alone writes the dx of its volumes v0..v0 + vols.
            let mut dxs = dx_all
                .as_ref()
                .map(|d| unsafe { d.range(v0 * g.in_len(), (v0 + vols) * g.in_len()) });
            if let Some(dxs) = dxs.as_deref_mut() {
                dxs.fill(0.0);
            }
            let og = n / g.groups;
            let mut r0 = 0;
            while r0 < total {
                let rows = chunk.min(total - r0);
                let dyc = dy_rows(dys, n, r0, rows);
                scratch::with(Slot::Cols, chunk * k, |col| {
                    for group in 0..g.groups {
                        if part_len > 0 {
                            build_cols(g, group, xs, r0, rows, col);
                            let beta = if r0 == 0 { 0.0 } else { 1.0 };
                            gemm_product(
                                cols_t_of(g, col, rows),
                                dy_of(g, dyc, group, rows),
                                beta,
                                &mut pw[group * og..],
                                n,
                            );
                        }
                        if let Some(dxs) = dxs.as_deref_mut() {
                            let wm = weights_of(g, w, group);
                            if taps::tap_major(g) {
                                // dcol^T = W_g dY_g^T: k x rows.
                                let dyt = Mat {
                                    data: &dyc[group * og..],
                                    rows: og,
                                    cols: rows,
                                    row_stride: 1,
                                    col_stride: n,
                                };
                                gemm_product(wm, dyt, 0.0, col, rows);
                                taps::col2im_add(g, group, col, r0, rows, dxs);
                                continue;
                            }
                            // W_g^T: og x k.
                            let wt = Mat {
                                data: wm.data,
                                rows: og,
                                cols: k,
                                row_stride: 1,
                                col_stride: n,
                            };
                            gemm_product(dy_of(g, dyc, group, rows), wt, 0.0, col, k);
                            im2col::col2im_add(g, group, col, r0, rows, dxs);
                        }
                    }
                });
                r0 += rows;
            }
        });
        // Reduce in task order, so the sums do not depend on scheduling.
        let Some((dw, mut db)) = params else {
            return;
        };
        for part in partials.chunks_exact(part_len) {
            let (pw, pb) = part.split_at(w_len);
            dw.iter_mut().zip(pw).for_each(|(d, p)| *d += p);
            if let Some(db) = db.as_deref_mut() {
                db.iter_mut().zip(pb).for_each(|(d, p)| *d += p);
            }
        }
    });
}

/// Rows `r0..r0 + rows` of `dy` (`n` columns).
fn dy_rows(dy: &[f32], n: usize, r0: usize, rows: usize) -> &[f32] {
    &dy[r0 * n..(r0 + rows) * n]
}
