//! Test helpers shared by every kernel's tests (and, with the `testing`
//! feature, by the facade's integration tests): seeded random tensors,
//! NaN-filled outputs so that a skipped element shows, a relative closeness
//! check, and a central-difference gradient check.

use crate::rng::Rng;

/// `len` values uniform in [-1, 1), fixed by `seed`.
pub fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..len).map(|_| r.uniform_in(-1.0, 1.0)).collect()
}

/// An output buffer full of NaN: any element a kernel forgets to write
/// stays NaN and fails [`assert_close`].
pub fn nan_filled(len: usize) -> Vec<f32> {
    vec![f32::NAN; len]
}

/// Asserts `|got - want| <= abs + rel * |want|` element by element, and that
/// the lengths agree; the message names the first element that is off.
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= abs + rel * w.abs();
        assert!(ok, "element {i}: got {g}, want {w} (rel {rel}, abs {abs})");
    }
}

/// Central-difference gradient check of `analytic` (the gradient a backward
/// pass computed) against `loss` evaluated at `x ± step` for each element
/// of `x` in `indices` (all of them when `None`). `loss` reads `x`.
/// Panics with the first element whose error exceeds `tol` in
/// `|a - n| / max(1, |a|, |n|)`.
#[track_caller]
pub fn gradcheck(
    x: &mut [f32],
    analytic: &[f32],
    step: f32,
    tol: f32,
    indices: Option<&[usize]>,
    mut loss: impl FnMut(&[f32]) -> f64,
) {
    assert_eq!(
        x.len(),
        analytic.len(),
        "gradient length differs from the input's"
    );
    let all: Vec<usize>;
    let idx = match indices {
        Some(i) => i,
        None => {
            all = (0..x.len()).collect();
            &all
        }
    };
    for &i in idx {
        let orig = x[i];
        x[i] = orig + step;
        let up = loss(x);
        x[i] = orig - step;
        let down = loss(x);
        x[i] = orig;
        let numeric = ((up - down) / (2.0 * step as f64)) as f32;
        let a = analytic[i];
        let err = (a - numeric).abs() / 1f32.max(a.abs()).max(numeric.abs());
        assert!(
            err <= tol,
            "gradient element {i}: analytic {a}, numeric {numeric} (error {err} > {tol})"
        );
    }
}

/// `sum(y * r)` in f64: the scalar loss whose gradient with respect to `y`
/// is `r`, used to drive backward passes in gradient checks.
pub fn dot(y: &[f32], r: &[f32]) -> f64 {
    y.iter().zip(r).map(|(&a, &b)| a as f64 * b as f64).sum()
}
