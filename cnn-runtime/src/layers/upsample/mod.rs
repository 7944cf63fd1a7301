//! Upsampling by whole factors (PyTorch's `Upsample(scale_factor=s)`),
//! nearest or bilinear with `align_corners=False`, over NHWC tensors.
//!
//! Both passes gather: forward computes each output row from at most two
//! input rows, and backward computes each input row's gradient from the
//! output rows that read it (a window of `sh` rows for nearest, at most
//! `2 sh + 1` for bilinear), so rows are independent tasks with no
//! scatter, and the sums run in the same order on any thread count.
//! Bilinear coordinates are worked out in `f32` as PyTorch's kernel does:
//! `src = (dst + 0.5) / s - 0.5`, clamped at 0, its two neighbours
//! `floor(src)` and the next one inside the input.

#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;

use crate::error::{check_len, Error, Result};
use crate::geom::{Interpolation, UpsampleGeom};
use crate::layers::activation::par_rows;

/// Along one axis of `n` inputs upsampled `s` times, output `o` reads
/// input `i0` with weight `1 - l1` and input `i1` with weight `l1` (the
/// same input, with `l1 = 0`, at the border).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Taps {
    pub i0: usize,
    pub i1: usize,
    pub l1: f32,
}

/// PyTorch's `area_pixel_compute_source_index` with `align_corners=False`
/// and its neighbours.
pub(crate) fn linear_taps(o: usize, s: usize, n: usize) -> Taps {
    let scale = 1.0f32 / s as f32;
    let src = (scale * (o as f32 + 0.5) - 0.5).max(0.0);
    // `src >= 0`, so truncation is the floor.
    let i0 = (src as usize).min(n - 1);
    let i1 = if i0 + 1 < n { i0 + 1 } else { i0 };
    Taps {
        i0,
        i1,
        l1: src - i0 as f32,
    }
}

/// The taps of output `o` along an axis, for either mode.
pub(crate) fn taps(mode: Interpolation, o: usize, s: usize, n: usize) -> Taps {
    match mode {
        Interpolation::Nearest => Taps {
            i0: o / s,
            i1: o / s,
            l1: 0.0,
        },
        Interpolation::Bilinear => linear_taps(o, s, n),
    }
}

fn check(what: &str, g: &UpsampleGeom, batch: usize) -> Result<(usize, usize)> {
    let fields = [
        ("in_h", g.in_h),
        ("in_w", g.in_w),
        ("c", g.c),
        ("sh", g.sh),
        ("sw", g.sw),
        ("batch", batch),
    ];
    if let Some((name, _)) = fields.iter().find(|(_, v)| *v == 0) {
        return Err(Error::InvalidArgument(format!(
            "{what}: {name} must be positive in {g:?}"
        )));
    }
    let x = [g.in_h, g.in_w, g.c, batch]
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b));
    let y = x.and_then(|x| x.checked_mul(g.sh)?.checked_mul(g.sw));
    match (x, y) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(Error::InvalidArgument(format!(
            "{what}: sizes overflow in {g:?} with batch {batch}"
        ))),
    }
}

