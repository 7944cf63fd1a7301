//! A register-blocked AVX-512 product that reads its left operand in place,
//! through strides, instead of from a packed copy: the heart of the
//! implicit-GEMM convolution in `implicit.rs`.
//!
//! matrixmultiply packs its left operand into 16-row panels with a gather per
//! element, which at a convolution's small `c_out` (6, 16, 32) costs as much
//! as the multiply itself, on top of im2col. Here the left operand is the
//! zero-padded input read where it lies: element `(i, p)` with
//! `p = (u, v)` is `a[i * ia + u * us + v * vs]`, so a window's rows are
//! runs of `fw * c_in` contiguous floats. Each step broadcasts one float per
//! row and multiplies it into up to four 16-lane vectors of the right
//! operand's row `p`; the accumulators stay in registers for the whole sum.

use crate::isa::Isa;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// How the left operand is walked: element `(i, p)`, `p = u * vlen + v`,
/// is `a[i * ia + u * us + v * vs]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Walk {
    pub ia: usize,
    pub us: usize,
    pub ulen: usize,
    pub vs: usize,
    pub vlen: usize,
}

/// What the kernel does with a finished block of C.
#[derive(Clone, Copy, Debug)]
pub(super) enum Store<'a> {
    /// `C = AB`.
    Overwrite,
    /// `C += AB`.
    Accumulate,
    /// `C = act((AB + bias) * scale + shift)` per column, with `act` the
    /// identity, ReLU or leaky ReLU given by its negative slope: the fused
    /// epilogue of the convolution's forward pass. Vectors are `[n]`.
    Epilogue {
        bias: Option<&'a [f32]>,
        affine: Option<(&'a [f32], &'a [f32])>,
        negative_slope: Option<f32>,
    },
}

/// [`Store`] as the kernel reads it: pointers already offset to the
/// block's first column, null when absent. `kind`: 0 overwrite, 1
/// accumulate, 2 epilogue.
#[derive(Clone, Copy)]
struct Post {
    kind: u8,
    bias: *const f32,
    scale: *const f32,
    shift: *const f32,
    /// `Some(0.0)` is ReLU.
    slope: Option<f32>,
}

impl Post {
    fn new(store: &Store, j0: usize) -> Self {
        let at = |v: Option<&[f32]>| v.map_or(std::ptr::null(), |v| v[j0..].as_ptr());
        match *store {
            Store::Overwrite | Store::Accumulate => Post {
                kind: matches!(store, Store::Accumulate) as u8,
                bias: std::ptr::null(),
                scale: std::ptr::null(),
                shift: std::ptr::null(),
                slope: None,
            },
            Store::Epilogue {
                bias,
                affine,
                negative_slope,
            } => Post {
                kind: 2,
                bias: at(bias),
                scale: at(affine.map(|a| a.0)),
                shift: at(affine.map(|a| a.1)),
                slope: negative_slope,
            },
        }
    }
}

/// True when the kernel runs on the instruction set kernels called from
/// this thread use now ([`crate::isa::current`]): AVX-512F.
pub(super) fn available() -> bool {
    available_on(crate::isa::current())
}

/// True when the kernel has a version for `isa` and the CPU runs it.
pub(super) fn available_on(isa: Isa) -> bool {
    isa == Isa::Avx512 && isa.supported()
}

/// Rows per register block for `nv` vectors of 16 columns: as many
/// accumulators as fit beside the right operand's row in 32 registers.
fn max_rows(nv: usize) -> usize {
    match nv {
        1 => 14,
        2 => 12,
        3 => 8,
        _ => 6,
    }
}

