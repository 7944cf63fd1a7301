//! Grouped convolution (AlexNet's two towers, ResNeXt's 32 groups) and its
//! depthwise special case (one input channel per group, MobileNet): the
//! public entry points, the argument checks, and the split of the work
//! over the thread pool. The kernels live beside this file:
//!
//! - `depthwise.rs` (`c_in / groups == 1`, any CPU): per output pixel and
//!   window tap a multiply-add over a block of channels,
//!   `y[c] += x[c] * w[tap, c]`, compiled for AVX-512, AVX2 + FMA and
//!   baseline x86-64 (or any other target) and chosen at run time. The same
//!   loops serve small square groups (`c_in / groups == c_out / groups` of
//!   2 or 4: ResNeXt-50 32x4d's first stage), each input channel `ci` of a
//!   group spread over the group's output lanes by an in-register shuffle,
//!   so every vector lane does useful work where the micro-kernel would
//!   fill a quarter (or an eighth).
//! - `grouped_implicit.rs` (AVX-512, AVX2): the dense implicit GEMM's micro-kernel
//!   run once per group on a group-major padded copy of the input rows, in
//!   which a group's window row is one contiguous run, so that every group
//!   is a small product read in place (no column matrix), with the weights
//!   packed so that each group's are one contiguous matrix.
//! - `grouped_gemm.rs` (any CPU, or `CNN_CONV=gemm`): a group-major im2col
//!   into scratch and one GEMM per group with strided operands.
//!
//! Which of them runs each pass of a shape is measured once (`tune.rs`).
//!
//! Weights are `[fh, fw, c_in / groups, c_out]` (Keras's grouped `Conv2D`
//! kernel): output channel `co` of group `co / og` reads the `cg` input
//! channels of that group, `og = c_out / groups`, `cg = c_in / groups`.
//! Depthwise weights are the same tensor with `cg = 1`: `[fh, fw, 1,
//! c_in * m]`, channel `i * m + j` reading input channel `i`, which is the
//! memory order of Keras's `DepthwiseConv2D` kernel `[fh, fw, c_in, m]`.
//!
//! As in the dense convolution, forward splits the batch's output rows
//! into tasks and applies the epilogue to each row while it is in cache;
//! backward gives each task whole images, its own weight- and
//! bias-gradient partial and its own `dx` region, and sums the partials in
//! task order so results do not depend on the thread count.

use super::tune::{self, Pass};
use super::{
    backward, column_sums, depthwise, epilogue, forward, grouped_gemm, grouped_implicit, implicit,
    microkernel, plan, sizes, Epilogue, Sizes, BACKWARD_GROUPS, COL_TARGET, ROW_QUANTUM,
};
use crate::error::{check_len, Error, Result};
use crate::geom::Conv2dGeom;
use crate::parallel::{self, Disjoint};
use crate::scratch::{self, Slot};

pub(super) use depthwise::Isa;

/// The channel split of a grouped convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Groups {
    pub groups: usize,
    /// Input channels per group.
    pub cg: usize,
    /// Output channels per group.
    pub og: usize,
    /// One group's product depth, `fh * fw * cg`: a row of its weights.
    pub k: usize,
    /// Elements of the weight tensor, `k * c_out`.
    pub w: usize,
}

/// Checks `groups` against the geometry's channels: positive and dividing
/// both `c_in` and `c_out`.
pub(super) fn group_sizes(g: &Conv2dGeom, groups: usize) -> Result<Groups> {
    if groups == 0 {
        return Err(Error::InvalidArgument(
            "conv2d: groups must be positive (got 0); use 1 for a dense convolution".into(),
        ));
    }
    if !g.c_in.is_multiple_of(groups) || !g.c_out.is_multiple_of(groups) {
        return Err(Error::InvalidArgument(format!(
            "conv2d: groups {groups} must divide c_in {} and c_out {} \
             ({} % {groups} = {}, {} % {groups} = {})",
            g.c_in,
            g.c_out,
            g.c_in,
            g.c_in % groups,
            g.c_out,
            g.c_out % groups
        )));
    }
    let (cg, og) = (g.c_in / groups, g.c_out / groups);
    let k = g
        .fh
        .checked_mul(g.fw)
        .and_then(|v| v.checked_mul(cg))
        .ok_or_else(|| Error::InvalidArgument(format!("conv2d: weight size overflows in {g:?}")))?;
    let w = k
        .checked_mul(g.c_out)
        .ok_or_else(|| Error::InvalidArgument(format!("conv2d: weight size overflows in {g:?}")))?;
    Ok(Groups {
        groups,
        cg,
        og,
        k,
        w,
    })
}

