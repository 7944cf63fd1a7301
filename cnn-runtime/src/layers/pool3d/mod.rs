//! Max and average pooling over NDHWC volumes, forward and backward, with
//! the 2-D pools' rules (`pool`): padded cells never win the max and are
//! not counted in the average; max pooling records the flat index of each
//! output's winner inside the example's input (`((z * in_h + y) * in_w +
//! x) * c + ch`, first in window order on ties) and its backward scatters
//! through them; a window of padding only outputs 0, passes no gradient
//! and records [`NO_WINNER`]. Examples run in parallel; a window's cells
//! are runs of `c` channels, the inner loops run along channels.

#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;

use crate::error::{check_len, Error, Result};
use crate::geom3d::Pool3dGeom;
use crate::layers::activation::{par_rows, par_rows2};
pub use crate::layers::pool::NO_WINNER;

/// Checks the geometry and the batch; returns the batch's input and
/// output lengths.
fn sizes(g: &Pool3dGeom, batch: usize) -> Result<[usize; 2]> {
    g.validate()?;
    let overflow = || Error::InvalidArgument(format!("pool3d: batch {batch} overflows"));
    Ok([
        batch.checked_mul(g.in_len()).ok_or_else(overflow)?,
        batch.checked_mul(g.out_len()).ok_or_else(overflow)?,
    ])
}

/// The real input positions `lo..hi` under output position `o` along one
/// axis (empty when the window is all padding).
#[inline]
fn span(o: usize, s: usize, f: usize, pad: usize, n: usize) -> (usize, usize) {
    let start = o * s;
    let lo = start.max(pad) - pad;
    let hi = (start + f).min(pad + n).saturating_sub(pad);
    (lo, hi.max(lo))
}

/// Calls `f(output offset, window)` for every output voxel of one example,
/// `window` giving the real input ranges along depth, rows and columns.
fn for_each_window(g: &Pool3dGeom, mut f: impl FnMut(usize, [(usize, usize); 3])) {
    for oz in 0..g.out_d {
        let zs = span(oz, g.sd, g.fd, g.pad_front, g.in_d);
        for oy in 0..g.out_h {
            let ys = span(oy, g.sh, g.fh, g.pad_top, g.in_h);
            for ox in 0..g.out_w {
                let xs = span(ox, g.sw, g.fw, g.pad_left, g.in_w);
                f(((oz * g.out_h + oy) * g.out_w + ox) * g.c, [zs, ys, xs]);
            }
        }
    }
}

/// Calls `f(input offset)` for every real cell of a window, in window
/// order.
#[inline]
fn for_each_cell(g: &Pool3dGeom, win: [(usize, usize); 3], mut f: impl FnMut(usize)) {
    for z in win[0].0..win[0].1 {
        for y in win[1].0..win[1].1 {
            for x in win[2].0..win[2].1 {
                f(((z * g.in_h + y) * g.in_w + x) * g.c);
            }
        }
    }
}

/// Max pooling. Overwrites y and argmax.
/// x: [batch, in_d, in_h, in_w, c]  y, argmax: [batch, out_d, out_h, out_w, c]
pub fn max_forward(
    g: &Pool3dGeom,
    batch: usize,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) -> Result<()> {
    let [x_len, y_len] = sizes(g, batch)?;
    check_len("max pool3d x", x.len(), x_len)?;
    check_len("max pool3d y", y.len(), y_len)?;
    check_len("max pool3d argmax", argmax.len(), y_len)?;
    if u32::try_from(g.in_len()).is_err() {
        return Err(Error::InvalidArgument(format!(
            "max pool3d: one example has {} elements, more than a u32 argmax can index",
            g.in_len()
        )));
    }
    let (in_len, out_len, c) = (g.in_len(), g.out_len(), g.c);
    let work = y_len * g.fd * g.fh * g.fw;
    par_rows2(y, argmax, batch, work, |b0, y, argmax| {
        let examples = y
            .chunks_exact_mut(out_len)
            .zip(argmax.chunks_exact_mut(out_len));
        for (b, (y, argmax)) in examples.enumerate() {
            let x = &x[(b0 + b) * in_len..(b0 + b + 1) * in_len];
            for_each_window(g, |o, win| {
                let (yo, ao) = (&mut y[o..o + c], &mut argmax[o..o + c]);
                // The window's first cell starts every channel; a later
                // one wins only when strictly larger (the first of equals
                // stays). Zipped slices, no branch on NO_WINNER: the
                // channel loop vectorises.
                let mut first = true;
                for_each_cell(g, win, |i| {
                    let xs = &x[i..i + c];
                    if first {
                        first = false;
                        yo.copy_from_slice(xs);
                        for (a, idx) in ao.iter_mut().zip(i as u32..) {
                            *a = idx;
                        }
                        return;
                    }
                    for ((yv, av), (&v, idx)) in yo
                        .iter_mut()
                        .zip(ao.iter_mut())
                        .zip(xs.iter().zip(i as u32..))
                    {
                        if v > *yv {
                            *yv = v;
                            *av = idx;
                        }
                    }
                });
                if first {
                    // A window of padding only.
                    yo.fill(0.0);
                    ao.fill(NO_WINNER);
                }
            });
        }
    });
    Ok(())
}

