//! Mirroring: the cheapest augmentation of the course. Left-right suits
//! photos (a cat facing left is still a cat); digits and text must not be
//! mirrored, so leave it out of their pipelines.

use super::{check_probability, Frame, Transform};
use crate::error::Result;
use crate::rng::Rng;

/// Mirrors the image left-right (or up-down) with probability `p`.
/// Pixel (y, x) of the output is pixel (y, w - 1 - x) of the input, an
/// exact copy: mirrored twice is the original.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mirror {
    /// The chance that an image is mirrored.
    pub p: f32,
    /// Up-down instead of left-right.
    pub vertical: bool,
}

impl Mirror {
    /// Left-right with probability `p` (0.5 is the usual choice).
    pub fn horizontal(p: f32) -> Self {
        Mirror { p, vertical: false }
    }
    /// Up-down with probability `p`.
    pub fn vertical(p: f32) -> Self {
        Mirror { p, vertical: true }
    }
    /// The pull of the mirror on an image of `h x w`.
    pub(crate) fn map(&self, h: usize, w: usize) -> [f32; 6] {
        if self.vertical {
            [-1.0, 0.0, (h - 1) as f32, 0.0, 1.0, 0.0]
        } else {
            [1.0, 0.0, 0.0, 0.0, -1.0, (w - 1) as f32]
        }
    }
}

impl Transform for Mirror {
    fn name(&self) -> &'static str {
        "mirror"
    }
    fn probability(&self) -> f32 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_probability(self.name(), self.p)
    }
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        Ok(input)
    }
    fn apply(&self, frame: &mut Frame<'_>, _rng: &mut Rng) {
        let shape = frame.shape();
        frame.affine(self.map(shape[0], shape[1]), shape);
    }
}
