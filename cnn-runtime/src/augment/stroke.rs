//! Stroke width: thicker or thinner lines, the difference between two
//! pens or two typefaces of the same letter. Grayscale dilation (each
//! pixel the largest of itself and its four neighbours) thickens bright
//! strokes on a dark background, the convention of MNIST and the glyphs;
//! erosion (the smallest) thins them. A random strength blends the result
//! with the image, so the change in width is continuous, not one pixel or
//! none. On dark ink over a light page the two swap roles; the transform
//! draws either with equal chance, so it is symmetric anyway.

use super::{check_probability, Frame, Transform};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// With probability `p`, dilates or erodes the image (equal chance) with a
/// 3x3 cross, blended with the original by a strength drawn uniformly from
/// `[0, strength]`: `out = v + t (morph(v) - v)`. Every channel alike;
/// pixels outside the image do not take part.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrokeWidth {
    /// The largest blend of the dilated or eroded image, in [0, 1].
    pub strength: f32,
    /// The chance that an image is changed.
    pub p: f32,
}

impl StrokeWidth {
    /// Up to a full pixel thicker or thinner on every image.
    pub fn new(strength: f32) -> Self {
        StrokeWidth { strength, p: 1.0 }
    }
}

/// The 3x3-cross dilation (`max`) or erosion (`min`) of `src` (`h x w x c`)
/// into `dst`.
pub(crate) fn morph(src: &[f32], [h, w, c]: [usize; 3], dilate: bool, dst: &mut [f32]) {
    let pick = |a: f32, b: f32| if dilate { a.max(b) } else { a.min(b) };
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                let at = |yy: usize, xx: usize| src[(yy * w + xx) * c + ch];
                let mut v = at(y, x);
                if y > 0 {
                    v = pick(v, at(y - 1, x));
                }
                if y + 1 < h {
                    v = pick(v, at(y + 1, x));
                }
                if x > 0 {
                    v = pick(v, at(y, x - 1));
                }
                if x + 1 < w {
                    v = pick(v, at(y, x + 1));
                }
                dst[(y * w + x) * c + ch] = v;
            }
        }
    }
}

impl Transform for StrokeWidth {
    fn moves_pixels(&self) -> bool {
        false
    }
    fn name(&self) -> &'static str {
        "stroke width"
    }
    fn probability(&self) -> f32 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_probability(self.name(), self.p)?;
        if !(0.0..=1.0).contains(&self.strength) {
            return Err(Error::InvalidArgument(format!(
                "stroke width: strength {} is outside [0, 1] (1 is a full dilation or erosion)",
                self.strength
            )));
        }
        Ok(())
    }
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        self.validate()?;
        Ok(input)
    }
    fn apply(&self, frame: &mut Frame<'_>, rng: &mut Rng) {
        let shape = frame.shape();
        let dilate = rng.uniform() < 0.5;
        let t = rng.uniform_in(0.0, self.strength);
        let px = frame.pixels();
        let mut m = vec![0.0; px.len()];
        morph(px, shape, dilate, &mut m);
        for (v, m) in px.iter_mut().zip(&m) {
            *v += t * (m - *v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::Pipeline;
    use crate::data::Augment;

    /// One bright pixel in the middle of a dark 5x5 image.
    fn dot() -> Vec<f32> {
        let mut img = vec![0.0; 25];
        img[12] = 1.0;
        img
    }

    #[test]
    fn dilation_grows_a_dot_into_a_cross_and_erosion_removes_it() {
        let mut out = vec![0.0; 25];
        morph(&dot(), [5, 5, 1], true, &mut out);
        let lit: Vec<usize> = (0..25).filter(|&i| out[i] == 1.0).collect();
        assert_eq!(lit, [7, 11, 12, 13, 17]);
        morph(&dot(), [5, 5, 1], false, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
        // Channels are separate: a dot in channel 1 only.
        let mut two = vec![0.0; 50];
        two[2 * 12 + 1] = 1.0;
        let mut out = vec![0.0; 50];
        morph(&two, [5, 5, 2], true, &mut out);
        assert!(out.chunks(2).all(|p| p[0] == 0.0));
        assert_eq!(out.chunks(2).filter(|p| p[1] == 1.0).count(), 5);
    }

    #[test]
    fn strength_blends_and_bounds_the_change() {
        let pipe = Pipeline::new().then(StrokeWidth::new(0.5));
        let mut rng = Rng::new(7);
        for _ in 0..20 {
            let mut img = dot();
            pipe.apply(&mut img, [5, 5, 1], &mut rng);
            // Neighbours grow by at most half; the dot keeps at least half.
            assert!(img[12] >= 0.5 - 1e-6 && img[12] <= 1.0);
            assert!(img[7] <= 0.5 + 1e-6 && img[7] >= 0.0);
            // Corners are not neighbours of the dot in a cross.
            assert_eq!(img[6], 0.0);
        }
        let pipe = Pipeline::new().then(StrokeWidth {
            strength: 1.0,
            p: 0.0,
        });
        let mut img = dot();
        pipe.apply(&mut img, [5, 5, 1], &mut rng);
        assert_eq!(img, dot());
    }

    #[test]
    fn bad_parameters_are_errors() {
        let e = StrokeWidth::new(1.5).validate().unwrap_err().to_string();
        assert!(e.contains("strength 1.5"), "{e}");
        assert!(StrokeWidth {
            strength: 0.5,
            p: 2.0
        }
        .validate()
        .is_err());
    }
}
