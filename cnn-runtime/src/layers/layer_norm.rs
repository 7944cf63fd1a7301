//! Layer normalisation as ConvNeXt uses it: PyTorch's `nn.LayerNorm(C)`
//! applied to NHWC data, so each position of each example is normalised
//! over its `c` channels (`[m, c]` rows, `m = batch * h * w`; on a flat
//! input, `m = batch` and the feature vector is one row), then scaled and
//! shifted per channel. This is group normalisation with one group and
//! one position per row, and these are its kernels with those sizes.
//! Training and inference compute the same thing.

use crate::error::Result;
use crate::layers::group_norm;

pub use crate::layers::group_norm::{ParamGrads, Params};

/// The data's size: `m` rows of `c` channels, `[m, c]`, each row
/// normalised on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Rows (`batch * h * w`, or `batch` on a flat input).
    pub m: usize,
    /// Channels.
    pub c: usize,
}

impl Shape {
    /// The same data as group norm sees it: a row per example, one
    /// position, one group.
    fn group_norm(self) -> group_norm::Shape {
        group_norm::Shape {
            n: self.m,
            hw: 1,
            c: self.c,
            groups: 1,
        }
    }
}

/// `y = gamma * (x - mean_r) / sqrt(var_r + eps) + beta` for each row r.
/// Overwrites y.
/// x, y: `[m, c]`  params: `[c]`
pub fn forward(shape: Shape, x: &[f32], params: Params, eps: f32, y: &mut [f32]) -> Result<()> {
    group_norm::forward(shape.group_norm(), x, params, eps, y)
}

/// Gradients of [`forward`] (statistics recomputed from x; beta is not
/// needed). Overwrites dx when given; adds into `dparams` when given.
/// x, dy, dx: `[m, c]`  gamma, dparams: `[c]`
pub fn backward(
    shape: Shape,
    x: &[f32],
    gamma: &[f32],
    eps: f32,
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dparams: Option<ParamGrads>,
) -> Result<()> {
    group_norm::backward(shape.group_norm(), x, gamma, eps, dy, dx, dparams)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, nan_filled, random};

    /// Each row by hand: mean, biased variance, scale and shift.
    #[test]
    fn each_row_is_normalised_over_its_channels() {
        let (m, c) = (3, 4);
        let x = random(m * c, 1);
        let gamma = [1.0, 2.0, 0.5, -1.0];
        let beta = [0.0, 1.0, -1.0, 0.25];
        let mut y = nan_filled(m * c);
        let params = Params {
            gamma: &gamma,
            beta: &beta,
        };
        forward(Shape { m, c }, &x, params, 1e-6, &mut y).unwrap();
        let mut want = Vec::new();
        for row in x.chunks(c) {
            let mean = row.iter().sum::<f32>() / c as f32;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / c as f32;
            for (k, v) in row.iter().enumerate() {
                want.push((v - mean) / (var + 1e-6).sqrt() * gamma[k] + beta[k]);
            }
        }
        assert_close(&y, &want, 1e-4, 1e-5);
    }
}
