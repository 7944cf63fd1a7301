//! im2col and col2im for NDHWC volumes, one channel group at a time. Row
//! `r` of the column matrix is output voxel `r` (volumes back to back, then
//! `out_d`, `out_h`, `out_w`), and its `k = fd*fh*fw*c_in/groups` entries
//! are the group's input window in `[kz, ky, kx, c]` order: the row order
//! of the weight tensor `[fd, fh, fw, c_in / groups, c_out]` read as a
//! `k x c_out` matrix. Taps that fall in the padding read zeros. Slices are
//! indexed with bounds checks, so a bad call panics rather than reading
//! out of bounds.

use crate::geom3d::Conv3dGeom;

/// The input coordinate of tap `t` of output `o`, or `None` in padding.
#[inline(always)]
fn tap(o: usize, s: usize, t: usize, d: usize, pad: usize, n: usize) -> Option<usize> {
    (o * s + t * d).checked_sub(pad).filter(|&i| i < n)
}

/// Calls `f(offset in the row, offset in the volume batch)` for every tap
/// of output voxel `r` (counted from the first volume of `x`) that reads a
/// real input cell; `c_group` channels start at each.
#[inline(always)]
fn for_each_tap(g: &Conv3dGeom, group: usize, r: usize, mut f: impl FnMut(usize, usize)) {
    let cg = g.c_group();
    let (ox, rest) = (r % g.out_w, r / g.out_w);
    let (oy, rest) = (rest % g.out_h, rest / g.out_h);
    let (oz, n) = (rest % g.out_d, rest / g.out_d);
    let mut at = 0;
    for kz in 0..g.fd {
        let iz = tap(oz, g.sd, kz, g.dd, g.pad_front, g.in_d);
        for ky in 0..g.fh {
            let iy = tap(oy, g.sh, ky, g.dh, g.pad_top, g.in_h);
            for kx in 0..g.fw {
                if let (Some(iz), Some(iy), Some(ix)) =
                    (iz, iy, tap(ox, g.sw, kx, g.dw, g.pad_left, g.in_w))
                {
                    let cell = (((n * g.in_d + iz) * g.in_h + iy) * g.in_w + ix) * g.c_in;
                    f(at, cell + group * cg);
                }
                at += cg;
            }
        }
    }
}

/// Copies a run of channels. A few channels (a first layer's one to
/// three) are copied element by element: a `copy_from_slice` of unknown
/// length is a `memcpy` call, which costs more than the copy.
#[inline(always)]
fn copy_run(dst: &mut [f32], src: &[f32]) {
    if dst.len() <= 8 {
        dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
    } else {
        dst.copy_from_slice(src);
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
    let (k, cg) = (g.k(), g.c_group());
    for (i, row) in col[..rows * k].chunks_exact_mut(k).enumerate() {
        row.fill(0.0);
        for_each_tap(g, group, row0 + i, |at, cell| {
            copy_run(&mut row[at..at + cg], &x[cell..cell + cg]);
        });
    }
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
    let (k, cg) = (g.k(), g.c_group());
    for (i, row) in col[..rows * k].chunks_exact(k).enumerate() {
        for_each_tap(g, group, row0 + i, |at, cell| {
            dx[cell..cell + cg]
                .iter_mut()
                .zip(&row[at..at + cg])
                .for_each(|(d, v)| *d += v);
        });
    }
}
