//! The split of a convolution's work over the thread pool, for any group
//! count and kernel: forward cuts the batch's output rows into tasks sized
//! to stay in L2 (cut inside an image when the batch is smaller than the
//! thread count), each applying the epilogue to its rows while they are in
//! cache; backward gives each task a run of whole images, so its `dx`
//! region is its own, with its own weight- and bias-gradient partial,
//! summed in task order afterwards. The number of tasks depends only on
//! the batch (up to 8 threads), so results do not depend on scheduling.

use super::paths::{DxPath, Kernel};
use super::{
    depthwise, gemm_path, implicit, microkernel, Epilogue, Groups, Sizes, BACKWARD_GROUPS,
    COL_TARGET, MIN_TASK_MACS, ROW_QUANTUM,
};
use crate::geom::Conv2dGeom;
use crate::parallel::{self, Disjoint};
use crate::scratch::{self, Slot};

/// How `total` rows of `row_cost` floats each, at `macs_per_row`, are cut
/// into tasks: returns rows per task (a multiple of `quantum` unless it is
/// all of them) and the number of tasks.
fn plan(
    total: usize,
    row_cost: usize,
    macs_per_row: usize,
    threads: usize,
    quantum: usize,
) -> (usize, usize) {
    let by_cache = (COL_TARGET / row_cost.max(1)).max(quantum);
    let by_work = MIN_TASK_MACS.div_ceil(macs_per_row.max(1)).max(1);
    let mut tasks = total.div_ceil(by_cache);
    let worth = (total / by_work).max(1);
    if tasks < threads {
        tasks = threads.min(worth);
    } else {
        tasks = tasks.div_ceil(threads) * threads;
    }
    let rows = total.div_ceil(tasks.max(1));
    let rows = rows.div_ceil(quantum) * quantum;
    if rows >= total {
        (total, 1)
    } else {
        (rows, total.div_ceil(rows))
    }
}

/// The forward pass on `kernel`; overwrites `y`.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_path(
    kernel: Kernel,
    g: &Conv2dGeom,
    gr: &Groups,
    sz: Sizes,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) {
    let (k, n) = (gr.k, g.c_out);
    let one = gr.groups == 1;
    if kernel == Kernel::Implicit && one && implicit::strided_pointwise(g) {
        // A 1x1 strided convolution reads one pixel in sh * sw: gather
        // those into a dense batch, then run it as a pointwise one (its
        // rows are then the whole batch's pixels, not one output row).
        let dense = Conv2dGeom {
            in_h: g.out_h,
            in_w: g.out_w,
            sh: 1,
            sw: 1,
            ..*g
        };
        let batch = sz.rows / (g.out_h * g.out_w);
        return scratch::with(Slot::Partial, sz.rows * g.c_in, |xs| {
            implicit::subsample(g, batch, x, xs);
            forward_path(kernel, &dense, gr, sz, xs, w, ep, y);
        });
    }
    let out = Disjoint::new(y);
    let threads = parallel::threads();
    if (kernel == Kernel::Implicit && one && implicit::pointwise(g)) || kernel == Kernel::Gemm {
        // Runs of output pixels, across rows and images: a 1x1 stride-1
        // convolution is one product over every pixel of the batch, and
        // the im2col path's column matrix of a run stays in L2.
        let (chunk, tasks) = plan(sz.rows, g.k() + n, k * n, threads, ROW_QUANTUM);
        parallel::for_each(tasks, &|t| {
            let r0 = t * chunk;
            let rows = chunk.min(sz.rows - r0);
            // SAFETY: task t alone writes output pixels r0..r0 + rows.
            let yc = unsafe { out.part(r0 * n, rows * n) };
            match kernel {
                Kernel::Gemm => gemm_path::forward_rows(g, gr, x, w, ep, r0, rows, chunk, yc),
                _ => implicit::pointwise_rows(g, x, w, ep, r0, rows, yc),
            }
        });
        return;
    }
    // Runs of output rows; an image's rows may be split.
    let total = sz.rows / g.out_w;
    let row_len = g.out_w * n;
    let (chunk, tasks) = plan(total, row_len, g.out_w * k * n, threads, 1);
    let run = |w: &[f32]| {
        parallel::for_each(tasks, &|t| {
            let r0 = t * chunk;
            let r1 = (r0 + chunk).min(total);
            // SAFETY: task t alone writes output rows r0..r1.
            let yc = unsafe { out.part(r0 * row_len, (r1 - r0) * row_len) };
            match kernel {
                Kernel::Direct(isa) => depthwise::forward_rows(isa, g, gr.cg, x, w, ep, r0, r1, yc),
                _ => implicit::forward_rows(g, gr, x, w, ep, r0, r1, yc),
            }
        })
    };
    if kernel == Kernel::Implicit && !one {
        // The micro-kernel reads each group's weights as one contiguous matrix.
        scratch::with(Slot::Aux, gr.w, |wp| {
            implicit::pack_kernel(g, gr, w, wp);
            run(wp);
        });
    } else {
        run(w);
    }
}

