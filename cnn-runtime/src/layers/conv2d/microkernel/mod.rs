//! A register-blocked product that reads its left operand in place,
//! through strides, instead of from a packed copy: the heart of the
//! implicit-GEMM convolution in `implicit.rs`.
//!
//! matrixmultiply packs its left operand into 16-row panels with a gather per
//! element, which at a convolution's small `c_out` (6, 16, 32) costs as much
//! as the multiply itself, on top of im2col. Here the left operand is the
//! zero-padded input read where it lies: element `(i, p)` with
//! `p = (u, v)` is `a[i * ia + u * us + v * vs]`, so a window's rows are
//! runs of `fw * c_in` contiguous floats. Each step broadcasts one float per
//! row and multiplies it into a few vectors of the right operand's row `p`;
//! the accumulators stay in registers for the whole sum.
//!
//! The kernel comes in one version per instruction set, picked per call by
//! [`crate::isa::current`]: `avx512.rs` (16 lanes, 32 registers, masked
//! tails) and `avx2.rs` (AVX2 + FMA: 8 lanes, 16 registers). This file
//! holds what they share: the walk, the store, the bounds checks and the
//! cutting of C into register blocks of the shapes each version offers.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use crate::isa::Isa;

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
/// this thread use now ([`crate::isa::current`]): AVX-512F or AVX2 + FMA.
pub(super) fn available() -> bool {
    available_on(crate::isa::current())
}

/// True when the kernel has a version for `isa` and the CPU runs it.
pub(super) fn available_on(isa: Isa) -> bool {
    blocking(isa).is_some() && isa.supported()
}

/// The widest block of columns the kernel runs at once on the current
/// instruction set (16 at AVX2, 64 at AVX-512); 16 where it has no version.
pub(super) fn max_width() -> usize {
    blocking(crate::isa::current()).map_or(16, |k| k.max_vectors * k.lanes)
}

/// One version of the kernel as the blocking loop of [`gemm`] sees it.
#[derive(Clone, Copy)]
struct Blocking {
    /// Floats per vector.
    lanes: usize,
    /// Most vectors in a block's row.
    max_vectors: usize,
    /// Most rows in a block of `nv` vectors: as many accumulators as fit
    /// beside the right operand's row and the broadcast.
    max_rows: fn(usize) -> usize,
    /// Computes one `rows x (nv * lanes)` block of C, of which the first
    /// `width` columns are real: `(rows, nv, a, walk, b, ldb, c, ldc, width,
    /// post)`, with `rows <= max_rows(nv)`, `nv <= max_vectors`.
    ///
    /// Safety: the instruction set must be present; `a` readable at every
    /// `i * ia + u * us + v * vs` (`i < rows`, `u < ulen`, `v < vlen`), `b`
    /// at `p * ldb + j` and `c` writable at `i * ldc + j` for `j < width`;
    /// the non-null pointers of `post` readable at `j < width`.
    block: Block,
}

type Block =
    unsafe fn(usize, usize, *const f32, Walk, *const f32, usize, *mut f32, usize, usize, Post);

/// The kernel's version for `isa`, if it has one.
fn blocking(isa: Isa) -> Option<Blocking> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Some(avx512::BLOCKING),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => Some(avx2::BLOCKING),
        _ => None,
    }
}

