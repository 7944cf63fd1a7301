//! Implicit-GEMM convolution in any number of groups: the products of
//! im2col + GEMM, computed by [`microkernel::gemm`] reading a zero-padded
//! copy of the input (or the input itself when no window leaves it and
//! there is one group) in place, so there is no column matrix and no
//! packing.
//!
//! The padded copy is *group-major*: each row is stored as `groups`
//! segments of `[width, cg]`. In NHWC a group's channels are a run of `cg`
//! floats per pixel, so its window row (`fw` pixels) would be `fw` runs
//! `c_in` apart, a third level of stride the kernel's walk does not have;
//! in the segment it is one run of `fw * cg` floats, and each group's
//! product is exactly the walk of one dense convolution. With one group
//! the segment is the whole row, which is the plain padded copy, so the
//! dense convolution is this walk's `groups == 1` case (and keeps the
//! depth-blocked products of `kblock.rs` and `implicit_big.rs`, which
//! serve its wide weight matrices).
//!
//! - Forward, per group and output row: `y[oy, ox, gi*og..] = sum over
//!   the window of x_padded * w_g`, rows `ox` of the product strided by
//!   `sw * cg`, depth `fh` runs of `fw * cg` contiguous floats; the
//!   epilogue is fused into the kernel's stores, cut to the group's
//!   channels (tanh and sigmoid run after it). With several groups the
//!   weights are first packed so that a group's are one contiguous matrix
//!   ([`pack_kernel`]).
//! - Weight gradient, per window row `ky` and group: `dw_g[ky, kx, ci, :]
//!   += sum over the output pixels of x_padded * dy_g`, rows `(kx, ci)`
//!   contiguous, depth the output pixels (`sh * line` between output rows,
//!   `sw * cg` within), into a group-major partial (see [`unpack_add`]).
//! - Input gradient at stride 1: the transposed convolution, itself a
//!   convolution of `dy` padded by `f - 1 - p` with the flipped kernel
//!   `w'[gi, ky, kx, j, ci] = w[fh-1-ky, fw-1-kx, ci, gi*og + j]`. At other
//!   strides, or when `cg` would leave most vector lanes empty:
//!   `dcol_g = dY_g W_g^T` on the kernel, scattered back by col2im.

use super::microkernel::{self, Store, Walk};

#[path = "implicit_big.rs"]
mod big;
use super::{epilogue, im2col, kblock, Epilogue, Groups};
use crate::geom::{Act, Conv2dGeom};
use crate::scratch::{self, Slot};
pub(super) use big::{backward as backward_big, wanted_for as big_weights};

/// A convolution over an already padded, group-major buffer: windows
/// start at padded row `oy * sh` and column `ox * sw`.
#[derive(Clone, Copy, Debug)]
struct Valid {
    groups: usize,
    /// Input channels per group.
    c_in: usize,
    /// Output channels per group.
    c_out: usize,
    fh: usize,
    fw: usize,
    sh: usize,
    sw: usize,
    out_w: usize,
}

impl Valid {
    /// Output channels of all groups: the output's row stride.
    fn n(&self) -> usize {
        self.groups * self.c_out
    }
}

/// How an image of `h x w x c` sits in its padded buffer: row `pr` holds
/// `c / cg` segments of `width x cg` (one segment, the plain row, when
/// `cg == c`).
#[derive(Clone, Copy, Debug)]
struct Pad {
    h: usize,
    w: usize,
    c: usize,
    /// Channels per group.
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
    /// True when the image itself can serve as its padded buffer.
    fn is_identity(&self, rows_needed: usize) -> bool {
        self.cg == self.c
            && self.top == 0
            && self.left == 0
            && self.width == self.w
            && rows_needed <= self.h
    }
}