/// Max pooling's input gradient: `dy` scattered to the winners. Overwrites
/// dx.
/// dy, argmax: [batch, out_d, out_h, out_w, c]  dx: [batch, in_d, in_h, in_w, c]
pub fn max_backward(
    g: &Pool3dGeom,
    batch: usize,
    dy: &[f32],
    argmax: &[u32],
    dx: &mut [f32],
) -> Result<()> {
    let [x_len, y_len] = sizes(g, batch)?;
    check_len("max pool3d dy", dy.len(), y_len)?;
    check_len("max pool3d argmax", argmax.len(), y_len)?;
    check_len("max pool3d dx", dx.len(), x_len)?;
    let (in_len, out_len) = (g.in_len(), g.out_len());
    if let Some(&a) = argmax
        .iter()
        .find(|&&a| a != NO_WINNER && a as usize >= in_len)
    {
        return Err(Error::InvalidArgument(format!(
            "max pool3d: argmax {a} is outside an example of {in_len} elements"
        )));
    }
    par_rows(dx, batch, x_len, |b0, dx| {
        dx.fill(0.0);
        for (b, dx) in dx.chunks_exact_mut(in_len).enumerate() {
            let at = (b0 + b) * out_len..(b0 + b + 1) * out_len;
            for (&d, &a) in dy[at.clone()].iter().zip(&argmax[at]) {
                if a != NO_WINNER {
                    dx[a as usize] += d;
                }
            }
        }
    });
    Ok(())
}

/// Average pooling over each window's real cells. Overwrites y.
/// x: [batch, in_d, in_h, in_w, c]  y: [batch, out_d, out_h, out_w, c]
pub fn avg_forward(g: &Pool3dGeom, batch: usize, x: &[f32], y: &mut [f32]) -> Result<()> {
    let [x_len, y_len] = sizes(g, batch)?;
    check_len("avg pool3d x", x.len(), x_len)?;
    check_len("avg pool3d y", y.len(), y_len)?;
    let (in_len, out_len, c) = (g.in_len(), g.out_len(), g.c);
    let work = y_len * g.fd * g.fh * g.fw;
    par_rows(y, batch, work, |b0, y| {
        for (b, y) in y.chunks_exact_mut(out_len).enumerate() {
            let x = &x[(b0 + b) * in_len..(b0 + b + 1) * in_len];
            for_each_window(g, |o, win| {
                let yo = &mut y[o..o + c];
                yo.fill(0.0);
                let mut count = 0usize;
                for_each_cell(g, win, |i| {
                    count += 1;
                    yo.iter_mut().zip(&x[i..i + c]).for_each(|(s, v)| *s += v);
                });
                let inv = if count == 0 { 0.0 } else { 1.0 / count as f32 };
                yo.iter_mut().for_each(|v| *v *= inv);
            });
        }
    });
    Ok(())
}

/// Average pooling's input gradient: each output's gradient shared evenly
/// by its window's real cells. Overwrites dx.
/// dy: [batch, out_d, out_h, out_w, c]  dx: [batch, in_d, in_h, in_w, c]
pub fn avg_backward(g: &Pool3dGeom, batch: usize, dy: &[f32], dx: &mut [f32]) -> Result<()> {
    let [x_len, y_len] = sizes(g, batch)?;
    check_len("avg pool3d dy", dy.len(), y_len)?;
    check_len("avg pool3d dx", dx.len(), x_len)?;
    let (in_len, out_len, c) = (g.in_len(), g.out_len(), g.c);
    par_rows(dx, batch, x_len * g.fd * g.fh * g.fw, |b0, dx| {
        dx.fill(0.0);
        for (b, dx) in dx.chunks_exact_mut(in_len).enumerate() {
            let dy = &dy[(b0 + b) * out_len..(b0 + b + 1) * out_len];
            for_each_window(g, |o, win| {
                let count: usize = win.iter().map(|(lo, hi)| hi - lo).product();
                if count == 0 {
                    return;
                }
                let inv = 1.0 / count as f32;
                let d = &dy[o..o + c];
                for_each_cell(g, win, |i| {
                    dx[i..i + c]
                        .iter_mut()
                        .zip(d)
                        .for_each(|(s, v)| *s += v * inv);
                });
            });
        }
    });
    Ok(())
}
