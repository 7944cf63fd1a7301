//! Grouped convolution on the micro-kernel (AVX-512 or AVX2): the
//! implicit GEMM of `implicit.rs`, once per group, over a *group-major*
//! padded copy of the input rows.
//!
//! In NHWC a group's channels are a run of `cg` floats per pixel, so its
//! window row (`fw` pixels) is `fw` runs `c_in` apart: a third level of
//! stride the kernel's walk does not have. The padded copy stores each row
//! as `groups` segments of `[width, cg]`, so that a group's window row is
//! one run of `fw * cg` floats and each group is exactly the dense walk:
//!
//! - Forward, per group and output row: `y[ox, g*og..] = sum x_g * w_g`,
//!   rows `ox` strided by `sw * cg`, depth `fh` runs of `fw * cg`, the
//!   group's weights packed into one contiguous `k x og` matrix; bias,
//!   affine and (leaky) ReLU fused into the stores, per group's slice.
//! - Weight gradient, per window row `ky` and group: `dw_g[ky, kx, ci, :]
//!   += sum over the output pixels of x_g * dy_g`, rows `(kx, ci)`
//!   contiguous, into a group-major partial unpacked when partials are summed.
//! - Input gradient at stride 1 (when `cg` fills the vectors): the
//!   transposed convolution, a grouped convolution of `dy` padded by
//!   `f - 1 - p` with the flipped kernel (`[fh, fw, og, c_in]`, packed per
//!   group like the forward weights). Otherwise
//!   `dcol_g = dY_g W_g^T` per group into a group-major column matrix,
//!   scattered back by `grouped_gemm::col2im_add`.

use super::grouped::Groups;
use super::im2col::copy_run;
use super::microkernel::{self, Store, Walk};
use super::{epilogue, grouped_gemm, Epilogue};
use crate::geom::{Act, Conv2dGeom};
use crate::scratch::{self, Slot};

/// A grouped convolution over an already padded, group-major buffer:
/// windows start at padded row `oy * sh` and column `ox * sw`.
#[derive(Clone, Copy, Debug)]
struct Valid {
    groups: usize,
    /// Input channels per group.
    cg: usize,
    /// Output channels per group.
    og: usize,
    fh: usize,
    fw: usize,
    sh: usize,
    sw: usize,
    out_w: usize,
}

impl Valid {
    fn c_out(&self) -> usize {
        self.groups * self.og
    }
}

/// How an image of `h x w x c` sits in its padded group-major buffer: row
/// `pr` holds `c / cg` segments of `width x cg`.
#[derive(Clone, Copy, Debug)]
struct Pad {
    h: usize,
    w: usize,
    c: usize,
    cg: usize,
    top: usize,
    left: usize,
    /// Padded width: every window's columns lie below it.
    width: usize,
    /// Padded height: every window's rows lie below it.
    height: usize,
}

impl Pad {
    fn line(&self) -> usize {
        self.width * self.c
    }
    /// One group's part of a padded row.
    fn segment(&self) -> usize {
        self.width * self.cg
    }
}

/// Writes padded rows `pr0..pr1` of `img` into `buf` (`(pr1 - pr0) * line`),
/// each row group-major.
fn pad_rows(p: &Pad, img: &[f32], pr0: usize, pr1: usize, buf: &mut [f32]) {
    let (cg, seg) = (p.cg, p.segment());
    let (l0, l1) = (p.left * cg, (p.left + p.w) * cg);
    for (pr, dst) in (pr0..pr1).zip(buf.chunks_exact_mut(p.line())) {
        let Some(iy) = pr.checked_sub(p.top).filter(|&iy| iy < p.h) else {
            dst.fill(0.0);
            continue;
        };
        let src = &img[iy * p.w * p.c..(iy + 1) * p.w * p.c];
        for (gi, d) in dst.chunks_exact_mut(seg).enumerate() {
            d[..l0].fill(0.0);
            for (run, pixel) in d[l0..l1].chunks_exact_mut(cg).zip(src.chunks_exact(p.c)) {
                copy_run(run, &pixel[gi * cg..(gi + 1) * cg]);
            }
            d[l1..].fill(0.0);
        }
    }
}

