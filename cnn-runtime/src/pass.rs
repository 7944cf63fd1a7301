//! The forward pass you hold: `net.forward(x, Mode::Train)` runs the
//! network's training program and returns a [`Pass`] that keeps what
//! backward needs. The pass shows the output ([`Pass::output`]) and the
//! tapped layers ([`Pass::tap`]); [`Pass::backward`] takes the gradient of
//! any loss with respect to the output (and to any tap), adds the
//! parameter gradients into the network's gradient buffer and, when asked,
//! computes the gradient with respect to the input ([`Pass::input_grad`]);
//! `net.step(&mut opt)` then applies what the passes accumulated. Several
//! passes before one step add their gradients (the branches of a Siamese
//! network share weights).
//!
//! In outline (the facade's `cnn::dsl` reference, "The held forward pass
//! and taps", has the same as a doctest that runs):
//!
//! ```text
//! let mut pass = net.forward(x.view(), Mode::Train)?;
//! let loss = pass.backward_loss(&Mse, Target::Values(&targets))?;
//! drop(pass);
//! net.step(&mut opt)?;
//!
//! let mut pass = net.forward(x.view(), Mode::Infer)?;
//! pass.backward(Grads::new().tap("conv4_2", g.view()).input())?;
//! let dx = pass.input_grad().unwrap();
//! ```
//!
//! Training mode uses the batch's statistics in batch norm (and updates the
//! moving ones) and drops units in dropout; inference mode normalises with
//! the moving statistics, which then are a fixed affine map (its `gamma`
//! and `beta` get no gradient), and keeps every unit. Either way the pass
//! runs the training program, which keeps every activation: `predict` is
//! the lean path for inference alone.
//!
//! A network that ends in `Softmax` or `Sigmoid` shows the activation's
//! output; a gradient with respect to it is taken back through the
//! activation. A loss fused with that activation ([`Loss::fused`]: the
//! cross-entropies) is handed the logits instead, and its gradient
//! with respect to them is used as it is, which is both exact and stable.

use std::borrow::Cow;

use ndarray::{ArrayView, ArrayViewD, Dimension, IxDyn};

use crate::error::{Error, Result};
use crate::layers::activation;
use crate::loss::{Fused, Loss, Target};
use crate::net;
use crate::Act;

/// How a held pass runs batch norm and dropout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The batch's statistics (moving ones updated), dropout on.
    Train,
    /// The moving statistics, no dropout: what `predict` computes.
    Infer,
}

/// A layer whose output a declaration exposes with `taps: [..]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tap {
    /// The layer's full name (`conv4_2`, `layer3.1`).
    pub name: &'static str,
    /// One example's shape: `[h, w, c]` or `[n]`.
    pub shape: &'static [usize],
}

/// The last held pass's slots in a network's workspace, as the generated
/// code lays them out.
#[doc(hidden)]
pub struct Slots<'a> {
    /// The logits: the output before a final `Softmax` / `Sigmoid`, or the
    /// output itself.
    pub logits: &'a [f32],
    /// The final activation's output, when there is one.
    pub probs: Option<&'a [f32]>,
    /// Where backward starts: the gradient with respect to the logits.
    pub dlogits: &'a mut [f32],
    /// A buffer for the gradient with respect to the final activation's
    /// output, when there is one.
    pub dprobs: Option<&'a mut [f32]>,
}

