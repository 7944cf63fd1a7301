//! Transposed 2-D convolution over NHWC tensors (PyTorch's
//! `ConvTranspose2d`; `ConvTranspose1d` is its height-1 case), on the
//! convolution's own kernels: a transposed convolution is the input
//! gradient of the convolution [`ConvTranspose2dGeom::conv`] from its
//! output back to its input, with the same weights. So
//!
//! - forward is that convolution's `backward_input` (`dY W^T` scattered
//!   by col2im, or the micro-kernel's transposed pass), then the epilogue;
//! - the input gradient is that convolution's forward on `dy`;
//! - the weight gradient is that convolution's weight gradient with the
//!   roles swapped (its input is our `dy`, its output gradient our `x`);
//! - the bias gradient is `dy` summed over every pixel.
//!
//! Each of them dispatches as the convolution does (implicit GEMM, im2col
//! and `sgemm`, grouped and depthwise kernels; dilated ones on im2col), so
//! every speed-up there is one here. When the output padding is at least
//! the stride (PyTorch allows it below the dilation instead), that
//! convolution has more outputs than we have inputs: our input is copied
//! onto its larger grid with zeros (and our input gradient cut from its),
//! in the scratch slot `Wide`, so a step still allocates nothing.

#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;

use crate::error::{check_len, Error, Result};
use crate::geom::{Conv2dGeom, ConvTranspose2dGeom};
use crate::layers::conv2d::{self, Epilogue};
use crate::scratch::{self, Slot};

/// Sizes of one call: input, output and weight lengths.
struct Sizes {
    x: usize,
    y: usize,
    w: usize,
}

fn sizes(g: &ConvTranspose2dGeom, groups: usize, batch: usize) -> Result<Sizes> {
    g.validate()?;
    if batch == 0 {
        return Err(Error::InvalidArgument(
            "conv_transpose: batch must be positive".into(),
        ));
    }
    if groups == 0 || !g.c_in.is_multiple_of(groups) || !g.c_out.is_multiple_of(groups) {
        return Err(Error::InvalidArgument(format!(
            "conv_transpose: groups {groups} must be positive and divide c_in {} and c_out {}",
            g.c_in, g.c_out
        )));
    }
    let overflow = || Error::InvalidArgument(format!("conv_transpose: batch {batch} overflows"));
    Ok(Sizes {
        x: batch.checked_mul(g.in_len()).ok_or_else(overflow)?,
        y: batch.checked_mul(g.out_len()).ok_or_else(overflow)?,
        w: g.fh * g.fw * (g.c_out / groups) * g.c_in,
    })
}

/// Copies each image of `x` (`[rows, cols, c]` with `rows = small[0]`,
/// `cols = small[1]`) into the top left of `wide`'s (`[big[0], big[1],
/// c]`), zeros elsewhere.
fn widen(small: [usize; 2], big: [usize; 2], c: usize, x: &[f32], wide: &mut [f32]) {
    let (row, wrow) = (small[1] * c, big[1] * c);
    for (img, wimg) in x
        .chunks_exact(small[0] * row)
        .zip(wide.chunks_exact_mut(big[0] * wrow))
    {
        wimg.fill(0.0);
        for (r, wr) in img.chunks_exact(row).zip(wimg.chunks_exact_mut(wrow)) {
            wr[..row].copy_from_slice(r);
        }
    }
}

/// The inverse of [`widen`]: the top left of each wide image into `x`.
fn narrow(small: [usize; 2], big: [usize; 2], c: usize, wide: &[f32], x: &mut [f32]) {
    let (row, wrow) = (small[1] * c, big[1] * c);
    for (img, wimg) in x
        .chunks_exact_mut(small[0] * row)
        .zip(wide.chunks_exact(big[0] * wrow))
    {
        for (r, wr) in img.chunks_exact_mut(row).zip(wimg.chunks_exact(wrow)) {
            r.copy_from_slice(&wr[..row]);
        }
    }
}

/// The grid sizes of the convolution's output beside ours.
fn grids(g: &ConvTranspose2dGeom, c: &Conv2dGeom) -> ([usize; 2], [usize; 2]) {
    ([g.in_h, g.in_w], [c.out_h, c.out_w])
}

