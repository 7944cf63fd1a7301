//! Embeddings for face verification and one-shot recognition (the
//! course's week 4): a network maps an image `x` to a vector `f(x)`, and
//! the distance `d(x1, x2) = ||f(x1) - f(x2)||^2` says "same person" when
//! it is at most a threshold. This module holds everything of that which
//! does not depend on the network:
//!
//! - [`distance`], [`pairwise_distances`]: distances of a pair, of a batch;
//! - losses that implement [`crate::loss::Loss`], for the held pass's
//!   `backward_loss`: [`TripletLoss`] with online [`Mining`] (every valid
//!   triplet, batch-hard, FaceNet's semi-hard negatives) on
//!   `Target::Classes(identities)`, and [`ContrastiveLoss`] on Siamese
//!   pairs (`Target::Values`, one label per pair);
//! - [`L2Normalized`]: any of those on unit-length embeddings (FaceNet's
//!   `||f(x)|| = 1`), the normalisation and its gradient in the loss path,
//!   and [`l2_normalize`] for the outputs of `predict`;
//! - [`SiameseHead`]: the course's learned similarity, a logistic unit on
//!   `|f(x_i) - f(x_j)|` with its own weights, trained with binary
//!   cross-entropy;
//! - [`PkSampler`]: FaceNet's batches of P identities x K images, as the
//!   per-epoch order the augmentation queue
//!   ([`crate::augment::queue::EpochBatches`]) cuts into batches;
//! - verification ([`roc`], [`Roc`], [`accuracy_at`]): the threshold chosen
//!   on validation pairs, the accuracy at it, the true-accept rate at a
//!   false-accept rate of 1e-3, the ROC curve as an SVG picture;
//! - recognition ([`Gallery`]): one stored embedding per identity, saved
//!   and loaded, and the nearest identity of a query or
//!   [`Identity::Unknown`] beyond the threshold.
//!
//! Identities come as class labels: [`crate::data::folder::load`] gives one
//! label per subfolder, so a folder with one subfolder per person is an
//! identity data set as it is; [`crate::data::glyphs`] is a vendored one
//! (letters of many alphabets, each rendered in many fonts).
//!
//! Losses compute in `f64` and keep their buffers per thread, so a call at
//! a batch size already seen allocates nothing.
//!
//! ```
//! use cnn_runtime::embed::{roc, Gallery, Identity, Mining, TripletLoss};
//! use cnn_runtime::loss::{Loss, Target};
//!
//! // A batch of 2 identities x 2 images, embeddings of 2 values.
//! let e = [0.0, 0.0, 0.0, 0.5, 1.0, 0.0, 1.0, 0.2];
//! let ids = [7, 7, 9, 9];
//! let triplet = TripletLoss::new(0.2, Mining::BatchHard);
//! let mut grad = [0.0; 8];
//! let loss = triplet.loss(&e, &[2], Target::Classes(&ids), &mut grad).unwrap();
//! // Anchor 0: furthest positive 1 at 0.25, closest negative 2 at 1: max(0.25 - 1 + 0.2, 0) = 0.
//! // Anchor 1: positive 0 at 0.25, closest negative 3 at 1 + 0.09: 0.
//! assert_eq!(loss, 0.0);
//!
//! // Verification: a threshold from validation distances.
//! let r = roc(&[0.1, 0.2, 0.3], &[0.9, 1.2, 0.25]).unwrap();
//! let best = r.best_threshold();
//! assert!(best.threshold > 0.2 && best.threshold < 0.25);
//!
//! // Recognition against a gallery of one embedding per person.
//! let mut gallery = Gallery::new(2, best.threshold).unwrap();
//! gallery.enrol("ada", &[0.0, 0.0]).unwrap();
//! gallery.enrol("bob", &[1.0, 0.0]).unwrap();
//! let m = gallery.nearest(&[0.9, 0.1]).unwrap();
//! assert_eq!(gallery.name_of(m.identity), Some("bob"));
//! assert_eq!(gallery.nearest(&[5.0, 5.0]).unwrap().identity, Identity::Unknown);
//! ```

mod contrastive;
mod distance;
mod gallery;
mod normalized;
mod roc_svg;
mod sampler;
mod siamese;
mod triplet;
mod verify;

#[cfg(test)]
mod normalized_tests;
#[cfg(test)]
mod pytorch_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod verify_tests;

pub use contrastive::ContrastiveLoss;
pub use distance::{distance, pairwise_distances, Distance};
pub use gallery::{Gallery, Identity, Match};
pub use normalized::{l2_normalize, L2Normalized};
pub use sampler::PkSampler;
pub use siamese::{SiameseGrads, SiameseHead};
pub use triplet::{Mining, Triplet, TripletLoss};
pub use verify::{accuracy_at, roc, OperatingPoint, Roc};

use crate::error::{Error, Result};
use crate::loss::Target;
use std::cell::RefCell;

/// Buffers a loss keeps between calls on one thread.
#[derive(Default)]
struct Scratch {
    /// The batch's distance matrix.
    dist: Vec<f64>,
    /// The gradient, summed in `f64` before it is written out.
    grad: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch (taken out while in use, so that a
/// nested call gets fresh buffers rather than a double borrow).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut s = SCRATCH.with(|c| c.take());
    let r = f(&mut s);
    SCRATCH.with(|c| c.replace(s));
    r
}

/// Checks a loss's batch of embeddings (one example's `shape` read flat)
/// and its gradient buffer; returns `(n, dim)`.
fn check_embeddings(
    name: &str,
    output: &[f32],
    shape: &[usize],
    grad: &[f32],
) -> Result<(usize, usize)> {
    let dim = shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
    let Some(dim) = dim.filter(|&d| d > 0 && !shape.is_empty()) else {
        return Err(Error::InvalidArgument(format!(
            "{name}: one embedding's shape is {shape:?}; give its length ([d])"
        )));
    };
    let n = distance::batch_len(name, output, dim)?;
    if grad.len() != output.len() {
        return Err(Error::shape(
            format!("{name} grad"),
            format!("{} values, as many as the output", output.len()),
            grad.len(),
        ));
    }
    Ok((n, dim))
}

/// The variant's name, as messages show it.
fn target_kind(target: &Target<'_>) -> &'static str {
    match target {
        Target::Classes(_) => "Target::Classes",
        Target::LabelMap(_) => "Target::LabelMap",
        Target::Values(_) => "Target::Values",
    }
}
