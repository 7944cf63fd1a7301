//! Implicit-GEMM convolution: the products of im2col + GEMM, computed by
//! [`microkernel::gemm`] reading a zero-padded copy of the input (or the
//! input itself when no window leaves it) in place, so there is no column
//! matrix and no packing.
//!
//! - Forward, one output row at a time: `y[oy, ox, :] = sum over the window
//!   of x_padded * w`, rows `ox` of the product strided by `sw * c_in`, depth
//!   `fh` runs of `fw * c_in` contiguous floats; the epilogue is fused into
//!   the kernel's stores (tanh and sigmoid run after it).
//! - Weight gradient, per window row `ky`: `dw[ky, kx, ci, :] += sum over the
//!   output pixels of x_padded * dy`, rows `(kx, ci)` contiguous, depth the
//!   output pixels (`sh * line` between output rows, `sw * c_in` within).
//! - Input gradient at stride 1: the transposed convolution, itself a
//!   convolution of `dy` padded by `f - 1 - p` with the flipped kernel
//!   `w'[ky, kx, co, ci] = w[fh-1-ky, fw-1-kx, ci, co]`. At other strides,
//!   or when `c_in` would leave most vector lanes empty: `dcol = dY W^T` on
//!   the kernel, scattered back by col2im.

use super::microkernel::{self, Store, Walk};

#[path = "implicit_big.rs"]
mod big;
use super::{epilogue, im2col, kblock, Epilogue};
use crate::geom::{Act, Conv2dGeom};
use crate::scratch::{self, Slot};
pub(super) use big::{backward as backward_big, wanted_for as big_weights};

/// A convolution over an already padded buffer: windows start at padded
/// row `oy * sh` and column `ox * sw`.
#[derive(Clone, Copy, Debug)]
struct Valid {
    c_in: usize,
    c_out: usize,
    fh: usize,
    fw: usize,
    sh: usize,
    sw: usize,
    out_w: usize,
}

/// How an image of `h x w x c` sits in its padded buffer.
#[derive(Clone, Copy, Debug)]
struct Pad {
    h: usize,
    w: usize,
    c: usize,
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
    /// True when the image itself can serve as its padded buffer.
    fn is_identity(&self, rows_needed: usize) -> bool {
        self.top == 0 && self.left == 0 && self.width == self.w && rows_needed <= self.h
    }
}

/// Writes padded rows `pr0..pr1` of `img` into `buf` (`(pr1 - pr0) * line`).
fn pad_rows(p: &Pad, img: &[f32], pr0: usize, pr1: usize, buf: &mut [f32]) {
    let line = p.line();
    let (l0, l1) = (p.left * p.c, (p.left + p.w) * p.c);
    for (pr, dst) in (pr0..pr1).zip(buf.chunks_exact_mut(line)) {
        match pr.checked_sub(p.top).filter(|&iy| iy < p.h) {
            Some(iy) => {
                dst[..l0].fill(0.0);
                dst[l0..l1].copy_from_slice(&img[iy * p.w * p.c..(iy + 1) * p.w * p.c]);
                dst[l1..].fill(0.0);
            }
            None => dst.fill(0.0),
        }
    }
}

/// One output row `oy` of `v` from the padded buffer `a`, whose first row is
/// padded row `row0`. Overwrites `y_row` (`out_w * c_out`).
fn conv_row(
    v: &Valid,
    a: &[f32],
    line: usize,
    row0: usize,
    oy: usize,
    w: &[f32],
    y_row: &mut [f32],
    store: Store,
) {
    let walk = Walk {
        ia: v.sw * v.c_in,
        us: line,
        ulen: v.fh,
        vs: 1,
        vlen: v.fw * v.c_in,
    };
    let a = &a[(oy * v.sh - row0) * line..];
    microkernel::gemm(v.out_w, v.c_out, a, walk, w, v.c_out, y_row, v.c_out, store);
}

