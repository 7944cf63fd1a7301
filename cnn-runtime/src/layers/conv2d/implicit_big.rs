//! The implicit-GEMM forward pass for convolutions whose weights do not
//! fit in L2 (ResNet-50's later stages: 2.4 MB at 14x14x256 3x3, 9.4 MB at
//! 7x7x512 3x3). [`super::conv_row`] runs the whole depth of the product
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

use super::{Valid, Walk};
use crate::geom::Act;
use crate::layers::conv2d::microkernel::{self, Store};
use crate::layers::conv2d::{epilogue, Epilogue};

/// Depth elements per chunk: a chunk's weights are `KC x NC` floats.
const KC: usize = 128;
/// Output channels per block: the micro-kernel's widest block.
const NC: usize = 64;

/// Weights above this many bytes take the blocked path.
const BIG_WEIGHTS: usize = 1 << 20;

/// Whether a convolution of `v`'s shape takes the blocked path.
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
    let row_len = v.out_w * v.c_out;
    let vlen = v.fw * v.c_in;
    let mut j0 = 0;
    while j0 < v.c_out {
        let n = NC.min(v.c_out - j0);
        for u in 0..v.fh {
            let mut v0 = 0;
            while v0 < vlen {
                let kc = KC.min(vlen - v0);
                let walk = Walk {
                    ia: v.sw * v.c_in,
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
                for oy in oy0..oy1 {
                    let from = (oy * v.sh - row0 + u) * line + v0;
                    let c = &mut y[(oy - oy0) * row_len + j0..];
                    microkernel::gemm(v.out_w, n, &a[from..], walk, b, v.c_out, c, v.c_out, store);
                }
                v0 += kc;
            }
        }
        j0 += n;
    }
}

/// What the kernel's `store` would have done to a finished row `y` of
/// [`conv_rows`] (which only overwrites): the fused epilogue, run here.
pub(super) fn apply_store(store: Store, c_out: usize, y: &mut [f32]) {
    match store {
        Store::Overwrite => {}
        Store::Accumulate => unreachable!("conv2d: the blocked forward never accumulates"),
        Store::Epilogue {
            bias,
            affine,
            negative_slope,
        } => {
            let act = match negative_slope {
                None => Act::Identity,
                Some(0.0) => Act::Relu,
                Some(alpha) => Act::LeakyRelu(alpha),
            };
            epilogue::apply(&Epilogue { bias, affine, act }, c_out, y);
        }
    }
}