/// `y = act((conv_transpose(x, w) + bias) * scale + shift)`, NHWC.
/// Overwrites `y`.
/// `x: [batch, in_h, in_w, c_in]  w: [fh, fw, c_out / groups, c_in]  y: [batch, out_h, out_w, c_out]`
///
/// Input channels `[k * c_in / groups, (k + 1) * c_in / groups)` feed
/// output channels `[k * c_out / groups, (k + 1) * c_out / groups)`.
///
/// Errors: an inconsistent geometry ([`ConvTranspose2dGeom::validate`]),
/// `groups` not dividing both channel counts, a zero batch, or a slice
/// whose length does not match its shape.
pub fn forward(
    g: &ConvTranspose2dGeom,
    groups: usize,
    batch: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) -> Result<()> {
    let sz = sizes(g, groups, batch)?;
    check_len("conv_transpose forward: x", x.len(), sz.x)?;
    check_len("conv_transpose forward: w", w.len(), sz.w)?;
    check_len("conv_transpose forward: y", y.len(), sz.y)?;
    conv2d::check_epilogue(ep, g.c_out)?;
    let c = g.conv();
    if g.is_exact() {
        conv2d::backward_input(&c, groups, batch, w, x, y)?;
    } else {
        let (small, big) = grids(g, &c);
        scratch::with(Slot::Wide, batch * c.out_len(), |wide| {
            widen(small, big, g.c_in, x, wide);
            conv2d::backward_input(&c, groups, batch, w, wide, y)
        })?;
    }
    conv2d::apply_epilogue(ep, g.c_out, y);
    Ok(())
}

/// Gradients of a transposed convolution. `dy` is the gradient with
/// respect to its output before any activation (the caller applied
/// `act'`). Overwrites `dx` when given; adds into `dw` and `db`.
/// `x, dx: [batch, in_h, in_w, c_in]  w, dw: [fh, fw, c_out / groups, c_in]  dy: [batch, out_h, out_w, c_out]  db: [c_out]`
///
/// Errors: as [`forward`], for every slice given.
#[allow(clippy::too_many_arguments)] // a convolution's backward: inputs, gradients, geometry
pub fn backward(
    g: &ConvTranspose2dGeom,
    groups: usize,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) -> Result<()> {
    let sz = sizes(g, groups, batch)?;
    check_len("conv_transpose backward: x", x.len(), sz.x)?;
    check_len("conv_transpose backward: w", w.len(), sz.w)?;
    check_len("conv_transpose backward: dy", dy.len(), sz.y)?;
    if let Some(dx) = dx.as_deref() {
        check_len("conv_transpose backward: dx", dx.len(), sz.x)?;
    }
    check_len("conv_transpose backward: dw", dw.len(), sz.w)?;
    if let Some(db) = db.as_deref() {
        check_len("conv_transpose backward: db", db.len(), g.c_out)?;
    }
    if let Some(db) = db {
        for row in dy.chunks_exact(g.c_out) {
            db.iter_mut().zip(row).for_each(|(d, v)| *d += v);
        }
    }
    let c = g.conv();
    if g.is_exact() {
        // The convolution's weight gradient: its input is our dy, its
        // output gradient our x.
        conv2d::backward(&c, groups, batch, dy, w, x, None, dw, None)?;
        if let Some(dx) = dx {
            conv2d::forward(&c, groups, batch, dy, w, &Epilogue::NONE, dx)?;
        }
        return Ok(());
    }
    let (small, big) = grids(g, &c);
    let wide_len = batch * c.out_len();
    scratch::with(Slot::Wide, 2 * wide_len, |buf| {
        let (wide_x, wide_dx) = buf.split_at_mut(wide_len);
        widen(small, big, g.c_in, x, wide_x);
        conv2d::backward(&c, groups, batch, dy, w, wide_x, None, dw, None)?;
        if let Some(dx) = dx {
            conv2d::forward(&c, groups, batch, dy, w, &Epilogue::NONE, wide_dx)?;
            narrow(small, big, g.c_in, wide_dx, dx);
        }
        Ok(())
    })
}

/// The input gradient alone, when the weights get no gradient (a frozen
/// layer): [`backward`]'s `dx`. Overwrites dx.
/// `w: [fh, fw, c_out / groups, c_in]  dy: [batch, out_h, out_w, c_out]  dx: [batch, in_h, in_w, c_in]`
///
/// Errors: as [`forward`], for every slice given.
pub fn backward_input(
    g: &ConvTranspose2dGeom,
    groups: usize,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let sz = sizes(g, groups, batch)?;
    check_len("conv_transpose backward_input: w", w.len(), sz.w)?;
    check_len("conv_transpose backward_input: dy", dy.len(), sz.y)?;
    check_len("conv_transpose backward_input: dx", dx.len(), sz.x)?;
    let c = g.conv();
    if g.is_exact() {
        return conv2d::forward(&c, groups, batch, dy, w, &Epilogue::NONE, dx);
    }
    let (small, big) = grids(g, &c);
    scratch::with(Slot::Wide, batch * c.out_len(), |wide| {
        conv2d::forward(&c, groups, batch, dy, w, &Epilogue::NONE, wide)?;
        narrow(small, big, g.c_in, wide, dx);
        Ok(())
    })
}