/// Which kernel runs a convolution with more than one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kernel {
    /// The direct kernel of `depthwise.rs`, on the given instruction set:
    /// one input channel per group, or small square groups
    /// ([`direct_supported`]).
    Direct(Isa),
    /// The micro-kernel over group-major padded rows (AVX-512 or AVX2).
    Implicit,
    /// Group-major im2col + `sgemm` per group.
    Gemm,
}

/// True when the direct kernel runs these groups: one input channel each
/// (depthwise, any multiplier), or as many outputs as inputs with 2 or 4
/// of each. There it costs a shuffle per multiply-add, on the same port
/// as half of them, against the micro-kernel's 2/16 or 4/16 useful lanes;
/// at 8 per group the two break even (measured), and from 16 the
/// micro-kernel fills its vectors.
pub(super) fn direct_supported(gr: &Groups) -> bool {
    gr.cg == 1 || (gr.cg == gr.og && matches!(gr.cg, 2 | 4))
}

/// A kernel and, for the micro-kernel's input gradient, whether it runs
/// as a transposed convolution (see [`transposed_dx`]).
pub(super) type Choice = (Kernel, bool);

/// Up to four named candidates, held inline so that choosing allocates
/// nothing.
pub(super) struct Candidates {
    list: [(&'static str, Choice); 4],
    len: usize,
}

impl Candidates {
    fn push(&mut self, name: &'static str, c: Choice) {
        self.list[self.len] = (name, c);
        self.len += 1;
    }

    pub(super) fn as_slice(&self) -> &[(&'static str, Choice)] {
        &self.list[..self.len]
    }
}

/// The kernels that may run a convolution with more than one group here,
/// for the weight gradient and forward (`with_dx` false) or for passes
/// that compute `dx` (each micro-kernel way of it a candidate of its own).
/// A dilated convolution takes the group-major im2col: neither the direct
/// kernel nor the micro-kernel knows dilation. `CNN_CONV=gemm` keeps the
/// direct kernel where it applies and im2col elsewhere;
/// `CNN_CONV=implicit` the rule used before the choice was measured: the
/// direct kernel where it applies, else the micro-kernel wherever the CPU
/// runs it, `dx` transposed by [`transposed_dx`]'s rule.
pub(super) fn kernel_candidates(g: &Conv2dGeom, gr: &Groups, with_dx: bool) -> Candidates {
    let mut c = Candidates {
        list: [("gemm", (Kernel::Gemm, false)); 4],
        len: 0,
    };
    let direct = (Kernel::Direct(crate::isa::current()), false);
    let implicit = microkernel::available();
    let mode = tune::mode();
    if g.is_dilated() {
        c.push("gemm", (Kernel::Gemm, false));
        return c;
    }
    if direct_supported(gr) && mode != tune::Mode::Auto {
        c.push("direct", direct);
        return c;
    }
    match mode {
        tune::Mode::Gemm => c.push("gemm", (Kernel::Gemm, false)),
        tune::Mode::Implicit if implicit => {
            let transposed = with_dx && transposed_dx(g, gr);
            c.push("implicit", (Kernel::Implicit, transposed));
        }
        tune::Mode::Implicit => c.push("gemm", (Kernel::Gemm, false)),
        tune::Mode::Auto => {
            if direct_supported(gr) {
                c.push("direct", direct);
            }
            if implicit && with_dx {
                // The fixed rule's way of dx first (see `tune.rs`).
                let rule = transposed_dx(g, gr);
                if rule {
                    c.push("implicit transposed", (Kernel::Implicit, true));
                }
                c.push("implicit scatter", (Kernel::Implicit, false));
                if implicit::dx_supported(g) && !rule {
                    c.push("implicit transposed", (Kernel::Implicit, true));
                }
            } else if implicit {
                c.push("implicit", (Kernel::Implicit, false));
            }
            c.push("gemm", (Kernel::Gemm, false));
        }
    }
    c
}

/// The kernel the fixed rule picks (the first candidate): the direct
/// kernel where it applies, else the micro-kernel where it runs, else
/// im2col.
#[cfg(test)]
pub(super) fn choose_kernel(g: &Conv2dGeom, gr: &Groups) -> Kernel {
    kernel_candidates(g, gr, false).as_slice()[0].1 .0
}

/// On the micro-kernel path, whether `dx` runs as a transposed convolution
/// (stride 1; each group's product is `cg` columns wide, so only when `cg`
/// fills most of the kernel's 16-lane vectors) rather than as `dY W^T`
/// scattered back by a group-major col2im.
fn transposed_dx(g: &Conv2dGeom, gr: &Groups) -> bool {
    let lanes = gr.cg.div_ceil(16) * 16;
    implicit::dx_supported(g) && 4 * gr.cg >= 3 * lanes
}

/// `y = act((grouped_conv(x, w) + bias) * scale + shift)`, NHWC. Overwrites `y`.
/// `g` is the whole layer's geometry (`c_in` and `c_out` are the totals);
/// input channels `[k * c_in / groups, (k + 1) * c_in / groups)` feed output
/// channels `[k * c_out / groups, (k + 1) * c_out / groups)`.
/// `x: [batch, in_h, in_w, c_in]  w: [fh, fw, c_in / groups, c_out]  y: [batch, out_h, out_w, c_out]`
///
/// `groups == 1` is [`forward`]; `groups == c_in` is a depthwise
/// convolution with `c_out / c_in` filters per input channel.
///
/// Errors: `groups` zero or not dividing `c_in` and `c_out`, and everything
/// [`forward`] refuses (geometry, zero batch, slice lengths, epilogue).
pub fn forward_grouped(
    g: &Conv2dGeom,
    groups: usize,
    batch: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) -> Result<()> {
    let gr = group_sizes(g, groups)?;
    if groups == 1 {
        return forward(g, batch, x, w, ep, y);
    }
    let sz = sizes(g, batch)?;
    check_len("conv2d grouped forward: x", x.len(), sz.x)?;
    check_len("conv2d grouped forward: w", w.len(), gr.w)?;
    check_len("conv2d grouped forward: y", y.len(), sz.y)?;
    epilogue::check(ep, g.c_out)?;
    let candidates = kernel_candidates(g, &gr, false);
    let (kernel, _) = tune::choose(
        g,
        groups,
        batch,
        Pass::Forward,
        candidates.as_slice(),
        |k| {
            forward_kernel(k.0, g, &gr, sz, x, w, ep, y);
        },
    );
    forward_kernel(kernel, g, &gr, sz, x, w, ep, y);
    Ok(())
}

pub(super) fn forward_kernel(
    kernel: Kernel,
    g: &Conv2dGeom,
    gr: &Groups,
    sz: Sizes,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) {
    let n = g.c_out;
    let out = Disjoint::new(y);
    if kernel == Kernel::Gemm {
        // Chunks of output pixels whose column matrix stays in L2.
        let (chunk, tasks) = plan(
            sz.rows,
            g.k() + n,
            gr.k * n,
            parallel::threads(),
            ROW_QUANTUM,
        );
        parallel::for_each(tasks, &|t| {
            let r0 = t * chunk;
            let rows = chunk.min(sz.rows - r0);
            // SAFETY: task t alone writes output pixels r0..r0 + rows.
            let yc = unsafe { out.part(r0 * n, rows * n) };
            grouped_gemm::forward_rows(g, gr, x, w, ep, r0, rows, chunk, yc);
        });
        return;
    }
    // Runs of output rows; an image's rows may be split.
    let total = sz.rows / g.out_w;
    let row_len = g.out_w * n;
    let (chunk, tasks) = plan(total, row_len, g.out_w * gr.k * n, parallel::threads(), 1);
    let run = |w: &[f32]| {
        parallel::for_each(tasks, &|t| {
            let r0 = t * chunk;
            let r1 = (r0 + chunk).min(total);
            // SAFETY: task t alone writes output rows r0..r1.
            let yc = unsafe { out.part(r0 * row_len, (r1 - r0) * row_len) };
            match kernel {
                Kernel::Direct(isa) => depthwise::forward_rows(isa, g, gr.cg, x, w, ep, r0, r1, yc),
                _ => grouped_implicit::forward_rows(g, gr, x, w, ep, r0, r1, yc),
            }
        })
    };
    if kernel == Kernel::Implicit {
        // The micro-kernel reads each group's weights as one contiguous matrix.
        scratch::with(Slot::Aux, gr.w, |wp| {
            grouped_implicit::pack_kernel(g, gr, w, wp);
            run(wp);
        });
    } else {
        run(w);
    }
}

/// Gradients of a grouped convolution. `dy` is the gradient with respect
/// to the convolution's output before any activation (the caller applied
/// `act'`). Overwrites `dx` when given (skip it for a first layer); adds
/// into `dw` and `db`.
/// `x, dx: [batch, in_h, in_w, c_in]  w, dw: [fh, fw, c_in / groups, c_out]  dy: [batch, out_h, out_w, c_out]  db: [c_out]`
///
/// `groups == 1` is [`backward`].
///
/// Errors: as [`forward_grouped`], for every slice given.
pub fn backward_grouped(
    g: &Conv2dGeom,
    groups: usize,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) -> Result<()> {
    let gr = group_sizes(g, groups)?;
    if groups == 1 {
        return backward(g, batch, x, w, dy, dx, dw, db);
    }
    let sz = sizes(g, batch)?;
    check_len("conv2d grouped backward: x", x.len(), sz.x)?;
    check_len("conv2d grouped backward: w", w.len(), gr.w)?;
    check_len("conv2d grouped backward: dy", dy.len(), sz.y)?;
    if let Some(dx) = dx.as_deref() {
        check_len("conv2d grouped backward: dx", dx.len(), sz.x)?;
    }
    check_len("conv2d grouped backward: dw", dw.len(), gr.w)?;
    if let Some(db) = db.as_deref() {
        check_len("conv2d grouped backward: db", db.len(), g.c_out)?;
    }
    // Measured as one pass (the kernel serves both gradients), into a
    // weight gradient of its own; dx is overwritten by the final call.
    let mut dx = dx;
    let with_dx = dx.is_some();
    let candidates = kernel_candidates(g, &gr, with_dx);
    let pass = if with_dx {
        Pass::Backward
    } else {
        Pass::WeightGrad
    };
    let mut dw_trial = Vec::new();
    let (kernel, transposed) = tune::choose(g, groups, batch, pass, candidates.as_slice(), |k| {
        dw_trial.resize(gr.w, 0.0);
        let dxt = dx.as_deref_mut();
        backward_kernel(
            k.0,
            k.1,
            g,
            &gr,
            batch,
            x,
            w,
            dy,
            dxt,
            Some(&mut dw_trial),
            None,
        );
    });
    backward_kernel(
        kernel,
        transposed,
        g,
        &gr,
        batch,
        x,
        w,
        dy,
        dx,
        Some(dw),
        db,
    );
    Ok(())
}

/// The input gradient of a grouped convolution alone, when its weights
/// get no gradient (a frozen layer, or the forward pass of a transposed
/// convolution, which is this product): the same `dx` as
/// [`backward_grouped`]'s, without the weight gradient's products.
/// Overwrites dx.
/// `w: [fh, fw, c_in / groups, c_out]  dy: [batch, out_h, out_w, c_out]  dx: [batch, in_h, in_w, c_in]`
///
/// `groups == 1` is [`super::backward_input`].
///
/// Errors: as [`forward_grouped`], for every slice given.
pub fn backward_input_grouped(
    g: &Conv2dGeom,
    groups: usize,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let gr = group_sizes(g, groups)?;
    if groups == 1 {
        return super::backward_input(g, batch, w, dy, dx);
    }
    let sz = sizes(g, batch)?;
    check_len("conv2d grouped backward_input: w", w.len(), gr.w)?;
    check_len("conv2d grouped backward_input: dy", dy.len(), sz.y)?;
    check_len("conv2d grouped backward_input: dx", dx.len(), sz.x)?;
    let candidates = kernel_candidates(g, &gr, true);
    let (kernel, transposed) = tune::choose(
        g,
        groups,
        batch,
        Pass::InputGrad,
        candidates.as_slice(),
        |k| {
            backward_kernel(
                k.0,
                k.1,
                g,
                &gr,
                batch,
                &[],
                w,
                dy,
                Some(&mut *dx),
                None,
                None,
            );
        },
    );
    backward_kernel(
        kernel,
        transposed,
        g,
        &gr,
        batch,
        &[],
        w,
        dy,
        Some(dx),
        None,
        None,
    );
    Ok(())
}

/// Backward on `kernel`; `transposed` picks the micro-kernel path's `dx`
/// algorithm (see [`transposed_dx`]; it needs `implicit::dx_supported`).
/// Without `dw` only `dx` is computed and `x` is not read (nor `db`).
pub(super) fn backward_kernel(
    kernel: Kernel,
    transposed: bool,
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
    // The micro-kernel reads the weights rearranged for dx: flipped per
    // group for the transposed convolution, or each group's `og x k`
    // transpose for the scatter; the direct kernel with groups of several
    // channels transposes them within each group.
    let wt_len = match kernel {
        _ if dx.is_none() => 0,
        Kernel::Implicit => gr.w,
        Kernel::Direct(_) if gr.cg > 1 => gr.w,
        _ => 0,
    };
    scratch::with(Slot::Partial, tasks * part_len + wt_len, |buf| {
        let (partials, wt) = buf.split_at_mut(tasks * part_len);
        if wt_len > 0 {
            match kernel {
                Kernel::Direct(_) => depthwise::transpose_groups(g, gr.cg, w, wt),
                _ if transposed => grouped_implicit::flip_kernel(g, gr, w, wt),
                _ => grouped_implicit::transpose_kernel(g, gr, w, wt),
            }
        }
        let wt = if wt_len > 0 { &*wt } else { w };
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
                    Kernel::Implicit => grouped_implicit::weight_grad(g, gr, xs, dys, pw),
                    Kernel::Gemm => grouped_gemm::weight_grad(g, gr, xs, dys, chunk, pw),
                }
            }
            let Some(shared) = dx_all.as_ref() else {
                return;
            };
            // SAFETY: task t alone writes the dx of its images n0..n0 + imgs.
            let dxs = unsafe { shared.part(n0 * g.in_len(), imgs * g.in_len()) };
            match kernel {
                Kernel::Direct(isa) => depthwise::input_grad(isa, g, gr.cg, dys, wt, dxs),
                Kernel::Implicit if transposed => grouped_implicit::input_grad(g, gr, dys, wt, dxs),
                Kernel::Implicit => {
                    grouped_implicit::input_grad_scatter(g, gr, dys, wt, chunk, dxs)
                }
                Kernel::Gemm => grouped_gemm::input_grad(g, gr, dys, w, chunk, dxs),
            }
        });
        // Reduce in task order, so the sums do not depend on scheduling.
        let Some(dw) = dw else {
            return;
        };
        for part in partials.chunks_exact(part_len) {
            let (pw, pb) = part.split_at(gr.w);
            if kernel == Kernel::Implicit {
                grouped_implicit::unpack_add(g, gr, pw, dw);
            } else {
                dw.iter_mut().zip(pw).for_each(|(d, p)| *d += p);
            }
            if let Some(db) = db.as_deref_mut() {
                db.iter_mut().zip(pb).for_each(|(d, p)| *d += p);
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
