//! Upsampling of NDHWC volumes by whole factors (PyTorch's
//! `Upsample(scale_factor=(sd, sh, sw))` on 5-D input), nearest or
//! trilinear with `align_corners=False`: `upsample`'s rule along each of
//! the three axes.
//!
//! Both passes gather, as `upsample`'s do: forward computes each output
//! row (one volume, frame and row) from at most four input rows (two
//! frames by two rows), and backward each input row's gradient from the
//! output rows that read it, so rows are independent tasks with no
//! scatter and the sums run in the same order on any thread count.

#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;

use crate::error::{check_len, Error, Result};
use crate::geom::Interpolation;
use crate::geom3d_grow::Upsample3dGeom;
use crate::layers::activation::par_rows;
use crate::layers::upsample::{readers, taps, weight_of};

fn check(what: &str, g: &Upsample3dGeom, batch: usize) -> Result<(usize, usize)> {
    let fields = [
        ("in_d", g.in_d),
        ("in_h", g.in_h),
        ("in_w", g.in_w),
        ("c", g.c),
        ("sd", g.sd),
        ("sh", g.sh),
        ("sw", g.sw),
        ("batch", batch),
    ];
    if let Some((name, _)) = fields.iter().find(|(_, v)| *v == 0) {
        return Err(Error::InvalidArgument(format!(
            "{what}: {name} must be positive in {g:?}"
        )));
    }
    let x = [g.in_d, g.in_h, g.in_w, g.c, batch]
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b));
    let y = x.and_then(|x| x.checked_mul(g.sd)?.checked_mul(g.sh)?.checked_mul(g.sw));
    match (x, y) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(Error::InvalidArgument(format!(
            "{what}: sizes overflow in {g:?} with batch {batch}"
        ))),
    }
}

/// `y = upsample(x)`. Overwrites `y`.
/// `x: [batch, in_d, in_h, in_w, c]  y: [batch, in_d * sd, in_h * sh, in_w * sw, c]`
///
/// Errors: a zero size or batch, or a slice whose length does not match.
pub fn forward(g: &Upsample3dGeom, batch: usize, x: &[f32], y: &mut [f32]) -> Result<()> {
    let (xl, yl) = check("upsample3d forward", g, batch)?;
    check_len("upsample3d forward: x", x.len(), xl)?;
    check_len("upsample3d forward: y", y.len(), yl)?;
    let (od, oh, ow, c) = (g.out_d(), g.out_h(), g.out_w(), g.c);
    let row = ow * c;
    let in_row = g.in_w * c;
    par_rows(y, batch * od * oh, yl, |r0, block| {
        for (k, out) in block.chunks_exact_mut(row).enumerate() {
            let r = r0 + k;
            let (n, oz, oy) = (r / (od * oh), r / oh % od, r % oh);
            let tz = taps(g.mode, oz, g.sd, g.in_d);
            let th = taps(g.mode, oy, g.sh, g.in_h);
            let vol = &x[n * g.in_len()..(n + 1) * g.in_len()];
            let row_of = |iz: usize, iy: usize| {
                let at = (iz * g.in_h + iy) * in_row;
                &vol[at..at + in_row]
            };
            if g.mode == Interpolation::Nearest {
                let src = row_of(tz.i0, th.i0);
                for (ox, px) in out.chunks_exact_mut(c).enumerate() {
                    let j = ox / g.sw * c;
                    px.copy_from_slice(&src[j..j + c]);
                }
                continue;
            }
            // The four rows and their weights, frame then row, as PyTorch
            // nests them.
            let (z0, z1, y0, y1) = (1.0 - tz.l1, tz.l1, 1.0 - th.l1, th.l1);
            let rows = [
                (z0, y0, row_of(tz.i0, th.i0)),
                (z0, y1, row_of(tz.i0, th.i1)),
                (z1, y0, row_of(tz.i1, th.i0)),
                (z1, y1, row_of(tz.i1, th.i1)),
            ];
            for (ox, px) in out.chunks_exact_mut(c).enumerate() {
                let tw = taps(g.mode, ox, g.sw, g.in_w);
                let (x0, x1) = (1.0 - tw.l1, tw.l1);
                let (j0, j1) = (tw.i0 * c, tw.i1 * c);
                for (ch, v) in px.iter_mut().enumerate() {
                    let line = |r: &[f32]| x0 * r[j0 + ch] + x1 * r[j1 + ch];
                    let [a, b, cc, d] = rows.map(|(_, _, r)| line(r));
                    *v = z0 * (y0 * a + y1 * b) + z1 * (y0 * cc + y1 * d);
                }
            }
        }
    });
    Ok(())
}

/// The input gradient of [`forward`]. Overwrites `dx`.
/// `dy: [batch, in_d * sd, in_h * sh, in_w * sw, c]  dx: [batch, in_d, in_h, in_w, c]`
///
/// Errors: as [`forward`].
pub fn backward(g: &Upsample3dGeom, batch: usize, dy: &[f32], dx: &mut [f32]) -> Result<()> {
    let (xl, yl) = check("upsample3d backward", g, batch)?;
    check_len("upsample3d backward: dy", dy.len(), yl)?;
    check_len("upsample3d backward: dx", dx.len(), xl)?;
    let (od, oh, ow, c) = (g.out_d(), g.out_h(), g.out_w(), g.c);
    let out_vol = od * oh * ow * c;
    let row = g.in_w * c;
    par_rows(dx, batch * g.in_d * g.in_h, yl, |r0, block| {
        for (k, out) in block.chunks_exact_mut(row).enumerate() {
            let r = r0 + k;
            let (n, iz, iy) = (r / (g.in_d * g.in_h), r / g.in_h % g.in_d, r % g.in_h);
            let vol = &dy[n * out_vol..(n + 1) * out_vol];
            out.fill(0.0);
            for oz in readers(g.mode, iz, g.sd, od) {
                let wz = weight_of(taps(g.mode, oz, g.sd, g.in_d), iz);
                if wz == 0.0 {
                    continue;
                }
                for oy in readers(g.mode, iy, g.sh, oh) {
                    let wy = wz * weight_of(taps(g.mode, oy, g.sh, g.in_h), iy);
                    if wy == 0.0 {
                        continue;
                    }
                    let at = (oz * oh + oy) * ow * c;
                    let src = &vol[at..at + ow * c];
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
        }
    });
    Ok(())
}
