//! 2-D convolution over NHWC tensors: `forward` with a fused epilogue and
//! `backward`, on two algorithm families, the faster measured per layer
//! shape and pass on the CPU it runs on (`tune.rs`).
//!
//! - Implicit GEMM (x86-64 with AVX-512 or AVX2 + FMA, `implicit.rs` +
//!   `microkernel/`):
//!   the products of im2col + GEMM computed by a register-blocked kernel that
//!   reads a zero-padded copy of the input in place. No column matrix, no
//!   packing, no matrixmultiply call, no allocation once scratch has grown.
//! - im2col + `sgemm` (`gemm_path.rs`): any CPU. The column matrix of a
//!   chunk of output pixels times the weights (`[fh, fw, c_in, c_out]` is
//!   already the `k x c_out` matrix) gives the chunk's output rows, already
//!   NHWC; a 1x1 stride-1 unpadded convolution uses the input rows directly.
//!
//! Forward splits the batch's output rows into tasks over
//! [`parallel::for_each`], sized to stay in L2 and cut inside an image when
//! the batch is smaller than the thread count; each task applies the
//! epilogue (bias, per-channel affine, activation) to its rows while they are
//! in cache. Backward gives each task a group of whole images, so its `dx`
//! region is its own: it adds `x^T dY` into its own weight-gradient partial
//! and sums `dY` into its bias partial, then computes `dx` as a transposed
//! convolution (stride 1) or as `dY W^T` scattered back by col2im. The
//! partials are reduced in task order and the group count depends only on
//! the batch (up to 8 threads), so results do not depend on scheduling.
//! `CNN_CONV=gemm` in the environment forces the portable path and
//! `CNN_CONV=implicit` the micro-kernels (neither measures), and a dilated
//! convolution (taps `dh`, `dw` apart) always takes the portable path: the
//! micro-kernels know no dilation ([`Conv2dGeom::is_dilated`]).
//!
//! Grouped and depthwise convolutions ([`forward_grouped`],
//! [`backward_grouped`]) are in `grouped.rs` and the files it names.

mod depthwise;
mod depthwise_grad;
#[cfg(test)]
mod dilation_tests;
mod epilogue;
mod gemm_path;
mod grouped;
mod grouped_gemm;
mod grouped_implicit;
#[cfg(any(test, feature = "testing"))]
pub mod grouped_reference;
#[cfg(test)]
mod grouped_tests;
pub mod im2col;
mod implicit;
mod kblock;
mod microkernel;
mod packed;
#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;
mod tune;

pub use grouped::{backward_grouped, backward_input_grouped, forward_grouped};
pub use tune::{choices, Choice, Pass};

pub(crate) use epilogue::{apply as apply_epilogue, check as check_epilogue};
pub(crate) use gemm_path::sgemm as gemm_product;

use crate::error::{check_len, Error, Result};
use crate::gemm::Mat;
use crate::geom::{Act, Conv2dGeom};
use crate::parallel::{self, Disjoint};
use crate::scratch::{self, Slot};

/// What runs on a convolution's output before it is stored, per output
/// channel: `y = act((conv(x, w) + bias) * scale + shift)`.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    /// `[c_out]`, added first.
    pub bias: Option<&'a [f32]>,
    /// `(scale, shift)`, each `[c_out]` (a batch norm folded for inference).
    pub affine: Option<(&'a [f32], &'a [f32])>,
    /// Applied last.
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

/// The micro-kernels (`implicit*.rs`, `grouped_implicit.rs`) and the direct
/// depthwise loops read a window's taps as adjacent inputs and know no
/// dilation; [`candidates`] and `grouped::choose_kernel` send a dilated
/// convolution to the im2col paths instead. This holds them to it.
#[inline(always)]
fn assert_undilated(g: &Conv2dGeom) {
    debug_assert!(
        !g.is_dilated(),
        "conv2d: a dilated convolution reached a kernel without dilation: {g:?}"
    );
}

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
            ("dh", g.dh),
            ("dw", g.dw),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, v)| *v == 0) {
            return Err(Error::InvalidArgument(format!(
                "conv2d: {name} must be positive in {g:?}"
            )));
        }
        check_axis("height", g.in_h, g.fh, g.dh, g.sh, g.pad_top, g.out_h)?;
        check_axis("width", g.in_w, g.fw, g.dw, g.sw, g.pad_left, g.out_w)?;
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

