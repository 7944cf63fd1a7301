//! L2 normalisation, FaceNet's embedding layer: each row of `c` values
//! (a flat example, or one position's channels of an image) divided by its
//! Euclidean norm, taken as at least [`EPSILON`] as PyTorch's
//! `F.normalize` does: `y = x / max(|x|, eps)`. No parameters.
//!
//! For `|x| > eps` the Jacobian is `(I - y y^T) / |x|`, so
//! `dx = (dy - y (y . dy)) / |x|`: the part of `dy` along `y`, which would
//! only change the length, is removed. Below `eps` the map is `x / eps`,
//! whose gradient is `dy / eps` (the clamp passes no gradient to the
//! norm). Backward recomputes each row's norm from `x`, so the layer keeps
//! nothing but its input. Sums of squares and dot products are in `f64`,
//! as in `embed::L2Normalized`, which shares the row function.

use crate::error::{check_len, Error, Result};
use crate::layers::activation::par_rows;

/// The smallest norm divided by (PyTorch's `F.normalize` default).
pub const EPSILON: f32 = 1e-12;

/// `|row|`, summed in `f64`.
#[inline]
fn norm(row: &[f32]) -> f32 {
    row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32
}

/// Divides `row` by its norm (at least [`EPSILON`]) in place; returns the
/// norm.
pub(crate) fn normalize_row(row: &mut [f32]) -> f32 {
    let n = norm(row);
    let scale = 1.0 / n.max(EPSILON);
    row.iter_mut().for_each(|v| *v *= scale);
    n
}

fn check(rows: usize, c: usize, lens: &[(&str, usize)]) -> Result<()> {
    if c == 0 {
        return Err(Error::InvalidArgument(
            "l2_normalize: c must be positive".into(),
        ));
    }
    let len = rows
        .checked_mul(c)
        .ok_or_else(|| Error::InvalidArgument("l2_normalize: rows * c overflows".into()))?;
    for &(what, got) in lens {
        check_len(what, got, len)?;
    }
    Ok(())
}

/// `y = x / max(|x|, eps)` per row. Overwrites y.
/// x, y: [rows, c]
pub fn forward(rows: usize, c: usize, x: &[f32], y: &mut [f32]) -> Result<()> {
    check(
        rows,
        c,
        &[("l2_normalize x", x.len()), ("l2_normalize y", y.len())],
    )?;
    par_rows(y, rows, rows * c * 2, |r0, out| {
        for (yr, xr) in out.chunks_exact_mut(c).zip(x[r0 * c..].chunks_exact(c)) {
            yr.copy_from_slice(xr);
            normalize_row(yr);
        }
    });
    Ok(())
}

