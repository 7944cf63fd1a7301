//! The implicit-GEMM forward pass for convolutions in one group whose
//! weights do not fit in L2 (ResNet-50's later stages: 2.4 MB at
//! 14x14x256 3x3, 9.4 MB at 7x7x512 3x3). [`super::conv_row`] runs the whole depth of the product
//! for one output row at a time, so every output row streams all the
//! weights from memory for only `out_w` rows of arithmetic (7 at the last
//! stage): those layers ran at 20-35 GFLOP/s against 90-150 elsewhere.
//!
//! Here the product is blocked as a GEMM library blocks it: for each block
//! of `NC` output channels and each chunk of `KC` consecutive depth
//! elements (within one window row, so the chunk's weight rows are
//! contiguous), every output row of the task accumulates that chunk, so
//! the chunk's `KC x NC` weights (32 KiB) are read from memory once per
//! task and from L1 after that. The partial sums go through the output
//! (which stays in L2: the task's rows x `NC` columns), and the epilogue
//! runs once at the end, over each finished row.

use super::{
    flip_kernel, forward_layout, input_grad, input_grad_scatter, kblock::packed, pad_rows,
    transpose_kernel, weight_walk, Valid, Walk,
};
use crate::geom::Conv2dGeom;
use crate::layers::conv2d::microkernel::{self, Store};
use crate::layers::conv2d::{DxPath, Groups};
use crate::parallel;
use crate::parallel::Disjoint;
use crate::scratch::{self, Slot};

/// Depth elements per chunk: a chunk's weights are `KC x NC` floats.
const KC: usize = 128;
/// Output channels per block: the micro-kernel's widest block.
const NC: usize = 64;

/// Weights above this many bytes take the blocked path. Measured on
/// ResNet-50 at b8 (one thread, CPU time): 256 KiB, 512 KiB, 1 MiB and
/// 2 MiB within 2% of each other at AVX2, all far ahead of never (3.2 s
/// against 4.35 s per step).
const BIG_WEIGHTS: usize = 1 << 20;

/// Whether a convolution of `v`'s shape takes the blocked path: weights
/// above [`BIG_WEIGHTS`] bytes, or above `CNN_CONV_BIG` bytes when that is
/// set (read once; `CNN_CONV_BIG=0` sends every convolution here, which
/// is how the tests run the conv suite on this path).
pub(super) fn wanted(v: &Valid) -> bool {
    let bytes = v.fh * v.fw * v.c_in * v.c_out * 4;
    let threshold = *THRESHOLD.get_or_init(|| {
        std::env::var("CNN_CONV_BIG")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(BIG_WEIGHTS)
    });
    bytes > threshold
}