/// Writes padded rows `pr0..pr1` of `img` into `buf` (`(pr1 - pr0) * line`),
/// each row group-major: one copy per row in one group, one run of `cg`
/// floats per pixel and group in several.
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
            if cg == p.c {
                d[l0..l1].copy_from_slice(src);
            } else {
                for (run, pixel) in d[l0..l1].chunks_exact_mut(cg).zip(src.chunks_exact(p.c)) {
                    im2col::copy_run(run, &pixel[gi * cg..(gi + 1) * cg]);
                }
            }
            d[l1..].fill(0.0);
        }
    }
}

/// `store` cut to group `gi`'s `og` output channels.
fn group_store<'a>(store: Store<'a>, gi: usize, og: usize) -> Store<'a> {
    let cut = |v: &'a [f32]| &v[gi * og..(gi + 1) * og];
    match store {
        Store::Epilogue {
            bias,
            affine,
            negative_slope,
        } => Store::Epilogue {
            bias: bias.map(cut),
            affine: affine.map(|(s, t)| (cut(s), cut(t))),
            negative_slope,
        },
        other => other,
    }
}

/// Group `gi`'s channels of output row `oy` of `v` from the padded buffer
/// `a`, whose first row is padded row `row0`. Overwrites that group's
/// columns of `y_row` (`out_w` pixels of `groups * c_out`). `w` is
/// group-major, `[groups, fh, fw, cg, og]` (the plain kernel in one group).
#[allow(clippy::too_many_arguments)]
fn conv_row(
    v: &Valid,
    p: &Pad,
    a: &[f32],
    row0: usize,
    oy: usize,
    gi: usize,
    w: &[f32],
    y_row: &mut [f32],
    store: Store,
) {
    let line = p.line();
    let walk = Walk {
        ia: v.sw * v.c_in,
        us: line,
        ulen: v.fh,
        vs: 1,
        vlen: v.fw * v.c_in,
    };
    let a = &a[(oy * v.sh - row0) * line + gi * p.segment()..];
    let group_len = v.fh * v.fw * v.c_in * v.c_out;
    microkernel::gemm(
        v.out_w,
        v.c_out,
        a,
        walk,
        &w[gi * group_len..],
        v.c_out,
        &mut y_row[gi * v.c_out..],
        v.n(),
        group_store(store, gi, v.c_out),
    );
}

/// Output rows `oy0..oy1` of one image: pads the input rows they read (or
/// reads `img` directly when nothing is padded and there is one group),
/// then computes them with `each(row)` run on every finished row.
fn rows_of_image(
    v: &Valid,
    p: &Pad,
    img: &[f32],
    w: &[f32],
    oy0: usize,
    oy1: usize,
    y: &mut [f32],
    store: Store,
    each: impl Fn(&mut [f32]),
) {
    let row_len = v.out_w * v.n();
    let (pr0, pr1) = (oy0 * v.sh, (oy1 - 1) * v.sh + v.fh);
    let mut run = |a: &[f32], row0: usize| {
        if v.groups == 1 && big::wanted(v) {
            // Weights beyond L2: blocked over depth, the epilogue after.
            big::conv_rows(v, a, p.line(), row0, oy0, oy1, w, y);
            for y_row in y.chunks_exact_mut(row_len) {
                epilogue::apply_store(store, v.c_out, y_row);
                each(y_row);
            }
            return;
        }
        // Groups outside rows: a group's weights (AlexNet's are 1.3 MB)
        // stay in L2 while its rows pass, rather than all groups' weights
        // streaming through for every row. A row is finished after the
        // last group.
        for gi in 0..v.groups {
            let last = gi + 1 == v.groups;
            for (oy, y_row) in (oy0..oy1).zip(y.chunks_exact_mut(row_len)) {
                conv_row(v, p, a, row0, oy, gi, w, y_row, store);
                if last {
                    each(y_row);
                }
            }
        }
    };
    if p.is_identity(pr1) {
        run(img, 0);
    } else {
        // Always the whole padded image's size, so that every call at this
        // shape asks the same and the buffer stops growing.
        scratch::with(Slot::Cols, p.height * p.line(), |buf| {
            pad_rows(p, img, pr0, pr1, &mut buf[..(pr1 - pr0) * p.line()]);
            run(buf, pr0);
        });
    }
}

