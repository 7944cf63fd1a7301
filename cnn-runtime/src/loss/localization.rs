//! The course's loss for classification with localization (part 2, week
//! 3): each output row is `[pc, bx, by, bh, bw, c_1..c_K]`, whether there
//! is an object, its box, and its class. `pc` is always learned; the box
//! and the class only where there is an object, since they mean nothing
//! otherwise ("don't care"). The row holds raw outputs (a logit for `pc`,
//! the box numbers, class logits), so the loss does its own sigmoid and
//! softmax, stably, and the network ends in no activation. The same rows
//! on a grid (`[s, s, 5 + K]`) are a YOLO output without anchors. The
//! small decoders at the end read a row back as a probability, a box and
//! a class.

use super::binary_cross_entropy::{logistic, sigmoid};
use super::check::{layout, setting_at_least, target_len, wrong_kind};
use super::metrics::argmax;
use super::{Loss, Target};
use crate::error::{Error, Result};
use crate::layers::activation::softmax_row;

const NAME: &str = "localization";

/// Index of the presence logit `pc` in a row.
pub const PRESENCE: usize = 0;
/// Index of `bx`, the first of the four box numbers `bx, by, bh, bw`.
pub const BOX: usize = 1;
/// Index of the first class logit `c_1`.
pub const FIRST_CLASS: usize = 5;

/// The localization loss. Each example's output is one row
/// `[pc, bx, by, bh, bw, c_1..c_K]` (shape `[5 + K]`, `K >= 1`) or a grid
/// of them (`[s, s, 5 + K]`); the [`Target::Values`] rows have the same
/// layout with `pc` 0 or 1, the true box, and the class one-hot (any
/// probability row is read as a soft target). For one row `o` and its
/// target `t`:
///
/// ```text
/// loss = presence_weight * bce(o_pc, t_pc)
///      + t_pc * ( box_weight   * sum_{j in bx,by,bh,bw} (o_j - t_j)^2
///               + class_weight * -sum_k t_ck log softmax(o_c)_k )
/// bce(z, y) = max(z, 0) - z y + ln(1 + e^-|z|)   (-log s(z) or -log(1 - s(z)))
/// ```
///
/// Reduction: the terms of every row of an example are summed (one row, or
/// the `s * s` cells of a grid), then averaged over the examples of the
/// batch; the gradient is that of the mean. Where `t_pc = 0`, the box and
/// class targets are not read and their gradient is 0.
///
/// A target `pc` other than 0 or 1 is an `Err`, as is a weight that is
/// negative or not finite. Not fused: the loss applies the sigmoid and
/// softmax itself, to the parts of the row they belong to.
///
/// ```
/// use cnn_runtime::loss::localization::{bounding_box, class, presence_probability};
/// use cnn_runtime::loss::{Localization, Loss, Target};
///
/// // Two examples, two classes: [pc, bx, by, bh, bw, c1, c2].
/// let output = [
///     3.0, 0.5, 0.5, 0.2, 0.3, 2.0, -1.0, // confident: an object of class 0
///     -4.0, 0.1, 0.9, 0.1, 0.1, 0.0, 0.0, // confident: nothing here
/// ];
/// let target = [
///     1.0, 0.5, 0.4, 0.2, 0.3, 1.0, 0.0,
///     0.0, 9.0, 9.0, 9.0, 9.0, 0.0, 0.0, // no object: the rest is not read
/// ];
/// let mut grad = [0.0; 14];
/// let loss = Localization::default()
///     .with_box_weight(2.0)
///     .loss(&output, &[7], Target::Values(&target), &mut grad)
///     .unwrap();
/// assert!(loss > 0.0 && loss < 0.2);
/// assert!(grad[8..13].iter().all(|&g| g == 0.0));
///
/// let row = &output[..7];
/// assert!(presence_probability(row) > 0.95);
/// assert_eq!(bounding_box(row), [0.5, 0.5, 0.2, 0.3]);
/// assert_eq!(class(row), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Localization {
    /// Weight of the logistic loss on `pc` (1 by default).
    pub presence_weight: f32,
    /// Weight of the squared error on the box, where there is an object
    /// (1 by default).
    pub box_weight: f32,
    /// Weight of the cross-entropy on the class, where there is an object
    /// (1 by default).
    pub class_weight: f32,
}

impl Default for Localization {
    /// Every weight 1: the course's loss.
    fn default() -> Self {
        Self {
            presence_weight: 1.0,
            box_weight: 1.0,
            class_weight: 1.0,
        }
    }
}

impl Localization {
    /// The loss with every weight 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same loss with `presence_weight` set.
    pub fn with_presence_weight(self, presence_weight: f32) -> Self {
        Self {
            presence_weight,
            ..self
        }
    }

    /// The same loss with `box_weight` set.
    pub fn with_box_weight(self, box_weight: f32) -> Self {
        Self { box_weight, ..self }
    }

