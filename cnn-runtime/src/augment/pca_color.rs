//! PCA colour augmentation (Krizhevsky, Sutskever and Hinton 2012,
//! section 4.1): the principal components of the training set's RGB
//! values say in which directions colours really vary (mostly brightness,
//! then the warm-cold axis), and each image gets a random colour shift
//! along them,
//!
//! ```text
//! [R, G, B] += [p1 p2 p3] [a1 l1, a2 l2, a3 l3]^T,   a_i ~ N(0, sigma), drawn once per image,
//! ```
//!
//! where `p_i` are the eigenvectors and `l_i` the eigenvalues of the 3x3
//! covariance of all training pixels (AlexNet: sigma = 0.1). Strong shifts
//! go along the axes along which the data already varies, so the colours
//! stay plausible. Offsets are in the data's units, not clamped.

use super::color::check_rgb;
use super::eigen::symmetric_eigen;
use super::{check_non_negative, check_probability, Frame, Transform};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// AlexNet's colour augmentation: eigenvalues `values[i]` with unit
/// eigenvectors `vectors[i]`, largest first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PcaColor {
    /// The covariance's eigenvalues, largest first.
    pub values: [f32; 3],
    /// The matching unit eigenvectors (RGB).
    pub vectors: [[f32; 3]; 3],
    /// The standard deviation of the `a_i`.
    pub sigma: f32,
    /// The chance that an image is shifted.
    pub p: f32,
}

impl PcaColor {
    /// The principal components of the RGB values of every pixel of
    /// `images` (`[n, h, w, 3]` back to back).
    pub fn fit(images: &[f32], shape: [usize; 3], sigma: f32) -> Result<Self> {
        check_rgb("PCA colour", shape)?;
        let n = images.len() / 3;
        if n < 2 || !images.len().is_multiple_of(3) {
            return Err(Error::InvalidArgument(format!(
                "PCA colour: {} values are not two or more RGB pixels",
                images.len()
            )));
        }
        let mut mean = [0f64; 3];
        for px in images.chunks_exact(3) {
            (0..3).for_each(|i| mean[i] += px[i] as f64);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut cov = [[0f64; 3]; 3];
        for px in images.chunks_exact(3) {
            let d = [0, 1, 2].map(|i| px[i] as f64 - mean[i]);
            for (row, di) in cov.iter_mut().zip(d) {
                for (v, dj) in row.iter_mut().zip(d) {
                    *v += di * dj;
                }
            }
        }
        cov.iter_mut().flatten().for_each(|v| *v /= (n - 1) as f64);
        let (values, vectors) = symmetric_eigen(cov.iter().flatten().copied().collect(), 3);
        Ok(PcaColor {
            values: [0, 1, 2].map(|j| values[j].max(0.0) as f32),
            vectors: [0, 1, 2].map(|j| [0, 1, 2].map(|i| vectors[j][i] as f32)),
            sigma,
            p: 1.0,
        })
    }

    /// [`PcaColor::fit`] on every pixel of a data set.
    pub fn from_dataset(data: &Dataset, sigma: f32) -> Result<Self> {
        PcaColor::fit(data.images(), data.shape(), sigma)
    }

    /// The colour offset for the draws `a`: `sum_i a_i l_i p_i`.
    // i indexes a, the eigenvalues and the eigenvectors together.
    #[allow(clippy::needless_range_loop)]
    pub fn offset(&self, a: [f32; 3]) -> [f32; 3] {
        let mut o = [0f32; 3];
        for i in 0..3 {
            for (c, oc) in o.iter_mut().enumerate() {
                *oc += a[i] * self.values[i] * self.vectors[i][c];
            }
        }
        o
    }
}

impl Transform for PcaColor {
    fn moves_pixels(&self) -> bool {
        false
    }
    fn name(&self) -> &'static str {
        "PCA colour"
    }
    fn probability(&self) -> f32 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_probability(self.name(), self.p)?;
        check_non_negative(self.name(), "sigma", self.sigma)?;
        for &l in &self.values {
            check_non_negative(self.name(), "an eigenvalue", l)?;
        }
        Ok(())
    }
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        self.validate()?;
        check_rgb(self.name(), input)?;
        Ok(input)
    }
    fn apply(&self, frame: &mut Frame<'_>, rng: &mut Rng) {
        let a = [0; 3].map(|_| self.sigma * rng.normal());
        let o = self.offset(a);
        for px in frame.pixels().chunks_exact_mut(3) {
            px.iter_mut().zip(&o).for_each(|(v, d)| *v += d);
        }
    }
}