/// One axis: `out` windows of `f` taps `d` apart (spanning `d (f - 1) + 1`
/// inputs) with stride `s` after `p` leading zeros must end within
/// `n + 2p + 1` and a further window must not fit in `n + 2p`.
fn check_axis(
    what: &str,
    n: usize,
    f_taps: usize,
    d: usize,
    s: usize,
    p: usize,
    out: usize,
) -> Result<()> {
    let Ok(f) = crate::geom::effective_window(f_taps, d) else {
        return Err(Error::InvalidArgument(format!(
            "conv2d: {what} arithmetic overflows"
        )));
    };
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
            "conv2d: {what}: output {out} does not match input {n}, kernel {f_taps}, dilation {d}, stride {s}, \
             leading padding {p} (expected floor((n + 2p - d(f-1) - 1) / s) + 1 = {})",
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

/// `y = act((conv(x, w) + bias) * scale + shift)`, NHWC. Overwrites `y`.
/// `x: [batch, in_h, in_w, c_in]  w: [fh, fw, c_in, c_out]  y: [batch, out_h, out_w, c_out]`
///
/// Errors: an inconsistent geometry ([`Conv2dGeom::validate`]), a zero
/// batch, or a slice whose length does not match its shape (the error names
/// the argument).
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
    let path = tune::choose(g, 1, batch, Pass::Forward, candidates(g), |p| {
        forward_path(p, g, sz, x, w, ep, y);
    });
    forward_path(path, g, sz, x, w, ep, y);
    Ok(())
}

/// Which algorithm runs a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// im2col (none for 1x1 stride 1) + matrixmultiply: any CPU, any shape.
    Gemm,
    /// The in-place micro-kernel, AVX-512 or AVX2 (see `implicit.rs`).
    Implicit,
}

/// The forward and weight-gradient algorithms that may run `g` here: the
/// im2col path always (alone for a dilated convolution: the micro-kernels
/// read adjacent taps as one run and know no dilation), the implicit path
/// where it runs on the current instruction set
/// ([`crate::isa::current`]); `CNN_CONV` pins one (see `tune.rs`).
fn candidates(g: &Conv2dGeom) -> &'static [(&'static str, Path)] {
    const GEMM: &[(&str, Path)] = &[("gemm", Path::Gemm)];
    const IMPLICIT: &[(&str, Path)] = &[("implicit", Path::Implicit)];
    const BOTH: &[(&str, Path)] = &[("implicit", Path::Implicit), ("gemm", Path::Gemm)];
    if g.is_dilated() || !microkernel::available() {
        return GEMM;
    }
    match tune::mode() {
        tune::Mode::Gemm => GEMM,
        tune::Mode::Implicit => IMPLICIT,
        tune::Mode::Auto => BOTH,
    }
}

/// The input-gradient algorithms that may run `g` here: as
/// [`candidates`], and the transposed convolution where the micro-kernel
/// supports it (stride 1). `CNN_CONV=implicit` keeps the rule used before
/// the choice was measured per shape: transposed only when `c_in` fills
/// most of 16 columns (an AVX-512 vector, or the AVX2 kernel's widest
/// block; LeNet-5's conv2, `c_in` 6, ran its backward at 46 GFLOP/s
/// transposed, 64 scattered).
fn dx_candidates(g: &Conv2dGeom) -> &'static [(&'static str, DxPath)] {
    const T: (&str, DxPath) = ("transposed", DxPath::Transposed);
    const S: (&str, DxPath) = ("scatter", DxPath::Scatter);
    const G: (&str, DxPath) = ("gemm", DxPath::Gemm);
    let paths = candidates(g);
    let implicit = paths.iter().any(|c| c.1 == Path::Implicit);
    let gemm = paths.iter().any(|c| c.1 == Path::Gemm);
    let transposed = implicit && implicit::dx_supported(g);
    // The fixed rule's pick first (see `tune.rs`).
    let rule = transposed && 4 * g.c_in >= 3 * g.c_in.div_ceil(16) * 16;
    match (implicit, gemm, transposed) {
        (false, _, _) => &[G],
        (true, true, true) if rule => &[T, S, G],
        (true, true, true) => &[S, T, G],
        (true, true, false) => &[S, G],
        (true, false, _) if rule => &[T],
        (true, false, _) => &[S],
    }
}