/// Overwrites `sums` (`[n]`) with the column sums of `rows` (`[m, n]`): the
/// bias gradient. On the implicit path this is the product of a row of ones
/// with `rows`, which the micro-kernel runs at full vector width.
fn column_sums(rows: &[f32], n: usize, sums: &mut [f32]) {
    if microkernel::available() {
        let ones = microkernel::Walk {
            ia: 0,
            us: 0,
            ulen: 1,
            vs: 0,
            vlen: rows.len() / n,
        };
        microkernel::gemm(
            1,
            n,
            &[1.0],
            ones,
            rows,
            n,
            sums,
            n,
            microkernel::Store::Overwrite,
        );
        return;
    }
    sums.fill(0.0);
    for row in rows.chunks_exact(n) {
        sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
}

/// The input gradient alone on `dx_path`; overwrites `dx`.
#[allow(clippy::too_many_arguments)]
pub(super) fn input_grad(
    dx_path: DxPath,
    g: &Conv2dGeom,
    gr: &Groups,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) {
    backward_path(
        Kernel::Gemm,
        dx_path,
        g,
        gr,
        batch,
        &[],
        w,
        dy,
        Some(dx),
        None,
        None,
    );
}

/// The weight (and bias) gradient alone, summed into `dw` (and `db`).
#[allow(clippy::too_many_arguments)]
pub(super) fn weight_grad(
    kernel: Kernel,
    g: &Conv2dGeom,
    gr: &Groups,
    batch: usize,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    if big_weights(kernel, g, gr) {
        implicit::backward_big(g, batch, x, &[], dy, None, dw, db);
    } else {
        backward_path(
            kernel,
            DxPath::Gemm,
            g,
            gr,
            batch,
            x,
            &[],
            dy,
            None,
            Some(dw),
            db,
        );
    }
}

/// Whether the weight gradient on `kernel` takes `implicit_big.rs`'s
/// backward (one group whose weights exceed L2).
pub(super) fn big_weights(kernel: Kernel, g: &Conv2dGeom, gr: &Groups) -> bool {
    kernel == Kernel::Implicit && gr.groups == 1 && implicit::big_weights(g)
}

/// Both gradients, or either: the weight gradient on `kernel` when `dw` is
/// given (and the bias gradient when `db` is), the input gradient on
/// `dx_path` when `dx` is. Adds into `dw` and `db`, overwrites `dx`.
/// Without `dw`, `x` is not read.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward_path(
    kernel: Kernel,
    dx_path: DxPath,
    g: &Conv2dGeom,
    gr: &Groups,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    mut db: Option<&mut [f32]>,
) {
    let n = g.c_out;
    let tasks = batch.min(BACKWARD_GROUPS.max(parallel::threads()));
    let per_task = batch.div_ceil(tasks);
    let tasks = batch.div_ceil(per_task);
    // Output pixels per chunk where a column matrix is formed: columns and
    // dY in L2.
    let chunk = (COL_TARGET / (g.k() + n))
        .max(ROW_QUANTUM)
        .div_ceil(ROW_QUANTUM)
        * ROW_QUANTUM;
    let want_dw = dw.is_some();
    let part_len = if want_dw { gr.w + n } else { 0 };
    let want_db = want_dw && db.is_some();
    // The input gradient reads the weights rearranged: flipped per group
    // for the transposed convolution, transposed (each group's `og x k`
    // matrix) for the scatter and for the blocked product of the im2col
    // path, transposed within each group for the direct kernel with
    // groups of several channels. Made once here rather than once per task.
    let wt_len = match dx_path {
        _ if dx.is_none() => 0,
        DxPath::Transposed | DxPath::Scatter => gr.w,
        DxPath::Gemm if microkernel::available() => gr.w,
        DxPath::Direct(_) if gr.cg > 1 => gr.w,
        _ => 0,
    };
    // The partials of every task, then the rearranged kernel if any.
    scratch::with(Slot::Partial, tasks * part_len + wt_len, |buf| {
        let (partials, wt) = buf.split_at_mut(tasks * part_len);
        if wt_len > 0 {
            match dx_path {
                DxPath::Transposed => implicit::flip_kernel(g, gr, w, wt),
                DxPath::Scatter | DxPath::Gemm => implicit::transpose_kernel(g, gr, w, wt),
                DxPath::Direct(_) => depthwise::transpose_groups(g, gr.cg, w, wt),
            }
        }
        let wt = &*wt;
        let parts = Disjoint::new(partials);
        let dx_all = dx.map(Disjoint::new);
        parallel::for_each(tasks, &|t| {
            let n0 = t * per_task;
            let imgs = per_task.min(batch - n0);
            let dys = &dy[n0 * g.out_len()..(n0 + imgs) * g.out_len()];
            if want_dw {
                let xs = &x[n0 * g.in_len()..(n0 + imgs) * g.in_len()];
                // SAFETY: task t alone uses partial t.
                let part = unsafe { parts.part(t * part_len, part_len) };
                let (pw, pb) = part.split_at_mut(gr.w);
                if want_db {
                    column_sums(dys, n, pb);
                }
                match kernel {
                    Kernel::Direct(isa) => depthwise::weight_grad(isa, g, gr.cg, xs, dys, pw),
                    Kernel::Implicit => implicit::weight_grad(g, gr, xs, dys, pw),
                    Kernel::Gemm => gemm_path::weight_grad(g, gr, xs, dys, chunk, pw),
                }
            }
            let Some(shared) = dx_all.as_ref() else {
                return;
            };
            // SAFETY: task t alone writes the dx of its images n0..n0 + imgs.
            let dxs = unsafe { shared.part(n0 * g.in_len(), imgs * g.in_len()) };
            let wt = (wt_len > 0).then_some(wt);
            match dx_path {
                DxPath::Direct(isa) => {
                    depthwise::input_grad(isa, g, gr.cg, dys, wt.unwrap_or(w), dxs)
                }
                DxPath::Transposed => implicit::input_grad(g, gr, dys, wt.unwrap_or(w), dxs),
                DxPath::Scatter => {
                    implicit::input_grad_scatter(g, gr, dys, wt.unwrap_or(w), chunk, dxs)
                }
                DxPath::Gemm => gemm_path::input_grad(g, gr, dys, w, wt, chunk, dxs),
            }
        });
        // Reduce in task order, so the sums do not depend on scheduling.
        let Some(dw) = dw else {
            return;
        };
        for part in partials.chunks_exact(part_len) {
            let (pw, pb) = part.split_at(gr.w);
            if kernel == Kernel::Implicit {
                implicit::unpack_add(g, gr, pw, dw);
            } else {
                dw.iter_mut().zip(pw).for_each(|(d, p)| *d += p);
            }
            if let Some(db) = db.as_deref_mut() {
                db.iter_mut().zip(pb).for_each(|(d, p)| *d += p);
            }
        }
    });
}
