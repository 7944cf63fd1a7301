//! [`microkernel::gemm`] blocked over the depth of the product.
//!
//! The micro-kernel keeps a block of C in registers (up to 14 rows x 64
//! columns on AVX-512, 6 x 16 or 13 x 8 on AVX2) and walks the whole depth
//! for it, so for every block of rows
//! it streams the right operand's whole `depth x 64` panel. When that
//! panel is larger than L1 and there are several blocks of rows, it comes
//! from L2 or memory each time: the weight gradient of a 56x56 1x1
//! convolution (depth 3,136 output pixels, 800 KB per panel) ran at half
//! the speed of its forward pass. Here the depth is cut into chunks whose
//! panel (`KC x 64` floats, 32 KiB) stays in L1 while every block of rows
//! uses it; the partial sums go through C, and a fused epilogue is applied
//! after the last chunk.

use super::epilogue;
use super::microkernel::{self, Store, Walk};

/// Depth per chunk.
const KC: usize = 128;
/// Columns per block: the AVX-512 micro-kernel's widest (four AVX2 blocks).
const NC: usize = 64;
/// Below this many rows the micro-kernel walks the depth once anyway.
const MIN_ROWS: usize = 16;

/// As [`microkernel::gemm`], blocked over the depth when that pays.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm(
    rows: usize,
    n: usize,
    a: &[f32],
    walk: Walk,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    store: Store,
) {
    let depth = walk.ulen * walk.vlen;
    if rows < MIN_ROWS || depth <= 2 * KC || rows == 0 || n == 0 {
        return microkernel::gemm(rows, n, a, walk, b, ldb, c, ldc, store);
    }
    let mut j0 = 0;
    while j0 < n {
        let nb = NC.min(n - j0);
        let mut first = true;
        // Whole walk rows per chunk when they are short; else pieces of one.
        let (u_step, v_step) = if walk.vlen <= KC {
            ((KC / walk.vlen).max(1), walk.vlen)
        } else {
            (1, KC)
        };
        let mut u0 = 0;
        while u0 < walk.ulen {
            let ul = u_step.min(walk.ulen - u0);
            let mut v0 = 0;
            while v0 < walk.vlen {
                let vl = v_step.min(walk.vlen - v0);
                let sub = Walk {
                    ulen: ul,
                    vlen: vl,
                    ..walk
                };
                let chunk_store = match (first, store) {
                    (true, Store::Accumulate) | (false, _) => Store::Accumulate,
                    (true, _) => Store::Overwrite,
                };
                // Rows p = u * vlen + v of B, for u in u0.., v in v0..:
                // each walk row's piece starts vlen rows after the last,
                // which a sub-walk of ul > 1 rows (vl == vlen) matches.
                microkernel::gemm(
                    rows,
                    nb,
                    &a[u0 * walk.us + v0 * walk.vs..],
                    sub,
                    &b[(u0 * walk.vlen + v0) * ldb + j0..],
                    ldb,
                    &mut c[j0..],
                    ldc,
                    chunk_store,
                );
                first = false;
                v0 += vl;
            }
            u0 += ul;
        }
        j0 += nb;
    }
    for i in 0..rows {
        epilogue::apply_store(store, n, &mut c[i * ldc..i * ldc + n]);
    }
}