fn forward_layout(g: &Conv2dGeom, gr: &Groups) -> (Valid, Pad) {
    let v = Valid {
        groups: gr.groups,
        c_in: gr.cg,
        c_out: gr.og,
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
/// With several groups `w` is packed by [`pack_kernel`].
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
    let fused = fused_store(ep);
    let mut r = r0;
    while r < r1 {
        let (n, oy0) = (r / g.out_h, r % g.out_h);
        let oy1 = g.out_h.min(oy0 + r1 - r);
        let img = &x[n * g.in_len()..(n + 1) * g.in_len()];
        let ys = &mut y[(r - r0) * row_len..(r - r0 + oy1 - oy0) * row_len];
        if let Some(store) = fused {
            rows_of_image(&v, &p, img, w, oy0, oy1, ys, store, |_| {});
        } else {
            rows_of_image(&v, &p, img, w, oy0, oy1, ys, Store::Overwrite, |row| {
                epilogue::apply(ep, g.c_out, row)
            });
        }
        r += oy1 - oy0;
    }
}

/// The kernel applies the bias, the affine and a (leaky) ReLU as it
/// stores; the other activations (`None` here) run as a separate pass
/// over the rows while they are in cache.
fn fused_store<'a>(ep: &Epilogue<'a>) -> Option<Store<'a>> {
    let negative_slope = match ep.act {
        Act::Identity => None,
        Act::Relu => Some(0.0),
        Act::LeakyRelu(alpha) => Some(alpha),
        _ => return None,
    };
    Some(Store::Epilogue {
        bias: ep.bias,
        affine: ep.affine,
        negative_slope,
    })
}

/// A 1x1, stride-1, unpadded convolution: its product's rows are the
/// input's pixels, evenly spaced across rows and images.
pub(super) fn pointwise(g: &Conv2dGeom) -> bool {
    g.fh == 1
        && g.fw == 1
        && g.sh == 1
        && g.sw == 1
        && g.pad_top == 0
        && g.pad_left == 0
        && g.out_h == g.in_h
        && g.out_w == g.in_w
}

/// A 1x1 unpadded convolution with a stride above 1 (ResNet's projection
/// shortcuts): one input pixel in `sh * sw` is read.
pub(super) fn strided_pointwise(g: &Conv2dGeom) -> bool {
    g.fh == 1 && g.fw == 1 && g.pad_top == 0 && g.pad_left == 0 && (g.sh > 1 || g.sw > 1)
}

/// Copies the pixels a [`strided_pointwise`] convolution reads, for every
/// image of `x`, into `xs` (`[batch, out_h, out_w, c_in]`, overwritten).
pub(super) fn subsample(g: &Conv2dGeom, batch: usize, x: &[f32], xs: &mut [f32]) {
    super::assert_undilated(g);
    let c = g.c_in;
    let mut dst = xs.chunks_exact_mut(c);
    for img in x.chunks_exact(g.in_len()).take(batch) {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let at = ((oy * g.sh) * g.in_w + ox * g.sw) * c;
                if let Some(d) = dst.next() {
                    d.copy_from_slice(&img[at..at + c]);
                }
            }
        }
    }
}

/// Output pixels `r0..r0 + rows` of a [`pointwise`] convolution, counted
/// across the batch, into `y` (exactly those pixels), the epilogue
/// applied: one product, blocked over depth when that pays.
pub(super) fn pointwise_rows(
    g: &Conv2dGeom,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    r0: usize,
    rows: usize,
    y: &mut [f32],
) {
    super::assert_undilated(g);
    let walk = Walk {
        ia: g.c_in,
        us: 0,
        ulen: 1,
        vs: 1,
        vlen: g.c_in,
    };
    let a = &x[r0 * g.c_in..];
    let n = g.c_out;
    match fused_store(ep) {
        Some(store) => kblock::gemm(rows, n, a, walk, w, n, y, n, store),
        None => {
            kblock::gemm(rows, n, a, walk, w, n, y, n, Store::Overwrite);
            epilogue::apply(ep, n, y);
        }
    }
}

