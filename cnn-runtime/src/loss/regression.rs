//! The element-wise regression losses: mean squared error, and Huber /
//! smooth L1, which are squared near the target and linear far from it so
//! that an outlier pulls with a bounded force. All three compare each
//! output value with the target value at the same place
//! ([`Target::Values`]) and average over every value of the batch, as
//! PyTorch's `MSELoss`, `HuberLoss` and `SmoothL1Loss` do with
//! `reduction="mean"`.

use super::check::{layout, setting_at_least, target_len, wrong_kind};
use super::{Loss, Target};
use crate::error::Result;

/// Runs `f(o - t) = (loss, dloss/do)` over every value and averages:
/// `sum f / N`, gradient `f' / N`. Checks shapes and the target first.
fn elementwise(
    name: &str,
    output: &[f32],
    shape: &[usize],
    target: Target<'_>,
    grad: &mut [f32],
    f: impl Fn(f64) -> (f64, f64),
) -> Result<f32> {
    layout(name, output, shape, grad)?;
    let Target::Values(values) = target else {
        return Err(wrong_kind(
            name,
            &target,
            "Target::Values (one target per output value)",
        ));
    };
    target_len(
        name,
        values.len(),
        output.len(),
        "values, laid out as the output",
    )?;
    let g = 1.0 / output.len() as f64;
    let mut total = 0f64;
    for ((&o, &t), d) in output.iter().zip(values).zip(grad.iter_mut()) {
        let (loss, slope) = f(o as f64 - t as f64);
        total += loss;
        *d = (slope * g) as f32;
    }
    Ok((total * g) as f32)
}

/// Mean squared error, as PyTorch's `nn.MSELoss`:
/// `loss = sum_i (o_i - t_i)^2 / N` over the `N` values of the batch,
/// gradient `2 (o_i - t_i) / N`. Takes [`Target::Values`].
///
/// ```
/// use cnn_runtime::loss::{Loss, Mse, Target};
///
/// let mut grad = [0.0; 4];
/// let loss = Mse
///     .loss(&[1.0, 2.0, 3.0, 4.0], &[2], Target::Values(&[1.0, 2.0, 3.0, 2.0]), &mut grad)
///     .unwrap();
/// assert_eq!(loss, 1.0); // (4 - 2)^2 / 4
/// assert_eq!(grad, [0.0, 0.0, 0.0, 1.0]); // 2 (4 - 2) / 4
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mse;

impl Loss for Mse {
    fn name(&self) -> &str {
        "mse"
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        elementwise("mse", output, shape, target, grad, |d| (d * d, 2.0 * d))
    }
}

/// The Huber loss, as PyTorch's `nn.HuberLoss`: for `d = o - t`,
/// `0.5 d^2` where `|d| <= delta` and `delta (|d| - 0.5 delta)` beyond,
/// averaged over the `N` values of the batch; the gradient is `d / N`
/// inside and `delta sign(d) / N` outside. `delta` must be positive
/// (PyTorch's default is 1). Takes [`Target::Values`].
///
/// ```
/// use cnn_runtime::loss::{Huber, Loss, Target};
///
/// let huber = Huber { delta: 1.0 };
/// let mut grad = [0.0; 2];
/// let loss = huber
///     .loss(&[0.5, 3.0], &[2], Target::Values(&[0.0, 0.0]), &mut grad)
///     .unwrap();
/// // (0.5 * 0.5^2 + 1 * (3 - 0.5)) / 2
/// assert!((loss - (0.125 + 2.5) / 2.0).abs() < 1e-6);
/// assert_eq!(grad, [0.25, 0.5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Huber {
    /// Where the loss turns from quadratic to linear (positive).
    pub delta: f32,
}

impl Default for Huber {
    /// `delta = 1`, PyTorch's default.
    fn default() -> Self {
        Self { delta: 1.0 }
    }
}

impl Huber {
    /// The Huber loss with the given `delta` (positive; anything else is
    /// an `Err` from [`Loss::loss`]).
    pub fn new(delta: f32) -> Self {
        Self { delta }
    }
}

impl Loss for Huber {
    fn name(&self) -> &str {
        "huber"
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        setting_at_least("huber", "delta", self.delta, f32::MIN_POSITIVE)?;
        let delta = self.delta as f64;
        elementwise("huber", output, shape, target, grad, |d| {
            if d.abs() <= delta {
                (0.5 * d * d, d)
            } else {
                (delta * (d.abs() - 0.5 * delta), delta * d.signum())
            }
        })
    }
}

/// Smooth L1, as PyTorch's `nn.SmoothL1Loss` (Fast R-CNN's box loss): for
/// `d = o - t`, `0.5 d^2 / beta` where `|d| < beta` and `|d| - 0.5 beta`
/// beyond, averaged over the `N` values of the batch; the gradient is
/// `d / (beta N)` inside and `sign(d) / N` outside. `beta = 0` is the L1
/// loss `|d|` (gradient `sign(d)`, 0 at `d = 0`). It is Huber divided by
/// `beta`. `beta` must be at least 0 (PyTorch's default is 1). Takes
/// [`Target::Values`].
///
/// ```
/// use cnn_runtime::loss::{Loss, SmoothL1, Target};
///
/// let mut grad = [0.0; 2];
/// let loss = SmoothL1 { beta: 0.5 }
///     .loss(&[0.25, -2.0], &[2], Target::Values(&[0.0, 0.0]), &mut grad)
///     .unwrap();
/// // (0.5 * 0.25^2 / 0.5 + (2 - 0.25)) / 2
/// assert!((loss - (0.0625 + 1.75) / 2.0).abs() < 1e-6);
/// assert_eq!(grad, [0.25, -0.5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmoothL1 {
    /// Where the loss turns from quadratic to linear (at least 0).
    pub beta: f32,
}

impl Default for SmoothL1 {
    /// `beta = 1`, PyTorch's default.
    fn default() -> Self {
        Self { beta: 1.0 }
    }
}

impl SmoothL1 {
    /// Smooth L1 with the given `beta` (at least 0; anything else is an
    /// `Err` from [`Loss::loss`]).
    pub fn new(beta: f32) -> Self {
        Self { beta }
    }
}

impl Loss for SmoothL1 {
    fn name(&self) -> &str {
        "smooth_l1"
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        setting_at_least("smooth_l1", "beta", self.beta, 0.0)?;
        let beta = self.beta as f64;
        elementwise("smooth_l1", output, shape, target, grad, |d| {
            if d.abs() < beta {
                (0.5 * d * d / beta, d / beta)
            } else {
                // signum(0.0) is 1 in Rust; the L1 loss's slope at 0 is 0,
                // as PyTorch takes it.
                let sign = if d == 0.0 { 0.0 } else { d.signum() };
                (d.abs() - 0.5 * beta, sign)
            }
        })
    }
}
