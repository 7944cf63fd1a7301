//! im2col and col2im for NDHWC volumes, one channel group at a time. Row
//! `r` of the column matrix is output voxel `r` (volumes back to back, then
//! `out_d`, `out_h`, `out_w`), and its `k = fd*fh*fw*c_in/groups` entries
//! are the group's input window in `[kz, ky, kx, c]` order: the row order
//! of the weight tensor `[fd, fh, fw, c_in / groups, c_out]` read as a
//! `k x c_out` matrix. Taps that fall in the padding read zeros.
//!
//! A window row (fixed `kz`, `ky`) of an undilated, ungrouped convolution
//! is one contiguous run of the input, copied at once; otherwise each tap
//! is its own run of `c_in / groups` floats. Short runs are copied with
//! `conv2d`'s `copy_run`, which avoids a `memcpy` call per tap (a one-
//! channel first layer spent most of its time in them). Slices are
//! indexed with bounds checks, so a bad call panics rather than reading
//! out of bounds.

use crate::geom3d::Conv3dGeom;
use crate::layers::conv2d::im2col::{copy_run, zero_run};

/// The real input positions of the taps of output `o` along one axis:
/// taps `t_lo..t_hi` read inputs `i_lo + (t - t_lo) d`.
#[derive(Clone, Copy)]
struct Taps {
    t_lo: usize,
    t_hi: usize,
    i_lo: usize,
}

#[inline(always)]
fn taps(o: usize, s: usize, f: usize, d: usize, pad: usize, n: usize) -> Taps {
    let start = o * s;
    // The first tap at or after the padding, the first past the input.
    let t_lo = pad.saturating_sub(start).div_ceil(d).min(f);
    let t_hi = (n + pad).saturating_sub(start).div_ceil(d).clamp(t_lo, f);
    Taps {
        t_lo,
        t_hi,
        i_lo: (start + t_lo * d).saturating_sub(pad),
    }
}

/// Walks output voxels `row0..row0 + rows`, calling `f(i, n, [oz, oy, ox])`
/// with one division per call rather than per voxel.
#[inline(always)]
fn for_each_voxel(
    g: &Conv3dGeom,
    row0: usize,
    rows: usize,
    mut f: impl FnMut(usize, usize, [usize; 3]),
) {
    let (mut ox, rest) = (row0 % g.out_w, row0 / g.out_w);
    let (mut oy, rest) = (rest % g.out_h, rest / g.out_h);
    let (mut oz, mut n) = (rest % g.out_d, rest / g.out_d);
    for i in 0..rows {
        f(i, n, [oz, oy, ox]);
        ox += 1;
        if ox == g.out_w {
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
}

/// Calls `f(at, Some(cell), len)` for every run of real input a window
/// reads (`len` floats at row offset `at` and input offset `cell`) and
/// `f(at, None, len)` for every run of padding, covering the row once.
#[inline(always)]
fn for_each_run(
    g: &Conv3dGeom,
    group: usize,
    n: usize,
    o: [usize; 3],
    mut f: impl FnMut(usize, Option<usize>, usize),
) {
    let cg = g.c_group();
    let z = taps(o[0], g.sd, g.fd, g.dd, g.pad_front, g.in_d);
    let y = taps(o[1], g.sh, g.fh, g.dh, g.pad_top, g.in_h);
    let x = taps(o[2], g.sw, g.fw, g.dw, g.pad_left, g.in_w);
    let plane = g.fh * g.fw * cg;
    let line = g.fw * cg;
    let contiguous = g.dw == 1 && g.groups == 1;
    for kz in 0..g.fd {
        let at_z = kz * plane;
        if kz < z.t_lo || kz >= z.t_hi {
            f(at_z, None, plane);
            continue;
        }
        let iz = z.i_lo + (kz - z.t_lo) * g.dd;
        for ky in 0..g.fh {
            let at = at_z + ky * line;
            if ky < y.t_lo || ky >= y.t_hi {
                f(at, None, line);
                continue;
            }
            let iy = y.i_lo + (ky - y.t_lo) * g.dh;
            let base = ((n * g.in_d + iz) * g.in_h + iy) * g.in_w;
            f(at, None, x.t_lo * cg);
            if contiguous {
                let len = (x.t_hi - x.t_lo) * cg;
                f(at + x.t_lo * cg, Some((base + x.i_lo) * g.c_in), len);
            } else {
                for kx in x.t_lo..x.t_hi {
                    let ix = x.i_lo + (kx - x.t_lo) * g.dw;
                    f(at + kx * cg, Some((base + ix) * g.c_in + group * cg), cg);
                }
            }
            f(at + x.t_hi * cg, None, (g.fw - x.t_hi) * cg);
        }
    }
}

/// Overwrites `col` (`rows x k`) with the windows of output voxels
/// `row0..row0 + rows` over the channels of `group`.
pub(super) fn im2col(
    g: &Conv3dGeom,
    group: usize,
    x: &[f32],
    row0: usize,
    rows: usize,
    col: &mut [f32],
) {
    let k = g.k();
    let col = &mut col[..rows * k];
    for_each_voxel(g, row0, rows, |i, n, o| {
        let row = &mut col[i * k..(i + 1) * k];
        for_each_run(g, group, n, o, |at, cell, len| match cell {
            Some(cell) => copy_run(&mut row[at..at + len], &x[cell..cell + len]),
            None => zero_run(&mut row[at..at + len]),
        });
    });
}

/// Adds each entry of `col` (`rows x k`, rows `row0..row0 + rows`) into the
/// input cell its window position reads: the adjoint of [`im2col`].
pub(super) fn col2im_add(
    g: &Conv3dGeom,
    group: usize,
    col: &[f32],
    row0: usize,
    rows: usize,
    dx: &mut [f32],
) {
    let k = g.k();
    for_each_voxel(g, row0, rows, |i, n, o| {
        let row = &col[i * k..(i + 1) * k];
        for_each_run(g, group, n, o, |at, cell, len| {
            if let Some(cell) = cell {
                dx[cell..cell + len]
                    .iter_mut()
                    .zip(&row[at..at + len])
                    .for_each(|(d, v)| *d += v);
            }
        });
    });
}
