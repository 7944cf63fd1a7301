//! The im2col paths' products on CPUs the micro-kernel runs on: `C = A B`
//! or `C += A B` for A and B of any strides, blocked as BLIS blocks a GEMM
//! around [`microkernel::gemm`], allocating nothing.
//!
//! matrixmultiply (the portable path's `sgemm`) allocates its packing
//! buffers on every call, and a training step at a batch size already seen
//! must not allocate (docs/design.md). Here the product runs in blocks of
//! `KC` of the shared dimension by `NC` columns, each block of B copied
//! into the scratch slot `Pack` as panels of the kernel's width, and
//! within it blocks of `MC` rows of A, read in place through its strides.

use super::microkernel::{self, Store, Walk};
use crate::gemm::Mat;
use crate::scratch::{self, Slot};

/// Depth of a block: a row block of A (`MC x KC`, 128 KiB) and the
/// micro-kernel's panel of B (`KC x 64`, 64 KiB) stay in L2.
const KC: usize = 256;
/// Rows of A per block.
const MC: usize = 128;
/// Columns of B per block (the micro-kernel walks it 64 columns at a time).
const NC: usize = 512;

/// `C <- A B + beta C`, C row-major with row stride `ldc`; `beta` 0 (C is
/// only written: NaNs in it do not leak through) or 1. Panics if a view
/// reaches past its slice, the inner dimensions differ, `beta` is another
/// value, or the micro-kernel does not run on this CPU.
pub(super) fn sgemm(a: Mat<'_>, b: Mat<'_>, beta: f32, c: &mut [f32], ldc: usize) {
    let (m, k, n) = crate::gemm::check_operands(a, b, c, ldc);
    assert!(beta == 0.0 || beta == 1.0, "packed gemm: beta {beta}");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if beta == 0.0 {
            c.chunks_mut(ldc).take(m).for_each(|r| r[..n].fill(0.0));
        }
        return;
    }
    // B's block is copied into panels as wide as the kernel's widest
    // block of columns, each `kc x pw` contiguous: read in place, rows
    // `ldb` floats apart alias in L1 (4 KiB apart at 1024 columns, every
    // row in the same set) and the kernel ran at half speed.
    let pw = microkernel::max_width();
    scratch::with(Slot::Pack, KC.min(k) * NC.min(n), |bbuf| {
        for j0 in (0..n).step_by(NC) {
            let nc = NC.min(n - j0);
            for p0 in (0..k).step_by(KC) {
                let kc = KC.min(k - p0);
                let store = if p0 == 0 && beta == 0.0 {
                    Store::Overwrite
                } else {
                    Store::Accumulate
                };
                for q in (0..nc).step_by(pw) {
                    let w = pw.min(nc - q);
                    copy_rows(b, p0, kc, j0 + q, w, &mut bbuf[kc * q..kc * (q + w)]);
                }
                let bbuf = &*bbuf;
                // A is read in place through its strides: the kernel
                // broadcasts one element per row and step, so a transposed
                // view costs a cache line per step for up to 16 rows.
                let walk = Walk {
                    ia: a.row_stride,
                    us: 0,
                    ulen: 1,
                    vs: a.col_stride,
                    vlen: kc,
                };
                for i0 in (0..m).step_by(MC) {
                    let mc = MC.min(m - i0);
                    let aa = &a.data[i0 * a.row_stride + p0 * a.col_stride..];
                    for q in (0..nc).step_by(pw) {
                        let w = pw.min(nc - q);
                        let panel = &bbuf[kc * q..kc * (q + w)];
                        let cc = &mut c[i0 * ldc + j0 + q..];
                        microkernel::gemm(mc, w, aa, walk, panel, w, cc, ldc, store);
                    }
                }
            }
        }
    });
}

/// Copies rows `r0..r0 + rows`, columns `c0..c0 + cols` of `v` row-major
/// into `dst`, walking the source along its smaller stride.
fn copy_rows(v: Mat<'_>, r0: usize, rows: usize, c0: usize, cols: usize, dst: &mut [f32]) {
    let (rs, cs) = (v.row_stride, v.col_stride);
    let at = r0 * rs + c0 * cs;
    if rs <= cs {
        for j in 0..cols {
            let src = &v.data[at + j * cs..];
            for i in 0..rows {
                dst[i * cols + j] = src[i * rs];
            }
        }
    } else {
        for (i, row) in dst.chunks_exact_mut(cols).take(rows).enumerate() {
            let src = &v.data[at + i * rs..];
            row.iter_mut()
                .enumerate()
                .for_each(|(j, d)| *d = src[j * cs]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::sgemm_reference;
    use crate::isa::{self, Isa};
    use crate::testing::{assert_close, nan_filled, random};

    /// Against the plain loop on every instruction set the micro-kernel
    /// runs on: row-major and transposed views of A and B, shapes across
    /// every block boundary (KC, MC, NC and their remainders), beta 0 over
    /// NaNs and beta 1, a C with gaps between rows.
    #[test]
    fn matches_the_reference_across_blocks_and_views() {
        let isas: Vec<Isa> = Isa::supported_here()
            .into_iter()
            .filter(|&i| microkernel::available_on(i))
            .collect();
        for isa in isas {
            isa::scoped(isa, || {
                for &(m, k, n) in &[
                    (1, 1, 1),
                    (7, 3, 5),
                    (130, 260, 70),
                    (257, 513, 515),
                    (33, 9, 1030),
                    (5, 0, 4),
                ] {
                    check(m, k, n);
                }
            })
            .unwrap();
        }
    }

    fn check(m: usize, k: usize, n: usize) {
        let a = random(m * k, 1);
        let b = random(k * n, 2);
        let ldc = n + 3;
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let av = if ta {
                Mat::transposed(&a, m, k)
            } else {
                Mat::rows(&a, m, k)
            };
            let bv = if tb {
                Mat::transposed(&b, k, n)
            } else {
                Mat::rows(&b, k, n)
            };
            for beta in [0.0, 1.0] {
                let mut c = if beta == 0.0 {
                    nan_filled(m * ldc)
                } else {
                    random(m * ldc, 3)
                };
                let mut want = c.clone();
                sgemm_reference(1.0, av, bv, beta, &mut want, ldc);
                sgemm(av, bv, beta, &mut c, ldc);
                for i in 0..m {
                    let (got, w) = (&c[i * ldc..i * ldc + n], &want[i * ldc..i * ldc + n]);
                    assert_close(got, w, 1e-4, 1e-4);
                    if beta == 0.0 {
                        // The gaps between rows are left alone.
                        assert!(c[i * ldc + n..(i + 1) * ldc].iter().all(|v| v.is_nan()));
                    }
                }
            }
        }
    }
}
