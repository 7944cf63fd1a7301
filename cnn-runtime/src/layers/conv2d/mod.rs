//! 2-D convolution over NHWC tensors in any number of groups: `forward`
//! with a fused epilogue, `backward` and `backward_input`, each taking the
//! group count (1 for the common dense convolution), on one engine whose
//! kernels all take the groups, the faster measured per layer shape and
//! pass on the CPU it runs on when asked (`tune.rs`).
//!
//! - Implicit GEMM (x86-64 with AVX-512 or AVX2 + FMA, `implicit.rs` +
//!   `microkernel/`): the products of im2col + GEMM computed by a
//!   register-blocked kernel that reads a zero-padded, group-major copy of
//!   the input in place, once per group. No column matrix, no packing, no
//!   matrixmultiply call, no allocation once scratch has grown. One group
//!   reads the plain padded copy (or the input itself) and keeps the
//!   depth-blocked products of `kblock.rs` and `implicit_big.rs`.
//! - im2col + `sgemm` (`gemm_path.rs`): any CPU. The group-major column
//!   matrix of a chunk of output pixels times each group's weights (`[fh,
//!   fw, c_in / groups, c_out]` is already the `k x c_out` matrix, a
//!   group's columns a strided view of it) gives the chunk's output rows,
//!   already NHWC; a 1x1 stride-1 unpadded dense convolution uses the
//!   input rows directly.
//! - Direct loops (`depthwise.rs`, `depthwise_grad.rs`, any CPU): the
//!   special kernel for several groups of one input channel (depthwise,
//!   MobileNet) or of 2 or 4 in and out (ResNeXt-50 32x4d's first stage),
//!   where the micro-kernel would fill a quarter of its vector lanes.
//!
//! Which kernel may run each pass is in `paths.rs`, the split of the work
//! over the thread pool in `split.rs`: forward cuts the batch's output
//! rows into L2-sized tasks, each applying the epilogue (bias, per-channel
//! affine, activation) to its rows while they are in cache; backward gives
//! each task whole images, its own `dx` region and its own weight- and
//! bias-gradient partial, reduced in task order, so results do not depend
//! on scheduling. `CNN_CONV=gemm` in the environment forces the portable
//! path (the direct loops stay where they apply) and `CNN_CONV=implicit`
//! (the default) the fixed rules; a dilated convolution (taps `dh`, `dw`
//! apart) always takes the im2col path: the micro-kernel and the direct
//! loops know no dilation ([`Conv2dGeom::is_dilated`]).
//!
//! Weights are `[fh, fw, c_in / groups, c_out]` (Keras's grouped `Conv2D`
//! kernel): output channel `co` of group `co / og` reads the `cg` input
//! channels of that group, `og = c_out / groups`, `cg = c_in / groups`.
//! Depthwise weights are the same tensor with `cg = 1`: `[fh, fw, 1,
//! c_in * m]`, channel `i * m + j` reading input channel `i`, which is the
//! memory order of Keras's `DepthwiseConv2D` kernel `[fh, fw, c_in, m]`.

#[cfg(test)]
mod api_tests;
mod depthwise;
mod depthwise_grad;
#[cfg(test)]
mod dilation_tests;
mod epilogue;
mod gemm_path;
pub(crate) mod im2col;
mod implicit;
mod kblock;
mod microkernel;
mod packed;
mod paths;
#[cfg(any(test, feature = "testing"))]
pub mod reference;
mod split;
#[cfg(test)]
mod tests;
mod tune;

pub use tune::{choices, Choice, Pass};

pub(crate) use epilogue::{apply as apply_epilogue, check as check_epilogue};
pub(crate) use gemm_path::sgemm as gemm_product;

use crate::error::{check_len, Error, Result};
use crate::geom::{Act, Conv2dGeom};
use paths::DxPath;

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

/// The micro-kernels (`implicit*.rs`) and the direct depthwise loops read
/// a window's taps as adjacent inputs and know no dilation;
/// `paths::candidates` sends a dilated convolution to the im2col path
/// instead. This holds them to it.
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
    /// The weights, `fh * fw * (c_in / groups) * c_out`.
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

/// The channel split of a convolution in `groups` groups (one for a
/// dense convolution).
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