/// What the kernel does with a finished row of output: the dense path's
/// [`Store`], cut to each group's columns.
#[derive(Clone, Copy)]
enum Post<'a> {
    Overwrite,
    Fused {
        bias: Option<&'a [f32]>,
        affine: Option<(&'a [f32], &'a [f32])>,
        negative_slope: Option<f32>,
    },
}

impl<'a> Post<'a> {
    fn group(&self, gi: usize, og: usize) -> Store<'a> {
        let cut = |v: &'a [f32]| &v[gi * og..(gi + 1) * og];
        match *self {
            Post::Overwrite => Store::Overwrite,
            Post::Fused {
                bias,
                affine,
                negative_slope,
            } => Store::Epilogue {
                bias: bias.map(cut),
                affine: affine.map(|(s, t)| (cut(s), cut(t))),
                negative_slope,
            },
        }
    }
}

/// Output rows `oy0..oy1` of one image: pads the input rows they read,
/// then runs each group's product on every row, then `each(row)`. `w` is
/// group-major, `[groups, fh, fw, cg, og]` (see [`pack_kernel`]).
fn rows_of_image(
    v: &Valid,
    p: &Pad,
    img: &[f32],
    w: &[f32],
    oy0: usize,
    oy1: usize,
    y: &mut [f32],
    post: Post,
    each: impl Fn(&mut [f32]),
) {
    let n = v.c_out();
    let row_len = v.out_w * n;
    let (pr0, pr1) = (oy0 * v.sh, (oy1 - 1) * v.sh + v.fh);
    let line = p.line();
    let walk = Walk {
        ia: v.sw * v.cg,
        us: line,
        ulen: v.fh,
        vs: 1,
        vlen: v.fw * v.cg,
    };
    let group_len = v.fh * v.fw * v.cg * v.og;
    // Always the whole padded image's size, so that every call at this
    // shape asks the same and the buffer stops growing.
    scratch::with(Slot::Cols, p.height * line, |buf| {
        pad_rows(p, img, pr0, pr1, &mut buf[..(pr1 - pr0) * line]);
        // Groups outside rows: a group's weights (AlexNet's are 1.3 MB)
        // stay in L2 while its rows pass, rather than all groups' weights
        // streaming through for every row.
        for gi in 0..v.groups {
            for (oy, y_row) in (oy0..oy1).zip(y.chunks_exact_mut(row_len)) {
                microkernel::gemm(
                    v.out_w,
                    v.og,
                    &buf[(oy * v.sh - pr0) * line + gi * p.segment()..],
                    walk,
                    &w[gi * group_len..],
                    v.og,
                    &mut y_row[gi * v.og..],
                    n,
                    post.group(gi, v.og),
                );
            }
        }
        y.chunks_exact_mut(row_len).for_each(each);
    });
}

fn forward_layout(g: &Conv2dGeom, gr: &Groups) -> (Valid, Pad) {
    let v = Valid {
        groups: gr.groups,
        cg: gr.cg,
        og: gr.og,
        fh: g.fh,
        fw: g.fw,
        sh: g.sh,
        sw: g.sw,
        out_w: g.out_w,
    };
    let p = Pad {
        h: g.in_h,
        w: g.in_w,
        c: g.c_in,
        cg: gr.cg,
        top: g.pad_top,
        left: g.pad_left,
        width: (g.in_w + g.pad_left).max((g.out_w - 1) * g.sw + g.fw),
        height: (g.out_h - 1) * g.sh + g.fh,
    };
    (v, p)
}

