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
//!
//! At AVX2 each chunk's panel is first copied into a contiguous buffer
//! ([`packed`], which `implicit_big.rs` uses too): read in place, its rows
//! lie `ldb` floats apart, and at ResNet-50's channel counts (256, 512,
//! 2048) that is a multiple of 1 KiB, so the 128 rows of a panel fall into
//! a handful of L1 sets and evict each other under the AVX2 kernel's
//! 16-column blocks (the set-associativity conflict that GEMM libraries
//! pack to avoid). At AVX-512 the copy measured no gain, and is skipped
//! (BENCHMARKS.md, the Zen 5 runs).

use super::epilogue;
use super::microkernel::{self, Store, Walk};
use crate::scratch::{self, Slot};

/// Depth per chunk.
const KC: usize = 128;
/// Columns per block: the AVX-512 micro-kernel's widest (four AVX2 blocks).
const NC: usize = 64;
/// Below this many rows the micro-kernel walks the depth once anyway.
const MIN_ROWS: usize = 16;

/// Calls `f(panel, ld)` with rows `0..k` and columns `0..n` of `b` (row
/// stride `ldb`): copied into a contiguous buffer (`ld = n`) when `ldb`
/// is larger than `n`, as is. `n <= NC` and `k <= KC` in the callers
/// (32 KiB at most).
pub(super) fn packed<R>(
    b: &[f32],
    ldb: usize,
    k: usize,
    n: usize,
    f: impl FnOnce(&[f32], usize) -> R,
) -> R {
    if ldb == n || k == 0 || crate::isa::current() != crate::isa::Isa::Avx2 {
        return f(b, ldb);
    }
    scratch::with(Slot::Pack, k * n, |buf| {
        let rows = buf.chunks_exact_mut(n).zip(b.chunks(ldb)).take(k);
        if n == NC {
            // The common width as fixed-size copies, which compile to a
            // few vector moves instead of a memcpy call per row.
            for (dst, src) in rows {
                let dst: &mut [f32; NC] = dst.try_into().expect("NC floats");
                *dst = src[..NC].try_into().expect("NC floats");
            }
        } else {
            for (dst, src) in rows {
                dst.copy_from_slice(&src[..n]);
            }
        }
        f(&buf[..k * n], n)
    })
}

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
                let panel = &b[(u0 * walk.vlen + v0) * ldb + j0..];
                packed(panel, ldb, ul * vl, nb, |panel, ld| {
                    microkernel::gemm(
                        rows,
                        nb,
                        &a[u0 * walk.us + v0 * walk.vs..],
                        sub,
                        panel,
                        ld,
                        &mut c[j0..],
                        ldc,
                        chunk_store,
                    )
                });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::{self, Isa};
    use crate::testing::random;

    /// The blocked product against a plain loop on every instruction set
    /// the micro-kernel runs here, with the right operand's rows wider
    /// than a block (so that AVX2 packs its panels) and narrower, a
    /// partial last chunk of depth and of columns, and each store.
    #[test]
    fn blocked_and_packed_products_match_a_plain_loop() {
        for isa in Isa::supported_here() {
            if !microkernel::available_on(isa) {
                continue;
            }
            isa::scoped(isa, || {
                for &(rows, n, depth, ldb) in
                    &[(20, 70, 300, 70), (17, 64, 260, 512), (33, 100, 400, 1024), (16, 9, 270, 9)]
                {
                    let walk = Walk {
                        ia: depth,
                        us: 0,
                        ulen: 1,
                        vs: 1,
                        vlen: depth,
                    };
                    let a = random(rows * depth, 1);
                    let b = random(depth * ldb, 2);
                    let c0 = random(rows * n, 3);
                    for store in [Store::Overwrite, Store::Accumulate] {
                        let mut c = c0.clone();
                        gemm(rows, n, &a, walk, &b, ldb, &mut c, n, store);
                        for i in 0..rows {
                            for j in 0..n {
                                let mut s: f64 = (0..depth)
                                    .map(|p| a[i * depth + p] as f64 * b[p * ldb + j] as f64)
                                    .sum();
                                if matches!(store, Store::Accumulate) {
                                    s += c0[i * n + j] as f64;
                                }
                                let got = c[i * n + j];
                                assert!(
                                    (got as f64 - s).abs() <= 1e-3 * (1.0 + s.abs()),
                                    "{isa}: {rows}x{n} depth {depth} ldb {ldb}: ({i}, {j}) {got} vs {s}"
                                );
                            }
                        }
                    }
                }
            })
            .unwrap();
        }
    }
}