/// `count` rows cut into runs of at most `max` whose lengths differ by at
/// most one (32 by 6 is 6 6 5 5 5 5, not 6 6 6 6 6 2): a short last block
/// has too few accumulators to hide the FMA latency. Yields `(start, len)`.
fn row_blocks(count: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let blocks = count.div_ceil(max);
    let (base, longer) = (count / blocks.max(1), count % blocks.max(1));
    (0..blocks).map(move |b| {
        let start = b * base + b.min(longer);
        (start, base + usize::from(b < longer))
    })
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
        let short = |v: Option<&[f32]>| v.is_some_and(|v| v.len() < n);
        assert!(
            !short(bias) && !short(affine.map(|a| a.0)) && !short(affine.map(|a| a.1)),
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
    let isa = crate::isa::current();
    let k = blocking(isa)
        .filter(|_| isa.supported())
        .unwrap_or_else(|| panic!("microkernel: no version for {isa} on this CPU"));
    let mut j0 = 0;
    while j0 < n {
        let width = (n - j0).min(k.max_vectors * k.lanes);
        let nv = width.div_ceil(k.lanes);
        for (i0, rr) in row_blocks(rows, (k.max_rows)(nv)) {
            // SAFETY: the asserts above bound every index the kernel forms
            // (rows i0..i0 + rr <= rows, columns j0..j0 + width <= n,
            // p < depth), and the CPU runs `isa`.
            unsafe {
                (k.block)(
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
        }
        j0 += width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa;
    use crate::testing::random;

    /// Every version of the kernel the CPU runs, each store kind, against
    /// a plain loop: every block shape, partial vectors, a NaN through the
    /// epilogue, and the gaps between C's rows left alone.
    #[test]
    fn matches_a_plain_loop() {
        let versions: Vec<Isa> = Isa::supported_here()
            .into_iter()
            .filter(|&i| available_on(i))
            .collect();
        for isa in versions {
            isa::scoped(isa, || check_every_store(isa)).unwrap();
        }
    }

    fn check_every_store(isa: Isa) {
        for &(rows, n, ia) in &[
            (1, 1, 1),
            (5, 6, 3),
            (14, 16, 2),
            (31, 17, 5),
            (13, 50, 1),
            (7, 64, 4),
            (9, 70, 2),
            (13, 8, 1),
            (32, 16, 2),
            (12, 24, 3),
            (6, 9, 1),
        ] {
            let walk = Walk {
                ia,
                us: 11,
                ulen: 3,
                vs: 2,
                vlen: 4,
            };
            let (ldb, ldc) = (n + 3, n + 1);
            let mut a = random((rows - 1) * ia + 2 * 11 + 3 * 2 + 1, 1);
            // Row 0's first element: every output of row 0 is NaN.
            a[0] = f32::NAN;
            let b = random(walk.ulen * walk.vlen * ldb, 2);
            let c0 = random(rows * ldc, 3);
            let (bias, scale, shift) = (random(n, 4), random(n, 5), random(n, 6));
            let product = |i: usize, j: usize| {
                let mut s = 0f64;
                for u in 0..walk.ulen {
                    for v in 0..walk.vlen {
                        let p = u * walk.vlen + v;
                        s += a[i * ia + u * walk.us + v * walk.vs] as f64 * b[p * ldb + j] as f64;
                    }
                }
                s
            };
            let mut stores = vec![Store::Overwrite, Store::Accumulate];
            for negative_slope in [None, Some(0.0), Some(0.25)] {
                stores.push(Store::Epilogue {
                    bias: Some(&bias),
                    affine: Some((&scale, &shift)),
                    negative_slope,
                });
            }
            stores.push(Store::Epilogue {
                bias: None,
                affine: None,
                negative_slope: Some(0.0),
            });
            for store in stores {
                let mut c = c0.clone();
                let mut want = c0.clone();
                for i in 0..rows {
                    for j in 0..n {
                        let s = product(i, j);
                        let w = &mut want[i * ldc + j];
                        *w = match store {
                            Store::Overwrite => s as f32,
                            Store::Accumulate => (s + *w as f64) as f32,
                            Store::Epilogue {
                                bias,
                                affine,
                                negative_slope,
                            } => {
                                let mut y = s as f32 + bias.map_or(0.0, |b| b[j]);
                                if let Some((scale, shift)) = affine {
                                    y = y * scale[j] + shift[j];
                                }
                                match negative_slope {
                                    Some(alpha) if y < 0.0 => alpha * y,
                                    _ => y,
                                }
                            }
                        };
                    }
                }
                gemm(rows, n, &a, walk, &b, ldb, &mut c, ldc, store);
                for (e, (&got, &w)) in c.iter().zip(&want).enumerate() {
                    let ok = if w.is_nan() {
                        got.is_nan()
                    } else {
                        (got - w).abs() <= 1e-5 + 1e-5 * w.abs()
                    };
                    assert!(
                        ok,
                        "{isa}, {rows}x{n}, {store:?}: element {e} (row {}, column {}): got {got}, want {w}",
                        e / ldc,
                        e % ldc
                    );
                }
            }
        }
    }
}