/// `C[i, j] = sum_p A(i, p) B[p, j]` (stored as `store` says) for
/// `i < rows`, `j < n`, with `A` walked as `walk` says, `B[p, j] = b[p * ldb + j]`
/// and `C[i, j] = c[i * ldc + j]`. Panics if an index would leave a slice,
/// or if [`available`] is false.
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
    if let Store::Epilogue { bias, affine, .. } = store {
        let vectors = bias
            .into_iter()
            .chain(affine.into_iter().flat_map(|(s, t)| [s, t]));
        assert!(
            vectors.into_iter().all(|v| v.len() >= n),
            "microkernel: epilogue vector too short"
        );
    }
    if rows == 0 || n == 0 {
        return;
    }
    // Every caller has a positive depth; an empty sum is not worth a path.
    assert!(depth > 0, "microkernel: empty product");
    let a_reach = (rows - 1) * walk.ia + (walk.ulen - 1) * walk.us + (walk.vlen - 1) * walk.vs;
    assert!(a_reach < a.len(), "microkernel: A out of range");
    assert!(
        (depth - 1) * ldb + n <= b.len(),
        "microkernel: B out of range"
    );
    assert!(
        (rows - 1) * ldc + n <= c.len(),
        "microkernel: C out of range"
    );
    assert!(available(), "microkernel: AVX-512F is not available");
    #[cfg(target_arch = "x86_64")]
    {
        let mut j0 = 0;
        while j0 < n {
            let width = (n - j0).min(64);
            let nv = width.div_ceil(16);
            let rmax = max_rows(nv);
            let blocks = rows.div_ceil(rmax);
            let r = rows.div_ceil(blocks);
            let mut i0 = 0;
            while i0 < rows {
                let rr = r.min(rows - i0);
                // SAFETY: the asserts above bound every index the kernel
                // forms (rows i0..i0 + rr < rows, columns j0..j0 + width <= n,
                // p < depth), and AVX-512F is present.
                unsafe {
                    dispatch(
                        rr,
                        nv,
                        a.as_ptr().add(i0 * walk.ia),
                        walk,
                        b.as_ptr().add(j0),
                        ldb,
                        c.as_mut_ptr().add(i0 * ldc + j0),
                        ldc,
                        width,
                        Post::new(&store, j0),
                    )
                };
                i0 += rr;
            }
            j0 += width;
        }
    }
}

/// Picks the kernel instance for `rows x (nv * 16)`.
///
/// # Safety
/// As [`kernel`].
#[cfg(target_arch = "x86_64")]
unsafe fn dispatch(
    rows: usize,
    nv: usize,
    a: *const f32,
    w: Walk,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    width: usize,
    post: Post,
) {
    macro_rules! go {
        ($nv:literal: $($r:literal)*) => {
            match rows {
                // SAFETY: forwarded from the caller.
                $($r => unsafe { kernel::<$r, $nv>(a, w, b, ldb, c, ldc, width, post) },)*
                _ => unreachable!("microkernel: {rows} rows for {} vectors", $nv),
            }
        };
    }
    match nv {
        1 => go!(1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14),
        2 => go!(2: 1 2 3 4 5 6 7 8 9 10 11 12),
        3 => go!(3: 1 2 3 4 5 6 7 8),
        _ => go!(4: 1 2 3 4 5 6),
    }
}

