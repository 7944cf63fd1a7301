//! Weight initialisers, drawn from the crate's seeded [`Rng`] so that
//! `Net::new(seed)` gives the same weights on every platform.
//!
//! - [`he_normal`]: `N(0, 2 / fan_in)` (He et al., 2015), for layers followed
//!   by ReLU. This is PyTorch's `kaiming_normal_` (Keras' `he_normal`
//!   truncates at two standard deviations; we do not).
//! - [`glorot_uniform`]: `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`
//!   (Glorot and Bengio, 2010), Keras' default, elsewhere.
//!
//! Fans follow Keras: a dense layer `[n_in, n_out]` has `fan_in = n_in`,
//! `fan_out = n_out`; a convolution `[fh, fw, c_in, c_out]` has
//! `fan_in = fh*fw*c_in` and `fan_out = fh*fw*c_out` ([`conv_fans`]).

use crate::rng::Rng;

/// Fills `out` with independent draws from `N(0, 2 / fan_in)`.
/// A `fan_in` of 0 (a layer without inputs, so `out` is empty) counts as 1.
pub fn he_normal(rng: &mut Rng, fan_in: usize, out: &mut [f32]) {
    let std = (2.0 / fan_in.max(1) as f64).sqrt() as f32;
    for w in out {
        *w = std * rng.normal();
    }
}

/// Fills `out` with independent draws from `U(-l, l)`,
/// `l = sqrt(6 / (fan_in + fan_out))`. Fans summing to 0 count as 1.
pub fn glorot_uniform(rng: &mut Rng, fan_in: usize, fan_out: usize, out: &mut [f32]) {
    let fans = fan_in.saturating_add(fan_out).max(1);
    let limit = (6.0 / fans as f64).sqrt() as f32;
    for w in out {
        *w = rng.uniform_in(-limit, limit);
    }
}

/// `(fan_in, fan_out)` of a convolution kernel `[fh, fw, c_in, c_out]`,
/// as Keras counts them (saturating instead of overflowing).
pub fn conv_fans(fh: usize, fw: usize, c_in: usize, c_out: usize) -> (usize, usize) {
    let area = fh.saturating_mul(fw);
    (area.saturating_mul(c_in), area.saturating_mul(c_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(xs: &[f32]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        (mean, var)
    }

    #[test]
    fn same_seed_same_weights() {
        let (mut a, mut b) = (vec![0.0; 100], vec![0.0; 100]);
        he_normal(&mut Rng::new(42), 25, &mut a);
        he_normal(&mut Rng::new(42), 25, &mut b);
        assert_eq!(a, b);
        he_normal(&mut Rng::new(43), 25, &mut b);
        assert_ne!(a, b);
        glorot_uniform(&mut Rng::new(42), 25, 6, &mut a);
        glorot_uniform(&mut Rng::new(42), 25, 6, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn he_normal_has_variance_two_over_fan_in() {
        // fan_in = 5*5*6 = 150 (LeNet-5's conv2): variance 2/150 = 0.013333.
        let mut w = vec![f32::NAN; 200_000];
        he_normal(&mut Rng::new(1), 150, &mut w);
        let (mean, var) = moments(&w);
        let want: f64 = 2.0 / 150.0;
        // Standard error of the mean: sqrt(want / 200000) = 2.6e-4.
        assert!(mean.abs() < 1e-3, "mean {mean}");
        assert!((var / want - 1.0).abs() < 0.02, "var {var}, want {want}");
    }

    #[test]
    fn glorot_uniform_stays_in_its_limits_with_the_right_variance() {
        // Dense 400 -> 120 (LeNet-5's fc3): l = sqrt(6/520) = 0.107417, variance l^2/3 = 1/260.
        let mut w = vec![f32::NAN; 200_000];
        glorot_uniform(&mut Rng::new(2), 400, 120, &mut w);
        let limit = (6.0f32 / 520.0).sqrt();
        assert!(w.iter().all(|&x| (-limit..limit).contains(&x)));
        let max = w.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
        assert!(max > 0.99 * limit, "max {max}, limit {limit}");
        let (mean, var) = moments(&w);
        assert!(mean.abs() < 1e-3, "mean {mean}");
        assert!(
            (var * 260.0 - 1.0).abs() < 0.02,
            "var {var}, want {}",
            1.0 / 260.0
        );
    }

    #[test]
    fn conv_fans_follow_keras() {
        assert_eq!(conv_fans(5, 5, 6, 16), (150, 400));
        assert_eq!(conv_fans(usize::MAX, 2, 1, 1), (usize::MAX, usize::MAX));
    }

    #[test]
    fn zero_fans_do_not_divide_by_zero() {
        let mut w = vec![0.0; 4];
        he_normal(&mut Rng::new(0), 0, &mut w);
        glorot_uniform(&mut Rng::new(0), 0, 0, &mut w);
        assert!(w.iter().all(|x| x.is_finite()));
    }
}
