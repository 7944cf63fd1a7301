//! Losses: what a network's output is compared with, and the gradient that
//! starts backward. A [`Loss`] takes a batch of outputs (row-major, one
//! example after the other, NHWC for images), the batch's [`Target`], and
//! writes the gradient of the batch's mean loss with respect to the
//! outputs. The held forward pass (`Pass::backward_loss`) and
//! [`crate::train::Model`] call it; so can anyone, on plain slices.
//!
//! A loss that is the natural partner of a final activation says so with
//! [`Loss::fused`]: cross-entropy with a final `Softmax`, binary
//! cross-entropy with a final `Sigmoid`. When the network ends in that
//! activation the loss is handed the activation's input (the logits) and
//! returns the gradient with respect to them, which is both stable (no log
//! of 0, no overflow) and cheap (`p - y`); when the network does not end in
//! it, the outputs themselves are taken as logits, as PyTorch's
//! `CrossEntropyLoss` and `BCEWithLogitsLoss` take them.

use crate::error::Result;

/// What a batch of outputs is compared with.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// One class index per example (`[batch]`).
    Classes(&'a [usize]),
    /// One class index per output position (`[batch, positions]`, the
    /// positions of an image output in row-major order): a label map, for
    /// a per-position softmax (segmentation).
    LabelMap(&'a [usize]),
    /// Values laid out as the outputs are (`[batch, per_example]`): the
    /// regression targets, one-hot rows, the course's `[pc, bx, by, bh,
    /// bw, c..]` rows, a YOLO target volume.
    Values(&'a [f32]),
}

/// The final activation a loss is fused with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fused {
    /// Softmax over the channels (the last axis) of each position.
    Softmax,
    /// The logistic function, element by element.
    Sigmoid,
}

/// A loss over a batch: its mean value and the gradient of that mean with
/// respect to the outputs.
pub trait Loss: Send + Sync {
    /// A short name for logs and curves (`"mse"`).
    fn name(&self) -> &str;

    /// The final activation this loss is fused with, if any (see the
    /// module's docs). `None` (the default): the loss reads the network's
    /// outputs as they are, after any final activation.
    fn fused(&self) -> Option<Fused> {
        None
    }

    /// The batch's mean loss; overwrites `grad` (same length as `output`)
    /// with its gradient with respect to `output`. `output` holds `batch`
    /// examples of shape `shape` (`[n]`, or `[h, w, c]` and so on), one
    /// after the other; `batch = output.len() / shape.iter().product()`.
    /// A target of the wrong kind or length is an `Err`, and so is a class
    /// out of range; nothing is written to `grad` then.
    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32>;
}