impl Groups {
    /// One group: the dense convolution of a validated `g`.
    pub(super) fn one(g: &Conv2dGeom) -> Groups {
        Groups {
            groups: 1,
            cg: g.c_in,
            og: g.c_out,
            k: g.k(),
            w: g.weight_len(),
        }
    }
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

/// The geometry's and the groups' checks, then the sizes of one call.
fn sizes(g: &Conv2dGeom, groups: usize, batch: usize) -> Result<(Groups, Sizes)> {
    g.validate()?;
    let gr = group_sizes(g, groups)?;
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
    let sz = Sizes {
        x: mul(batch, g.in_len())?,
        y: mul(batch, g.out_len())?,
        w: gr.w,
        rows: mul(batch, g.out_h * g.out_w)?,
    };
    Ok((gr, sz))
}

/// `y = act((conv(x, w) + bias) * scale + shift)` in `groups` groups,
/// NHWC. Overwrites `y`. `g` is the whole layer's geometry (`c_in` and
/// `c_out` are the totals); input channels `[k * c_in / groups, (k + 1) *
/// c_in / groups)` feed output channels `[k * c_out / groups, (k + 1) *
/// c_out / groups)`. `groups == 1` is the dense convolution, `groups ==
/// c_in` a depthwise one with `c_out / c_in` filters per input channel.
/// `x: [batch, in_h, in_w, c_in]  w: [fh, fw, c_in / groups, c_out]  y: [batch, out_h, out_w, c_out]`
///
/// Errors: an inconsistent geometry ([`Conv2dGeom::validate`]), `groups`
/// zero or not dividing `c_in` and `c_out`, a zero batch, or a slice whose
/// length does not match its shape (the error names the argument).
pub fn forward(
    g: &Conv2dGeom,
    groups: usize,
    batch: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) -> Result<()> {
    let (gr, sz) = sizes(g, groups, batch)?;
    check_len("conv2d forward: x", x.len(), sz.x)?;
    check_len("conv2d forward: w", w.len(), sz.w)?;
    check_len("conv2d forward: y", y.len(), sz.y)?;
    epilogue::check(ep, g.c_out)?;
    let candidates = paths::candidates(g, &gr);
    let kernel = tune::choose(
        g,
        groups,
        batch,
        Pass::Forward,
        candidates.as_slice(),
        |k| {
            split::forward_path(k, g, &gr, sz, x, w, ep, y);
        },
    );
    split::forward_path(kernel, g, &gr, sz, x, w, ep, y);
    Ok(())
}

/// Gradients of a convolution in `groups` groups. `dy` is the gradient
/// with respect to the convolution's output before any activation (the
/// caller applied `act'`). Overwrites `dx` when given (skip it for a first
/// layer); adds into `dw` and `db`.
/// `x, dx: [batch, in_h, in_w, c_in]  w, dw: [fh, fw, c_in / groups, c_out]  dy: [batch, out_h, out_w, c_out]  db: [c_out]`
///
/// Errors: as [`forward`], for every slice given.
#[allow(clippy::too_many_arguments)]
pub fn backward(
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
    let (gr, sz) = sizes(g, groups, batch)?;
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
    // Each gradient is chosen on its own. Measured apart: dx is
    // overwritten, so the final call below replaces what measuring wrote
    // there; dw is summed into, so it is measured into a buffer of its own.
    let mut dw_trial = Vec::new();
    let candidates = paths::candidates(g, &gr);
    let kernel = tune::choose(
        g,
        groups,
        batch,
        Pass::WeightGrad,
        candidates.as_slice(),
        |k| {
            dw_trial.resize(sz.w, 0.0);
            split::weight_grad(k, g, &gr, batch, x, dy, &mut dw_trial, None);
        },
    );
    let mut dx = dx;
    let dx_path = match dx.as_deref_mut() {
        Some(dx) => choose_dx(g, &gr, batch, w, dy, dx),
        None => DxPath::Gemm,
    };
    if split::big_weights(kernel, g, &gr) {
        split::weight_grad(kernel, g, &gr, batch, x, dy, dw, db);
        if let Some(dx) = dx {
            split::input_grad(dx_path, g, &gr, batch, w, dy, dx);
        }
        return Ok(());
    }
    split::backward_path(kernel, dx_path, g, &gr, batch, x, w, dy, dx, Some(dw), db);
    Ok(())
}

/// The input gradient of a convolution in `groups` groups alone, when its
/// weights get no gradient (a frozen layer under one that trains, the
/// picture's gradient through a frozen network, or the forward pass of a
/// transposed convolution, which is this product): the same products as
/// [`backward`]'s `dx`, without the weight gradient's. Overwrites dx.
/// `w: [fh, fw, c_in / groups, c_out]  dy: [batch, out_h, out_w, c_out]  dx: [batch, in_h, in_w, c_in]`
///
/// Errors: as [`forward`], for every slice given.
pub fn backward_input(
    g: &Conv2dGeom,
    groups: usize,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let (gr, sz) = sizes(g, groups, batch)?;
    check_len("conv2d backward_input: w", w.len(), sz.w)?;
    check_len("conv2d backward_input: dy", dy.len(), sz.y)?;
    check_len("conv2d backward_input: dx", dx.len(), sz.x)?;
    let dx_path = choose_dx(g, &gr, batch, w, dy, dx);
    split::input_grad(dx_path, g, &gr, batch, w, dy, dx);
    Ok(())
}

/// The input-gradient path for `g` at `batch` ([`tune::choose`] over
/// `paths::dx_candidates`); measuring writes `dx`, which the caller
/// overwrites.
fn choose_dx(
    g: &Conv2dGeom,
    gr: &Groups,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> DxPath {
    let candidates = paths::dx_candidates(g, gr);
    tune::choose(
        g,
        gr.groups,
        batch,
        Pass::InputGrad,
        candidates.as_slice(),
        |d| {
            split::input_grad(d, g, gr, batch, w, dy, dx);
        },
    )
}
