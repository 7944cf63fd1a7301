//! A register-tiled single-precision GEMM for the products of dense layers,
//! `C = A B` or `C += A B`, that allocates nothing: what it needs (a
//! row-major copy of B when B is a transposed view, a zero-padded panel of
//! B's last columns) comes from [`scratch`]. matrixmultiply
//! allocates its packing buffers on every call, which a training step must
//! not do (docs/design.md: "a training step at a batch size already seen
//! allocates nothing").
//!
//! The micro-kernel keeps an `MR x NR` block of C in registers and walks
//! the shared dimension, broadcasting one element of A per row and loading
//! `NR` contiguous elements of a row of B; A is read in place with any
//! strides (its elements are broadcast one by one, so the layout does not
//! matter), B needs unit column stride. They are picked at run time:
//! AVX-512 (8 x 32, the last columns under a mask; 2 x 64 for one or two
//! rows, batch-1 inference) and AVX2 + FMA (6 x 16, and 2 x 32 for one or
//! two rows; the last columns from a
//! zero-padded panel). Other CPUs get
//! matrixmultiply (which allocates). Without packing A, the kernel suits
//! the sizes of dense layers, where B (the weights) stays in L2; larger
//! products go to matrixmultiply too (see [`fits`]).

use super::Mat;
use crate::isa::Isa;
use crate::scratch::{self, Slot};

/// Whether a product is small enough for this kernel: B (re-read once per
/// block of MR rows of A) should stay in L2, 1 MiB.
pub fn fits(k: usize, n: usize) -> bool {
    k.saturating_mul(n) <= 1 << 18
}

/// `C = A B` (`accumulate == false`; C is only written) or `C += A B`.
/// A is `m x k` with any strides, B `k x n` with any strides, C `m x n`
/// row-major with row stride `ldc`.
pub fn gemm(a: Mat<'_>, b: Mat<'_>, accumulate: bool, c: &mut [f32], ldc: usize) {
    if done_or_checked(a, b, accumulate, c, ldc) {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let isa = crate::isa::current();
        // The scratch is taken here, outside the clones: a closure inside
        // a `#[target_feature]` function is compiled without the feature.
        if isa == Isa::Avx512 {
            if a.rows <= Avx512Narrow::MR {
                return scratch::with(Slot::Aux, scratch_len::<Avx512Narrow>(a, b), |buf| {
                    // SAFETY: the CPU has AVX-512F, the only requirement of this clone.
                    unsafe { gemm_avx512_narrow(a, b, accumulate, c, ldc, buf) }
                });
            }
            return scratch::with(Slot::Aux, scratch_len::<Avx512>(a, b), |buf| {
                // SAFETY: the CPU has AVX-512F, the only requirement of this clone.
                unsafe { gemm_avx512(a, b, accumulate, c, ldc, buf) }
            });
        }
        if isa == Isa::Avx2 && a.rows <= Avx2Narrow::MR {
            return scratch::with(Slot::Aux, scratch_len::<Avx2Narrow>(a, b), |buf| {
                // SAFETY: the CPU has AVX2 and FMA (`current` is one it runs).
                unsafe { gemm_avx2_narrow(a, b, accumulate, c, ldc, buf) }
            });
        }
        if isa == Isa::Avx2 {
            return scratch::with(Slot::Aux, scratch_len::<Avx2>(a, b), |buf| {
                // SAFETY: the CPU has AVX2 and FMA.
                unsafe { gemm_avx2(a, b, accumulate, c, ldc, buf) }
            });
        }
    }
    let beta = if accumulate { 1.0 } else { 0.0 };
    super::sgemm(1.0, a, b, beta, c, ldc);
}

/// Whether [`gemm`] runs one of its own kernels on the current instruction
/// set ([`crate::isa::current`]; else it calls matrixmultiply).
pub fn vectorised() -> bool {
    crate::isa::current() != Isa::Portable
}

