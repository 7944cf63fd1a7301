//! The style (Gram) matrix of one layer and the two products its cost
//! needs. A layer's activations `a: [h, w, c]` are read as the matrix
//! `A: [h*w, c]` (NHWC is already that layout, row-major), so the Gram
//! matrix is one GEMM, `G = A^T A` (`G[k][k'] = sum_ij a_ijk a_ijk'`), and
//! the gradient of a cost through it is another, `dA = A (dG + dG^T)`.
//! Both are cut into blocks of rows across the thread pool.

use crate::error::{check_len, Error, Result};
use crate::gemm::{sgemm, Mat};
use crate::layers::activation::par_rows;

/// `h * w * c`, or an `Err` with the numbers that overflowed.
pub(crate) fn volume(what: &str, shape: [usize; 3]) -> Result<usize> {
    let [h, w, c] = shape;
    h.checked_mul(w)
        .and_then(|hw| hw.checked_mul(c))
        .ok_or_else(|| Error::InvalidArgument(format!("{what}: {h}x{w}x{c} overflows usize")))
}

/// The Gram matrix `g = A^T A` of activations `a` (one example, NHWC).
/// Overwrites `g`.
/// a: `[h, w, c]`  g: `[c, c]`
pub fn gram(a: &[f32], shape: [usize; 3], g: &mut [f32]) -> Result<()> {
    let [h, w, c] = shape;
    check_len("gram: activations", a.len(), volume("gram", shape)?)?;
    check_len("gram: output", g.len(), c * c)?;
    let hw = h * w;
    // Row k of G is column k of A against all of A: A^T's rows k0..k1 are
    // the columns of A starting at element k0, read with stride c.
    par_rows(g, c, hw * c * c, |k0, block| {
        let rows = block.len() / c.max(1);
        let at = Mat {
            data: &a[k0..],
            rows,
            cols: hw,
            row_stride: 1,
            col_stride: c,
        };
        sgemm(1.0, at, Mat::rows(a, hw, c), 0.0, block, c);
    });
    Ok(())
}

/// `da = alpha * A m`: the activations (as `[h*w, c]`) times a `c x c`
/// matrix. With `m = dG + dG^T` this is the gradient through [`gram`].
/// Overwrites `da`.
/// a: `[h, w, c]`  m: `[c, c]`  da: `[h, w, c]`
pub fn times_activations(
    alpha: f32,
    a: &[f32],
    shape: [usize; 3],
    m: &[f32],
    da: &mut [f32],
) -> Result<()> {
    let [h, w, c] = shape;
    let n = volume("gram backward", shape)?;
    check_len("gram backward: activations", a.len(), n)?;
    check_len("gram backward: matrix", m.len(), c * c)?;
    check_len("gram backward: gradient", da.len(), n)?;
    par_rows(da, h * w, n * c, |p0, block| {
        let rows = block.len() / c.max(1);
        let a_rows = Mat::rows(&a[p0 * c..(p0 + rows) * c], rows, c);
        sgemm(alpha, a_rows, Mat::rows(m, c, c), 0.0, block, c);
    });
    Ok(())
}

/// The gradient through [`gram`]: `da = A (dg + dg^T)` for any `dg`.
/// Overwrites `da`.
/// a: `[h, w, c]`  dg: `[c, c]`  da: `[h, w, c]`
pub fn gram_backward(a: &[f32], shape: [usize; 3], dg: &[f32], da: &mut [f32]) -> Result<()> {
    let c = shape[2];
    check_len("gram backward: dg", dg.len(), c * c)?;
    let mut sym = vec![0.0f32; c * c];
    for i in 0..c {
        for j in 0..c {
            sym[i * c + j] = dg[i * c + j] + dg[j * c + i];
        }
    }
    times_activations(1.0, a, shape, &sym, da)
}
