//! The tap-major column matrix of a convolution with one input channel per
//! group (a first layer on grey clips): `k x rows`, row `t` holding tap `t`
//! (`[kz, ky, kx]` order) of every output voxel, so the matrix is the
//! transpose of `im2col`'s. A row-major one is built from runs of `fw`
//! single floats, a few cycles of bookkeeping for each; here each tap of a
//! line of output voxels is one run of up to `out_w` inputs, `sw` apart,
//! which an undilated, unstrided layer of one channel copies at once. The
//! GEMMs read it through strides; `col2im` scatters the same runs back.

use crate::geom3d::Conv3dGeom;
use crate::layers::conv2d::im2col::{copy_run, zero_run};

/// Whether the convolution builds its column matrix tap-major.
pub(super) fn tap_major(g: &Conv3dGeom) -> bool {
    g.c_group() == 1
}

/// `ceil(v / s)`, without the division for the usual `s = 1`.
#[inline(always)]
fn over(v: usize, s: usize) -> usize {
    if s == 1 {
        v
    } else {
        v.div_ceil(s)
    }
}

/// Calls `f(at, Some((cell, step)), len)` for every run of real input the
/// column matrix of output voxels `row0..row0 + rows` reads (`len` floats
/// at offset `at` of the `k x rows` matrix, inputs `cell + j * step`) and
/// `f(at, None, len)` for every run of padding, covering the matrix once.
#[inline(always)]
fn for_each_tap_run(
    g: &Conv3dGeom,
    group: usize,
    row0: usize,
    rows: usize,
    mut f: impl FnMut(usize, Option<(usize, usize)>, usize),
) {
    let (mut ox, rest) = (row0 % g.out_w, row0 / g.out_w);
    let (mut oy, rest) = (rest % g.out_h, rest / g.out_h);
    let (mut oz, mut n) = (rest % g.out_d, rest / g.out_d);
    let step = g.sw * g.c_in;
    let mut i = 0;
    while i < rows {
        // One line of output voxels, or the part of it in this chunk.
        let len = (g.out_w - ox).min(rows - i);
        let end = ox + len;
        for kz in 0..g.fd {
            let iz = (oz * g.sd + kz * g.dd).wrapping_sub(g.pad_front);
            for ky in 0..g.fh {
                let iy = (oy * g.sh + ky * g.dh).wrapping_sub(g.pad_top);
                let t0 = (kz * g.fh + ky) * g.fw;
                if iz >= g.in_d || iy >= g.in_h {
                    for kx in 0..g.fw {
                        f((t0 + kx) * rows + i, None, len);
                    }
                    continue;
                }
                let line = ((n * g.in_d + iz) * g.in_h + iy) * g.in_w;
                for kx in 0..g.fw {
                    let at = (t0 + kx) * rows + i;
                    let off = kx * g.dw;
                    // Outputs a..b read real inputs: o * sw + off - pad_left
                    // in 0..in_w.
                    let a = over(g.pad_left.saturating_sub(off), g.sw).clamp(ox, end);
                    let b = over((g.in_w + g.pad_left).saturating_sub(off), g.sw).clamp(a, end);
                    f(at, None, a - ox);
                    if b > a {
                        let ix = a * g.sw + off - g.pad_left;
                        f(
                            at + a - ox,
                            Some(((line + ix) * g.c_in + group, step)),
                            b - a,
                        );
                    }
                    f(at + b - ox, None, end - b);
                }
            }
        }
        i += len;
        ox = 0;
        oy += 1;
        if oy == g.out_h {
            oy = 0;
            oz += 1;
            if oz == g.out_d {
                oz = 0;
                n += 1;
            }
        }
    }
}

/// Overwrites `col` (`k x rows`, tap-major) with the windows of output
/// voxels `row0..row0 + rows` over the channel of `group`.
pub(super) fn im2col(
    g: &Conv3dGeom,
    group: usize,
    x: &[f32],
    row0: usize,
    rows: usize,
    col: &mut [f32],
) {
    let col = &mut col[..g.k() * rows];
    for_each_tap_run(g, group, row0, rows, |at, cell, len| {
        let dst = &mut col[at..at + len];
        match cell {
            Some((cell, 1)) => copy_run(dst, &x[cell..cell + len]),
            Some((cell, step)) => {
                let src = &x[cell..cell + (len - 1) * step + 1];
                for (d, s) in dst.iter_mut().zip(src.iter().step_by(step)) {
                    *d = *s;
                }
            }
            None => zero_run(dst),
        }
    });
}

/// Adds each entry of `col` (`k x rows`, tap-major, rows `row0..row0 +
/// rows`) into the input cell it reads: the adjoint of [`im2col`].
pub(super) fn col2im_add(
    g: &Conv3dGeom,
    group: usize,
    col: &[f32],
    row0: usize,
    rows: usize,
    dx: &mut [f32],
) {
    for_each_tap_run(g, group, row0, rows, |at, cell, len| {
        let Some((cell, step)) = cell else {
            return;
        };
        let src = &col[at..at + len];
        let dst = &mut dx[cell..cell + (len - 1) * step + 1];
        for (d, s) in dst.iter_mut().step_by(step).zip(src) {
            *d += *s;
        }
    });
}