/// `dx = (dy - y (y . dy)) / |x|` per row (`dy / eps` where `|x| <= eps`),
/// with `y` and `|x|` recomputed from `x`. Overwrites dx.
/// x, dy, dx: [rows, c]
pub fn backward(rows: usize, c: usize, x: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<()> {
    check(
        rows,
        c,
        &[
            ("l2_normalize x", x.len()),
            ("l2_normalize dy", dy.len()),
            ("l2_normalize dx", dx.len()),
        ],
    )?;
    par_rows(dx, rows, rows * c * 4, |r0, out| {
        let rows_in = x[r0 * c..]
            .chunks_exact(c)
            .zip(dy[r0 * c..].chunks_exact(c));
        for (dxr, (xr, dyr)) in out.chunks_exact_mut(c).zip(rows_in) {
            let n = norm(xr);
            if n > EPSILON {
                // y . dy = (x . dy) / |x|; dx = (dy - x (x . dy) / |x|^2) / |x|.
                let inv = 1.0 / n as f64;
                let along: f64 = xr.iter().zip(dyr).map(|(&a, &g)| a as f64 * g as f64).sum();
                let k = along * inv * inv;
                for ((d, &a), &g) in dxr.iter_mut().zip(xr).zip(dyr) {
                    *d = ((g as f64 - a as f64 * k) * inv) as f32;
                }
            } else {
                for (d, &g) in dxr.iter_mut().zip(dyr) {
                    *d = g / EPSILON;
                }
            }
        }
    });
    Ok(())
}

/// Slow, obviously correct versions for tests (f64 inside).
#[cfg(any(test, feature = "testing"))]
pub mod reference {
    /// `x / max(|x|, 1e-12)` per row, in f64.
    pub fn forward(rows: usize, c: usize, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; rows * c];
        for r in 0..rows {
            let row = &x[r * c..(r + 1) * c];
            let n: f64 = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            let n = n.max(1e-12);
            for k in 0..c {
                y[r * c + k] = (row[k] as f64 / n) as f32;
            }
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

    #[test]
    fn forward_matches_reference_and_rows_are_unit() {
        crate::parallel::set_threads(2);
        // 3000 x 64 goes through the threaded path.
        for (rows, c) in [(1, 1), (3, 7), (5, 128), (3000, 64)] {
            let x = random(rows * c, (rows * c) as u64);
            let mut y = nan_filled(x.len());
            forward(rows, c, &x, &mut y).unwrap();
            assert_close(&y, &reference::forward(rows, c, &x), 1e-6, 1e-7);
            for row in y.chunks(c) {
                let n: f32 = row.iter().map(|v| v * v).sum();
                assert!((n - 1.0).abs() < 1e-5, "|y|^2 = {n}");
            }
        }
        // PyTorch: F.normalize(torch.tensor([[3., 4.], [0., 0.]])) is
        // [[0.6, 0.8], [0, 0]]: a zero row stays zero, not NaN.
        let mut y = nan_filled(4);
        forward(2, 2, &[3.0, 4.0, 0.0, 0.0], &mut y).unwrap();
        assert_eq!(y, [0.6, 0.8, 0.0, 0.0]);
    }

    #[test]
    fn gradcheck_x() {
        crate::parallel::set_threads(2);
        for (rows, c) in [(3, 5), (2, 1), (4, 16)] {
            let mut x = random(rows * c, 11);
            let r = random(rows * c, 12);
            let mut dx = nan_filled(x.len());
            backward(rows, c, &x, &r, &mut dx).unwrap();
            gradcheck(&mut x, &dx, 1e-3, 2e-3, None, |x| {
                let mut y = vec![0.0; x.len()];
                forward(rows, c, x, &mut y).unwrap();
                dot(&y, &r)
            });
        }
        // Large enough for the threads, against the single-row formula.
        let (rows, c) = (3000, 64);
        let x = random(rows * c, 13);
        let dy = random(rows * c, 14);
        let mut dx = nan_filled(x.len());
        backward(rows, c, &x, &dy, &mut dx).unwrap();
        let mut one = nan_filled(c);
        backward(1, c, &x[c * 2999..], &dy[c * 2999..], &mut one).unwrap();
        assert_eq!(&dx[c * 2999..], &one[..]);
    }

    #[test]
    fn below_epsilon_the_gradient_is_dy_over_eps() {
        let x = [0.0f32, 0.0, 0.0];
        let mut dx = nan_filled(3);
        backward(1, 3, &x, &[1e-12, -2e-12, 0.0], &mut dx).unwrap();
        assert_close(&dx, &[1.0, -2.0, 0.0], 1e-6, 0.0);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let mut y = vec![0.0; 6];
        let msg = |e: Error| e.to_string();
        assert!(msg(forward(2, 3, &[0.0; 5], &mut y).unwrap_err()).contains("l2_normalize x"));
        assert!(msg(forward(2, 3, &[0.0; 6], &mut y[1..]).unwrap_err()).contains("l2_normalize y"));
        assert!(backward(2, 3, &[0.0; 6], &[0.0; 5], &mut y).is_err());
        assert!(forward(2, 0, &[], &mut []).is_err());
        assert!(forward(usize::MAX, 2, &[], &mut []).is_err());
        forward(0, 3, &[], &mut []).unwrap();
    }
}
