//! The contrastive loss of Siamese pairs (Hadsell, Chopra and LeCun 2006,
//! "Dimensionality reduction by learning an invariant mapping"): pull the
//! two embeddings of a pair of one person together, push those of two
//! persons apart until they are `margin` away, and no further.
//!
//! How pairs arrive: both branches of the Siamese network are the same
//! network, so a batch of `m` pairs is one batch of `2m` images run
//! through it once, the two images of pair `i` at positions `2i` and
//! `2i + 1`; the target is `Target::Values` with one label per pair, 1 for
//! the same person and 0 for different persons.

use super::distance::{add_distance_grad, squared, Distance};
use super::{check_embeddings, with_scratch};
use crate::error::{Error, Result};
use crate::loss::{Loss, Target};

/// The contrastive loss: for pair `i` with embeddings `a = e_2i`,
/// `b = e_2i+1`, Euclidean distance `d = ||a - b||` and label `y` (1 same,
/// 0 different; values between weigh both terms),
/// `y d^2 + (1 - y) max(margin - d, 0)^2`, averaged over the pairs. This
/// is Hadsell et al.'s loss without their factor 1/2.
///
/// Takes `Target::Values` with one label in [0, 1] per pair; the batch
/// holds an even number of embeddings (see the module's docs). Where
/// `d = 0` on a pair of different persons the push has no direction and
/// its gradient is taken as 0.
///
/// ```
/// use cnn_runtime::embed::ContrastiveLoss;
/// use cnn_runtime::loss::{Loss, Target};
///
/// // Pair 0: (0, 0) and (3, 4), the same person; pair 1: (0, 0) and (0, 0.5), different.
/// let e = [0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.5];
/// let mut grad = [0.0; 8];
/// let loss = ContrastiveLoss::new(1.0)
///     .loss(&e, &[2], Target::Values(&[1.0, 0.0]), &mut grad)
///     .unwrap();
/// assert_eq!(loss, (25.0 + 0.25) / 2.0); // (5^2 + (1 - 0.5)^2) / 2
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContrastiveLoss {
    /// How far apart different persons must be (Euclidean); finite and at
    /// least 0.
    pub margin: f32,
}

impl Default for ContrastiveLoss {
    /// Margin 1.
    fn default() -> Self {
        ContrastiveLoss { margin: 1.0 }
    }
}

impl ContrastiveLoss {
    /// The contrastive loss with `margin`.
    pub fn new(margin: f32) -> Self {
        ContrastiveLoss { margin }
    }
}

impl Loss for ContrastiveLoss {
    fn name(&self) -> &str {
        "contrastive"
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        let name = self.name();
        let (n, dim) = check_embeddings(name, output, shape, grad)?;
        let Target::Values(labels) = target else {
            return Err(Error::InvalidArgument(format!(
                "{name}: takes Target::Values (one label per pair, 1 same, 0 different), not {}",
                super::target_kind(&target)
            )));
        };
        if !n.is_multiple_of(2) {
            return Err(Error::shape(
                format!("{name} output"),
                "an even number of embeddings (pair i is embeddings 2i and 2i + 1)",
                format!("{n} embeddings"),
            ));
        }
        let pairs = n / 2;
        if labels.len() != pairs {
            return Err(Error::shape(
                format!("{name} target"),
                format!("{pairs} labels, one per pair of the {n} embeddings"),
                labels.len(),
            ));
        }
        if let Some((i, y)) = labels
            .iter()
            .enumerate()
            .find(|(_, y)| !(0.0..=1.0).contains(*y))
        {
            return Err(Error::InvalidArgument(format!(
                "{name}: the label of pair {i} is {y}; labels are 1 (same) or 0 (different)"
            )));
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "{name}: the margin must be a finite number >= 0, got {}",
                self.margin
            )));
        }
        let margin = self.margin as f64;
        let weight = 1.0 / pairs as f64;
        with_scratch(|s| {
            s.grad.clear();
            s.grad.resize(output.len(), 0.0);
            let mut total = 0f64;
            for (i, &y) in labels.iter().enumerate() {
                let (a, b) = (2 * i, 2 * i + 1);
                let sq = squared(&output[a * dim..b * dim], &output[b * dim..(b + 1) * dim]);
                let d = sq.sqrt();
                let (y, push) = (y as f64, (margin - d).max(0.0));
                total += y * sq + (1.0 - y) * push * push;
                let g = &mut s.grad;
                add_distance_grad(
                    output,
                    dim,
                    Distance::SquaredEuclidean,
                    (a, b),
                    sq,
                    y * weight,
                    g,
                );
                if push > 0.0 {
                    let slope = -2.0 * (1.0 - y) * push * weight;
                    add_distance_grad(output, dim, Distance::Euclidean, (a, b), d, slope, g);
                }
            }
            for (dst, &src) in grad.iter_mut().zip(&s.grad) {
                *dst = src as f32;
            }
            Ok((total * weight) as f32)
        })
    }
}
