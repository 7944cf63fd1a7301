//! Random cropping: pad the image, then cut a window at a random place.
//! With the window as large as the original image this is a random shift
//! (the classic MNIST and CIFAR augmentation); with a smaller window the
//! network sees a random part of a larger image (ImageNet's 224 crops of
//! 256 images), and at test time `train::TenCrop` averages the corners and
//! the centre. The course's warning: a crop that is too small can cut the
//! object out, so keep it large.

use super::{check_probability, Frame, Transform};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// Pads by `padding` pixels on every side (with the pipeline's border),
/// then cuts a `height x width` window at a uniformly random offset. When
/// it does not fire (probability `1 - p`) it cuts the centre window, so
/// the output shape is always `height x width`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomCrop {
    /// Rows and columns added on each side before cropping.
    pub padding: usize,
    /// The window's height.
    pub height: usize,
    /// The window's width.
    pub width: usize,
    /// The chance of a random window (else the centre one).
    pub p: f32,
}

impl RandomCrop {
    /// A `height x width` window of the image padded by `padding`, always random.
    pub fn new(height: usize, width: usize, padding: usize) -> Self {
        RandomCrop {
            padding,
            height,
            width,
            p: 1.0,
        }
    }

    /// The largest offsets of the window in the padded image.
    fn slack(&self, [h, w, _]: [usize; 3]) -> (usize, usize) {
        (
            (h + 2 * self.padding).saturating_sub(self.height),
            (w + 2 * self.padding).saturating_sub(self.width),
        )
    }
}

impl Transform for RandomCrop {
    fn name(&self) -> &'static str {
        "random crop"
    }
    fn probability(&self) -> f32 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_probability(self.name(), self.p)?;
        if self.height == 0 || self.width == 0 {
            return Err(Error::InvalidArgument(format!(
                "random crop: the window {}x{} is empty",
                self.height, self.width
            )));
        }
        Ok(())
    }
    fn output_shape(&self, [h, w, c]: [usize; 3]) -> Result<[usize; 3]> {
        self.validate()?;
        let p = self.padding;
        let (ph, pw) = (h + 2 * p, w + 2 * p);
        if self.height > ph || self.width > pw {
            return Err(Error::InvalidArgument(format!(
                "random crop: the window {}x{} does not fit the padded image {ph}x{pw} \
                 (n + 2p = {h} + 2*{p} = {ph} rows, {w} + 2*{p} = {pw} columns)\n  \
                 = help: lower the crop size or pad by at least {} pixels",
                self.height,
                self.width,
                (self.height.saturating_sub(h))
                    .max(self.width.saturating_sub(w))
                    .div_ceil(2)
            )));
        }
        Ok([self.height, self.width, c])
    }
    fn apply(&self, frame: &mut Frame<'_>, rng: &mut Rng) {
        let shape = frame.shape();
        let (sy, sx) = self.slack(shape);
        let oy = rng.below(sy + 1) as f32 - self.padding as f32;
        let ox = rng.below(sx + 1) as f32 - self.padding as f32;
        let out = [self.height, self.width, shape[2]];
        frame.affine([1.0, 0.0, oy, 0.0, 1.0, ox], out);
    }
    /// The centre window, so the shape is the same whether it fired or not.
    fn skip(&self, frame: &mut Frame<'_>) {
        let shape = frame.shape();
        let (sy, sx) = self.slack(shape);
        let oy = (sy / 2) as f32 - self.padding as f32;
        let ox = (sx / 2) as f32 - self.padding as f32;
        let out = [self.height, self.width, shape[2]];
        frame.affine([1.0, 0.0, oy, 0.0, 1.0, ox], out);
    }
}