/// Checks the sizes (panics on a mismatch, as [`super::sgemm`] does) and
/// does the empty products; returns whether nothing is left to do.
fn done_or_checked(a: Mat<'_>, b: Mat<'_>, accumulate: bool, c: &mut [f32], ldc: usize) -> bool {
    let (m, k, n) = super::check_operands(a, b, c, ldc);
    assert!(n <= ldc || m <= 1, "gemm: rows of C overlap");
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(ldc).take(m) {
                row[..n].fill(0.0);
            }
        }
        return true;
    }
    false
}

/// `dst = src^T` for `src` a `rows x cols` matrix with row stride `lds`,
/// `dst` `cols x rows` row-major. Eight source rows at a time, so that each
/// destination write is eight contiguous values and the source is read in
/// eight sequential streams.
#[inline(always)]
pub fn transpose(rows: usize, cols: usize, lds: usize, src: &[f32], dst: &mut [f32]) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        src.len() >= (rows - 1) * lds + cols && lds >= cols,
        "transpose: src"
    );
    assert!(dst.len() >= rows * cols, "transpose: dst");
    let mut i0 = 0;
    while i0 + 8 <= rows {
        for j in 0..cols {
            let mut v = [0f32; 8];
            for (r, o) in v.iter_mut().enumerate() {
                // SAFETY: i0 + r < rows and j < cols: inside src (asserted).
                *o = unsafe { *src.get_unchecked((i0 + r) * lds + j) };
            }
            dst[j * rows + i0..j * rows + i0 + 8].copy_from_slice(&v);
        }
        i0 += 8;
    }
    for i in i0..rows {
        for j in 0..cols {
            dst[j * rows + i] = src[i * lds + j];
        }
    }
}

/// A register-blocked micro-kernel: `MR x NR` blocks of C.
trait Micro {
    const MR: usize;
    const NR: usize;
    /// Whether the last `n % NR` columns need a zero-padded copy of their
    /// panel of B (else the kernel masks them).
    const PAD: bool;

    /// One `rows x cols` block of C (`1 <= rows <= MR`, `1 <= cols <= NR`,
    /// element `(r, j)` at `c[r * ldc + j]`) from `k >= 1` columns of A
    /// (element `(r, p)` at `a[r * rs + p * cs]`) and `k` rows of B (row
    /// `p` at `b[p * ldb..]`: `NR` readable values when `PAD`, `cols`
    /// otherwise); `C = block` or `C += block`.
    ///
    /// # Safety
    /// The CPU has the kernel's features and every index above is in bounds.
    #[allow(clippy::too_many_arguments)]
    unsafe fn block(
        k: usize,
        a: *const f32,
        rs: usize,
        cs: usize,
        rows: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        accumulate: bool,
    );
}

/// Scratch floats for a product: a row-major copy of B when B is a
/// transposed view, and one zero-padded panel when the kernel pads.
fn scratch_len<M: Micro>(a: Mat<'_>, b: Mat<'_>) -> usize {
    let k = a.cols;
    let copy = if b.col_stride != 1 { k * b.cols } else { 0 };
    copy + if M::PAD { k * M::NR } else { 0 }
}

#[cfg(target_arch = "x86_64")]
struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Micro for Avx512 {
    const MR: usize = 8;
    const NR: usize = 32;
    const PAD: bool = false;

    #[inline(always)]
    unsafe fn block(
        k: usize,
        a: *const f32,
        rs: usize,
        cs: usize,
        rows: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        accumulate: bool,
    ) {
        use std::arch::x86_64::*;
        let lanes = |n: usize| -> __mmask16 {
            if n >= 16 {
                !0
            } else {
                (1u16 << n) - 1
            }
        };
        let (m0, m1) = (lanes(cols), lanes(cols.saturating_sub(16)));
        // Rows past the last real one repeat it (their sums are not stored).
        let mut ro = [0usize; 8];
        for (r, o) in ro.iter_mut().enumerate() {
            *o = r.min(rows - 1) * rs;
        }
        // SAFETY (all accesses): in bounds by the caller's promise; the
        // masked loads and stores touch only the lanes below `cols`.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); 2]; 8];
            for p in 0..k {
                let bp = b.add(p * ldb);
                let b0 = _mm512_maskz_loadu_ps(m0, bp);
                let b1 = _mm512_maskz_loadu_ps(m1, bp.add(16));
                let ap = a.add(p * cs);
                for r in 0..8 {
                    let av = _mm512_set1_ps(*ap.add(ro[r]));
                    acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
                }
            }
            for (r, sums) in acc.iter().enumerate().take(rows) {
                let cr = c.add(r * ldc);
                let (mut s0, mut s1) = (sums[0], sums[1]);
                if accumulate {
                    s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(m0, cr));
                    s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(m1, cr.add(16)));
                }
                _mm512_mask_storeu_ps(cr, m0, s0);
                _mm512_mask_storeu_ps(cr.add(16), m1, s1);
            }
        }
    }
}

