//! The error function, for the exact GELU (`x * Phi(x)`, `Phi` the normal
//! distribution's CDF). Our own rather than a crate's: three short
//! Chebyshev series evaluated in `f64`, each fitted by
//! `scripts/fit_erf.py` to a smooth function of `x` (relative error below
//! 2e-11, far under `f32`'s 6e-8, so the `f32` result is erf's value
//! rounded once):
//!
//! - `|x| <= 1`: `erf(x) = x * A(x^2)`;
//! - `1 < x <= 2.5`: `erfc(x) = exp(-x^2) * B(x)`;
//! - `x > 2.5`: `erfc(x) = exp(-x^2) / x * T(1 / x)`, which keeps its
//!   relative precision in the tail, where `1 - erf` would cancel.
//!
//! `Phi` is taken from `erfc` on the side where it is small, so a GELU of a
//! very negative input is its tiny value, not 0.

// max relative error 9.3e-13
const A: [f64; 9] = [
    0.9754769393826539,
    -0.14226120510371362,
    0.010035582187599756,
    -0.0005768764699767772,
    2.7419931252184222e-05,
    -1.1043175507637686e-06,
    3.848875541594556e-08,
    -1.180858279562414e-09,
    3.233418346421925e-11,
];
// max relative error 6.6e-12
const B: [f64; 13] = [
    0.3017138902444292,
    -0.10574990110152696,
    0.017104848474406742,
    -0.002587682261135072,
    0.00036961452680365613,
    -5.019856060517843e-05,
    6.517935170574574e-06,
    -8.126449775599391e-07,
    9.763690284579675e-08,
    -1.1338136566657957e-08,
    1.2757869248985585e-09,
    -1.3939984355182653e-10,
    1.481864298059264e-11,
];
// max relative error 1.8e-11
const T: [f64; 12] = [
    0.5495480779807943,
    -0.018976192136099388,
    -0.003960769171742344,
    0.000396627744380644,
    1.49142595382224e-05,
    -7.358281161514657e-06,
    5.478078539661884e-07,
    8.462658422885784e-08,
    -2.4489943092797728e-08,
    1.4692589199769133e-09,
    4.5721816124233354e-10,
    -1.2334767200303862e-10,
];

/// `sum c[k] T_k(t)` by Clenshaw's recurrence, `t` in [-1, 1].
#[inline(always)]
fn chebyshev<const N: usize>(c: &[f64; N], t: f64) -> f64 {
    let (mut b1, mut b2) = (0.0, 0.0);
    for &ck in c[1..].iter().rev() {
        let b0 = 2.0 * t * b1 - b2 + ck;
        b2 = b1;
        b1 = b0;
    }
    t * b1 - b2 + c[0]
}

/// `erfc(x)` for `x > 1`.
#[inline(always)]
fn erfc_above_one(x: f64) -> f64 {
    let e = (-x * x).exp();
    if x <= 2.5 {
        // [1, 2.5] onto [-1, 1].
        e * chebyshev(&B, (2.0 * x - 3.5) / 1.5)
    } else {
        // w = 1/x in (0, 0.4] onto [-1, 1].
        e / x * chebyshev(&T, 5.0 / x - 1.0)
    }
}

/// `erf(x)` in `f64` (to about 2e-11 relative).
#[inline(always)]
pub(super) fn erf64(x: f64) -> f64 {
    let a = x.abs();
    if a <= 1.0 {
        x * chebyshev(&A, 2.0 * x * x - 1.0)
    } else if a.is_nan() {
        x
    } else {
        (1.0 - erfc_above_one(a)).copysign(x)
    }
}

/// The standard normal CDF `Phi(x) = (1 + erf(x / sqrt 2)) / 2`, from
/// `erfc` where it is small.
#[inline(always)]
pub(super) fn phi64(x: f64) -> f64 {
    let z = x * std::f64::consts::FRAC_1_SQRT_2;
    if z.abs() <= 1.0 {
        0.5 + 0.5 * erf64(z)
    } else if z < 0.0 {
        0.5 * erfc_above_one(-z)
    } else if z.is_nan() {
        z
    } else {
        1.0 - 0.5 * erfc_above_one(z)
    }
}

/// The error function `erf(x) = 2 / sqrt(pi) * integral_0^x exp(-t^2) dt`,
/// correctly rounded to `f32` but for rare last-bit ties.
pub fn erf(x: f32) -> f32 {
    erf64(x as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values from Python's `math.erf` / `math.erfc` (double precision).
    const ERF: [(f64, f64); 8] = [
        (0.0, 0.0),
        (1e-5, 1.1283791670579e-05),
        (0.5, 0.5204998778130465),
        (1.0, 0.8427007929497149),
        (1.5, 0.9661051464753108),
        (2.5, 0.999593047982555),
        (3.0, 0.9999779095030014),
        (-0.75, -0.7111556336535151),
    ];
    const ERFC: [(f64, f64); 4] = [
        (1.2, 0.08968602177036465),
        (2.0, 0.004677734981047265),
        (4.0, 1.541725790028002e-08),
        (10.0, 2.088487583762545e-45),
    ];

    #[test]
    fn erf_matches_double_precision_values() {
        for (x, want) in ERF {
            let got = erf64(x);
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1e-300) + 1e-300,
                "erf({x}) = {got}, want {want}"
            );
            assert_eq!(erf(x as f32), erf64(x as f32 as f64) as f32);
        }
        for (x, want) in ERFC {
            let got = erfc_above_one(x);
            assert!(
                (got - want).abs() <= 1e-10 * want,
                "erfc({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn erf_is_odd_monotone_and_bounded() {
        let mut last = -1.0f64;
        for i in -8000..=8000 {
            let x = i as f64 * 1e-3;
            let y = erf64(x);
            assert_eq!(y, -erf64(-x), "erf is odd at {x}");
            assert!(y >= last - 1e-15 && y.abs() <= 1.0, "erf({x}) = {y}");
            last = y;
        }
        // Each piece meets the next without a step (to the fit's accuracy).
        for edge in [1.0, 2.5] {
            let (below, above) = (erf64(edge - 1e-12), erf64(edge + 1e-12));
            assert!((above - below).abs() < 1e-10, "step at {edge}");
        }
        assert!(erf(f32::NAN).is_nan());
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert_eq!(erf(f32::NEG_INFINITY), -1.0);
    }

    #[test]
    fn phi_keeps_the_tail() {
        // Phi(-10) = erfc(10 / sqrt 2) / 2 = 7.619853024160593e-24 (Python).
        let p = phi64(-10.0);
        assert!((p - 7.619_853_024_160_593e-24).abs() < 1e-9 * p, "{p}");
        assert_eq!(phi64(0.0), 0.5);
        assert!((phi64(1.0) - 0.841_344_746_068_542_9).abs() < 1e-12);
        assert!(phi64(f64::NAN).is_nan());
    }
}
