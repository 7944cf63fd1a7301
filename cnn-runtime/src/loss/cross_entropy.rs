//! Categorical cross-entropy, fused with a final softmax: the loss of every
//! classifier, and of segmentation when the softmax runs at each position
//! of an image output. It reads logits and works from
//! `log softmax(z)_k = (z_k - max z) - ln sum_j exp(z_j - max z)`, so no
//! logit is too large, and its gradient with respect to the logits is
//! `softmax(z) - q` (q the target row). Hard labels without smoothing go
//! through [`crate::layers::loss::softmax_cross_entropy`], the kernel the
//! classifiers' `train_step` uses, so the two agree to the last bit.

use super::check::{labels_in_range, layout, setting_at_least, target_len};
use super::{Fused, Loss, Target};
use crate::error::{Error, Result};
use crate::layers::activation::softmax_row;
use crate::layers::loss::softmax_cross_entropy;

const NAME: &str = "cross_entropy";

/// Softmax cross-entropy over the last axis (the channels) of each
/// position, as PyTorch's `nn.CrossEntropyLoss` (with `reduction="mean"`
/// and no class weights).
///
/// For a row of logits `z` over `C` classes and a target distribution `q`,
/// `loss = -sum_k q_k log softmax(z)_k`; the batch's loss is the mean over
/// its rows, which are the examples for an output of shape `[C]` and
/// `batch * positions` for an image output `[h, w, C]` (PyTorch's mean
/// over `N * H * W` for `(N, C, H, W)`). With `label_smoothing = e`, the
/// target is mixed with the uniform distribution:
/// `q = (1 - e) * target + e / C`. The gradient with respect to the logits
/// is `(softmax(z) * sum_k q_k - q) / rows` (`softmax(z) - q` over rows for
/// a target that sums to 1).
///
/// Targets:
/// - [`Target::Classes`]: one class per example, for an output of one
///   position (`[C]`); `q` is one-hot.
/// - [`Target::LabelMap`]: one class per position (`[batch, h, w]`
///   row-major), for an image output `[h, w, C]`.
/// - [`Target::Values`]: a probability row per position, laid out as the
///   output (soft targets, distillation); rows are not checked to sum to
///   1, as PyTorch does not check them.
///
/// Fused with [`Fused::Softmax`]: give it the logits.
///
/// ```
/// use cnn_runtime::loss::{CrossEntropy, Loss, Target};
///
/// // Two examples of three classes; equal logits give probability 1/3
/// // to every class, so the loss is ln 3.
/// let logits = [0.5; 6];
/// let mut grad = [0.0; 6];
/// let loss = CrossEntropy::new()
///     .loss(&logits, &[3], Target::Classes(&[2, 0]), &mut grad)
///     .unwrap();
/// assert!((loss - 3f32.ln()).abs() < 1e-6);
/// // (softmax - onehot) / batch
/// assert!((grad[2] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-6);
/// assert!((grad[1] - (1.0 / 3.0) / 2.0).abs() < 1e-6);
///
/// // A 1x2 label map of two classes: mean over the batch's positions.
/// let map_logits = [10.0, 0.0, 0.0, 10.0];
/// let mut map_grad = [0.0; 4];
/// let loss = CrossEntropy::new()
///     .loss(&map_logits, &[1, 2, 2], Target::LabelMap(&[0, 1]), &mut map_grad)
///     .unwrap();
/// assert!(loss < 1e-4);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CrossEntropy {
    /// The weight `e` in `[0, 1]` of the uniform distribution mixed into
    /// the target (PyTorch's `label_smoothing`); 0 by default.
    pub label_smoothing: f32,
}

impl CrossEntropy {
    /// Cross-entropy without label smoothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same loss with `label_smoothing` set (between 0 and 1; a value
    /// outside is an `Err` from [`Loss::loss`]).
    pub fn with_label_smoothing(self, label_smoothing: f32) -> Self {
        Self { label_smoothing }
    }
}

impl Loss for CrossEntropy {
    fn name(&self) -> &str {
        NAME
    }