/// What the `network!` macro implements for every network, so that
/// [`Pass`] can drive it. Not for implementing by hand.
#[doc(hidden)]
pub trait Held {
    /// The input's dimension with the batch axis (`Ix4` for images).
    type InDim: Dimension;
    /// The output's dimension with the batch axis.
    type OutDim: Dimension;
    /// One example's input shape.
    const IN_SHAPE: &'static [usize];
    /// One example's output shape.
    const OUT_SHAPE: &'static [usize];
    /// The tapped layers, in declaration order.
    const TAP_LIST: &'static [Tap];
    /// The final activation the training program leaves to the pass.
    const FINAL: Option<Fused>;
    /// The slots of the last forward at `batch`.
    fn __slots(&mut self, batch: usize) -> Result<Slots<'_>>;
    /// The output (after the final activation) of the last forward.
    fn __output(&self, batch: usize) -> &[f32];
    /// Tap `k` of the last forward.
    fn __tap(&self, k: usize, batch: usize) -> &[f32];
    /// The input gradient of the last backward that computed it.
    fn __input_grad(&self, batch: usize) -> &[f32];
    /// Backward from the logits' gradient (in its slot), with the taps'
    /// gradients (`[batch, tap]` each) added where the taps are; adds into
    /// the parameter gradients.
    fn __backward(
        &mut self,
        batch: usize,
        mode: Mode,
        taps: &[Option<&[f32]>],
        input_grad: bool,
    ) -> Result<()>;
    /// Puts back the moving statistics saved when the pass began.
    fn __restore_moving(&mut self);
}

/// A forward pass held for backward: see the module's documentation.
/// It borrows the network mutably until it is dropped.
pub struct Pass<'n, N: Held> {
    net: &'n mut N,
    batch: usize,
    mode: Mode,
    backward_done: bool,
    input_grad: bool,
}

/// The gradients [`Pass::backward`] starts from: with respect to the
/// output (or the logits), to any tap, and whether to compute the input's.
#[derive(Default)]
pub struct Grads<'a> {
    output: Option<Gradient<'a>>,
    logits: Option<Gradient<'a>>,
    taps: Vec<(&'a str, Gradient<'a>)>,
    input: bool,
}

/// A gradient's values in standard (row-major) order, and its shape.
type Gradient<'a> = (Cow<'a, [f32]>, Vec<usize>);

/// A view's elements in standard (row-major) order, borrowed when they
/// already are.
fn standard<'a, D: Dimension>(v: ArrayView<'a, f32, D>) -> Gradient<'a> {
    let shape = v.shape().to_vec();
    match v.to_slice() {
        Some(s) => (Cow::Borrowed(s), shape),
        None => (Cow::Owned(v.iter().copied().collect()), shape),
    }
}

impl<'a> Grads<'a> {
    /// No gradient yet (a pass whose backward starts at a tap alone).
    pub fn new() -> Self {
        Self::default()
    }
    /// The gradient of the loss with respect to the output, shaped as
    /// [`Pass::output`].
    pub fn output<D: Dimension>(mut self, g: ArrayView<'a, f32, D>) -> Self {
        self.output = Some(standard(g));
        self
    }
    /// The gradient with respect to the logits of a network that ends in
    /// `Softmax` or `Sigmoid` (the activation's input), for a loss computed
    /// from them; shaped as the output.
    pub fn logits<D: Dimension>(mut self, g: ArrayView<'a, f32, D>) -> Self {
        self.logits = Some(standard(g));
        self
    }
    /// The gradient with respect to a tapped layer's output,
    /// `[batch, tap shape]`.
    pub fn tap<D: Dimension>(mut self, name: &'a str, g: ArrayView<'a, f32, D>) -> Self {
        self.taps.push((name, standard(g)));
        self
    }
    /// Also compute the gradient with respect to the input.
    pub fn input(mut self) -> Self {
        self.input = true;
        self
    }
}

/// `[batch, shape..]`.
fn batched(batch: usize, shape: &[usize]) -> Vec<usize> {
    std::iter::once(batch)
        .chain(shape.iter().copied())
        .collect()
}

fn check_shape(what: &str, got: &[usize], want: &[usize]) -> Result<()> {
    if got == want {
        return Ok(());
    }
    let show = |s: &[usize]| format!("{s:?}");
    Err(Error::shape(what, show(want), show(got)))
}

impl<'n, N: Held> Pass<'n, N> {
    /// Made by the generated `forward`, after the forward program ran.
    #[doc(hidden)]
    pub fn __new(net: &'n mut N, batch: usize, mode: Mode) -> Self {
        Pass {
            net,
            batch,
            mode,
            backward_done: false,
            input_grad: false,
        }
    }