/// Forward for output rows `r0..r1`, counted over `(image, oy)` across the
/// batch; `y` holds exactly those rows. Overwrites `y` and applies `ep`.
/// `w` is packed by [`pack_kernel`].
pub(super) fn forward_rows(
    g: &Conv2dGeom,
    gr: &Groups,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    r0: usize,
    r1: usize,
    y: &mut [f32],
) {
    super::assert_undilated(g);
    let (v, p) = forward_layout(g, gr);
    let row_len = g.out_w * g.c_out;
    // As the dense path: bias, affine and (leaky) ReLU in the stores; the
    // other activations as a pass over each finished row.
    let negative_slope = match ep.act {
        Act::Identity => Some(None),
        Act::Relu => Some(Some(0.0)),
        Act::LeakyRelu(alpha) => Some(Some(alpha)),
        _ => None,
    };
    let fused = negative_slope.map(|negative_slope| Post::Fused {
        bias: ep.bias,
        affine: ep.affine,
        negative_slope,
    });
    let mut r = r0;
    while r < r1 {
        let (n, oy0) = (r / g.out_h, r % g.out_h);
        let oy1 = g.out_h.min(oy0 + r1 - r);
        let img = &x[n * g.in_len()..(n + 1) * g.in_len()];
        let ys = &mut y[(r - r0) * row_len..(r - r0 + oy1 - oy0) * row_len];
        match fused {
            Some(post) => rows_of_image(&v, &p, img, w, oy0, oy1, ys, post, |_| {}),
            None => rows_of_image(&v, &p, img, w, oy0, oy1, ys, Post::Overwrite, |row| {
                epilogue::apply(ep, g.c_out, row)
            }),
        }
        r += oy1 - oy0;
    }
}

/// Overwrites `dw` with `sum x_padded * dy` over whole images `x`, `dy`
/// (back to back), group-major as [`pack_kernel`] lays weights out (see
/// [`unpack_add`]).
pub(super) fn weight_grad(g: &Conv2dGeom, gr: &Groups, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    super::assert_undilated(g);
    let (_, p) = forward_layout(g, gr);
    let (line, n, og) = (p.line(), g.c_out, gr.og);
    let rows = g.fw * gr.cg;
    let walk = Walk {
        ia: 1,
        us: g.sh * line,
        ulen: g.out_h,
        vs: g.sw * gr.cg,
        vlen: g.out_w,
    };
    dw.fill(0.0);
    for (xi, dyi) in x.chunks_exact(g.in_len()).zip(dy.chunks_exact(g.out_len())) {
        scratch::with(Slot::Cols, p.height * line, |buf| {
            pad_rows(&p, xi, 0, p.height, buf);
            for ky in 0..g.fh {
                for gi in 0..gr.groups {
                    microkernel::gemm(
                        rows,
                        gr.og,
                        &buf[ky * line + gi * p.segment()..],
                        walk,
                        &dyi[gi * gr.og..],
                        n,
                        &mut dw[(gi * g.fh + ky) * rows * og..],
                        og,
                        Store::Accumulate,
                    );
                }
            }
        });
    }
}

/// The weights group-major, so that a group's are one contiguous
/// `k x og` matrix: `wp[gi, q, j] = w[q, gi*og + j]` for `q` over
/// `(ky, kx, ci)`. Read in place, a group's rows are `og` floats `c_out`
/// apart, which wastes most of each cache line when `og` is small and
/// leaves half the cache sets unused when it is large.
pub(super) fn pack_kernel(g: &Conv2dGeom, gr: &Groups, w: &[f32], wp: &mut [f32]) {
    super::assert_undilated(g);
    let (k, og) = (gr.k, gr.og);
    for (q, row) in w.chunks_exact(g.c_out).enumerate() {
        for (gi, src) in row.chunks_exact(og).enumerate() {
            wp[(gi * k + q) * og..(gi * k + q + 1) * og].copy_from_slice(src);
        }
    }
}

/// `dw += wp` with `wp` laid out by [`pack_kernel`].
pub(super) fn unpack_add(g: &Conv2dGeom, gr: &Groups, wp: &[f32], dw: &mut [f32]) {
    let (k, og) = (gr.k, gr.og);
    for (q, row) in dw.chunks_exact_mut(g.c_out).enumerate() {
        for (gi, dst) in row.chunks_exact_mut(og).enumerate() {
            let src = &wp[(gi * k + q) * og..(gi * k + q + 1) * og];
            dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
        }
    }
}

