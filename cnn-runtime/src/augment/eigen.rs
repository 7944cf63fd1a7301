//! Eigenvalues and eigenvectors of a small symmetric matrix, by cyclic
//! Jacobi rotations (Golub and Van Loan, 8.5): the 3x3 colour covariance
//! of PCA colour augmentation and the smoothing matrices of the elastic
//! distortion (a side of the image, at most a few hundred).

/// Eigenvalues of the symmetric `n x n` matrix `a` (row-major), largest
/// first, and the matching unit eigenvectors (`vectors[j]` belongs to
/// `values[j]`).
// The rotation updates rows and columns p and q by the same index k, as
// the textbook writes it; iterators would hide that.
#[allow(clippy::needless_range_loop)]
pub(crate) fn symmetric_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    assert_eq!(
        a.len(),
        n * n,
        "symmetric_eigen: {n} x {n} needs {} values",
        n * n
    );
    // v[k][j]: row k of the matrix whose column j is an eigenvector.
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|k| (0..n).map(|j| if j == k { 1.0 } else { 0.0 }).collect())
        .collect();
    for _sweep in 0..60 {
        let mut off = 0.0;
        let mut scale = 0.0;
        for p in 0..n {
            scale += a[p * n + p].powi(2);
            for q in p + 1..n {
                off += a[p * n + q].powi(2);
            }
        }
        if off <= 1e-30 * f64::max(scale, 1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = if theta == 0.0 {
                    1.0
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A <- J^T A J with the rotation J in the (p, q) plane.
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vp, vq) = (row[p], row[q]);
                    row[p] = c * vp - s * vq;
                    row[q] = s * vp + c * vq;
                }
            }
        }
    }
    // Column j of v is the eigenvector of a[j][j].
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let values = order.iter().map(|&j| a[j * n + j]).collect();
    let vectors = order
        .iter()
        .map(|&j| v.iter().map(|row| row[j]).collect())
        .collect();
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_on_a_known_matrix() {
        // [[2, 1, 0], [1, 2, 0], [0, 0, 5]]: eigenvalues 5, 3, 1 with
        // vectors e3, (1, 1, 0)/sqrt 2, (1, -1, 0)/sqrt 2.
        let (l, v) = symmetric_eigen(vec![2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0], 3);
        for (got, want) in l.iter().zip([5.0, 3.0, 1.0]) {
            assert!((got - want).abs() < 1e-12, "{l:?}");
        }
        let r = std::f64::consts::FRAC_1_SQRT_2;
        assert!((v[0][2].abs() - 1.0).abs() < 1e-12);
        assert!((v[1][0].abs() - r).abs() < 1e-12 && (v[1][0] - v[1][1]).abs() < 1e-12);
        assert!((v[2][0] + v[2][1]).abs() < 1e-12);
    }

    #[test]
    fn jacobi_rebuilds_a_larger_matrix() {
        // A random symmetric 9x9 matrix is sum_j l_j v_j v_j^T, with
        // orthonormal v_j and the values in descending order.
        let n = 9;
        let mut rng = crate::rng::Rng::new(5);
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in i..n {
                let x = rng.uniform() as f64 * 2.0 - 1.0;
                a[i * n + j] = x;
                a[j * n + i] = x;
            }
        }
        let (l, v) = symmetric_eigen(a.clone(), n);
        assert!(l.windows(2).all(|p| p[0] >= p[1]), "{l:?}");
        for i in 0..n {
            for j in 0..n {
                let rebuilt: f64 = (0..n).map(|k| l[k] * v[k][i] * v[k][j]).sum();
                assert!((rebuilt - a[i * n + j]).abs() < 1e-10);
                let dot: f64 = (0..n).map(|k| v[i][k] * v[j][k]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
            }
        }
    }
}