    /// The number of examples.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// How batch norm and dropout ran.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The network's output, `[batch, OUTPUT_SHAPE..]` (after a final
    /// `Softmax` or `Sigmoid`).
    pub fn output(&self) -> ArrayView<'_, f32, N::OutDim> {
        let shape = batched(self.batch, N::OUT_SHAPE);
        let data = self.net.__output(self.batch);
        ArrayViewD::from_shape(IxDyn(&shape), data)
            .and_then(|v| v.into_dimensionality())
            .expect("the output slot holds batch x OUTPUT_SHAPE values")
    }

    /// The output of the tapped layer `name` (one of the declaration's
    /// `taps`), `[batch, shape..]`; an `Err` naming the taps there are for
    /// any other name.
    pub fn tap(&self, name: &str) -> Result<ArrayViewD<'_, f32>> {
        let k = tap_index::<N>(name)?;
        let shape = batched(self.batch, N::TAP_LIST[k].shape);
        let data = self.net.__tap(k, self.batch);
        Ok(ArrayViewD::from_shape(IxDyn(&shape), data)
            .expect("a tap's slot holds batch x its shape values"))
    }

    /// Backward from `grads`: the parameter gradients are added into the
    /// network's gradient buffer (applied by `net.step`), and the input's
    /// gradient is computed if asked. At most once per pass; a gradient of
    /// the wrong shape, an unknown tap, or both an output and a logits
    /// gradient are an `Err` before anything changes.
    pub fn backward(&mut self, grads: Grads<'_>) -> Result<()> {
        self.check_fresh()?;
        let out_shape = batched(self.batch, N::OUT_SHAPE);
        if grads.output.is_some() && grads.logits.is_some() {
            return Err(Error::InvalidArgument(
                "backward: give the gradient with respect to the output or to the logits, not both"
                    .into(),
            ));
        }
        if grads.logits.is_some() && N::FINAL.is_none() {
            return Err(Error::InvalidArgument(
                "backward: the network does not end in Softmax or Sigmoid, so its logits are its output: give the gradient with Grads::output".into(),
            ));
        }
        for (what, g) in [("output", &grads.output), ("logits", &grads.logits)] {
            if let Some((_, shape)) = g {
                check_shape(
                    &format!("backward: the gradient of the {what}"),
                    shape,
                    &out_shape,
                )?;
            }
        }
        let mut taps: Vec<Option<&[f32]>> = vec![None; N::TAP_LIST.len()];
        for (name, (data, shape)) in &grads.taps {
            let k = tap_index::<N>(name)?;
            let want = batched(self.batch, N::TAP_LIST[k].shape);
            check_shape(
                &format!("backward: the gradient of tap `{name}`"),
                shape,
                &want,
            )?;
            if taps[k].replace(data).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "backward: tap `{name}` is given twice"
                )));
            }
        }
        let slots = self.net.__slots(self.batch)?;
        match (&grads.output, &grads.logits) {
            (Some((g, _)), None) => {
                output_to_logits(N::FINAL, N::OUT_SHAPE, slots.probs, g, slots.dlogits)?
            }
            (None, Some((g, _))) => slots.dlogits.copy_from_slice(g),
            _ => slots.dlogits.fill(0.0),
        }
        self.run_backward(&taps, grads.input)
    }

    /// Computes `loss` against `target` on this pass's output, then runs
    /// backward from its gradient (without the input's gradient); returns
    /// the batch's mean loss. A loss fused with the network's final
    /// activation gets the logits. A target the loss refuses, or a loss
    /// that is not finite ([`Error::NonFiniteLoss`]), is an `Err` that puts
    /// back the moving statistics the forward moved and adds no gradient.
    pub fn backward_loss(
        &mut self,
        loss: &(impl Loss + ?Sized),
        target: Target<'_>,
    ) -> Result<f32> {
        self.backward_loss_with(loss, target, false)
    }

    /// [`Pass::backward_loss`], also computing the input's gradient when
    /// `input_grad`.
    pub fn backward_loss_with(
        &mut self,
        loss: &(impl Loss + ?Sized),
        target: Target<'_>,
        input_grad: bool,
    ) -> Result<f32> {
        self.check_fresh()?;
        let value = self.loss_into_slots(loss, target)?;
        let none = vec![None; N::TAP_LIST.len()];
        self.run_backward(&none, input_grad)?;
        Ok(value)
    }

    /// The loss's value, with its gradient with respect to the logits in
    /// their slot.
    fn loss_into_slots(&mut self, loss: &(impl Loss + ?Sized), target: Target<'_>) -> Result<f32> {
        let value = match self.loss_value(loss, target) {
            Ok(v) => v,
            Err(e) => {
                self.net.__restore_moving();
                return Err(e);
            }
        };
        if !value.is_finite() {
            self.net.__restore_moving();
            self.backward_done = true;
            return Err(Error::NonFiniteLoss {
                loss: value,
                at: format!("{} loss of a held pass", loss.name()),
            });
        }
        Ok(value)
    }

    fn loss_value(&mut self, loss: &(impl Loss + ?Sized), target: Target<'_>) -> Result<f32> {
        let slots = self.net.__slots(self.batch)?;
        let shape = N::OUT_SHAPE;
        let value = match (loss.fused(), N::FINAL, slots.probs, slots.dprobs) {
            // The loss's partner ends the network: it reads the logits.
            (Some(f), Some(g), _, _) if f == g => {
                loss.loss(slots.logits, shape, target, slots.dlogits)?
            }
            (_, Some(fin), Some(probs), Some(dprobs)) => {
                let value = loss.loss(probs, shape, target, dprobs)?;
                output_to_logits(Some(fin), shape, Some(probs), dprobs, slots.dlogits)?;
                value
            }
            _ => loss.loss(slots.logits, shape, target, slots.dlogits)?,
        };
        Ok(value)
    }

    fn check_fresh(&self) -> Result<()> {
        if self.backward_done {
            return Err(Error::InvalidArgument(
                "backward already ran on this pass: run forward again for another backward".into(),
            ));
        }
        Ok(())
    }

    fn run_backward(&mut self, taps: &[Option<&[f32]>], input_grad: bool) -> Result<()> {
        self.backward_done = true;
        self.net
            .__backward(self.batch, self.mode, taps, input_grad)?;
        self.input_grad = input_grad;
        Ok(())
    }

    /// The gradient with respect to the input, `[batch, INPUT_SHAPE..]`,
    /// once a backward that asked for it ([`Grads::input`]) has run.
    pub fn input_grad(&self) -> Option<ArrayView<'_, f32, N::InDim>> {
        if !self.input_grad {
            return None;
        }
        let shape = batched(self.batch, N::IN_SHAPE);
        let data = self.net.__input_grad(self.batch);
        Some(
            ArrayViewD::from_shape(IxDyn(&shape), data)
                .and_then(|v| v.into_dimensionality())
                .expect("the input gradient slot holds batch x INPUT_SHAPE values"),
        )
    }
}

