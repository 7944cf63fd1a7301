//! Rotation, shearing, scaling and translation: one random affine map per
//! image about the image's centre (torchvision's `RandomAffine`, with
//! pixels instead of fractions for the translation). Each part has its own
//! range; a range of zero leaves that part out, so `Affine::rotation(15.0)`
//! only rotates.
//!
//! In (x, y) with y pointing down, the map from input to output is
//! `out = c + t + R(theta) S(s) H(k) (in - c)`, with `R` the rotation,
//! `S = s I` the scaling, `H = [[1, k], [0, 1]]` a shear of the x axis
//! (`k = tan(shear)`), `c` the centre ((w - 1) / 2, (h - 1) / 2) and `t`
//! the translation; the pipeline pulls, so it composes the inverse.

use super::{check_non_negative, check_probability, check_range, Frame, Transform};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// A random affine distortion. Angles are in degrees and drawn uniformly
/// in `[-rotation, rotation]` and `[-shear, shear]`; the scale uniformly in
/// `scale.0..scale.1`; the translation uniformly in `[-translate,
/// translate]` pixels on each axis. `Affine::default()` is the identity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    /// Largest rotation, in degrees either way.
    pub rotation: f32,
    /// Largest shear angle of the x axis, in degrees either way.
    pub shear: f32,
    /// The range of the (isotropic) scale factor; (1, 1) keeps the size.
    pub scale: (f32, f32),
    /// Largest translation in pixels, on each axis, either way.
    pub translate: f32,
    /// The chance that an image is distorted.
    pub p: f32,
}

impl Default for Affine {
    fn default() -> Self {
        Affine {
            rotation: 0.0,
            shear: 0.0,
            scale: (1.0, 1.0),
            translate: 0.0,
            p: 1.0,
        }
    }
}

impl Affine {
    /// Rotations of up to `degrees` either way.
    pub fn rotation(degrees: f32) -> Self {
        Affine {
            rotation: degrees,
            ..Affine::default()
        }
    }
    /// Shears of the x axis by up to `degrees` either way.
    pub fn shear(degrees: f32) -> Self {
        Affine {
            shear: degrees,
            ..Affine::default()
        }
    }
    /// Scalings by a factor drawn in `lo..hi`.
    pub fn scale(lo: f32, hi: f32) -> Self {
        Affine {
            scale: (lo, hi),
            ..Affine::default()
        }
    }

    /// The pull (output -> input, in the frame's (y, x) order) of the map
    /// with these drawn values, on an `h x w` image.
    pub(crate) fn pull(
        h: usize,
        w: usize,
        theta: f32,
        shear: f32,
        scale: f32,
        (ty, tx): (f32, f32),
    ) -> [f32; 6] {
        let (sin, cos) = (theta as f64).sin_cos();
        let k = (shear as f64).tan();
        let s = scale as f64;
        // F = R S H in (x, y): [[a, b], [c, d]].
        let (a, b) = (s * cos, s * (cos * k - sin));
        let (c, d) = (s * sin, s * (sin * k + cos));
        let det = a * d - b * c;
        // F^-1 = [[d, -b], [-c, a]] / det.
        let (i00, i01, i10, i11) = (d / det, -b / det, -c / det, a / det);
        let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
        let (ux, uy) = (cx + tx as f64, cy + ty as f64);
        // in_x = cx + i00 (x - ux) + i01 (y - uy); in_y = cy + i10 (x - ux) + i11 (y - uy).
        [
            i11 as f32,
            i10 as f32,
            (cy - i10 * ux - i11 * uy) as f32,
            i01 as f32,
            i00 as f32,
            (cx - i00 * ux - i01 * uy) as f32,
        ]
    }
}

impl Transform for Affine {
    fn name(&self) -> &'static str {
        "affine"
    }
    fn probability(&self) -> f32 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        let name = self.name();
        check_probability(name, self.p)?;
        check_non_negative(name, "rotation", self.rotation)?;
        check_non_negative(name, "translation", self.translate)?;
        check_non_negative(name, "shear", self.shear)?;
        if self.shear >= 90.0 {
            return Err(Error::InvalidArgument(format!(
                "affine: a shear of {} degrees folds the image; keep it below 90",
                self.shear
            )));
        }
        check_range(name, "scale", self.scale)?;
        if self.scale.0 <= 0.0 {
            return Err(Error::InvalidArgument(format!(
                "affine: scale factors must be positive, got the range ({}, {})",
                self.scale.0, self.scale.1
            )));
        }
        Ok(())
    }
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        self.validate()?;
        Ok(input)
    }
    fn apply(&self, frame: &mut Frame<'_>, rng: &mut Rng) {
        let deg = std::f32::consts::PI / 180.0;
        let theta = rng.uniform_in(-self.rotation, self.rotation) * deg;
        let shear = rng.uniform_in(-self.shear, self.shear) * deg;
        let scale = rng.uniform_in(self.scale.0, self.scale.1);
        let ty = rng.uniform_in(-self.translate, self.translate);
        let tx = rng.uniform_in(-self.translate, self.translate);
        let shape = frame.shape();
        let m = Affine::pull(shape[0], shape[1], theta, shear, scale, (ty, tx));
        frame.affine(m, shape);
    }
}