/// AVX-512 for one or two rows of A (batch-1 inference): 2 x 64 blocks,
/// so that the eight accumulators cover a dense layer's outputs in few
/// panels and each loaded row of B feeds as many FMAs as loads allow.
#[cfg(target_arch = "x86_64")]
struct Avx512Narrow;

#[cfg(target_arch = "x86_64")]
impl Micro for Avx512Narrow {
    const MR: usize = 2;
    const NR: usize = 64;
    const PAD: bool = false;

    #[inline(always)]
    unsafe fn block(
        k: usize,
        a: *const f32,
        rs: usize,
        cs: usize,
        rows: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        accumulate: bool,
    ) {
        use std::arch::x86_64::*;
        let lanes = |n: usize| -> __mmask16 {
            if n >= 16 {
                !0
            } else {
                (1u16 << n) - 1
            }
        };
        let mut m = [0 as __mmask16; 4];
        for (v, mv) in m.iter_mut().enumerate() {
            *mv = lanes(cols.saturating_sub(16 * v));
        }
        let ro = [0, (rows - 1) * rs];
        // SAFETY (all accesses): in bounds by the caller's promise; the
        // masked loads and stores touch only the lanes below `cols`.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); 4]; 2];
            for p in 0..k {
                let bp = b.add(p * ldb);
                let mut bv = [_mm512_setzero_ps(); 4];
                for (v, x) in bv.iter_mut().enumerate() {
                    *x = _mm512_maskz_loadu_ps(m[v], bp.add(16 * v));
                }
                let ap = a.add(p * cs);
                for r in 0..2 {
                    let av = _mm512_set1_ps(*ap.add(ro[r]));
                    for v in 0..4 {
                        acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
                    }
                }
            }
            for (r, sums) in acc.iter().enumerate().take(rows) {
                let cr = c.add(r * ldc);
                for (v, &s) in sums.iter().enumerate() {
                    let at = cr.add(16 * v);
                    let s = if accumulate {
                        _mm512_add_ps(s, _mm512_maskz_loadu_ps(m[v], at))
                    } else {
                        s
                    };
                    _mm512_mask_storeu_ps(at, m[v], s);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Micro for Avx2 {
    const MR: usize = 6;
    const NR: usize = 16;
    const PAD: bool = true;

    #[inline(always)]
    unsafe fn block(
        k: usize,
        a: *const f32,
        rs: usize,
        cs: usize,
        rows: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        accumulate: bool,
    ) {
        use std::arch::x86_64::*;
        let mut ro = [0usize; 6];
        for (r, o) in ro.iter_mut().enumerate() {
            *o = r.min(rows - 1) * rs;
        }
        // SAFETY (all accesses): in bounds by the caller's promise (B rows
        // hold NR readable values: a padded panel for the last columns).
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); 2]; 6];
            for p in 0..k {
                let bp = b.add(p * ldb);
                let b0 = _mm256_loadu_ps(bp);
                let b1 = _mm256_loadu_ps(bp.add(8));
                let ap = a.add(p * cs);
                for r in 0..6 {
                    let av = _mm256_set1_ps(*ap.add(ro[r]));
                    acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
                }
            }
            for (r, sums) in acc.iter().enumerate().take(rows) {
                let cr = c.add(r * ldc);
                if cols == 16 {
                    let (mut s0, mut s1) = (sums[0], sums[1]);
                    if accumulate {
                        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(cr));
                        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(cr.add(8)));
                    }
                    _mm256_storeu_ps(cr, s0);
                    _mm256_storeu_ps(cr.add(8), s1);
                } else {
                    let mut t = [0f32; 16];
                    _mm256_storeu_ps(t.as_mut_ptr(), sums[0]);
                    _mm256_storeu_ps(t.as_mut_ptr().add(8), sums[1]);
                    for (j, &v) in t.iter().enumerate().take(cols) {
                        *cr.add(j) = if accumulate { *cr.add(j) + v } else { v };
                    }
                }
            }
        }
    }
}