/// True when the input gradient can run as a transposed convolution here:
/// stride 1 and leading padding smaller than the kernel.
pub(super) fn dx_supported(g: &Conv2dGeom) -> bool {
    g.sh == 1 && g.sw == 1 && g.pad_top < g.fh && g.pad_left < g.fw
}

/// The flipped kernel of the transposed convolution, group-major as
/// [`pack_kernel`] lays out a kernel `[fh, fw, og, c_in]`:
/// `wt[gi, ky, kx, j, ci] = w[fh-1-ky, fw-1-kx, ci, gi*og + j]` (in one
/// group, `wt[ky, kx, co, ci]`). Overwrites `wt`.
pub(super) fn flip_kernel(g: &Conv2dGeom, gr: &Groups, w: &[f32], wt: &mut [f32]) {
    super::assert_undilated(g);
    let (cg, og) = (gr.cg, gr.og);
    let taps = g.fh * g.fw;
    for gi in 0..gr.groups {
        for ky in 0..g.fh {
            for kx in 0..g.fw {
                let tap = (g.fh - 1 - ky) * g.fw + (g.fw - 1 - kx);
                let src = &w[tap * cg * g.c_out + gi * og..];
                let dst = &mut wt[(gi * taps + ky * g.fw + kx) * og * cg..][..og * cg];
                transpose(src, cg, og, g.c_out, dst);
            }
        }
    }
}

/// `dst[j, i] = src[i * ld + j]` for `i < rows`, `j < cols` (`dst` is
/// `cols x rows` row-major), in tiles of 16 x 16 so that both sides are
/// walked along cache lines (a plain double loop writes every element a
/// line apart: 3% of a ResNet-50 training step went to flipping its last
/// stage's 9.4 MB kernels).
pub(super) fn transpose(src: &[f32], rows: usize, cols: usize, ld: usize, dst: &mut [f32]) {
    const T: usize = 16;
    for i0 in (0..rows).step_by(T) {
        for j0 in (0..cols).step_by(T) {
            for i in i0..(i0 + T).min(rows) {
                for j in j0..(j0 + T).min(cols) {
                    dst[j * rows + i] = src[i * ld + j];
                }
            }
        }
    }
}

/// The kernel as a `c_out x k` row-major matrix, `wt[co, q] = w[q, co]`
/// for `q` over `(ky, kx, ci)` of a group: group `gi`'s `og x k` matrix
/// `W_g^T` is rows `gi*og..`.
pub(super) fn transpose_kernel(g: &Conv2dGeom, gr: &Groups, w: &[f32], wt: &mut [f32]) {
    transpose(w, gr.k, g.c_out, g.c_out, wt);
}

/// The weights group-major, so that a group's are one contiguous
/// `k x og` matrix: `wp[gi, q, j] = w[q, gi*og + j]` for `q` over
/// `(ky, kx, ci)`. Read in place, a group's rows are `og` floats `c_out`
/// apart, which wastes most of each cache line when `og` is small and
/// leaves half the cache sets unused when it is large. In one group this
/// is `w` itself, and the forward pass reads `w` unpacked.
pub(super) fn pack_kernel(g: &Conv2dGeom, gr: &Groups, w: &[f32], wp: &mut [f32]) {
    super::assert_undilated(g);
    let (k, og) = (gr.k, gr.og);
    for (q, row) in w.chunks_exact(g.c_out).enumerate() {
        for (gi, src) in row.chunks_exact(og).enumerate() {
            wp[(gi * k + q) * og..(gi * k + q + 1) * og].copy_from_slice(src);
        }
    }
}

