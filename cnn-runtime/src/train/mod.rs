//! The Keras-style workflow around a generated network: a [`Dataset`],
//! [`Model::compile`] (network + optimizer), [`Model::fit`] with
//! validation, callbacks, a progress bar and a [`History`], and
//! [`Model::evaluate`]. Checkpoints (weights, optimizer state, epoch, RNG
//! state) are written atomically, so a crash never loses one already saved,
//! and resuming from one gives exactly the run that was not interrupted.
//! At test time, [`TenCrop`] and [`Ensemble`] average several predictions
//! of any [`Classifier`] (every network is one).

pub mod callbacks;
pub mod checkpoint;
pub mod classifier;
pub mod curves;
pub mod ensemble;
pub mod fit;
pub mod history;
pub mod metric;
pub mod progress;
#[cfg(test)]
mod tests;
pub mod tta;

/// The data side, re-exported where the training loop's users look for it.
pub use crate::data::augment::{Augment, RandomShift};
pub use crate::data::dataset::{Batcher, Dataset};
pub use callbacks::{
    Callback, Control, EarlyStopping, EpochEnd, LearningRateScheduler, ModelCheckpoint, Monitor,
    ReduceLrOnPlateau,
};
pub use classifier::{evaluate, predict, Classifier};
pub use ensemble::Ensemble;
pub use fit::{Evaluation, Fit, Model};
pub use history::{EpochLog, History};
pub use metric::Metric;
pub use tta::TenCrop;

use crate::loss::{Fused, Loss, Target};
use crate::optim::Optimizer;
use crate::Result;

/// One named parameter tensor inside a network's flat parameter buffer
/// (the generated `TENSORS` table).
pub use crate::net::TensorInfo;

/// What one training step reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchStats {
    /// Mean cross-entropy over the batch.
    pub loss: f32,
    /// Examples whose highest output was the label.
    pub correct: usize,
}

/// What the training loop needs from a network. The `network!` macro
/// implements it for every generated struct.
pub trait Network {
    /// One example's shape: `[h, w, c]` or `[n]`.
    fn input_shape(&self) -> &'static [usize];
    /// Number of classes (outputs).
    fn classes(&self) -> usize;
    /// Forward in training mode, backward and one optimizer step on a batch
    /// `x: [batch, input...]` with one label per example.
    fn train_batch(
        &mut self,
        x: &[f32],
        labels: &[usize],
        opt: &mut dyn Optimizer,
    ) -> Result<BatchStats>;
    /// [`Network::train_batch`] on one rank's shard of a global batch
    /// (data-parallel training, `crate::dist`): the forward pass with the
    /// shard's weight in the loss (and batch norm's statistics summed over
    /// the ranks if the shard says so), backward, the gradients summed over
    /// the ranks, then the same optimizer step on every rank. Returns the
    /// global batch's loss and correct count. With `Shard::whole()` it is
    /// `train_batch`. Networks made by `network!` implement it; the
    /// default is an error, the same on every rank.
    fn train_shard(
        &mut self,
        x: &[f32],
        labels: &[usize],
        opt: &mut dyn Optimizer,
        shard: &mut crate::net::Shard<'_>,
    ) -> Result<BatchStats> {
        let _ = (x, labels, opt, shard);
        Err(crate::Error::Ranks(
            "this network does not implement train_shard (networks made by network! do)".into(),
        ))
    }
    /// Class probabilities in inference mode: `out: [batch, classes]`.
    fn predict_batch(&self, x: &[f32], out: &mut [f32]) -> Result<()>;
    /// One example's output shape (`[classes]`, or `[h, w, c]`).
    fn output_shape(&self) -> &'static [usize] {
        &[]
    }
    /// The final activation a fused loss would read the logits of
    /// (`Softmax` or `Sigmoid` ending the network), if any.
    fn final_activation(&self) -> Option<Fused> {
        None
    }
    /// The outputs in inference mode as the network computes them (after
    /// any final activation): `out: [batch, output]`.
    fn infer_batch(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        self.predict_batch(x, out)
    }
    /// Forward in training mode, `loss` against `target`, backward and one
    /// optimizer step (the held pass of the generated code); returns the
    /// batch's mean loss and leaves the batch's outputs in `output`. A
    /// loss that is not finite is `Error::NonFiniteLoss` and changes
    /// nothing. Networks made by `network!` implement it.
    fn train_loss(
        &mut self,
        x: &[f32],
        target: Target<'_>,
        loss: &dyn Loss,
        opt: &mut dyn Optimizer,
        output: &mut Vec<f32>,
    ) -> Result<f32> {
        let _ = (x, target, loss, opt, output);
        Err(crate::Error::InvalidArgument(
            "this network does not implement train_loss (networks made by network! do)".into(),
        ))
    }
    /// [`Network::train_loss`] on one rank's shard of a global batch
    /// (data-parallel training with any loss, `crate::dist`): the held
    /// pass on the shard (per-rank batch statistics; dropout masks by
    /// position in the global batch), `loss`'s gradient weighted by the
    /// shard's share, `metric(outputs)` (this shard's metric sum and
    /// count), then one collective that sums the gradients, losses and
    /// metric over the ranks, and the same optimizer step on every rank.
    /// Returns the global batch's loss; the global metric is
    /// `shard.metric()`. A failure or a loss that is not finite on any rank
    /// skips the step on every rank. Networks made by `network!` implement
    /// it; the default is an error, the same on every rank.
    fn train_loss_shard(
        &mut self,
        x: &[f32],
        target: Target<'_>,
        loss: &dyn Loss,
        opt: &mut dyn Optimizer,
        metric: &mut dyn FnMut(&[f32]) -> [f64; 2],
        shard: &mut crate::net::Shard<'_>,
    ) -> Result<f32> {
        let _ = (x, target, loss, opt, metric, shard);
        Err(crate::Error::Ranks(
            "this network does not implement train_loss_shard (networks made by network! do)"
                .into(),
        ))
    }
    /// The parameter tensors, trainable first.
    fn tensors(&self) -> &'static [TensorInfo];
    /// The flat parameter buffer the tensors index into.
    fn params(&self) -> &[f32];
    /// The same, writable (loading checkpoints).
    fn params_mut(&mut self) -> &mut [f32];
    /// The state of the network's own generator (dropout masks), so that a
    /// resumed run draws the same masks.
    fn rng_state(&self) -> [u64; 4];
    /// Restores [`Network::rng_state`].
    fn set_rng_state(&mut self, state: [u64; 4]);

    /// Elements of one example.
    fn input_len(&self) -> usize {
        self.input_shape().iter().product()
    }

    /// The network's name as checkpoints record it: by default the type's
    /// own name without its path or generic arguments (`LeNet5` for
    /// `my_crate::nets::LeNet5`). Resuming from a checkpoint of a network
    /// with another name is refused.
    fn name(&self) -> &'static str {
        short_type_name(std::any::type_name::<Self>())
    }
}

/// `LeNet5` from `my_crate::nets::LeNet5` (and from `a::Net<b::T>`, `Net`).
pub fn short_type_name(full: &'static str) -> &'static str {
    let plain = full.split('<').next().unwrap_or(full);
    plain.rsplit("::").next().unwrap_or(plain)
}
