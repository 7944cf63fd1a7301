//! Data augmentation: the course's distortions of training images, each a
//! [`Transform`] with its hyperparameters and a probability, composed into
//! a seeded [`Pipeline`] that `Model::fit` runs on its own threads
//! ([`queue`]) while the network trains.
//!
//! | transform | file | what it does |
//! |---|---|---|
//! | [`Mirror`] | `flip.rs` | left-right (or up-down) mirroring |
//! | [`RandomCrop`] | `crop.rs` | pads, then cuts a random window (the output may be smaller) |
//! | [`Affine`] | `affine.rs` | rotation, shear, scaling, translation about the centre |
//! | [`Elastic`] | `elastic.rs` | Simard et al.'s (2003) smoothed random displacement fields |
//! | [`ColorShift`] | `color.rs` | per-channel offsets |
//! | [`PcaColor`] | `pca_color.rs` | AlexNet's colour augmentation along the principal axes |
//! | [`StrokeWidth`] | `stroke.rs` | thicker or thinner strokes (grayscale dilation or erosion, blended) |
//!
//! Geometric transforms do not resample the image one after the other:
//! each only moves the coordinates that the output will read
//! ([`Frame`], `warp.rs`), and the image is sampled once, bilinearly, when
//! a colour transform needs the pixels or at the end. So an affine and an
//! elastic distortion blur the digit once, not twice. Points outside the
//! image read the pipeline's [`Border`]: a constant (the background of
//! digits, the default being 0) or the nearest edge pixel (photos).
//!
//! Label maps (segmentation, `Dataset::with_label_maps`) move with the
//! pixels: the same coordinates pull each position's class from its
//! nearest source pixel, and a position outside the image takes
//! [`Pipeline::label_border`]'s class (with a constant border) or the
//! nearest edge's. Value targets (boxes, landmarks) are not moved:
//! `Model::fit` refuses a pipeline that moves pixels for them.
//!
//! Reproducibility: the generator of image `index` in epoch `epoch` is
//! [`image_rng`]`(seed, epoch, index)`, a function of those three numbers
//! alone, so the augmented batches are the same whichever thread makes
//! them and however many threads there are.
//!
//! Parameters are checked when the pipeline is built (a probability
//! outside [0, 1], a negative sigma) and against the image shape before
//! training starts (`Pipeline::output_shape`: a crop larger than the
//! padded image, colour augmentation on one channel), each an
//! `Error::InvalidArgument` naming the transform and the numbers.

mod affine;
mod color;
mod crop;
mod eigen;
mod elastic;
mod flip;
mod pca_color;
mod pipeline;
pub mod queue;
mod sample;
mod stroke;
mod warp;

#[cfg(test)]
mod tests;

pub use affine::Affine;
pub use color::ColorShift;
pub use crop::RandomCrop;
pub use elastic::Elastic;
pub use flip::Mirror;
pub use pca_color::PcaColor;
pub use pipeline::Pipeline;
pub use stroke::StrokeWidth;
pub use warp::{Border, Frame};

use crate::error::{Error, Result};
use crate::rng::{splitmix64, Rng};

/// One random transform of an image, applied with some probability.
///
/// A transform acts on a [`Frame`]: geometric ones compose a map of where
/// each output pixel reads ([`Frame::affine`], [`Frame::displace`]),
/// colour ones change the pixels ([`Frame::pixels`]). `apply` is only
/// called when the transform fires (the pipeline draws that with
/// [`Transform::probability`]), and draws its own parameters from `rng`.
pub trait Transform: Send + Sync + std::fmt::Debug {
    /// The transform's name in error messages (`random crop`).
    fn name(&self) -> &'static str;
    /// The chance, in [0, 1], that an image is transformed.
    fn probability(&self) -> f32;
    /// Checks the parameters that do not depend on the image (called when
    /// the transform joins a pipeline).
    fn validate(&self) -> Result<()>;
    /// The shape of an output for an input of shape `input` (`[h, w, c]`),
    /// or an error saying why this transform cannot take such images.
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]>;
    /// Transforms the image in `frame` with random numbers from `rng`.
    fn apply(&self, frame: &mut Frame<'_>, rng: &mut Rng);
    /// What an image gets when the transform does not fire: nothing, but a
    /// crop still has to cut its window (the centre one) so that every
    /// output has the same shape.
    fn skip(&self, _frame: &mut Frame<'_>) {}
    /// Whether it moves pixels (a geometric transform), so that targets
    /// tied to places in the image must move too (label maps do, with the
    /// pipeline's coordinates; boxes cannot); colour transforms do not.
    fn moves_pixels(&self) -> bool {
        true
    }
}

/// The generator of image `index` (its position in the data set) in epoch
/// `epoch`: the same numbers whichever thread asks, so augmentation does
/// not depend on the thread count or on the order batches are made in.
pub fn image_rng(seed: u64, epoch: usize, index: usize) -> Rng {
    let key = splitmix64(seed ^ splitmix64(epoch as u64 ^ splitmix64(index as u64 ^ 0xA5A5)));
    Rng::new(key)
}

/// `Err` unless `p` is a probability.
pub(crate) fn check_probability(name: &str, p: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::InvalidArgument(format!(
            "{name}: probability {p} is outside [0, 1]"
        )));
    }
    Ok(())
}

/// `Err` unless `value` is finite and not negative.
pub(crate) fn check_non_negative(name: &str, what: &str, value: f32) -> Result<()> {
    if !(value >= 0.0 && value.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "{name}: {what} must be a finite number >= 0, got {value}"
        )));
    }
    Ok(())
}

/// `Err` unless `lo <= hi`, both finite.
pub(crate) fn check_range(name: &str, what: &str, (lo, hi): (f32, f32)) -> Result<()> {
    if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
        return Err(Error::InvalidArgument(format!(
            "{name}: {what} range ({lo}, {hi}) must be finite with low <= high"
        )));
    }
    Ok(())
}