/// `dw += wp` with `wp` laid out by [`pack_kernel`] (in one group, the
/// plain sum).
pub(super) fn unpack_add(g: &Conv2dGeom, gr: &Groups, wp: &[f32], dw: &mut [f32]) {
    if gr.groups == 1 {
        dw.iter_mut().zip(wp).for_each(|(d, p)| *d += p);
        return;
    }
    let (k, og) = (gr.k, gr.og);
    for (q, row) in dw.chunks_exact_mut(g.c_out).enumerate() {
        for (gi, dst) in row.chunks_exact_mut(og).enumerate() {
            let src = &wp[(gi * k + q) * og..(gi * k + q + 1) * og];
            dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
        }
    }
}

/// Overwrites `dx` (whole images) with the input gradient of `dy`: per
/// chunk of `chunk` output pixels, `dcol_g = dY_g W_g^T` for every group
/// (`wt` from [`transpose_kernel`]) into a group-major column matrix,
/// scattered back by col2im. Any stride and padding.
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
                kblock::gemm(
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
            im2col::col2im_add(g, gr, dcol, r0, rows, dx);
        });
        r0 += rows;
    }
}

/// The left operand of the weight gradient of window row 0 and group 0 of
/// `g` over a padded image laid out as `p`: rows `(kx, ci)`, contiguous;
/// depth the output pixels, `sh` padded rows apart between output rows and
/// `sw` pixels apart within one.
fn weight_walk(g: &Conv2dGeom, p: &Pad) -> Walk {
    Walk {
        ia: 1,
        us: g.sh * p.line(),
        ulen: g.out_h,
        vs: g.sw * p.cg,
        vlen: g.out_w,
    }
}

/// Overwrites `dw` with `sum x_padded * dy` over whole images `x`, `dy`
/// (back to back), group-major as [`pack_kernel`] lays weights out (see
/// [`unpack_add`]; in one group, `[fh, fw, c_in, c_out]`).
pub(super) fn weight_grad(g: &Conv2dGeom, gr: &Groups, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    super::assert_undilated(g);
    let (_, p) = forward_layout(g, gr);
    let rows_needed = p.height;
    let (n, og) = (g.c_out, gr.og);
    let seg = g.fw * gr.cg;
    let walk = weight_walk(g, &p);
    // One group's product is `c_out` wide and its depth (the output
    // pixels) is blocked to keep the right operand's panels in L1; in
    // several groups each is `og` wide, and the plain micro-kernel runs it.
    dw.fill(0.0);
    for (xi, dyi) in x.chunks_exact(g.in_len()).zip(dy.chunks_exact(g.out_len())) {
        let add_image = |a: &[f32], dw: &mut [f32]| {
            for ky in 0..g.fh {
                for gi in 0..gr.groups {
                    let a = &a[ky * p.line() + gi * p.segment()..];
                    let b = &dyi[gi * og..];
                    let c = &mut dw[(gi * g.fh + ky) * seg * og..(gi * g.fh + ky + 1) * seg * og];
                    if gr.groups == 1 {
                        kblock::gemm(seg, og, a, walk, b, n, c, og, Store::Accumulate);
                    } else {
                        microkernel::gemm(seg, og, a, walk, b, n, c, og, Store::Accumulate);
                    }
                }
            }
        };
        if p.is_identity(rows_needed) {
            add_image(xi, dw);
        } else {
            scratch::with(Slot::Cols, rows_needed * p.line(), |buf| {
                pad_rows(&p, xi, 0, rows_needed, buf);
                add_image(buf, dw);
            });
        }
    }
}

/// Overwrites `dx` (whole images) with the transposed convolution of `dy`
/// by `wt` (see [`flip_kernel`]); needs [`dx_supported`].
pub(super) fn input_grad(g: &Conv2dGeom, gr: &Groups, dy: &[f32], wt: &[f32], dx: &mut [f32]) {
    super::assert_undilated(g);
    // The roles of the channels swap: dy's og per group in, x's cg out.
    let v = Valid {
        groups: gr.groups,
        c_in: gr.og,
        c_out: gr.cg,
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
        rows_of_image(&v, &p, dyi, wt, 0, g.in_h, dxi, Store::Overwrite, |_| {});
    }
}
