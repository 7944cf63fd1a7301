//! Transposed 3-D convolution over NDHWC volumes (PyTorch's
//! `ConvTranspose3d`), on `conv3d`'s engine as `conv_transpose` is on
//! `conv2d`'s: a transposed convolution is the input gradient of the
//! convolution [`ConvTranspose3dGeom::conv`] from its output back to its
//! input, with the same weights. So
//!
//! - forward is that convolution's `backward_input` (`dY W^T` scattered
//!   by col2im), then the epilogue;
//! - the input gradient is that convolution's forward on `dy`;
//! - the weight gradient is that convolution's weight gradient with the
//!   roles swapped (its input is our `dy`, its output gradient our `x`);
//! - the bias gradient is `dy` summed over every voxel.
//!
//! When an output padding is at least its stride (PyTorch allows it below
//! the dilation instead), that convolution has more outputs than we have
//! inputs: our input is copied onto its larger grid with zeros (and our
//! input gradient cut from its), in the scratch slot `Wide`, so a step
//! still allocates nothing.

#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;

use crate::error::{check_len, Error, Result};
use crate::geom3d::Conv3dGeom;
use crate::geom3d_grow::ConvTranspose3dGeom;
use crate::layers::conv2d::{self, Epilogue};
use crate::layers::conv3d;
use crate::scratch::{self, Slot};

/// Lengths of one call: input, output, weights.
fn sizes(g: &ConvTranspose3dGeom, batch: usize) -> Result<[usize; 3]> {
    g.validate()?;
    if batch == 0 {
        return Err(Error::InvalidArgument(
            "conv_transpose3d: batch must be positive".into(),
        ));
    }
    let overflow = || Error::InvalidArgument(format!("conv_transpose3d: batch {batch} overflows"));
    Ok([
        batch.checked_mul(g.in_len()).ok_or_else(overflow)?,
        batch.checked_mul(g.out_len()).ok_or_else(overflow)?,
        g.weight_len(),
    ])
}

/// The volume sizes `[frames, rows, cols]` of our input and of the
/// convolution's output, which holds it at its front top left.
fn grids(g: &ConvTranspose3dGeom, c: &Conv3dGeom) -> ([usize; 3], [usize; 3]) {
    ([g.in_d, g.in_h, g.in_w], [c.out_d, c.out_h, c.out_w])
}

/// Copies each volume of `x` (`small` with `c` channels) into the front
/// top left of `wide`'s (`big`), zeros elsewhere.
fn widen(small: [usize; 3], big: [usize; 3], c: usize, x: &[f32], wide: &mut [f32]) {
    let (row, wrow) = (small[2] * c, big[2] * c);
    let (frame, wframe) = (small[1] * row, big[1] * wrow);
    for (vol, wvol) in x
        .chunks_exact(small[0] * frame)
        .zip(wide.chunks_exact_mut(big[0] * wframe))
    {
        wvol.fill(0.0);
        for (f, wf) in vol.chunks_exact(frame).zip(wvol.chunks_exact_mut(wframe)) {
            for (r, wr) in f.chunks_exact(row).zip(wf.chunks_exact_mut(wrow)) {
                wr[..row].copy_from_slice(r);
            }
        }
    }
}

/// The inverse of [`widen`]: the front top left of each wide volume.
fn narrow(small: [usize; 3], big: [usize; 3], c: usize, wide: &[f32], x: &mut [f32]) {
    let (row, wrow) = (small[2] * c, big[2] * c);
    let (frame, wframe) = (small[1] * row, big[1] * wrow);
    for (vol, wvol) in x
        .chunks_exact_mut(small[0] * frame)
        .zip(wide.chunks_exact(big[0] * wframe))
    {
        for (f, wf) in vol.chunks_exact_mut(frame).zip(wvol.chunks_exact(wframe)) {
            for (r, wr) in f.chunks_exact_mut(row).zip(wf.chunks_exact(wrow)) {
                r.copy_from_slice(&wr[..row]);
            }
        }
    }
}