/// The flipped kernel of the transposed convolution, group-major as
/// [`pack_kernel`] lays out a kernel `[fh, fw, og, c_in]`:
/// `wt[gi, ky, kx, j, ci] = w[fh-1-ky, fw-1-kx, ci, gi*og + j]`.
pub(super) fn flip_kernel(g: &Conv2dGeom, gr: &Groups, w: &[f32], wt: &mut [f32]) {
    let (cg, og) = (gr.cg, gr.og);
    let taps = g.fh * g.fw;
    for gi in 0..gr.groups {
        for ky in 0..g.fh {
            for kx in 0..g.fw {
                let tap = (g.fh - 1 - ky) * g.fw + (g.fw - 1 - kx);
                let dst = &mut wt[((gi * taps + ky * g.fw + kx) * og) * cg..][..og * cg];
                for ci in 0..cg {
                    let src = &w[(tap * cg + ci) * g.c_out + gi * og..][..og];
                    for (j, &v) in src.iter().enumerate() {
                        dst[j * cg + ci] = v;
                    }
                }
            }
        }
    }
}

/// Each group's weights as an `og x k` row-major matrix, groups back to
/// back: `wt[gi, j, q] = w[q, gi*og + j]` for `q` over `(ky, kx, ci)`,
/// which is the plain transpose `wt[co, q] = w[q, co]`.
pub(super) fn transpose_kernel(g: &Conv2dGeom, gr: &Groups, w: &[f32], wt: &mut [f32]) {
    let k = gr.k;
    for (q, row) in w.chunks_exact(g.c_out).enumerate() {
        for (co, &v) in row.iter().enumerate() {
            wt[co * k + q] = v;
        }
    }
}

/// Overwrites `dx` (whole images) with the transposed convolution of `dy`
/// by `wt` (see [`flip_kernel`]); needs `implicit::dx_supported`.
pub(super) fn input_grad(g: &Conv2dGeom, gr: &Groups, dy: &[f32], wt: &[f32], dx: &mut [f32]) {
    super::assert_undilated(g);
    // The roles of the channels swap: dy's og per group in, x's cg out.
    let v = Valid {
        groups: gr.groups,
        cg: gr.og,
        og: gr.cg,
        fh: g.fh,
        fw: g.fw,
        sh: 1,
        sw: 1,
        out_w: g.in_w,
    };
    let (top, left) = (g.fh - 1 - g.pad_top, g.fw - 1 - g.pad_left);
    let p = Pad {
        h: g.out_h,
        w: g.out_w,
        c: g.c_out,
        cg: gr.og,
        top,
        left,
        width: (g.out_w + left).max(g.in_w - 1 + g.fw),
        height: g.in_h - 1 + g.fh,
    };
    for (dyi, dxi) in dy
        .chunks_exact(g.out_len())
        .zip(dx.chunks_exact_mut(g.in_len()))
    {
        rows_of_image(&v, &p, dyi, wt, 0, g.in_h, dxi, Post::Overwrite, |_| {});
    }
}

/// Overwrites `dx` (whole images) with the input gradient of `dy`: per
/// chunk of `chunk` output pixels, `dcol_g = dY_g W_g^T` for every group
/// (`wt` from [`transpose_kernel`]) into a group-major column matrix, then
/// scattered back. Any stride and padding.
pub(super) fn input_grad_scatter(
    g: &Conv2dGeom,
    gr: &Groups,
    dy: &[f32],
    wt: &[f32],
    chunk: usize,
    dx: &mut [f32],
) {
    super::assert_undilated(g);
    let (k, n, og) = (gr.k, g.c_out, gr.og);
    let kt = gr.groups * k;
    let total = dy.len() / n;
    let walk = Walk {
        ia: n,
        us: 0,
        ulen: 1,
        vs: 1,
        vlen: og,
    };
    dx.fill(0.0);
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        scratch::with(Slot::Cols, chunk * kt, |dcol| {
            for gi in 0..gr.groups {
                microkernel::gemm(
                    rows,
                    k,
                    &dy[r0 * n + gi * og..],
                    walk,
                    &wt[gi * og * k..],
                    k,
                    &mut dcol[gi * k..],
                    kt,
                    Store::Overwrite,
                );
            }
            grouped_gemm::col2im_add(g, gr, dcol, r0, rows, dx);
        });
        r0 += rows;
    }
}