static THRESHOLD: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Output rows `oy0..oy1` of `v` from the padded buffer `a` (first row:
/// padded row `row0`, `line` floats per row) into `y` (`out_w * c_out` per
/// row), without the epilogue: `y = conv(a, w)`.
pub(super) fn conv_rows(
    v: &Valid,
    a: &[f32],
    line: usize,
    row0: usize,
    oy0: usize,
    oy1: usize,
    w: &[f32],
    y: &mut [f32],
) {
    if v.sh == 1 && v.sw == 1 && line.is_multiple_of(v.c_in) && oy1 - oy0 > 1 {
        return conv_rows_flat(v, a, line, row0, oy0, oy1, w, y);
    }
    let row_len = v.out_w * v.c_out;
    chunks(
        v,
        line,
        v.sw * v.c_in,
        w,
        |j0, n, at, b, ldb, walk, store| {
            for oy in oy0..oy1 {
                let from = (oy * v.sh - row0) * line + at;
                let c = &mut y[(oy - oy0) * row_len + j0..];
                microkernel::gemm(v.out_w, n, &a[from..], walk, b, ldb, c, v.c_out, store);
            }
        },
    );
}

/// Calls `f(j0, n, at, b, ldb, walk, store)` for each block of `NC` output
/// channels `j0..j0 + n` and each chunk of at most `KC` depth elements
/// within one window row: the chunk's windows start `at` floats into a
/// window's first row, its weights are `b` (packed: rows of `ldb = n`,
/// see [`kblock::packed`]), `walk`
/// steps `ia` between windows, and `store` overwrites on a block's first
/// chunk and accumulates after.
fn chunks(
    v: &Valid,
    line: usize,
    ia: usize,
    w: &[f32],
    mut f: impl FnMut(usize, usize, usize, &[f32], usize, Walk, Store),
) {
    let vlen = v.fw * v.c_in;
    let mut j0 = 0;
    while j0 < v.c_out {
        let n = NC.min(v.c_out - j0);
        for u in 0..v.fh {
            let mut v0 = 0;
            while v0 < vlen {
                let kc = KC.min(vlen - v0);
                let walk = Walk {
                    ia,
                    us: line,
                    ulen: 1,
                    vs: 1,
                    vlen: kc,
                };
                let store = if u == 0 && v0 == 0 {
                    Store::Overwrite
                } else {
                    Store::Accumulate
                };
                let b = &w[(u * vlen + v0) * v.c_out + j0..];
                packed(b, v.c_out, kc, n, |b, ldb| {
                    f(j0, n, u * line + v0, b, ldb, walk, store)
                });
                v0 += kc;
            }
        }
        j0 += n;
    }
}

/// [`conv_rows`] at stride 1: the padded rows `oy0..oy1` read are one run
/// of evenly spaced windows (`c_in` apart, across row ends too), so each
/// chunk of depth is one product over all of them, `(oy1 - oy0) * width`
/// rows less the last row's tail, instead of one product of `out_w` rows
/// per output row (7 at ResNet-50's last stage: blocks of 4 and 3 rows
/// that leave the kernel short of accumulators). The `width - out_w`
/// windows at each row's end straddle two rows; they are computed into
/// the scratch and dropped when the rows are copied out.
#[allow(clippy::too_many_arguments)]
fn conv_rows_flat(
    v: &Valid,
    a: &[f32],
    line: usize,
    row0: usize,
    oy0: usize,
    oy1: usize,
    w: &[f32],
    y: &mut [f32],
) {
    let width = line / v.c_in;
    let rows = (oy1 - oy0 - 1) * width + v.out_w;
    let c_out = v.c_out;
    scratch::with(Slot::Aux, rows * c_out, |c| {
        chunks(v, line, v.c_in, w, |j0, n, at, b, ldb, walk, store| {
            let from = (oy0 - row0) * line + at;
            microkernel::gemm(
                rows,
                n,
                &a[from..],
                walk,
                b,
                ldb,
                &mut c[j0..],
                c_out,
                store,
            );
        });
        let row_len = v.out_w * c_out;
        for (r, y_row) in y.chunks_exact_mut(row_len).take(oy1 - oy0).enumerate() {
            y_row.copy_from_slice(&c[r * width * c_out..r * width * c_out + row_len]);
        }
    });
}

/// Rows of the weight gradient per task of [`backward`]: a tile of
/// `ROWS_PER_TASK x c_out` (128 KiB at 512 channels) stays in L2 while
/// every image adds into it.
const ROWS_PER_TASK: usize = 64;

/// Whether the backward pass of `g` takes [`backward`].
pub(in crate::layers::conv2d) fn wanted_for(g: &Conv2dGeom) -> bool {
    wanted(&forward_layout(g, &Groups::one(g)).0)
}

/// The backward pass when the weights exceed L2. The general one splits
/// the batch into groups with a partial weight gradient each, which here
/// means rewriting several copies of megabytes of gradient per image for
/// a few dozen multiply-adds per element. Here tasks own tiles of the
/// gradient instead: each adds every image into its tile, in image order,
/// so the tile stays in cache and the sum does not depend on the thread
/// count. The input gradient then runs image by image. Adds into `dw` and
/// `db`, overwrites `dx`, as [`super::super::backward`].
#[allow(clippy::too_many_arguments)]
pub(in crate::layers::conv2d) fn backward(
    g: &Conv2dGeom,
    batch: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<(&mut [f32], DxPath)>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    super::super::assert_undilated(g);
    let (c_out, seg) = (g.c_out, g.fw * g.c_in);
    if let Some(db) = db {
        for row in dy.chunks_exact(c_out) {
            db.iter_mut().zip(row).for_each(|(d, v)| *d += v);
        }
    }
    let one = Groups::one(g);
    let (_, p) = forward_layout(g, &one);
    let padded_len = if p.is_identity(p.height) {
        0
    } else {
        p.height * p.line()
    };
    let wt_len = if dx.is_some() { w.len() } else { 0 };
    scratch::with(Slot::Partial, batch * padded_len + wt_len, |buf| {
        let (padded, wt) = buf.split_at_mut(batch * padded_len);
        for (xi, dst) in x
            .chunks_exact(g.in_len())
            .zip(padded.chunks_exact_mut(padded_len.max(1)))
        {
            pad_rows(&p, xi, 0, p.height, dst);
        }
        let padded = &*padded;
        let image = |n: usize| -> &[f32] {
            if padded_len == 0 {
                &x[n * g.in_len()..(n + 1) * g.in_len()]
            } else {
                &padded[n * padded_len..(n + 1) * padded_len]
            }
        };
        let walk = weight_walk(g, &p);
        let per_ky = seg.div_ceil(ROWS_PER_TASK);
        let shared = Disjoint::new(dw);
        parallel::for_each(g.fh * per_ky, &|t| {
            let (ky, i0) = (t / per_ky, (t % per_ky) * ROWS_PER_TASK);
            let rows = ROWS_PER_TASK.min(seg - i0);
            // SAFETY: task t alone writes rows ky * seg + i0 .. + rows of dw.
            let tile = unsafe { shared.part((ky * seg + i0) * c_out, rows * c_out) };
            for n in 0..batch {
                let dyn_ = &dy[n * g.out_len()..(n + 1) * g.out_len()];
                let a = &image(n)[ky * p.line() + i0..];
                microkernel::gemm(
                    rows,
                    c_out,
                    a,
                    walk,
                    dyn_,
                    c_out,
                    tile,
                    c_out,
                    Store::Accumulate,
                );
            }
        });
        let Some((dx, path)) = dx else { return };
        match path {
            DxPath::Transposed => flip_kernel(g, &one, w, wt),
            _ => transpose_kernel(g, &one, w, wt),
        }
        let wt = &*wt;
        let chunk = g.out_h * g.out_w;
        let shared = Disjoint::new(dx);
        parallel::for_each(batch, &|n| {
            let dyn_ = &dy[n * g.out_len()..(n + 1) * g.out_len()];
            // SAFETY: task n alone writes image n of dx.
            let dxn = unsafe { shared.part(n * g.in_len(), g.in_len()) };
            match path {
                DxPath::Transposed => input_grad(g, &one, dyn_, wt, dxn),
                _ => input_grad_scatter(g, &one, dyn_, wt, chunk, dxn),
            }
        });
    });
}
