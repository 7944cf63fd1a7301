//! 2-D convolution over NHWC tensors, forward and backward, as im2col plus
//! one `sgemm` per chunk of output pixels.
//!
//! Forward: the column matrix of a chunk (`rows x k`, `k = fh*fw*c_in`) times
//! the weights (`[fh, fw, c_in, c_out]` is already the `k x c_out` row-major
//! matrix) gives the chunk's output rows, already NHWC; the epilogue (bias,
//! per-channel affine, activation) runs on them while they are in cache. A
//! 1x1 stride-1 unpadded convolution skips im2col: the input rows are the
//! column matrix. Chunks are sized so the column matrix stays in L2 and are
//! spread over [`parallel::for_each`]; they may split an image, so a batch
//! of one still uses every thread when the work pays for it.
//!
//! Backward: each task owns a group of whole images, so its `dx` region is
//! its own. Per chunk it rebuilds the columns, adds `col^T dY` into its own
//! weight-gradient partial, sums `dY` into its bias partial, and when `dx` is
//! wanted computes `dcol = dY W^T` and scatters it with col2im. The partials
//! are reduced in task order, and the task count depends only on the batch,
//! so the result does not depend on which thread ran what.

mod epilogue;
pub mod im2col;
#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;

use crate::error::{check_len, Error, Result};
use crate::gemm::{sgemm, Mat};
use crate::geom::{Act, Conv2dGeom};
use crate::parallel;
use crate::scratch::{self, Slot};

/// What runs on a convolution's output before it is stored, per output
/// channel: `y = act((conv(x, w) + bias) * scale + shift)`.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    /// `[c_out]`, added first.
    pub bias: Option<&'a [f32]>,
    /// `(scale, shift)`, each `[c_out]` (a batch norm folded for inference).
    pub affine: Option<(&'a [f32], &'a [f32])>,
    pub act: Act,
}

impl<'a> Epilogue<'a> {
    /// The plain convolution: no bias, no affine, identity.
    pub const NONE: Epilogue<'static> = Epilogue {
        bias: None,
        affine: None,
        act: Act::Identity,
    };

    /// A bias (when given) then an activation.
    pub fn new(bias: Option<&'a [f32]>, act: Act) -> Self {
        Epilogue {
            bias,
            affine: None,
            act,
        }
    }
}

/// Column-matrix floats a chunk aims at (512 KB): small enough for L2, large
/// enough that the product's fixed costs (packing the weights) are spread.
const COL_TARGET: usize = 1 << 17;
/// Below this many multiply-adds a task costs more to hand out than to run.
const MIN_TASK_MACS: usize = 1 << 18;
/// The row unit of matrixmultiply's micro-kernel; chunks are multiples of it
/// so that only the last chunk has a partial tile.
const ROW_QUANTUM: usize = 16;
/// Backward splits the batch into at most this many image groups (more only
/// with more threads), so the summation order of the weight gradient is the
/// same on 1 or 2 threads.
const BACKWARD_GROUPS: usize = 8;

/// Sizes of one call, computed with checked arithmetic.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    x: usize,
    y: usize,
    w: usize,
    /// Output pixels of the whole batch: the GEMM's `M`.
    rows: usize,
}

impl Conv2dGeom {
    /// Checks a geometry built by hand: every size positive, the output size
    /// consistent with the input, kernel, stride and top/left padding (the
    /// windows end at most one row or column past a symmetric padding, as
    /// `same` with an odd total allows, and one more output would not fit),
    /// and every tensor length representable.
    pub fn validate(&self) -> Result<()> {
        let g = self;
        let fields = [
            ("in_h", g.in_h),
            ("in_w", g.in_w),
            ("c_in", g.c_in),
            ("out_h", g.out_h),
            ("out_w", g.out_w),
            ("c_out", g.c_out),
            ("fh", g.fh),
            ("fw", g.fw),
            ("sh", g.sh),
            ("sw", g.sw),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, v)| *v == 0) {
            return Err(Error::InvalidArgument(format!(
                "conv2d: {name} must be positive in {g:?}"
            )));
        }
        check_axis("height", g.in_h, g.fh, g.sh, g.pad_top, g.out_h)?;
        check_axis("width", g.in_w, g.fw, g.sw, g.pad_left, g.out_w)?;
        let prod = |v: &[usize]| v.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        let ok = prod(&[g.in_h, g.in_w, g.c_in]).is_some()
            && prod(&[g.out_h, g.out_w, g.c_out]).is_some()
            && prod(&[g.fh, g.fw, g.c_in, g.c_out]).is_some();
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "conv2d: tensor sizes overflow in {g:?}"
            )));
        }
        Ok(())
    }
}

