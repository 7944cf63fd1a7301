//! Binary cross-entropy, fused with a final sigmoid: the loss of
//! multi-label outputs (each output an independent yes/no) and of binary
//! masks. It reads logits and uses
//! `-[y ln s(z) + (1 - y) ln(1 - s(z))] = max(z, 0) - z y + ln(1 + e^-|z|)`,
//! which never takes the log of 0 nor overflows, with gradient
//! `s(z) - y`. The localization loss reuses [`logistic`] for its
//! presence term.

use super::check::{kind, labels_in_range, layout, target_len};
use super::{Fused, Loss, Target};
use crate::error::{Error, Result};

const NAME: &str = "binary_cross_entropy";

/// Binary cross-entropy from logits, element by element, as PyTorch's
/// `nn.BCEWithLogitsLoss` (`reduction="mean"`, no weights).
///
/// For a logit `z` and a target `y` in `[0, 1]`,
/// `loss = max(z, 0) - z * y + ln(1 + exp(-|z|))`
/// (`= -y ln s(z) - (1 - y) ln(1 - s(z))`, `s` the logistic function); the
/// batch's loss is the mean over all `N` output values, and its gradient
/// `(s(z) - y) / N`.
///
/// Targets:
/// - [`Target::Values`]: one target in `[0, 1]` per output value (several
///   labels per example, soft labels); a value outside, or NaN, is an `Err`.
/// - [`Target::Classes`]: labels 0 or 1, one per example, for an output of
///   a single value (`[1]`).
/// - [`Target::LabelMap`]: labels 0 or 1, one per position, for a
///   one-channel map (`[h, w, 1]`, a binary mask).
///
/// Fused with [`Fused::Sigmoid`]: give it the logits.
///
/// ```
/// use cnn_runtime::loss::{BinaryCrossEntropy, Loss, Target};
///
/// // A logit of 0 is probability 1/2: the loss is ln 2 whatever the target.
/// let logits = [0.0, 0.0, 0.0, 0.0];
/// let mut grad = [0.0; 4];
/// let loss = BinaryCrossEntropy
///     .loss(&logits, &[2], Target::Values(&[1.0, 0.0, 0.0, 1.0]), &mut grad)
///     .unwrap();
/// assert!((loss - 2f32.ln()).abs() < 1e-6);
/// // (s(z) - y) / N
/// assert!((grad[0] - (0.5 - 1.0) / 4.0).abs() < 1e-7);
/// assert!((grad[1] - 0.5 / 4.0).abs() < 1e-7);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BinaryCrossEntropy;

impl Loss for BinaryCrossEntropy {
    fn name(&self) -> &str {
        NAME
    }

    fn fused(&self) -> Option<Fused> {
        Some(Fused::Sigmoid)
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        let l = layout(NAME, output, shape, grad)?;
        let n = output.len();
        let g = 1.0 / n as f64;
        let mut total = 0f64;
        match target {
            Target::Values(values) => {
                target_len(NAME, values.len(), n, "values, laid out as the output")?;
                if let Some(i) = values.iter().position(|y| !(0.0..=1.0).contains(y)) {
                    return Err(Error::InvalidArgument(format!(
                        "{NAME}: target {} at position {i} is outside [0, 1]; binary \
                         cross-entropy compares probabilities (scale a 0..255 mask to 0..1)",
                        values[i]
                    )));
                }
                for ((&z, &y), d) in output.iter().zip(values).zip(grad.iter_mut()) {
                    let (loss, dz) = logistic(z, y);
                    total += loss;
                    *d = (dz * g) as f32;
                }
            }
            Target::Classes(labels) | Target::LabelMap(labels) => {
                let per_position = matches!(target, Target::LabelMap(_));
                if l.channels != 1 || (!per_position && l.positions != 1) {
                    return Err(Error::InvalidArgument(format!(
                        "{NAME}: {} labels (0 or 1) need one output value per {}, but each \
                         example has shape {shape:?}; give Target::Values for several outputs",
                        kind(&target),
                        if per_position { "position" } else { "example" },
                    )));
                }
                let what = if per_position {
                    "labels, one per position"
                } else {
                    "labels, one per example"
                };
                target_len(NAME, labels.len(), n, what)?;
                labels_in_range(labels, 2)?;
                for ((&z, &label), d) in output.iter().zip(labels).zip(grad.iter_mut()) {
                    let (loss, dz) = logistic(z, label as f32);
                    total += loss;
                    *d = (dz * g) as f32;
                }
            }
        }
        Ok((total * g) as f32)
    }
}

/// The logistic loss of one logit `z` against a target `y` in `[0, 1]`,
/// and its derivative with respect to `z`:
/// `(max(z, 0) - z y + ln(1 + e^-|z|), s(z) - y)`, in f64. The
/// exponential is of `-|z|`, at most 1, so neither overflows.
pub(crate) fn logistic(z: f32, y: f32) -> (f64, f64) {
    let (z, y) = (z as f64, y as f64);
    let e = (-z.abs()).exp();
    let loss = z.max(0.0) - z * y + e.ln_1p();
    // s(z) = 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) below.
    let s = if z >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (loss, s - y)
}

/// The logistic function `1 / (1 + e^-z)`, without overflow for any `z`.
pub(crate) fn sigmoid(z: f32) -> f32 {
    let e = (-z.abs()).exp();
    if z >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}