/// `y = upsample(x)`. Overwrites `y`.
/// `x: [batch, in_h, in_w, c]  y: [batch, in_h * sh, in_w * sw, c]`
///
/// Errors: a zero size or batch, or a slice whose length does not match.
pub fn forward(g: &UpsampleGeom, batch: usize, x: &[f32], y: &mut [f32]) -> Result<()> {
    let (xl, yl) = check("upsample forward", g, batch)?;
    check_len("upsample forward: x", x.len(), xl)?;
    check_len("upsample forward: y", y.len(), yl)?;
    let (oh, ow, c) = (g.out_h(), g.out_w(), g.c);
    let row = ow * c;
    par_rows(y, batch * oh, yl, |r0, block| {
        for (k, out) in block.chunks_exact_mut(row).enumerate() {
            let (n, oy) = ((r0 + k) / oh, (r0 + k) % oh);
            let th = taps(g.mode, oy, g.sh, g.in_h);
            let img = &x[n * g.in_len()..(n + 1) * g.in_len()];
            let row_of = |i: usize| &img[i * g.in_w * c..(i + 1) * g.in_w * c];
            let (a, b) = (row_of(th.i0), row_of(th.i1));
            for (ox, px) in out.chunks_exact_mut(c).enumerate() {
                let tw = taps(g.mode, ox, g.sw, g.in_w);
                let (w00, w01) = ((1.0 - th.l1) * (1.0 - tw.l1), (1.0 - th.l1) * tw.l1);
                let (w10, w11) = (th.l1 * (1.0 - tw.l1), th.l1 * tw.l1);
                let (j0, j1) = (tw.i0 * c, tw.i1 * c);
                if g.mode == Interpolation::Nearest {
                    px.copy_from_slice(&a[j0..j0 + c]);
                    continue;
                }
                for (ch, v) in px.iter_mut().enumerate() {
                    *v = w00 * a[j0 + ch] + w01 * a[j1 + ch] + w10 * b[j0 + ch] + w11 * b[j1 + ch];
                }
            }
        }
    });
    Ok(())
}

/// The output indices along an axis whose taps may read input `i`: a
/// window around `i * s` (nearest reads exactly `i s .. (i + 1) s`).
pub(crate) fn readers(
    mode: Interpolation,
    i: usize,
    s: usize,
    n_out: usize,
) -> std::ops::Range<usize> {
    match mode {
        Interpolation::Nearest => i * s..(i + 1) * s,
        Interpolation::Bilinear => (i.saturating_sub(1) * s)..((i + 2) * s).min(n_out),
    }
}

/// The weight output `o`'s taps give input `i` along an axis.
pub(crate) fn weight_of(t: Taps, i: usize) -> f32 {
    let mut w = 0.0;
    if t.i0 == i {
        w += 1.0 - t.l1;
    }
    if t.i1 == i {
        w += t.l1;
    }
    w
}

/// The input gradient of [`forward`]. Overwrites `dx`.
/// `dy: [batch, in_h * sh, in_w * sw, c]  dx: [batch, in_h, in_w, c]`
///
/// Errors: as [`forward`].
pub fn backward(g: &UpsampleGeom, batch: usize, dy: &[f32], dx: &mut [f32]) -> Result<()> {
    let (xl, yl) = check("upsample backward", g, batch)?;
    check_len("upsample backward: dy", dy.len(), yl)?;
    check_len("upsample backward: dx", dx.len(), xl)?;
    let (oh, ow, c) = (g.out_h(), g.out_w(), g.c);
    let row = g.in_w * c;
    par_rows(dx, batch * g.in_h, yl, |r0, block| {
        for (k, out) in block.chunks_exact_mut(row).enumerate() {
            let (n, iy) = ((r0 + k) / g.in_h, (r0 + k) % g.in_h);
            let img = &dy[n * oh * ow * c..(n + 1) * oh * ow * c];
            out.fill(0.0);
            for oy in readers(g.mode, iy, g.sh, oh) {
                let wy = weight_of(taps(g.mode, oy, g.sh, g.in_h), iy);
                if wy == 0.0 {
                    continue;
                }
                let src = &img[oy * ow * c..(oy + 1) * ow * c];
                for (ix, px) in out.chunks_exact_mut(c).enumerate() {
                    for ox in readers(g.mode, ix, g.sw, ow) {
                        let w = wy * weight_of(taps(g.mode, ox, g.sw, g.in_w), ix);
                        if w == 0.0 {
                            continue;
                        }
                        let d = &src[ox * c..(ox + 1) * c];
                        px.iter_mut().zip(d).for_each(|(v, &d)| *v += w * d);
                    }
                }
            }
        }
    });
    Ok(())
}
