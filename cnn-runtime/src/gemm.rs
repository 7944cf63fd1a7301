//! Safe wrappers over `matrixmultiply::sgemm`, which computes
//! `C <- alpha * A B + beta * C` for matrices given by a pointer and a row
//! and a column stride each. The wrappers check that every element the
//! strides reach lies inside the slices, then call the unsafe routine.
//! matrixmultiply runs on one thread here: the kernels split work across
//! the batch instead, which is faster for the skinny products of small CNNs.
//! [`tiled`] is an allocation-free GEMM for the dense layers' products.

pub mod tiled;

/// A matrix view: `rows x cols` elements of a slice, element `(i, j)` at
/// `i * row_stride + j * col_stride`.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    /// The elements, at least up to the last one the view reaches.
    pub data: &'a [f32],
    /// Rows of the view.
    pub rows: usize,
    /// Columns of the view.
    pub cols: usize,
    /// Elements between one row and the next.
    pub row_stride: usize,
    /// Elements between one column and the next (1 for row-major).
    pub col_stride: usize,
}

impl<'a> Mat<'a> {
    /// Row-major, contiguous.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }
    /// The transpose of a row-major `cols x rows` matrix, without copying.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            row_stride: 1,
            col_stride: rows,
        }
    }
}

/// Panics unless `A B` can be stored into C (row stride `ldc`): the inner
/// dimensions agree and every element the strides reach lies in its
/// slice. Returns `(m, k, n)`. Shared by every GEMM of the crate.
pub(crate) fn check_operands(
    a: Mat<'_>,
    b: Mat<'_>,
    c: &[f32],
    ldc: usize,
) -> (usize, usize, usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "gemm: inner dimensions differ");
    assert!(
        a.data.len() >= reach(m, k, a.row_stride, a.col_stride),
        "gemm: A too short"
    );
    assert!(
        b.data.len() >= reach(k, n, b.row_stride, b.col_stride),
        "gemm: B too short"
    );
    assert!(c.len() >= reach(m, n, ldc, 1), "gemm: C too short");
    (m, k, n)
}

fn reach(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// `C <- alpha * A B + beta * C` with C row-major with row stride `ldc`.
/// A is `m x k`, B is `k x n`, C is `m x n`. With `beta == 0` C is only
/// written (NaNs in it do not leak through).
pub fn sgemm(alpha: f32, a: Mat<'_>, b: Mat<'_>, beta: f32, c: &mut [f32], ldc: usize) {
    let (m, k, n) = check_operands(a, b, c, ldc);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // matrixmultiply handles k = 0 by scaling C by beta; do it here so
        // that beta = 0 also clears NaNs.
        for i in 0..m {
            let row = &mut c[i * ldc..i * ldc + n];
            if beta == 0.0 {
                row.fill(0.0);
            } else {
                row.iter_mut().for_each(|v| *v *= beta);
            }
        }
        return;
    }
    // SAFETY: the asserts above prove that every index the strides reach
    // is inside the slices, and C does not alias A or B (`&mut`).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

/// Reference product for tests: plain triple loop in f64.
#[cfg(any(test, feature = "testing"))]
pub fn sgemm_reference(alpha: f32, a: Mat<'_>, b: Mat<'_>, beta: f32, c: &mut [f32], ldc: usize) {
    for i in 0..a.rows {
        for j in 0..b.cols {
            let mut acc = 0f64;
            for p in 0..a.cols {
                acc += a.data[i * a.row_stride + p * a.col_stride] as f64
                    * b.data[p * b.row_stride + j * b.col_stride] as f64;
            }
            let old = if beta == 0.0 {
                0.0
            } else {
                beta * c[i * ldc + j]
            };
            c[i * ldc + j] = alpha * acc as f32 + old;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, nan_filled, random};

    #[test]
    fn matches_reference_with_transposes() {
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (17, 9, 6), (64, 25, 6), (5, 0, 3)] {
            let a = random(m * k, 1);
            let b = random(k * n, 2);
            let mut c = nan_filled(m * n);
            let mut want = vec![0.0; m * n];
            sgemm(
                1.0,
                Mat::rows(&a, m, k),
                Mat::rows(&b, k, n),
                0.0,
                &mut c,
                n,
            );
            sgemm_reference(
                1.0,
                Mat::rows(&a, m, k),
                Mat::rows(&b, k, n),
                0.0,
                &mut want,
                n,
            );
            assert_close(&c, &want, 1e-5, 1e-5);
            // A^T stored as k x m.
            let at = random(k * m, 3);
            let mut c2 = random(m * n, 4);
            let mut want2 = c2.clone();
            sgemm(
                0.5,
                Mat::transposed(&at, m, k),
                Mat::rows(&b, k, n),
                1.0,
                &mut c2,
                n,
            );
            sgemm_reference(
                0.5,
                Mat::transposed(&at, m, k),
                Mat::rows(&b, k, n),
                1.0,
                &mut want2,
                n,
            );
            assert_close(&c2, &want2, 1e-5, 1e-5);
        }
    }
}