fn forward_path(
    path: Path,
    g: &Conv2dGeom,
    sz: Sizes,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) {
    let (k, n) = (g.k(), g.c_out);
    if path == Path::Implicit && implicit::strided_pointwise(g) {
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
            forward_path(path, &dense, sz, xs, w, ep, y);
        });
    }
    let out = Disjoint::new(y);
    if path == Path::Implicit && implicit::pointwise(g) {
        // A 1x1 stride-1 convolution is one product over every pixel of
        // the batch: tasks are runs of pixels, across rows and images.
        let (chunk, tasks) = plan(sz.rows, k + n, k * n, parallel::threads(), ROW_QUANTUM);
        parallel::for_each(tasks, &|t| {
            let r0 = t * chunk;
            let rows = chunk.min(sz.rows - r0);
            // SAFETY: task t alone writes output pixels r0..r0 + rows.
            let yc = unsafe { out.part(r0 * n, rows * n) };
            implicit::pointwise_rows(g, x, w, ep, r0, rows, yc);
        });
        return;
    }
    if path == Path::Implicit {
        // Tasks are runs of output rows; an image's rows may be split.
        let total = sz.rows / g.out_w;
        let row_len = g.out_w * n;
        let (chunk, tasks) = plan(total, row_len, g.out_w * k * n, parallel::threads(), 1);
        parallel::for_each(tasks, &|t| {
            let r0 = t * chunk;
            let r1 = (r0 + chunk).min(total);
            // SAFETY: task t alone writes output rows r0..r1.
            let yc = unsafe { out.part(r0 * row_len, (r1 - r0) * row_len) };
            implicit::forward_rows(g, x, w, ep, r0, r1, yc);
        });
        return;
    }
    let (chunk, tasks) = plan(sz.rows, k + n, k * n, parallel::threads(), ROW_QUANTUM);
    parallel::for_each(tasks, &|t| {
        let r0 = t * chunk;
        let rows = chunk.min(sz.rows - r0);
        // SAFETY: task t alone writes output rows r0..r0 + rows.
        let yc = unsafe { out.part(r0 * n, rows * n) };
        gemm_path::forward_rows(g, x, w, ep, r0, rows, chunk, yc);
    });
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

/// Gradients of a convolution. `dy` is the gradient with respect to the
/// convolution's output before any activation (the caller applied `act'`).
/// Overwrites `dx` when given (skip it for a first layer); adds into `dw`
/// and `db`.
/// `x, dx: [batch, in_h, in_w, c_in]  w, dw: [fh, fw, c_in, c_out]  dy: [batch, out_h, out_w, c_out]  db: [c_out]`
///
/// Errors: as [`forward`], for every slice given.
pub fn backward(
    g: &Conv2dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
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
    // Measured apart: dx is overwritten, so the final call below replaces
    // what measuring wrote there; dw is summed into, so it is measured into
    // a buffer of its own.
    let mut dw_trial = Vec::new();
    let path = tune::choose(g, 1, batch, Pass::WeightGrad, candidates(g), |p| {
        dw_trial.resize(sz.w, 0.0);
        weight_grad(p, g, sz, batch, x, dy, &mut dw_trial, None);
    });
    let mut dx = dx;
    let dx_path = match dx.as_deref_mut() {
        Some(dx) => choose_dx(g, sz, batch, w, dy, dx),
        None => DxPath::Gemm,
    };
    if path == Path::Implicit && implicit::big_weights(g) {
        weight_grad(path, g, sz, batch, x, dy, dw, db);
        if let Some(dx) = dx {
            input_grad(dx_path, g, sz, batch, w, dy, dx);
        }
        return Ok(());
    }
    backward_path(path, dx_path, g, sz, batch, x, w, dy, dx, Some(dw), db);
    Ok(())
}

/// The input gradient of a convolution alone, when its weights get no
/// gradient (a frozen layer under one that trains, or the picture's
/// gradient through a frozen network): the same products as
/// [`backward`]'s `dx`, without the weight gradient's. Overwrites dx.
/// `w: [fh, fw, c_in, c_out]  dy: [batch, out_h, out_w, c_out]  dx: [batch, in_h, in_w, c_in]`
///
/// Errors: as [`forward`], for every slice given.
pub fn backward_input(
    g: &Conv2dGeom,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let sz = sizes(g, batch)?;
    check_len("conv2d backward_input: w", w.len(), sz.w)?;
    check_len("conv2d backward_input: dy", dy.len(), sz.y)?;
    check_len("conv2d backward_input: dx", dx.len(), sz.x)?;
    let dx_path = choose_dx(g, sz, batch, w, dy, dx);
    input_grad(dx_path, g, sz, batch, w, dy, dx);
    Ok(())
}

/// The input gradient alone on `dx_path`; overwrites `dx`.
fn input_grad(
    dx_path: DxPath,
    g: &Conv2dGeom,
    sz: Sizes,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) {
    backward_path(
        Path::Gemm,
        dx_path,
        g,
        sz,
        batch,
        &[],
        w,
        dy,
        Some(dx),
        None,
        None,
    );
}

/// How the input gradient is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DxPath {
    /// `dcol = dY W^T` by the im2col path's GEMM (`gemm_path::sgemm`),
    /// then col2im: any CPU, any geometry.
    Gemm,
    /// `dcol = dY W^T` by the micro-kernel, then col2im: any stride.
    Scatter,
    /// The transposed convolution on the micro-kernel: stride 1 only.
    Transposed,
}