/// `y = act((conv_transpose3d(x, w) + bias) * scale + shift)`, NDHWC.
/// Overwrites `y`.
/// `x: [batch, in_d, in_h, in_w, c_in]  w: [fd, fh, fw, c_out / groups, c_in]  y: [batch, out_d, out_h, out_w, c_out]`
///
/// Errors: an inconsistent geometry ([`ConvTranspose3dGeom::validate`]),
/// a zero batch, or a slice whose length does not match its shape.
pub fn forward(
    g: &ConvTranspose3dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) -> Result<()> {
    let [x_len, y_len, w_len] = sizes(g, batch)?;
    check_len("conv_transpose3d forward: x", x.len(), x_len)?;
    check_len("conv_transpose3d forward: w", w.len(), w_len)?;
    check_len("conv_transpose3d forward: y", y.len(), y_len)?;
    conv2d::check_epilogue(ep, g.c_out)?;
    let c = g.conv();
    if g.is_exact() {
        conv3d::backward_input(&c, batch, w, x, y)?;
    } else {
        let (small, big) = grids(g, &c);
        scratch::with(Slot::Wide, batch * c.out_len(), |wide| {
            widen(small, big, g.c_in, x, wide);
            conv3d::backward_input(&c, batch, w, wide, y)
        })?;
    }
    conv2d::apply_epilogue(ep, g.c_out, y);
    Ok(())
}

/// Gradients of a transposed 3-D convolution. `dy` is the gradient with
/// respect to its output before any activation (the caller applied
/// `act'`). Overwrites `dx` when given; adds into `dw` and `db`.
/// `x, dx: [batch, in_d, in_h, in_w, c_in]  w, dw: [fd, fh, fw, c_out / groups, c_in]  dy: [batch, out_d, out_h, out_w, c_out]  db: [c_out]`
///
/// Errors: as [`forward`], for every slice given.
#[allow(clippy::too_many_arguments)] // one slice per tensor, as conv3d's
pub fn backward(
    g: &ConvTranspose3dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) -> Result<()> {
    let [x_len, y_len, w_len] = sizes(g, batch)?;
    check_len("conv_transpose3d backward: x", x.len(), x_len)?;
    check_len("conv_transpose3d backward: w", w.len(), w_len)?;
    check_len("conv_transpose3d backward: dy", dy.len(), y_len)?;
    if let Some(dx) = dx.as_deref() {
        check_len("conv_transpose3d backward: dx", dx.len(), x_len)?;
    }
    check_len("conv_transpose3d backward: dw", dw.len(), w_len)?;
    if let Some(db) = db.as_deref() {
        check_len("conv_transpose3d backward: db", db.len(), g.c_out)?;
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
        conv3d::backward(&c, batch, dy, w, x, None, dw, None)?;
        if let Some(dx) = dx {
            conv3d::forward(&c, batch, dy, w, &Epilogue::NONE, dx)?;
        }
        return Ok(());
    }
    let (small, big) = grids(g, &c);
    let wide_len = batch * c.out_len();
    scratch::with(Slot::Wide, 2 * wide_len, |buf| {
        let (wide_x, wide_dx) = buf.split_at_mut(wide_len);
        widen(small, big, g.c_in, x, wide_x);
        conv3d::backward(&c, batch, dy, w, wide_x, None, dw, None)?;
        if let Some(dx) = dx {
            conv3d::forward(&c, batch, dy, w, &Epilogue::NONE, wide_dx)?;
            narrow(small, big, g.c_in, wide_dx, dx);
        }
        Ok(())
    })
}

/// The input gradient alone, when the weights get no gradient (a frozen
/// layer): [`backward`]'s `dx`. Overwrites dx.
/// `w: [fd, fh, fw, c_out / groups, c_in]  dy: [batch, out_d, out_h, out_w, c_out]  dx: [batch, in_d, in_h, in_w, c_in]`
///
/// Errors: as [`forward`].
pub fn backward_input(
    g: &ConvTranspose3dGeom,
    batch: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let [x_len, y_len, w_len] = sizes(g, batch)?;
    check_len("conv_transpose3d backward_input: w", w.len(), w_len)?;
    check_len("conv_transpose3d backward_input: dy", dy.len(), y_len)?;
    check_len("conv_transpose3d backward_input: dx", dx.len(), x_len)?;
    let c = g.conv();
    if g.is_exact() {
        return conv3d::forward(&c, batch, dy, w, &Epilogue::NONE, dx);
    }
    let (small, big) = grids(g, &c);
    scratch::with(Slot::Wide, batch * c.out_len(), |wide| {
        conv3d::forward(&c, batch, dy, w, &Epilogue::NONE, wide)?;
        narrow(small, big, g.c_in, wide, dx);
        Ok(())
    })
}