/// Output rows `oy0..oy1` of one image: pads the input rows they read (or
/// reads `img` directly when nothing is padded), then computes them with
/// `each(oy, row)` run on every finished row.
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
    let row_len = v.out_w * v.c_out;
    let (pr0, pr1) = (oy0 * v.sh, (oy1 - 1) * v.sh + v.fh);
    let mut run = |a: &[f32], row0: usize| {
        if big::wanted(v) {
            // Weights beyond L2: blocked over depth, the epilogue after.
            big::conv_rows(v, a, p.line(), row0, oy0, oy1, w, y);
            for y_row in y.chunks_exact_mut(row_len) {
                epilogue::apply_store(store, v.c_out, y_row);
                each(y_row);
            }
            return;
        }
        for (oy, y_row) in (oy0..oy1).zip(y.chunks_exact_mut(row_len)) {
            conv_row(v, a, p.line(), row0, oy, w, y_row, store);
            each(y_row);
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

fn forward_layout(g: &Conv2dGeom) -> (Valid, Pad) {
    let v = Valid {
        c_in: g.c_in,
        c_out: g.c_out,
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
        top: g.pad_top,
        left: g.pad_left,
        width: (g.in_w + g.pad_left).max((g.out_w - 1) * g.sw + g.fw),
        height: (g.out_h - 1) * g.sh + g.fh,
    };
    (v, p)
}

/// Forward for output rows `r0..r1`, counted over `(image, oy)` across the
/// batch; `y` holds exactly those rows. Overwrites `y` and applies `ep`.
pub(super) fn forward_rows(
    g: &Conv2dGeom,
    x: &[f32],
    w: &[f32],
    ep: &Epilogue,
    r0: usize,
    r1: usize,
    y: &mut [f32],
) {
    super::assert_undilated(g);
    let (v, p) = forward_layout(g);
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

/// The flipped, transposed kernel of the input gradient:
/// `wt[ky, kx, co, ci] = w[fh-1-ky, fw-1-kx, ci, co]`. Overwrites `wt`.
pub(super) fn flip_kernel(g: &Conv2dGeom, w: &[f32], wt: &mut [f32]) {
    super::assert_undilated(g);
    let (ci_n, co_n) = (g.c_in, g.c_out);
    for ky in 0..g.fh {
        for kx in 0..g.fw {
            let src = &w[((g.fh - 1 - ky) * g.fw + (g.fw - 1 - kx)) * ci_n * co_n..][..ci_n * co_n];
            let dst = &mut wt[(ky * g.fw + kx) * co_n * ci_n..][..co_n * ci_n];
            transpose(src, ci_n, co_n, dst);
        }
    }
}

/// `dst[j, i] = src[i, j]` for a `rows x cols` row-major `src`, in tiles
/// of 16 x 16 so that both sides are walked along cache lines (a plain
/// double loop writes every element a line apart: 3% of a ResNet-50
/// training step went to flipping its last stage's 9.4 MB kernels).
pub(super) fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const T: usize = 16;
    for i0 in (0..rows).step_by(T) {
        for j0 in (0..cols).step_by(T) {
            for i in i0..(i0 + T).min(rows) {
                for j in j0..(j0 + T).min(cols) {
                    dst[j * rows + i] = src[i * cols + j];
                }
            }
        }
    }
}

/// The kernel as a `c_out x k` row-major matrix: `wt[co, k] = w[k, co]`.
pub(super) fn transpose_kernel(g: &Conv2dGeom, w: &[f32], wt: &mut [f32]) {
    super::assert_undilated(g);
    transpose(w, g.k(), g.c_out, wt);
}

/// Overwrites `dx` (whole images) with the input gradient of `dy` as
/// `dcol = dY W^T` (`wt` from [`transpose_kernel`]) scattered back by
/// col2im, in chunks of `chunk` output pixels: any stride and padding.
pub(super) fn input_grad_scatter(
    g: &Conv2dGeom,
    dy: &[f32],
    wt: &[f32],
    chunk: usize,
    dx: &mut [f32],
) {
    super::assert_undilated(g);
    let (k, n) = (g.k(), g.c_out);
    let total = dy.len() / n;
    let walk = Walk {
        ia: n,
        us: 0,
        ulen: 1,
        vs: 1,
        vlen: n,
    };
    dx.fill(0.0);
    let mut r0 = 0;
    while r0 < total {
        let rows = chunk.min(total - r0);
        scratch::with(Slot::Cols, chunk * k, |dcol| {
            kblock::gemm(
                rows,
                k,
                &dy[r0 * n..],
                walk,
                wt,
                k,
                dcol,
                k,
                Store::Overwrite,
            );
            im2col::col2im_add(g, dcol, r0, rows, dx);
        });
        r0 += rows;
    }
}

/// The left operand of the weight gradient of window row 0 of `g` over a
/// padded image laid out as `p`: rows `(kx, ci)`, contiguous; depth the
/// output pixels, `sh` padded rows apart between output rows and `sw`
/// pixels apart within one.
fn weight_walk(g: &Conv2dGeom, p: &Pad) -> Walk {
    Walk {
        ia: 1,
        us: g.sh * p.line(),
        ulen: g.out_h,
        vs: g.sw * g.c_in,
        vlen: g.out_w,
    }
}

/// Overwrites `dw` (`[fh, fw, c_in, c_out]`) with `sum x_padded * dy` over
/// whole images `x`, `dy` (back to back).
pub(super) fn weight_grad(g: &Conv2dGeom, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    super::assert_undilated(g);
    let (_, p) = forward_layout(g);
    let rows_needed = p.height;
    let seg = g.fw * g.c_in;
    let walk = weight_walk(g, &p);
    dw.fill(0.0);
    for (xi, dyi) in x.chunks_exact(g.in_len()).zip(dy.chunks_exact(g.out_len())) {
        let mut add_image = |a: &[f32]| {
            for ky in 0..g.fh {
                let c = &mut dw[ky * seg * g.c_out..(ky + 1) * seg * g.c_out];
                kblock::gemm(
                    seg,
                    g.c_out,
                    &a[ky * p.line()..],
                    walk,
                    dyi,
                    g.c_out,
                    c,
                    g.c_out,
                    Store::Accumulate,
                );
            }
        };
        if p.is_identity(rows_needed) {
            add_image(xi);
        } else {
            scratch::with(Slot::Cols, rows_needed * p.line(), |buf| {
                pad_rows(&p, xi, 0, rows_needed, buf);
                add_image(buf);
            });
        }
    }
}

/// Overwrites `dx` (whole images) with the transposed convolution of `dy`
/// by `wt` (see [`flip_kernel`]); needs [`dx_supported`].
pub(super) fn input_grad(g: &Conv2dGeom, dy: &[f32], wt: &[f32], dx: &mut [f32]) {
    super::assert_undilated(g);
    let v = Valid {
        c_in: g.c_out,
        c_out: g.c_in,
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
