//! Augmentation applied to each training example as its batch is gathered
//! (Keras's preprocessing layers, PyTorch's transforms). The generator of
//! each example is `augment::image_rng(seed, epoch, index)`, so a resumed
//! run augments exactly as the uninterrupted one did, whichever thread
//! makes the batch. The transforms of the course and their pipeline are
//! in [`crate::augment`]; [`RandomShift`] is the cheapest of them.

use crate::error::Result;
use crate::rng::Rng;

/// A random transform of one example; `shape` is `[h, w, c]`.
pub trait Augment: Send + Sync {
    /// Transforms `example` (`[h, w, c]`, NHWC) in place with random numbers from `rng`.
    fn apply(&self, example: &mut [f32], shape: [usize; 3], rng: &mut Rng);
    /// Checks the parameters against examples of shape `input` and returns
    /// the shape of what comes out (a crop may be smaller); `Model::fit`
    /// calls it before training starts.
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        Ok(input)
    }
    /// Transforms `src` (of shape `shape`) into `dst` (of the output
    /// shape). By default a copy, then [`Augment::apply`].
    fn apply_into(&self, src: &[f32], shape: [usize; 3], dst: &mut [f32], rng: &mut Rng) {
        dst.copy_from_slice(src);
        self.apply(dst, shape, rng);
    }
    /// The name of a part that moves pixels, if any: `fit` refuses such an
    /// augmentation for value targets tied to places in the image (boxes,
    /// landmarks), which it would not move, and for label maps unless
    /// [`Augment::moves_label_maps`] says it moves them. By default every
    /// augmentation is taken to move pixels.
    fn moves_pixels(&self) -> Option<&'static str> {
        Some("this augmentation")
    }
    /// Whether [`Augment::apply_into_with_labels`] moves a label map (one
    /// class per pixel) with the pixels, or why not: `fit` refuses the
    /// augmentation for label-map targets then. By default only an
    /// augmentation that moves no pixel can (the labels stay).
    fn moves_label_maps(&self) -> std::result::Result<(), String> {
        match self.moves_pixels() {
            None => Ok(()),
            Some(name) => Err(format!(
                "its {name} moves pixels and cannot move a label map"
            )),
        }
    }
    /// [`Augment::apply_into`], with `labels` (`h x w` of the output, one
    /// class per pixel) moved as the pixels are. By default the labels
    /// stay, which is right for what [`Augment::moves_label_maps`] allows.
    fn apply_into_with_labels(
        &self,
        src: &[f32],
        shape: [usize; 3],
        dst: &mut [f32],
        labels: &mut [usize],
        rng: &mut Rng,
    ) {
        let _ = labels;
        self.apply_into(src, shape, dst, rng);
    }
}

/// Moves the image by up to `max` pixels in each direction, filling the
/// uncovered border with `fill` (the background, after normalisation).
/// On MNIST padded to 32x32 this is the classic "random crop" of the course.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomShift {
    /// The largest shift in pixels, in each direction.
    pub max: usize,
    /// The value of the pixels shifted in.
    pub fill: f32,
}

impl Augment for RandomShift {
    fn moves_pixels(&self) -> Option<&'static str> {
        Some("random shift")
    }
    fn apply(&self, example: &mut [f32], [h, w, c]: [usize; 3], rng: &mut Rng) {
        let span = 2 * self.max + 1;
        let dy = rng.below(span) as isize - self.max as isize;
        let dx = rng.below(span) as isize - self.max as isize;
        if dx == 0 && dy == 0 {
            return;
        }
        shift(example, [h, w, c], dy, dx, self.fill);
    }
}

/// Output pixel (r, q) takes input pixel (r - dy, q - dx), or `fill`.
/// Rows are visited in the order that never reads a row already written.
fn shift(x: &mut [f32], [h, w, c]: [usize; 3], dy: isize, dx: isize, fill: f32) {
    for k in 0..h {
        let r = if dy > 0 { h - 1 - k } else { k };
        let src_r = r as isize - dy;
        let row = r * w * c;
        if src_r < 0 || src_r >= h as isize {
            x[row..row + w * c].fill(fill);
            continue;
        }
        let src = src_r as usize * w * c;
        // Copy the overlapping columns, then fill the uncovered ones.
        let n = w - dx.unsigned_abs().min(w);
        if dx >= 0 {
            let d = dx as usize * c;
            x.copy_within(src..src + n * c, row + d);
            x[row..row + d.min(w * c)].fill(fill);
        } else {
            let d = (-dx) as usize * c;
            x.copy_within(src + d..src + d + n * c, row);
            x[row + n * c..row + w * c].fill(fill);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_moves_pixels_and_fills_the_border() {
        // 3x3x1 image 1..9, moved down 1 and left 1.
        let mut x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        shift(&mut x, [3, 3, 1], 1, -1, 0.0);
        assert_eq!(x, [0.0, 0.0, 0.0, 2.0, 3.0, 0.0, 5.0, 6.0, 0.0]);
        let mut y: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        shift(&mut y, [3, 3, 1], -1, 2, -1.0);
        assert_eq!(y, [-1.0, -1.0, 4.0, -1.0, -1.0, 7.0, -1.0, -1.0, -1.0]);
    }

    #[test]
    fn random_shift_keeps_the_pixel_sum_inside_the_margin() {
        // A 2x2 blob in the middle of 8x8 never leaves a 2-pixel margin.
        let mut img = vec![0.0; 64];
        for (r, q) in [(3, 3), (3, 4), (4, 3), (4, 4)] {
            img[r * 8 + q] = 1.0;
        }
        let mut rng = Rng::new(1);
        let aug = RandomShift { max: 2, fill: 0.0 };
        for _ in 0..50 {
            let mut x = img.clone();
            aug.apply(&mut x, [8, 8, 1], &mut rng);
            assert_eq!(x.iter().sum::<f32>(), 4.0);
        }
    }
}