    /// The same loss with `class_weight` set.
    pub fn with_class_weight(self, class_weight: f32) -> Self {
        Self {
            class_weight,
            ..self
        }
    }
}

impl Loss for Localization {
    fn name(&self) -> &str {
        NAME
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        let l = layout(NAME, output, shape, grad)?;
        setting_at_least(NAME, "presence_weight", self.presence_weight, 0.0)?;
        setting_at_least(NAME, "box_weight", self.box_weight, 0.0)?;
        setting_at_least(NAME, "class_weight", self.class_weight, 0.0)?;
        let width = l.channels;
        if width <= FIRST_CLASS {
            return Err(Error::InvalidArgument(format!(
                "{NAME}: a row has {width} values, but [pc, bx, by, bh, bw, c_1..c_K] needs \
                 at least 6 (5 + K with K >= 1 classes); the last axis of {shape:?} is the row"
            )));
        }
        let Target::Values(values) = target else {
            return Err(wrong_kind(
                NAME,
                &target,
                "Target::Values (rows [pc, bx, by, bh, bw, one-hot class])",
            ));
        };
        target_len(
            NAME,
            values.len(),
            output.len(),
            "values, laid out as the output",
        )?;
        if let Some(row) = values
            .chunks_exact(width)
            .position(|t| t[PRESENCE] != 0.0 && t[PRESENCE] != 1.0)
        {
            return Err(Error::InvalidArgument(format!(
                "{NAME}: the target pc of row {row} is {}, not 0 or 1",
                values[row * width + PRESENCE]
            )));
        }

        let g = 1.0 / l.batch as f64;
        let (pw, bw, cw) = (
            self.presence_weight as f64,
            self.box_weight as f64,
            self.class_weight as f64,
        );
        let mut total = 0f64;
        for ((o, t), d) in output
            .chunks_exact(width)
            .zip(values.chunks_exact(width))
            .zip(grad.chunks_exact_mut(width))
        {
            let (bce, dz) = logistic(o[PRESENCE], t[PRESENCE]);
            total += pw * bce;
            d[PRESENCE] = (pw * dz * g) as f32;
            if t[PRESENCE] == 0.0 {
                d[BOX..].fill(0.0);
                continue;
            }
            for j in BOX..FIRST_CLASS {
                let diff = o[j] as f64 - t[j] as f64;
                total += bw * diff * diff;
                d[j] = (bw * 2.0 * diff * g) as f32;
            }
            // Softmax cross-entropy against the class row q:
            // ln(sum) * sum_q - sum_k q_k (z_k - max), gradient p * sum_q - q.
            let (z, q, dc) = (&o[FIRST_CLASS..], &t[FIRST_CLASS..], &mut d[FIRST_CLASS..]);
            let (max, sum) = softmax_row(z, dc);
            let sum_q: f64 = q.iter().map(|&v| v as f64).sum();
            let cross: f64 = z
                .iter()
                .zip(q)
                .map(|(&zk, &qk)| qk as f64 * (zk - max) as f64)
                .sum();
            total += cw * (sum_q * (sum as f64).ln() - cross);
            for (v, &qk) in dc.iter_mut().zip(q) {
                *v = (cw * (*v as f64 * sum_q - qk as f64) * g) as f32;
            }
        }
        Ok((total * g) as f32)
    }
}

/// The probability that the row holds an object: `s(pc)`, the logistic
/// function of its first value.
///
/// # Panics
///
/// If `row` is empty.
pub fn presence_probability(row: &[f32]) -> f32 {
    sigmoid(row[PRESENCE])
}

/// The row's box `[bx, by, bh, bw]`: its centre, height and width, as the
/// network gave them.
///
/// # Panics
///
/// If `row` has fewer than 5 values.
pub fn bounding_box(row: &[f32]) -> [f32; 4] {
    [row[BOX], row[BOX + 1], row[BOX + 2], row[BOX + 3]]
}

/// The row's class: the index (from 0) of its largest class logit, the
/// first one on a tie.
///
/// # Panics
///
/// If `row` has no class (fewer than 6 values).
pub fn class(row: &[f32]) -> usize {
    assert!(
        row.len() > FIRST_CLASS,
        "a localization row [pc, bx, by, bh, bw, c_1..c_K] needs at least 6 values, got {}",
        row.len()
    );
    argmax(&row[FIRST_CLASS..])
}

/// The row's class probabilities, `softmax(c_1..c_K)`, written to `probs`
/// (`K` values).
///
/// # Panics
///
/// If `probs` does not have as many values as the row has classes.
pub fn class_probabilities(row: &[f32], probs: &mut [f32]) {
    let logits = &row[FIRST_CLASS.min(row.len())..];
    assert_eq!(
        probs.len(),
        logits.len(),
        "class_probabilities: the row has {} classes",
        logits.len()
    );
    softmax_row(logits, probs);
}