/// The input-gradient path for `g` at `batch` ([`tune::choose`] over
/// [`dx_candidates`]); measuring writes `dx`, which the caller overwrites.
fn choose_dx(
    g: &Conv2dGeom,
    sz: Sizes,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> DxPath {
    tune::choose(g, 1, batch, Pass::InputGrad, dx_candidates(g), |d| {
        input_grad(d, g, sz, batch, w, dy, dx);
    })
}

/// The weight (and bias) gradient alone, summed into `dw` (and `db`).
#[allow(clippy::too_many_arguments)]
fn weight_grad(
    path: Path,
    g: &Conv2dGeom,
    sz: Sizes,
    batch: usize,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    if path == Path::Implicit && implicit::big_weights(g) {
        implicit::backward_big(g, batch, x, &[], dy, None, dw, db);
    } else {
        backward_path(
            path,
            DxPath::Gemm,
            g,
            sz,
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

fn backward_path(
    path: Path,
    dx_path: DxPath,
    g: &Conv2dGeom,
    sz: Sizes,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    mut db: Option<&mut [f32]>,
) {
    let (k, n) = (g.k(), g.c_out);
    let groups = batch.min(BACKWARD_GROUPS.max(parallel::threads()));
    let per_group = batch.div_ceil(groups);
    let groups = batch.div_ceil(per_group);
    // Output pixels per chunk on the GEMM path: columns and dY in L2.
    let chunk = (COL_TARGET / (k + n))
        .max(ROW_QUANTUM)
        .div_ceil(ROW_QUANTUM)
        * ROW_QUANTUM;
    // Without dw (the input gradient alone) there are no partials, and x
    // is not read.
    let want_dw = dw.is_some();
    let part_len = if want_dw { sz.w + n } else { 0 };
    let want_db = want_dw && db.is_some();
    // The micro-kernel paths read the kernel rearranged: flipped and
    // transposed per window position, or transposed as a whole.
    // So does the blocked product of the im2col path (`W^T` row-major,
    // made once here rather than once per task).
    let flip_len = match dx_path {
        DxPath::Transposed | DxPath::Scatter if dx.is_some() => sz.w,
        DxPath::Gemm if dx.is_some() && microkernel::available() => sz.w,
        _ => 0,
    };
    // The partials of every group, then the rearranged kernel if any.
    scratch::with(Slot::Partial, groups * part_len + flip_len, |buf| {
        let (partials, wt) = buf.split_at_mut(groups * part_len);
        match dx_path {
            _ if flip_len == 0 => {}
            DxPath::Transposed => implicit::flip_kernel(g, w, wt),
            DxPath::Scatter => implicit::transpose_kernel(g, w, wt),
            DxPath::Gemm => implicit::transpose(w, k, n, wt),
        }
        let wt = &*wt;
        let parts = Disjoint::new(partials);
        let dx_all = dx.map(Disjoint::new);
        parallel::for_each(groups, &|t| {
            let n0 = t * per_group;
            let imgs = per_group.min(batch - n0);
            let dys = &dy[n0 * g.out_len()..(n0 + imgs) * g.out_len()];
            if want_dw {
                let xs = &x[n0 * g.in_len()..(n0 + imgs) * g.in_len()];
                // SAFETY: task t alone uses partial t.
                let part = unsafe { parts.part(t * part_len, part_len) };
                let (pw, pb) = part.split_at_mut(sz.w);
                if want_db {
                    column_sums(dys, n, pb);
                }
                match path {
                    Path::Implicit => implicit::weight_grad(g, xs, dys, pw),
                    Path::Gemm => gemm_path::weight_grad(g, xs, dys, chunk, pw),
                }
            }
            if let Some(shared) = dx_all.as_ref() {
                // SAFETY: task t alone writes the dx of its images n0..n0 + imgs.
                let dxs = unsafe { shared.part(n0 * g.in_len(), imgs * g.in_len()) };
                match dx_path {
                    DxPath::Transposed => implicit::input_grad(g, dys, wt, dxs),
                    DxPath::Scatter => implicit::input_grad_scatter(g, dys, wt, chunk, dxs),
                    DxPath::Gemm if flip_len > 0 => {
                        gemm_path::input_grad(g, dys, Mat::rows(wt, n, k), chunk, dxs)
                    }
                    DxPath::Gemm => {
                        gemm_path::input_grad(g, dys, Mat::transposed(w, n, k), chunk, dxs)
                    }
                }
            }
        });
        // Reduce in task order, so the sums do not depend on scheduling.
        let Some(dw) = dw else {
            return;
        };
        for part in partials.chunks_exact(part_len) {
            let (pw, pb) = part.split_at(sz.w);
            dw.iter_mut().zip(pw).for_each(|(d, p)| *d += p);
            if let Some(db) = db.as_deref_mut() {
                db.iter_mut().zip(pb).for_each(|(d, p)| *d += p);
            }
        }
    });
}