/// One axis: `out` windows of `f` with stride `s` after `p` leading zeros
/// must end within `n + 2p + 1` and a further window must not fit in `n + 2p`.
fn check_axis(what: &str, n: usize, f: usize, s: usize, p: usize, out: usize) -> Result<()> {
    let span = (out - 1).checked_mul(s).and_then(|v| v.checked_add(f));
    let next = out.checked_mul(s).and_then(|v| v.checked_add(f));
    let padded = p.checked_mul(2).and_then(|v| v.checked_add(n));
    let (Some(span), Some(next), Some(padded)) = (span, next, padded) else {
        return Err(Error::InvalidArgument(format!(
            "conv2d: {what} arithmetic overflows"
        )));
    };
    if span > padded + 1 || next <= padded {
        return Err(Error::InvalidArgument(format!(
            "conv2d: {what}: output {out} does not match input {n}, kernel {f}, stride {s}, leading padding {p} \
             (expected floor((n + 2p - f) / s) + 1 = {})",
            if padded >= f { (padded - f) / s + 1 } else { 0 }
        )));
    }
    Ok(())
}

fn sizes(g: &Conv2dGeom, batch: usize) -> Result<Sizes> {
    g.validate()?;
    if batch == 0 {
        return Err(Error::InvalidArgument(
            "conv2d: batch must be positive".into(),
        ));
    }
    let mul = |a: usize, b: usize| {
        a.checked_mul(b).ok_or_else(|| {
            Error::InvalidArgument(format!("conv2d: batch {batch} overflows the tensor sizes"))
        })
    };
    Ok(Sizes {
        x: mul(batch, g.in_len())?,
        y: mul(batch, g.out_len())?,
        w: g.weight_len(),
        rows: mul(batch, g.out_h * g.out_w)?,
    })
}

/// A mutable slice shared by tasks that each write their own disjoint part.
#[derive(Clone, Copy)]
struct Shared {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: `Shared` only hands out sub-slices through `part`, whose callers
// promise that concurrently used ranges are disjoint.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

impl Shared {
    fn new(s: &mut [f32]) -> Self {
        Shared {
            ptr: s.as_mut_ptr(),
            len: s.len(),
        }
    }