/// One `R x (NV * 16)` block of C, of which the first `width` columns are
/// real (the rest are masked off in every load and store).
///
/// # Safety
/// AVX-512F must be available; `a` must be readable at every
/// `i * ia + u * us + v * vs` (`i < R`, `u < ulen`, `v < vlen`), `b` at
/// `p * ldb + j` and `c` writable at `i * ldc + j` for `j < width`; the
/// non-null pointers of `post` readable at `j < width`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
// The row index also offsets the A and C pointers; iterators would hide that.
#[allow(clippy::needless_range_loop)]
unsafe fn kernel<const R: usize, const NV: usize>(
    a: *const f32,
    w: Walk,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    width: usize,
    post: Post,
) {
    let mut masks = [0xFFFFu16; NV];
    let last = width - 16 * (NV - 1);
    masks[NV - 1] = if last >= 16 {
        0xFFFF
    } else {
        (1u16 << last) - 1
    };
    let mut acc = [[_mm512_setzero_ps(); NV]; R];
    // SAFETY: every pointer formed below stays within the ranges the caller
    // guarantees; masked lanes are never read or written.
    unsafe {
        let mut brow = b;
        for u in 0..w.ulen {
            let au = a.add(u * w.us);
            for v in 0..w.vlen {
                let ap = au.add(v * w.vs);
                let mut bv = [_mm512_setzero_ps(); NV];
                for j in 0..NV {
                    bv[j] = _mm512_maskz_loadu_ps(masks[j], brow.add(16 * j));
                }
                for i in 0..R {
                    let av = _mm512_set1_ps(*ap.add(i * w.ia));
                    for j in 0..NV {
                        acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
                    }
                }
                brow = brow.add(ldb);
            }
        }
        // The per-column epilogue vectors, loaded once per block.
        let zero = _mm512_setzero_ps();
        let ones = _mm512_set1_ps(1.0);
        let load = |p: *const f32, j: usize, default| {
            if p.is_null() {
                default
            } else {
                // Non-null vectors hold the block's columns (the caller's promise).
                _mm512_maskz_loadu_ps(masks[j], p.add(16 * j))
            }
        };
        let bias: [__m512; NV] = std::array::from_fn(|j| load(post.bias, j, zero));
        let scale: [__m512; NV] = std::array::from_fn(|j| load(post.scale, j, ones));
        let shift: [__m512; NV] = std::array::from_fn(|j| load(post.shift, j, zero));
        for i in 0..R {
            for j in 0..NV {
                let cp = c.add(i * ldc + 16 * j);
                let mut r = acc[i][j];
                match post.kind {
                    0 => {}
                    1 => r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(masks[j], cp)),
                    _ => {
                        r = _mm512_fmadd_ps(_mm512_add_ps(r, bias[j]), scale[j], shift[j]);
                        // As `layers::activation`: `if v < 0 { alpha * v } else { v }`,
                        // so a NaN passes through (and shows up in the loss).
                        r = match post.slope {
                            None => r,
                            // maxps returns its second operand when one is NaN.
                            Some(0.0) => _mm512_max_ps(zero, r),
                            Some(alpha) => {
                                let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(r, zero);
                                let scaled = _mm512_mul_ps(r, _mm512_set1_ps(alpha));
                                _mm512_mask_blend_ps(negative, r, scaled)
                            }
                        };
                    }
                }
                _mm512_mask_storeu_ps(cp, masks[j], r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, random};

    /// The walk against a plain loop, for every block shape and a tail.
    #[test]
    fn matches_a_plain_loop() {
        if !available() {
            return;
        }
        for &(rows, n, ia) in &[
            (1, 1, 1),
            (5, 6, 3),
            (14, 16, 2),
            (31, 17, 5),
            (13, 50, 1),
            (7, 64, 4),
            (9, 70, 2),
        ] {
            let walk = Walk {
                ia,
                us: 11,
                ulen: 3,
                vs: 2,
                vlen: 4,
            };
            let depth = walk.ulen * walk.vlen;
            let a = random((rows - 1) * ia + 2 * 11 + 3 * 2 + 1, 1);
            let b = random(depth * (n + 3), 2);
            let c0 = random(rows * (n + 1), 3);
            for accumulate in [false, true] {
                let mut c = c0.clone();
                let mut want = c0.clone();
                let store = if accumulate {
                    Store::Accumulate
                } else {
                    Store::Overwrite
                };
                gemm(rows, n, &a, walk, &b, n + 3, &mut c, n + 1, store);
                for i in 0..rows {
                    for j in 0..n {
                        let mut s = 0f64;
                        for u in 0..walk.ulen {
                            for v in 0..walk.vlen {
                                let p = u * walk.vlen + v;
                                s += a[i * ia + u * walk.us + v * walk.vs] as f64
                                    * b[p * (n + 3) + j] as f64;
                            }
                        }
                        let old = if accumulate {
                            want[i * (n + 1) + j] as f64
                        } else {
                            0.0
                        };
                        want[i * (n + 1) + j] = (s + old) as f32;
                    }
                }
                assert_close(&c, &want, 1e-5, 1e-5);
            }
        }
    }
}
