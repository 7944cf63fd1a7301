//! What the transfer loop needs from a network: the activations of some
//! tapped layers for a picture, and the picture's gradient from theirs.
//! [`Extractor`] says it in four methods; [`crate::style_extractor!`]
//! implements it for any `network!` struct with taps, on top of the held
//! pass (`net.forward(x, Mode::Infer)`, `pass.tap`, `pass.backward`), so
//! the loop drives VGG-19, a random multi-scale layer or a test network
//! alike.

use ndarray::{ArrayView4, ArrayViewD, IxDyn};

use crate::error::{Error, Result};
use crate::pass::{Grads, Held, Pass};

/// The costs' callback: the tapped activations (one example each, in the
/// order asked for) and one gradient buffer per tap, of the same sizes,
/// to overwrite; returns the cost.
pub type CostFn<'a> = dyn FnMut(&[&[f32]], &mut [Vec<f32>]) -> Result<f32> + 'a;

/// A network whose tapped activations style costs read; implement it with
/// [`crate::style_extractor!`].
pub trait Extractor {
    /// One picture's shape, `[h, w, c]`.
    fn picture_shape(&self) -> [usize; 3];
    /// One example's shape at tap `name`, `[h, w, c]`; an `Err` naming the
    /// taps there are for a name that is not one, or for a flat tap.
    fn tap_shape(&self, name: &str) -> Result<[usize; 3]>;
    /// Freezes every parameter, so that backward computes the picture's
    /// gradient alone (no weight gradient).
    fn freeze_all(&mut self);
    /// Runs the network (inference mode) on one picture `x` (`[h, w, c]`),
    /// hands the activations at `taps` and `grads` (one buffer per tap,
    /// resized to fit) to `cost`, then, when `dx` is given, runs backward
    /// from the gradients `cost` wrote to the picture's, into `dx`.
    /// Returns what `cost` returned.
    fn run(
        &mut self,
        x: &[f32],
        taps: &[&str],
        grads: &mut [Vec<f32>],
        cost: &mut CostFn<'_>,
        dx: Option<&mut [f32]>,
    ) -> Result<f32>;
}

/// `[h, w, c]` of a picture-shaped network input, or an `Err`.
#[doc(hidden)]
pub fn picture_shape_of<N: Held>() -> [usize; 3] {
    match N::IN_SHAPE {
        [h, w, c] => [*h, *w, *c],
        other => panic!("style_extractor!: the network's input {other:?} is not [h, w, c]"),
    }
}

/// The shape of tap `name` of `N`.
#[doc(hidden)]
pub fn tap_shape_of<N: Held>(name: &str) -> Result<[usize; 3]> {
    let tap = N::TAP_LIST.iter().find(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = N::TAP_LIST.iter().map(|t| t.name).collect();
        Error::InvalidArgument(format!(
            "style: no tap `{name}`: the network's taps are [{}] (add `{name}` to `taps: [..]` in its declaration)",
            names.join(", ")
        ))
    })?;
    match tap.shape {
        [h, w, c] => Ok([*h, *w, *c]),
        other => Err(Error::InvalidArgument(format!(
            "style: tap `{name}` is {other:?}, not an image [h, w, c]: style costs need a spatial layer"
        ))),
    }
}

/// A picture as a batch of one, for `forward`.
#[doc(hidden)]
pub fn batch_of_one(x: &[f32], shape: [usize; 3]) -> Result<ArrayView4<'_, f32>> {
    let [h, w, c] = shape;
    ArrayView4::from_shape((1, h, w, c), x)
        .map_err(|_| Error::shape("style: the picture", format!("{h}x{w}x{c} values"), x.len()))
}

/// The body of [`Extractor::run`] once the forward pass has run.
#[doc(hidden)]
pub fn run_pass<N: Held>(
    mut pass: Pass<'_, N>,
    taps: &[&str],
    grads: &mut [Vec<f32>],
    cost: &mut CostFn<'_>,
    dx: Option<&mut [f32]>,
) -> Result<f32> {
    if grads.len() != taps.len() {
        return Err(Error::InvalidArgument(format!(
            "style: {} taps but {} gradient buffers",
            taps.len(),
            grads.len()
        )));
    }
    let mut shapes = Vec::with_capacity(taps.len());
    let value = {
        let acts = taps
            .iter()
            .map(|t| pass.tap(t))
            .collect::<Result<Vec<ArrayViewD<'_, f32>>>>()?;
        let slices: Vec<&[f32]> = acts
            .iter()
            .map(|a| a.as_slice().expect("a tap's view is contiguous"))
            .collect();
        for (g, (a, s)) in grads.iter_mut().zip(acts.iter().zip(&slices)) {
            g.resize(s.len(), 0.0);
            shapes.push(a.shape().to_vec());
        }
        cost(&slices, grads)?
    };
    if let Some(dx) = dx {
        let mut g = Grads::new();
        for ((t, buf), shape) in taps.iter().zip(grads.iter()).zip(&shapes) {
            let view = ArrayViewD::from_shape(IxDyn(shape), &buf[..])
                .expect("the gradient buffer was sized to its tap");
            g = g.tap(t, view);
        }
        pass.backward(g.input())?;
        let grad = pass
            .input_grad()
            .expect("backward computed the input gradient");
        let grad = grad.as_slice().expect("the input gradient is contiguous");
        if grad.len() != dx.len() {
            return Err(Error::shape("style: dx", grad.len(), dx.len()));
        }
        dx.copy_from_slice(grad);
    }
    Ok(value)
}

/// Implements [`Extractor`](crate::style::Extractor) for a `network!`
/// struct whose input is a picture `[h, w, c]`:
/// `cnn::style::style_extractor!(Vgg19);` beside the declaration.
#[macro_export]
macro_rules! style_extractor {
    ($net:ty) => {
        impl $crate::style::Extractor for $net {
            fn picture_shape(&self) -> [usize; 3] {
                $crate::style::extractor::picture_shape_of::<$net>()
            }
            fn tap_shape(&self, name: &str) -> $crate::Result<[usize; 3]> {
                $crate::style::extractor::tap_shape_of::<$net>(name)
            }
            fn freeze_all(&mut self) {
                // An `Err` means nothing was left to freeze: all frozen already.
                let _ = self.freeze("");
            }
            fn run(
                &mut self,
                x: &[f32],
                taps: &[&str],
                grads: &mut [::std::vec::Vec<f32>],
                cost: &mut $crate::style::CostFn<'_>,
                dx: ::core::option::Option<&mut [f32]>,
            ) -> $crate::Result<f32> {
                let shape = $crate::style::extractor::picture_shape_of::<$net>();
                let view = $crate::style::extractor::batch_of_one(x, shape)?;
                let pass = self.forward(view, $crate::pass::Mode::Infer)?;
                $crate::style::extractor::run_pass(pass, taps, grads, cost, dx)
            }
        }
    };
}