    /// # Safety
    /// No other live reference may overlap `start..start + len` while the
    /// returned slice is used, and the original slice must outlive it.
    #[allow(clippy::mut_from_ref)] // the aliasing rule is this function's contract
    unsafe fn part(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(
            start <= self.len && len <= self.len - start,
            "shared slice out of range"
        );
        // SAFETY: in bounds (checked above); exclusivity is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

/// How `total` rows of `row_cost` floats each, at `macs_per_row`, are cut
/// into tasks: returns rows per task (a multiple of [`ROW_QUANTUM`] unless it
/// is all of them) and the number of tasks.
fn plan(total: usize, row_cost: usize, macs_per_row: usize, threads: usize) -> (usize, usize) {
    let by_cache = (COL_TARGET / row_cost.max(1)).max(ROW_QUANTUM);
    let by_work = MIN_TASK_MACS.div_ceil(macs_per_row.max(1)).max(1);
    let mut tasks = total.div_ceil(by_cache);
    let worth = (total / by_work).max(1);
    if tasks < threads {
        tasks = threads.min(worth);
    } else {
        tasks = tasks.div_ceil(threads) * threads;
    }
    let rows = total.div_ceil(tasks.max(1));
    let rows = rows.div_ceil(ROW_QUANTUM) * ROW_QUANTUM;
    if rows >= total {
        (total, 1)
    } else {
        (rows, total.div_ceil(rows))
    }
}

/// `y = act((conv(x, w) + bias) * scale + shift)`, NHWC. Overwrites `y`.
/// x: [batch, in_h, in_w, c_in]  w: [fh, fw, c_in, c_out]  y: [batch, out_h, out_w, c_out]
pub fn forward(
    g: &Conv2dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) -> Result<()> {
    let sz = sizes(g, batch)?;
    check_len("conv2d forward: x", x.len(), sz.x)?;
    check_len("conv2d forward: w", w.len(), sz.w)?;
    check_len("conv2d forward: y", y.len(), sz.y)?;
    epilogue::check(ep, g.c_out)?;
    let (k, n) = (g.k(), g.c_out);
    let (chunk, tasks) = plan(sz.rows, k + n, k * n, parallel::threads());
    let out = Shared::new(y);
    let pointwise = g.is_pointwise();
    parallel::for_each(tasks, &|t| {
        let r0 = t * chunk;
        let rows = chunk.min(sz.rows - r0);
        // SAFETY: task t alone writes output rows r0..r0 + rows.
        let yc = unsafe { out.part(r0 * n, rows * n) };
        let wm = Mat::rows(w, k, n);
        if pointwise {
            sgemm(
                1.0,
                Mat::rows(&x[r0 * k..(r0 + rows) * k], rows, k),
                wm,
                0.0,
                yc,
                n,
            );
        } else {
            scratch::with(Slot::Cols, chunk * k, |col| {
                im2col::im2col(g, x, r0, rows, col);
                sgemm(1.0, Mat::rows(col, rows, k), wm, 0.0, yc, n);
            });
        }
        epilogue::apply(ep, n, yc);
    });
    Ok(())
}

/// Gradients of a convolution. `dy` is the gradient with respect to the
/// convolution's output before any activation (the caller applied `act'`).
/// Overwrites `dx` when given (skip it for a first layer); adds into `dw`
/// and `db`.
/// x: [batch, in_h, in_w, c_in]  w, dw: [fh, fw, c_in, c_out]  dy: [batch, out_h, out_w, c_out]
/// dx: [batch, in_h, in_w, c_in]  db: [c_out]
pub fn backward(
    g: &Conv2dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    mut db: Option<&mut [f32]>,
) -> Result<()> {
    let sz = sizes(g, batch)?;
    check_len("conv2d backward: x", x.len(), sz.x)?;
    check_len("conv2d backward: w", w.len(), sz.w)?;
    check_len("conv2d backward: dy", dy.len(), sz.y)?;
    if let Some(dx) = dx.as_deref() {
        check_len("conv2d backward: dx", dx.len(), sz.x)?;
    }
    check_len("conv2d backward: dw", dw.len(), sz.w)?;
    if let Some(db) = db.as_deref() {
        check_len("conv2d backward: db", db.len(), g.c_out)?;
    }
    let (k, n) = (g.k(), g.c_out);
    let plane = g.out_h * g.out_w;
    let groups = batch.min(BACKWARD_GROUPS.max(parallel::threads()));
    let per_group = batch.div_ceil(groups);
    let groups = batch.div_ceil(per_group);
    // Rows per inner chunk: columns, their gradient and dY in L2.
    let chunk = (COL_TARGET / (2 * k + n))
        .max(ROW_QUANTUM)
        .div_ceil(ROW_QUANTUM)
        * ROW_QUANTUM;
    let want_db = db.is_some();
    let part_len = sz.w + n;
    let pointwise = g.is_pointwise();
    scratch::with(Slot::Partial, groups * part_len, |partials| {
        let parts = Shared::new(partials);
        let dx_all = dx.map(Shared::new);
        parallel::for_each(groups, &|t| {
            let n0 = t * per_group;
            let imgs = per_group.min(batch - n0);
            let xs = &x[n0 * g.in_len()..(n0 + imgs) * g.in_len()];
            let dys = &dy[n0 * g.out_len()..(n0 + imgs) * g.out_len()];
            // SAFETY: task t alone uses partial t.
            let part = unsafe { parts.part(t * part_len, part_len) };
            let (pw, pb) = part.split_at_mut(sz.w);
            // SAFETY: task t alone uses the dx of its images n0..n0 + imgs.
            let mut dxs = dx_all
                .as_ref()
                .map(|s| unsafe { s.part(n0 * g.in_len(), imgs * g.in_len()) });
            if let (Some(d), false) = (dxs.as_deref_mut(), pointwise) {
                d.fill(0.0);
            }
            pb.fill(0.0);
            let total = imgs * plane;
            let mut r0 = 0;
            while r0 < total {
                let rows = chunk.min(total - r0);
                let dyc = &dys[r0 * n..(r0 + rows) * n];
                let beta = if r0 == 0 { 0.0 } else { 1.0 };
                if want_db {
                    for row in dyc.chunks_exact(n) {
                        pb.iter_mut().zip(row).for_each(|(b, v)| *b += v);
                    }
                }
                let wt = Mat::transposed(w, n, k);
                if pointwise {
                    let xc = &xs[r0 * k..(r0 + rows) * k];
                    sgemm(
                        1.0,
                        Mat::transposed(xc, k, rows),
                        Mat::rows(dyc, rows, n),
                        beta,
                        pw,
                        n,
                    );
                    if let Some(d) = dxs.as_deref_mut() {
                        sgemm(
                            1.0,
                            Mat::rows(dyc, rows, n),
                            wt,
                            0.0,
                            &mut d[r0 * k..(r0 + rows) * k],
                            k,
                        );
                    }
                } else {
                    scratch::with(Slot::Cols, chunk * k, |col| {
                        im2col::im2col(g, xs, r0, rows, col);
                        sgemm(
                            1.0,
                            Mat::transposed(col, k, rows),
                            Mat::rows(dyc, rows, n),
                            beta,
                            pw,
                            n,
                        );
                        if let Some(d) = dxs.as_deref_mut() {
                            // The columns are dead now: reuse them for dcol.
                            sgemm(1.0, Mat::rows(dyc, rows, n), wt, 0.0, col, k);
                            im2col::col2im_add(g, col, r0, rows, d);
                        }
                    });
                }
                r0 += rows;
            }
        });
        // Reduce in task order, so the sums do not depend on scheduling.
        for part in partials.chunks_exact(part_len) {
            let (pw, pb) = part.split_at(sz.w);
            dw.iter_mut().zip(pw).for_each(|(d, p)| *d += p);
            if let Some(db) = db.as_deref_mut() {
                db.iter_mut().zip(pb).for_each(|(d, p)| *d += p);
            }
        }
    });
    Ok(())
}
