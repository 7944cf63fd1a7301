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
#[cfg(target_arch = "x86_64")]
mod simd;
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
#[inline(always)]
fn span(o: usize, s: usize, f: usize, pad: usize, n: usize) -> (usize, usize) {
    let start = o * s;
    let lo = start.max(pad) - pad;
    let hi = (start + f).min(pad + n).saturating_sub(pad);
    (lo, hi.max(lo))
}

/// Calls `f(output offset, window)` for every output voxel of one example,
/// `window` giving the real input ranges along depth, rows and columns.
#[inline(always)]
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
#[inline(always)]
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
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let work = y_len * g.fd * g.fh * g.fw;
    let isa = crate::isa::current();
    par_rows2(y, argmax, batch, work, |b0, y, argmax| {
        let examples = y
            .chunks_exact_mut(out_len)
            .zip(argmax.chunks_exact_mut(out_len));
        for (b, (y, argmax)) in examples.enumerate() {
            let x = &x[(b0 + b) * in_len..(b0 + b + 1) * in_len];
            #[cfg(target_arch = "x86_64")]
            match isa {
                // SAFETY: `current` is an instruction set the CPU runs;
                // AVX-512F and AVX2 are these clones' only requirements.
                crate::isa::Isa::Avx512 => {
                    unsafe { max_example_avx512(g, x, y, argmax) };
                    continue;
                }
                crate::isa::Isa::Avx2 => {
                    unsafe { max_example_avx2(g, x, y, argmax) };
                    continue;
                }
                crate::isa::Isa::Portable => {}
            }
            max_example::<PORTABLE>(g, x, y, argmax);
        }
    });
    Ok(())
}

/// [`max_example`]'s channel loop: plain Rust, AVX2 or AVX-512.
const PORTABLE: u8 = 0;
const AVX2: u8 = 1;
const AVX512: u8 = 2;

/// [`max_example`] with AVX-512: 16 channels per masked compare and
/// masked stores of the winners and their indices.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn max_example_avx512(g: &Pool3dGeom, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    max_example::<AVX512>(g, x, y, argmax);
}

/// [`max_example`] with AVX2: 8 channels per compare and blend.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn max_example_avx2(g: &Pool3dGeom, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    max_example::<AVX2>(g, x, y, argmax);
}

/// Max pooling of one example: `x` its input, `y` and `argmax` its outputs.
/// Plain loops rather than [`for_each_window`]'s closures: a closure is
/// compiled on its own, without the instruction set of the clone that
/// calls it, and stayed scalar.
#[inline(always)]
fn max_example<const ISA: u8>(g: &Pool3dGeom, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    let c = g.c;
    for oz in 0..g.out_d {
        let (z0, z1) = span(oz, g.sd, g.fd, g.pad_front, g.in_d);
        for oy in 0..g.out_h {
            let (y0, y1) = span(oy, g.sh, g.fh, g.pad_top, g.in_h);
            for ox in 0..g.out_w {
                let (x0, x1) = span(ox, g.sw, g.fw, g.pad_left, g.in_w);
                let o = ((oz * g.out_h + oy) * g.out_w + ox) * c;
                let (yo, ao) = (&mut y[o..o + c], &mut argmax[o..o + c]);
                if z0 == z1 || y0 == y1 || x0 == x1 {
                    // A window of padding only.
                    yo.fill(0.0);
                    ao.fill(NO_WINNER);
                    continue;
                }
                // The window's first cell starts every channel; a later
                // one wins only when strictly larger (the first of equals
                // stays).
                let first = ((z0 * g.in_h + y0) * g.in_w + x0) * c;
                yo.copy_from_slice(&x[first..first + c]);
                for (a, idx) in ao.iter_mut().zip(first as u32..) {
                    *a = idx;
                }
                for z in z0..z1 {
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            let i = ((z * g.in_h + iy) * g.in_w + ix) * c;
                            if i == first {
                                continue;
                            }
                            let xs = &x[i..i + c];
                            match ISA {
                                // SAFETY: `max_example::<AVX512>` runs only
                                // in `max_example_avx512`, a clone for a CPU
                                // with AVX-512F, and `<AVX2>` in the AVX2 one.
                                #[cfg(target_arch = "x86_64")]
                                AVX512 => unsafe { simd::max_into_avx512(yo, ao, xs, i as u32) },
                                #[cfg(target_arch = "x86_64")]
                                AVX2 => unsafe { simd::max_into_avx2(yo, ao, xs, i as u32) },
                                _ => max_into(yo, ao, xs, i as u32),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `yo = max(yo, xs)` per channel, `ao` taking `idx + channel` where `xs`
/// is strictly larger. LLVM keeps this a scalar loop with a branch on the
/// data, which misses about half the time: the clones use `simd`'s.
#[inline(always)]
fn max_into(yo: &mut [f32], ao: &mut [u32], xs: &[f32], idx: u32) {
    for ((yv, av), (&v, i)) in yo.iter_mut().zip(ao).zip(xs.iter().zip(idx..)) {
        if v > *yv {
            *yv = v;
            *av = i;
        }
    }
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
