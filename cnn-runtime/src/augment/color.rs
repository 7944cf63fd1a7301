//! Colour shifting: add a random offset to each channel of the whole
//! image (the course's "add to R, G and B some distortions"), so that the
//! network does not rely on the exact tint of the light. Offsets are in
//! the data's units (after normalisation, in standard deviations) and the
//! result is not clamped.

use super::{check_non_negative, check_probability, Frame, Transform};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// Adds `N(0, sigma)` to each channel, one draw per channel and image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColorShift {
    /// The offsets' standard deviation.
    pub sigma: f32,
    /// The chance that an image is shifted.
    pub p: f32,
}

impl ColorShift {
    /// Offsets of standard deviation `sigma` on every image.
    pub fn new(sigma: f32) -> Self {
        ColorShift { sigma, p: 1.0 }
    }
}

/// `Err` unless the images have three channels.
pub(crate) fn check_rgb(name: &str, [h, w, c]: [usize; 3]) -> Result<()> {
    if c != 3 {
        return Err(Error::InvalidArgument(format!(
            "{name}: colour augmentation needs 3 channels (RGB), but the images are {h}x{w}x{c}\n  \
             = help: leave colour transforms out of a pipeline for {c}-channel images"
        )));
    }
    Ok(())
}

impl Transform for ColorShift {
    fn moves_pixels(&self) -> bool {
        false
    }
    fn name(&self) -> &'static str {
        "colour shift"
    }
    fn probability(&self) -> f32 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_probability(self.name(), self.p)?;
        check_non_negative(self.name(), "sigma", self.sigma)
    }
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        self.validate()?;
        check_rgb(self.name(), input)?;
        Ok(input)
    }
    fn apply(&self, frame: &mut Frame<'_>, rng: &mut Rng) {
        let c = frame.shape()[2];
        let mut offset = [0f32; 3];
        for o in offset.iter_mut().take(c) {
            *o = self.sigma * rng.normal();
        }
        for px in frame.pixels().chunks_exact_mut(c) {
            px.iter_mut().zip(&offset).for_each(|(v, o)| *v += o);
        }
    }
}
