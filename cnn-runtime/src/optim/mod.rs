//! Optimizers: loops over flat parameter slices. A network keeps all its
//! trainable parameters in one buffer and their gradients in a parallel
//! buffer of the same layout, so one optimizer step is one pass over two
//! slices. State (momentum, Adam's moments) is sized on the first step and
//! then reused: a step allocates nothing after the first.
//!
//! [`Sgd`] (momentum, Nesterov, L2), [`Adam`] (L2) and [`AdamW`] (decoupled
//! decay) each document their update formula; [`Schedule`]s give the
//! learning rate per epoch, [`StepSchedule`]s per step ([`WarmupCosine`],
//! [`OneCycle`]).

mod adam;
mod schedule;
mod sgd;
mod step_schedule;

pub use adam::{Adam, AdamW};
pub use schedule::{Constant, Cosine, Schedule, StepDecay};
pub use sgd::Sgd;
pub use step_schedule::{OneCycle, StepSchedule, WarmupCosine};

use crate::error::{Error, Result};

/// What every optimizer does.
pub trait Optimizer {
    /// Updates `params` in place from `grads` (same length). The first call
    /// sizes the optimizer's state to `params.len()`; a later call with
    /// another length resets the state.
    ///
    /// Panics if the lengths differ (a bug in the caller); [`Optimizer::try_step`]
    /// returns an `Err` instead.
    fn step(&mut self, params: &mut [f32], grads: &[f32]);
    /// [`Optimizer::step`] on the given ranges of `params` and `grads` only:
    /// the tensors that train while others are frozen. The state is kept
    /// for the whole buffer (sized to `params.len()` as by `step`), so a
    /// range frozen now and unfrozen later finds its own state again; a
    /// frozen range gets no update, no weight decay and no state work.
    /// Step counters (Adam's bias correction) advance once per call.
    /// `step(p, g)` is `step_ranges(p, g, &[0..p.len()])`.
    ///
    /// Panics if the lengths differ or a range is out of bounds (a bug in
    /// the caller).
    fn step_ranges(&mut self, params: &mut [f32], grads: &[f32], ranges: &[std::ops::Range<usize>]);
    /// The learning rate the next step will use.
    fn learning_rate(&self) -> f32;
    /// Sets the learning rate (schedules call this between epochs or steps).
    fn set_learning_rate(&mut self, lr: f32);
    /// Named state buffers, for checkpoints (`velocity`; `m`, `v`, ...).
    /// Scalars such as Adam's step count are one-element buffers.
    fn state(&self) -> Vec<(&'static str, Vec<f32>)>;
    /// Restores what [`Optimizer::state`] returned; an `Err` names the
    /// buffer that is missing or of the wrong length.
    fn load_state(&mut self, state: &[(String, Vec<f32>)]) -> crate::Result<()>;

    /// [`Optimizer::step`], with an `Err` instead of a panic when `params`
    /// and `grads` differ in length.
    fn try_step(&mut self, params: &mut [f32], grads: &[f32]) -> Result<()> {
        if params.len() != grads.len() {
            return Err(Error::shape(
                "optimizer step: gradients",
                format!("{} values, one per parameter", params.len()),
                grads.len(),
            ));
        }
        self.step(params, grads);
        Ok(())
    }
}

/// The buffer called `name` in a saved state, or an error naming it.
fn find_buffer<'a>(
    optimizer: &str,
    state: &'a [(String, Vec<f32>)],
    name: &str,
) -> Result<&'a [f32]> {
    state
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, values)| values.as_slice())
        .ok_or_else(|| {
            let present: Vec<&str> = state.iter().map(|(k, _)| k.as_str()).collect();
            Error::InvalidArgument(format!(
                "{optimizer} state: buffer `{name}` is missing (found {present:?})"
            ))
        })
}
