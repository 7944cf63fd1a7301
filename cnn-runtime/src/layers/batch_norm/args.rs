//! The structs the batch norm kernels take their tensors in. A layer has
//! eight per-channel `[c]` vectors (gamma, beta, the batch's mean and
//! inverse deviation, the moving mean and variance, two gradients) besides
//! its `[m, c]` data: as bare slices a kernel took up to thirteen
//! arguments, most of one type, and two of them swapped compiled. Named
//! fields, and a type for each role, make such a swap a compile error; the
//! length checks name the field (`stats.inv_std`, `out.running_var`).

use crate::geom::Act;

/// The data's size: `m` rows of `c` channels, `[m, c]` (NHWC with
/// `m = batch * h * w`, or `[batch, c]` after a dense layer). Statistics
/// are taken per channel over the `m` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Rows.
    pub m: usize,
    /// Channels.
    pub c: usize,
}

/// The learnt scale and shift, `y = gamma * xhat + beta`.
/// gamma, beta: `[c]`
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    /// Scale.
    pub gamma: &'a [f32],
    /// Shift.
    pub beta: &'a [f32],
}

/// A layer's constants, the same for each of its kernels: only
/// [`super::forward_train`] reads `momentum`, and [`super::backward`]
/// reads `act` alone (its `eps` is in the saved `inv_std`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Added to the variance before the square root.
    pub eps: f32,
    /// Keras's: `running = momentum * running + (1 - momentum) * batch`,
    /// in `[0, 1]` (1 leaves the moving statistics where they are).
    pub momentum: f32,
    /// The activation fused after the normalisation (`Act::Identity` for
    /// none).
    pub act: Act,
}

/// A training batch's statistics, as [`super::forward_train`] saved them
/// for backward. mean, inv_std: `[c]`
#[derive(Clone, Copy, Debug)]
pub struct Stats<'a> {
    /// The batch's mean.
    pub mean: &'a [f32],
    /// `1 / sqrt(var + eps)` of the batch's (biased) variance.
    pub inv_std: &'a [f32],
}

/// The moving statistics that inference normalises with.
/// mean, var: `[c]`
#[derive(Clone, Copy, Debug)]
pub struct RunningStats<'a> {
    /// Moving mean.
    pub mean: &'a [f32],
    /// Moving variance.
    pub var: &'a [f32],
}

/// What [`super::forward_train`] writes: the output, the batch's
/// statistics (overwritten; backward's [`Stats`]) and the moving
/// statistics (updated in place).
/// y: `[m, c]`  mean, inv_std, running_mean, running_var: `[c]`
#[derive(Debug)]
pub struct TrainOut<'a> {
    /// The normalised (and activated) output.
    pub y: &'a mut [f32],
    /// The batch's mean.
    pub mean: &'a mut [f32],
    /// `1 / sqrt(var + eps)` of the batch's variance.
    pub inv_std: &'a mut [f32],
    /// Moving mean, moved toward the batch's.
    pub running_mean: &'a mut [f32],
    /// Moving variance, moved toward the batch's.
    pub running_var: &'a mut [f32],
}

/// The gradient [`super::backward`] starts from and those it computes:
/// it reads dy, overwrites dx and adds into dgamma and dbeta.
/// dy, dx: `[m, c]`  dgamma, dbeta: `[c]`
#[derive(Debug)]
pub struct Grads<'a> {
    /// Gradient of the (activated) output.
    pub dy: &'a [f32],
    /// Gradient of the input.
    pub dx: &'a mut [f32],
    /// Gradient of gamma.
    pub dgamma: &'a mut [f32],
    /// Gradient of beta.
    pub dbeta: &'a mut [f32],
}

/// The per-channel affine map [`super::fold`] writes,
/// `y = x * scale + shift`. scale, shift: `[c]`
#[derive(Debug)]
pub struct Folded<'a> {
    /// Multiplies the input.
    pub scale: &'a mut [f32],
    /// Added after.
    pub shift: &'a mut [f32],
}