    fn fused(&self) -> Option<Fused> {
        Some(Fused::Softmax)
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        let l = layout(NAME, output, shape, grad)?;
        let smoothing = self.label_smoothing;
        setting_at_least(NAME, "label_smoothing", smoothing, 0.0)?;
        if smoothing > 1.0 {
            return Err(Error::InvalidArgument(format!(
                "{NAME}: label_smoothing must be at most 1, got {smoothing}"
            )));
        }
        let (rows, classes) = (l.rows(), l.channels);
        let labels = match target {
            Target::Classes(labels) => {
                if l.positions != 1 {
                    return Err(Error::InvalidArgument(format!(
                        "{NAME}: Target::Classes gives one class per example, but each example \
                         is {} positions of {classes} classes (shape {shape:?}); give \
                         Target::LabelMap, one class per position",
                        l.positions
                    )));
                }
                target_len(NAME, labels.len(), l.batch, "class labels, one per example")?;
                labels
            }
            Target::LabelMap(labels) => {
                target_len(NAME, labels.len(), rows, "class labels, one per position")?;
                labels
            }
            Target::Values(values) => {
                target_len(
                    NAME,
                    values.len(),
                    output.len(),
                    "values, laid out as the output",
                )?;
                return Ok(soft(classes, output, values, smoothing, grad));
            }
        };
        labels_in_range(labels, classes)?;
        if smoothing == 0.0 {
            softmax_cross_entropy(rows, classes, output, labels, 1.0, grad)
        } else {
            Ok(smoothed(classes, output, labels, smoothing, grad))
        }
    }
}

/// Hard labels mixed with the uniform distribution: `q_k = e / C` plus
/// `1 - e` on the label. Shapes and labels are checked.
fn smoothed(classes: usize, logits: &[f32], labels: &[usize], e: f32, grad: &mut [f32]) -> f32 {
    let rows = labels.len();
    let g = 1.0 / rows as f32;
    let uniform = e / classes as f32;
    let mut total = 0f64;
    for ((z, d), &label) in logits
        .chunks_exact(classes)
        .zip(grad.chunks_exact_mut(classes))
        .zip(labels)
    {
        let (max, sum) = softmax_row(z, d);
        // -sum_k q_k log p_k = ln(sum) * sum_k q_k - sum_k q_k (z_k - max),
        // with sum_k q_k = 1.
        let spread: f64 = z.iter().map(|&v| (v - max) as f64).sum();
        let cross = uniform as f64 * spread + (1.0 - e) as f64 * (z[label] - max) as f64;
        total += (sum as f64).ln() - cross;
        for v in d.iter_mut() {
            *v = (*v - uniform) * g;
        }
        d[label] -= (1.0 - e) * g;
    }
    (total / rows as f64) as f32
}

/// Soft targets (rows of `values`, smoothed by `e`): the loss is
/// `sum_q ln(sum) - sum_k q_k (z_k - max)` per row and the gradient
/// `(p * sum_q - q) / rows`, where `sum_q` is the row's total (1 for a
/// probability row). Shapes are checked.
fn soft(classes: usize, logits: &[f32], values: &[f32], e: f32, grad: &mut [f32]) -> f32 {
    let rows = logits.len() / classes;
    let g = 1.0 / rows as f32;
    let uniform = e / classes as f32;
    let keep = 1.0 - e;
    let mut total = 0f64;
    for ((z, d), t) in logits
        .chunks_exact(classes)
        .zip(grad.chunks_exact_mut(classes))
        .zip(values.chunks_exact(classes))
    {
        let (max, sum) = softmax_row(z, d);
        let mut sum_q = 0f64;
        let mut cross = 0f64;
        for (&zk, &tk) in z.iter().zip(t) {
            let q = (keep * tk + uniform) as f64;
            sum_q += q;
            cross += q * (zk - max) as f64;
        }
        total += sum_q * (sum as f64).ln() - cross;
        let sum_q = sum_q as f32;
        for (v, &tk) in d.iter_mut().zip(t) {
            *v = (*v * sum_q - (keep * tk + uniform)) * g;
        }
    }
    (total / rows as f64) as f32
}