/// AVX2 for one or two rows of A (batch-1 inference): 2 x 32 blocks (8
/// accumulators, 4 vectors of B and the broadcast in 16 registers), so
/// that one row of A does not run the 6-row kernel at a sixth of its
/// width: LeNet-5's dense layers were 44% of a batch-1 prediction at AVX2.
#[cfg(target_arch = "x86_64")]
struct Avx2Narrow;

#[cfg(target_arch = "x86_64")]
impl Micro for Avx2Narrow {
    const MR: usize = 2;
    const NR: usize = 32;
    // The last columns go through lane masks: a zero-padded copy of their
    // panel of B (k x 32 floats, zeroed and filled per call) cost a fifth
    // of a LeNet-5 batch-1 prediction.
    const PAD: bool = false;

    #[inline(always)]
    unsafe fn block(
        k: usize,
        a: *const f32,
        rs: usize,
        cs: usize,
        rows: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        accumulate: bool,
    ) {
        use std::arch::x86_64::*;
        let ro = [0, (rows - 1) * rs];
        // SAFETY (all accesses): in bounds by the caller's promise; masked
        // loads and stores touch only the lanes below `cols`. The CPU has
        // AVX2 (the caller's promise too).
        unsafe {
            let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask: [__m256i; 4] = std::array::from_fn(|v| {
                let lanes = cols.saturating_sub(8 * v).min(8) as i32;
                _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), iota)
            });
            let mut acc = [[_mm256_setzero_ps(); 4]; 2];
            let full = cols == 32;
            for p in 0..k {
                let bp = b.add(p * ldb);
                let bv: [__m256; 4] = if full {
                    std::array::from_fn(|v| _mm256_loadu_ps(bp.add(8 * v)))
                } else {
                    std::array::from_fn(|v| _mm256_maskload_ps(bp.add(8 * v), mask[v]))
                };
                let ap = a.add(p * cs);
                for r in 0..2 {
                    let av = _mm256_set1_ps(*ap.add(ro[r]));
                    for v in 0..4 {
                        acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
                    }
                }
            }
            for (r, sums) in acc.iter().enumerate().take(rows) {
                let cr = c.add(r * ldc);
                for (v, &sum) in sums.iter().enumerate() {
                    let at = cr.add(8 * v);
                    let sum = if accumulate {
                        _mm256_add_ps(sum, _mm256_maskload_ps(at, mask[v]))
                    } else {
                        sum
                    };
                    _mm256_maskstore_ps(at, mask[v], sum);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemm_avx2_narrow(a: Mat<'_>, b: Mat<'_>, acc: bool, c: &mut [f32], ldc: usize, buf: &mut [f32]) {
    // SAFETY: the CPU has this clone's features.
    unsafe { gemm_body::<Avx2Narrow>(a, b, acc, c, ldc, buf) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn gemm_avx512(a: Mat<'_>, b: Mat<'_>, acc: bool, c: &mut [f32], ldc: usize, buf: &mut [f32]) {
    // SAFETY: the CPU has this clone's features.
    unsafe { gemm_body::<Avx512>(a, b, acc, c, ldc, buf) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn gemm_avx512_narrow(
    a: Mat<'_>,
    b: Mat<'_>,
    acc: bool,
    c: &mut [f32],
    ldc: usize,
    buf: &mut [f32],
) {
    // SAFETY: the CPU has this clone's features.
    unsafe { gemm_body::<Avx512Narrow>(a, b, acc, c, ldc, buf) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemm_avx2(a: Mat<'_>, b: Mat<'_>, acc: bool, c: &mut [f32], ldc: usize, buf: &mut [f32]) {
    // SAFETY: the CPU has this clone's features.
    unsafe { gemm_body::<Avx2>(a, b, acc, c, ldc, buf) }
}

/// The whole product with `M`'s blocks (sizes checked by
/// [`done_or_checked`]; `buf` at least [`scratch_len`]): B is made
/// row-major first when it is a transposed view, the last `n % NR` columns
/// are padded when the kernel needs it, then blocks of C are computed
/// column panel by column panel, so that a panel of B is reused by every
/// block of rows while it is in cache. No closures here or below: they
/// would be compiled without the clones' target features.
///
/// # Safety
/// The CPU has `M`'s features.
#[inline(always)]
unsafe fn gemm_body<M: Micro>(
    a: Mat<'_>,
    b: Mat<'_>,
    accumulate: bool,
    c: &mut [f32],
    ldc: usize,
    buf: &mut [f32],
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let (mr, nr) = (M::MR, M::NR);
    let full = n / nr * nr;
    let copy_b = b.col_stride != 1;
    let (copy, panel) = buf.split_at_mut(if copy_b { k * n } else { 0 });
    let (bd, ldb) = if copy_b {
        if b.row_stride == 1 {
            // The transpose of a row-major n x k matrix (stride col_stride).
            transpose(n, k, b.col_stride, b.data, copy);
        } else {
            for p in 0..k {
                let row = &mut copy[p * n..(p + 1) * n];
                for (j, v) in row.iter_mut().enumerate() {
                    *v = b.data[p * b.row_stride + j * b.col_stride];
                }
            }
        }
        (&*copy, n)
    } else {
        (b.data, b.row_stride)
    };
    if M::PAD && full < n {
        for p in 0..k {
            let dst = &mut panel[p * nr..(p + 1) * nr];
            dst[..n - full].copy_from_slice(&bd[p * ldb + full..p * ldb + n]);
            dst[n - full..].fill(0.0);
        }
    }
    // The furthest reads, for the bounds promised to the kernel.
    assert!(bd.len() >= (k - 1) * ldb + n, "gemm: B");
    assert!(
        a.data.len() > (m - 1) * a.row_stride + (k - 1) * a.col_stride,
        "gemm: A"
    );
    assert!(c.len() >= (m - 1) * ldc + n, "gemm: C");
    let mut j = 0;
    while j < n {
        let cols = nr.min(n - j);
        let (bp, ldp) = if M::PAD && cols < nr {
            (panel.as_ptr(), nr)
        } else {
            // SAFETY: j < n <= ldb, inside bd.
            (unsafe { bd.as_ptr().add(j) }, ldb)
        };
        let mut i = 0;
        while i < m {
            let rows = mr.min(m - i);
            // SAFETY: the kernel reads A rows i..i + rows, columns 0..k,
            // B rows 0..k of `cols` (or NR padded) values from column j, and
            // writes C rows i..i + rows, columns j..j + cols: all inside the
            // slices by the asserts above.
            unsafe {
                M::block(
                    k,
                    a.data.as_ptr().add(i * a.row_stride),
                    a.row_stride,
                    a.col_stride,
                    rows,
                    bp,
                    ldp,
                    c.as_mut_ptr().add(i * ldc + j),
                    ldc,
                    cols,
                    accumulate,
                );
            }
            i += mr;
        }
        j += nr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::sgemm_reference;
    use crate::testing::{assert_close, nan_filled, random};

    type Clone = fn(Mat<'_>, Mat<'_>, bool, &mut [f32], usize);

    fn clones() -> Vec<(&'static str, Clone)> {
        let mut v: Vec<(&'static str, Clone)> = vec![
            ("dispatch", gemm),
            ("portable", |a, b, acc, c, ldc| {
                crate::isa::scoped(Isa::Portable, || gemm(a, b, acc, c, ldc)).unwrap()
            }),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                v.push(("avx512", |a, b, acc, c, ldc| {
                    if !done_or_checked(a, b, acc, c, ldc) {
                        let mut buf = vec![0.0; scratch_len::<Avx512>(a, b)];
                        // SAFETY: the CPU has AVX-512F (checked above).
                        unsafe { gemm_avx512(a, b, acc, c, ldc, &mut buf) }
                    }
                }));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                v.push(("avx512 narrow", |a, b, acc, c, ldc| {
                    if !done_or_checked(a, b, acc, c, ldc) {
                        let mut buf = vec![0.0; scratch_len::<Avx512Narrow>(a, b)];
                        // SAFETY: the CPU has AVX-512F (checked above).
                        unsafe { gemm_avx512_narrow(a, b, acc, c, ldc, &mut buf) }
                    }
                }));
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                v.push(("avx2 narrow", |a, b, acc, c, ldc| {
                    if !done_or_checked(a, b, acc, c, ldc) {
                        let mut buf = vec![0.0; scratch_len::<Avx2Narrow>(a, b)];
                        // SAFETY: the CPU has AVX2 and FMA (checked above).
                        unsafe { gemm_avx2_narrow(a, b, acc, c, ldc, &mut buf) }
                    }
                }));
                v.push(("avx2", |a, b, acc, c, ldc| {
                    if !done_or_checked(a, b, acc, c, ldc) {
                        let mut buf = vec![0.0; scratch_len::<Avx2>(a, b)];
                        // SAFETY: the CPU has AVX2 and FMA (checked above).
                        unsafe { gemm_avx2(a, b, acc, c, ldc, &mut buf) }
                    }
                }));
            }
        }
        v
    }

    #[test]
    fn transpose_matches_indexing() {
        for &(rows, cols, lds) in &[
            (1, 1, 1),
            (8, 3, 3),
            (17, 9, 12),
            (400, 120, 120),
            (3, 20, 20),
        ] {
            let src = random(rows * lds, 7);
            let mut dst = nan_filled(rows * cols);
            transpose(rows, cols, lds, &src, &mut dst);
            for i in 0..rows {
                for j in 0..cols {
                    assert_eq!(dst[j * rows + i], src[i * lds + j]);
                }
            }
        }
    }

    /// Every clone against the f64 reference: row-major and transposed A
    /// and B, C with a row stride wider than n, overwrite (over NaNs) and
    /// accumulate, sizes around the block sizes and LeNet-5's dense layers.
    #[test]
    fn matches_reference() {
        let shapes = [
            (1, 1, 1),
            (3, 5, 7),
            (9, 17, 33),
            (8, 32, 32),
            (17, 9, 6),
            (64, 400, 120),
            (64, 120, 84),
            (7, 84, 10),
            (2, 3, 65),
            // Batch-1 inference: LeNet-5's dense layers on the narrow kernels.
            (1, 400, 120),
            (2, 120, 84),
            (5, 0, 3),
        ];
        for (name, f) in clones() {
            for (s, &(m, k, n)) in shapes.iter().enumerate() {
                let seed = 10 * s as u64;
                let (a, at) = (random(m * k, seed), random(k * m, seed + 1));
                let (b, bt) = (random(k * n, seed + 2), random(n * k, seed + 3));
                let ldc = n + 3;
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    let am = if ta {
                        Mat::transposed(&at, m, k)
                    } else {
                        Mat::rows(&a, m, k)
                    };
                    let bm = if tb {
                        Mat::transposed(&bt, k, n)
                    } else {
                        Mat::rows(&b, k, n)
                    };
                    for accumulate in [false, true] {
                        let mut c = if accumulate {
                            random(m * ldc, seed + 4)
                        } else {
                            nan_filled(m * ldc)
                        };
                        let mut want = c.clone();
                        f(am, bm, accumulate, &mut c, ldc);
                        let beta = if accumulate { 1.0 } else { 0.0 };
                        sgemm_reference(1.0, am, bm, beta, &mut want, ldc);
                        // Only the m x n block is written: the gap columns keep their values.
                        for (r, (got, want)) in c.chunks(ldc).zip(want.chunks(ldc)).enumerate() {
                            assert_close(&got[..n], &want[..n], 1e-5, 1e-5);
                            let gap: Vec<u32> = got[n..].iter().map(|v| v.to_bits()).collect();
                            let kept: Vec<u32> = want[n..].iter().map(|v| v.to_bits()).collect();
                            assert_eq!(gap, kept, "{name} {m}x{k}x{n} row {r}: gap written");
                        }
                    }
                }
            }
        }
    }
}
