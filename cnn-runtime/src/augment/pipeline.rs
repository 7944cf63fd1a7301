//! A pipeline: transforms applied in order, each with its own
//! probability, with the geometric ones sampled once (see `warp.rs`).
//! It is a `train::Augment`, so `Fit::augment(&pipeline)` trains with it,
//! on background threads (`queue.rs`).
//!
//! ```
//! use cnn_runtime::augment::{Affine, Border, Elastic, Pipeline};
//! let distort = Pipeline::new()
//!     .then(Affine { rotation: 10.0, shear: 10.0, scale: (0.9, 1.1), translate: 2.0, p: 1.0 })
//!     .then(Elastic::new(34.0, 4.0))
//!     .border(Border::Constant(0.0));
//! assert_eq!(distort.output_shape([32, 32, 1]).unwrap(), [32, 32, 1]);
//! ```

use std::cell::RefCell;
use std::sync::Arc;

use super::warp::{Border, Frame};
use super::Transform;
use crate::data::Augment;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// Transforms applied in order to every image, with the [`Border`] that
/// points outside the image read.
#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    steps: Vec<Arc<dyn Transform>>,
    border: Border,
    label_border: Option<usize>,
}

/// Buffers a pipeline reuses on each thread: the dense coordinate map and
/// its next version, the displacement fields, and two image buffers.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) sy: Vec<f32>,
    pub(crate) sx: Vec<f32>,
    pub(crate) ty: Vec<f32>,
    pub(crate) tx: Vec<f32>,
    pub(crate) dy: Vec<f32>,
    pub(crate) dx: Vec<f32>,
    pub(crate) tmp: Vec<f32>,
    pub(crate) img: [Vec<f32>; 2],
    pub(crate) cur: usize,
    /// A label map moving with the image, and which buffer holds it.
    pub(crate) lab: [Vec<usize>; 2],
    pub(crate) lab_cur: usize,
    /// A copy of the input for in-place `apply`.
    input: Vec<f32>,
}

thread_local! {
    // Each thread keeps its own buffers, so a warm pipeline allocates
    // nothing; taken out while in use, so a nested call gets fresh ones.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Pipeline {
    /// No transforms (the identity), border `Constant(0)`.
    pub fn new() -> Self {
        Pipeline::default()
    }

    /// Adds `t` after the transforms so far.
    pub fn then(mut self, t: impl Transform + 'static) -> Self {
        self.steps.push(Arc::new(t));
        self
    }

    /// What points outside the image read.
    pub fn border(mut self, border: Border) -> Self {
        self.border = border;
        self
    }

    /// The class that a label map's positions outside the image take
    /// (with a constant [`Border`]; typically the background class), so
    /// that the pipeline can move label maps with the pixels
    /// (segmentation: `Dataset::with_label_maps`). With `Border::Nearest`
    /// they take the nearest edge's class and need no such class.
    pub fn label_border(mut self, class: usize) -> Self {
        self.label_border = Some(class);
        self
    }

    /// The transforms, in order.
    pub fn steps(&self) -> &[Arc<dyn Transform>] {
        &self.steps
    }

    /// Checks every transform's parameters and that it can take the
    /// images it will get, and returns the shape of the output for inputs
    /// of shape `input`. `Model::fit` calls it before the first step.
    pub fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        if input.contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "augmentation: images of shape {}x{}x{} are empty",
                input[0], input[1], input[2]
            )));
        }
        let mut shape = input;
        for (k, t) in self.steps.iter().enumerate() {
            t.validate()
                .and_then(|()| t.output_shape(shape))
                .map(|s| shape = s)
                .map_err(|e| match e {
                    Error::InvalidArgument(m) => Error::InvalidArgument(format!(
                        "augmentation step {} of {}: {m}",
                        k + 1,
                        self.steps.len()
                    )),
                    other => other,
                })?;
        }
        Ok(shape)
    }

    /// Transforms `src` (`[h, w, c]` = `shape`) into `dst` (the output
    /// shape's size) with random numbers from `rng`. The parameters must
    /// have passed [`Pipeline::output_shape`] for `shape`.
    pub fn apply_into(&self, src: &[f32], shape: [usize; 3], dst: &mut [f32], rng: &mut Rng) {
        let mut s = SCRATCH.with(|c| c.take());
        self.run(src, shape, dst, rng, &mut s);
        SCRATCH.with(|c| c.replace(s));
    }

    fn run(&self, src: &[f32], shape: [usize; 3], dst: &mut [f32], rng: &mut Rng, s: &mut Scratch) {
        let frame = Frame::new(src, shape, self.border, s);
        self.steps_on(frame, rng).finish(dst);
    }

    /// Every step on `frame`, each drawing its numbers from `rng`.
    fn steps_on<'f>(&self, mut frame: Frame<'f>, rng: &mut Rng) -> Frame<'f> {
        for t in &self.steps {
            // One draw per step whether it fires or not, so a step's
            // numbers do not depend on the probabilities of the others.
            if rng.uniform() < t.probability() {
                t.apply(&mut frame, rng);
            } else {
                t.skip(&mut frame);
            }
        }
        frame
    }
}

impl Augment for Pipeline {
    fn moves_pixels(&self) -> Option<&'static str> {
        self.steps
            .iter()
            .find(|t| t.moves_pixels())
            .map(|t| t.name())
    }

    /// In place; only for pipelines that keep the shape (no smaller crop).
    fn apply(&self, example: &mut [f32], shape: [usize; 3], rng: &mut Rng) {
        let mut s = SCRATCH.with(|c| c.take());
        let mut input = std::mem::take(&mut s.input);
        input.clear();
        input.extend_from_slice(example);
        self.run(&input, shape, example, rng, &mut s);
        s.input = input;
        SCRATCH.with(|c| c.replace(s));
    }
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        Pipeline::output_shape(self, input)
    }
    fn apply_into(&self, src: &[f32], shape: [usize; 3], dst: &mut [f32], rng: &mut Rng) {
        Pipeline::apply_into(self, src, shape, dst, rng)
    }
    fn moves_label_maps(&self) -> std::result::Result<(), String> {
        match (self.moves_pixels(), self.border, self.label_border) {
            (Some(name), Border::Constant(_), None) => Err(format!(
                "its {name} moves pixels, and with a constant border the label map's uncovered positions need a class: Pipeline::label_border(class) (the background's), or Border::Nearest"
            )),
            _ => Ok(()),
        }
    }
    fn apply_into_with_labels(
        &self,
        src: &[f32],
        shape: [usize; 3],
        dst: &mut [f32],
        labels: &mut [usize],
        rng: &mut Rng,
    ) {
        let mut s = SCRATCH.with(|c| c.take());
        let frame =
            Frame::new(src, shape, self.border, &mut s).with_labels(labels, self.label_border);
        self.steps_on(frame, rng).finish_with_labels(dst, labels);
        SCRATCH.with(|c| c.replace(s));
    }
}