fn tap_index<N: Held>(name: &str) -> Result<usize> {
    N::TAP_LIST.iter().position(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = N::TAP_LIST.iter().map(|t| t.name).collect();
        Error::InvalidArgument(if names.is_empty() {
            format!("no tap `{name}`: the network declares no taps (add `taps: [{name}]` to its declaration)")
        } else {
            format!("no tap `{name}`: the network's taps are {}", names.join(", "))
        })
    })
}

/// The logits' gradient from the output's: through the final activation
/// when there is one (softmax over the channels, the last axis, of each
/// position; or the logistic function), else a copy.
fn output_to_logits(
    fin: Option<Fused>,
    shape: &[usize],
    probs: Option<&[f32]>,
    g: &[f32],
    dlogits: &mut [f32],
) -> Result<()> {
    match (fin, probs) {
        (Some(Fused::Softmax), Some(p)) => {
            let classes = shape.last().copied().unwrap_or(1).max(1);
            net::softmax_backward(p.len() / classes, classes, p, g, dlogits)
        }
        (Some(Fused::Sigmoid), Some(p)) => {
            dlogits.copy_from_slice(g);
            activation::backward_inplace(Act::Sigmoid, p, dlogits)
        }
        _ => {
            dlogits.copy_from_slice(g);
            Ok(())
        }
    }
}
