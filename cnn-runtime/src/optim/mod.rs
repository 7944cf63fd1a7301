//! Optimizers: loops over flat parameter slices. A network keeps all its
//! trainable parameters in one buffer and their gradients in a parallel
//! buffer of the same layout, so one optimizer step is one pass over two
//! slices. State (momentum, Adam's moments) is sized on the first step and
//! then reused: a step allocates nothing after the first.

/// What every optimizer does.
pub trait Optimizer {
    /// Updates `params` in place from `grads` (same length). The first call
    /// sizes the optimizer's state to `params.len()`; a later call with
    /// another length resets the state.
    fn step(&mut self, params: &mut [f32], grads: &[f32]);
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
}
