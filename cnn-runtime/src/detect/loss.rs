//! The YOLO loss, as a [`Loss`] on a raw `S x S x A(5 + K)` output (the
//! layout of [`super::grid`]) and a target volume from [`Grid::encode`].
//!
//! We follow YOLO v1's form (Redmon et al. 2016, equation 3): a weighted
//! sum over every cell and anchor of a coordinate term, an object term and
//! a class term where an object is, and a no-object term where none is,
//! with v1's weights `lambda_coord = 5` and `lambda_noobj = 0.5`. The
//! coordinates are YOLO v2's (Redmon and Farhadi 2017): offsets in the
//! cell through a sigmoid and sizes relative to the anchor through `exp`,
//! so the squared error is taken on `sigmoid(tx)` against the target
//! offset and on `th` against `ln(h / anchor_h)` (the log plays the part
//! of v1's square root: an error on a small box counts more). For `pc` and
//! the classes we take the course's "in practice" choice: a logistic loss
//! on `pc` and softmax cross-entropy on the classes, instead of v1's
//! squared errors. For one picture, with `1obj` the target's `pc`:
//!
//! ```text
//! L = sum over cells and anchors of
//!       1obj * lambda_coord * [ (sigmoid(tx) - x)^2 + (sigmoid(ty) - y)^2
//!                               + (th - ln h)^2 + (tw - ln w)^2 ]
//!     + 1obj * lambda_obj * softplus(-to)            (-ln pc)
//!     + (1 - 1obj) * lambda_noobj * softplus(to)     (-ln(1 - pc))
//!     + 1obj * lambda_class * sum_k -c_k ln softmax(class logits)_k
//! ```
//!
//! and the batch's loss is the mean of `L` over its pictures. Unlike YOLO
//! v2's code we do not exempt from the no-object term the anchors whose
//! predicted box already overlaps a true one: the loss stays a function of
//! the output and the target alone.

use super::check::check_grid;
use super::grid::{sigmoid, softmax, Grid};
use crate::error::{Error, Result};
use crate::loss::{Loss, Target};

/// The YOLO loss for one grid, with its four weights.
#[derive(Clone, Debug, PartialEq)]
pub struct YoloLoss {
    grid: Grid,
    /// Weight of the coordinate term (v1: 5).
    pub lambda_coord: f32,
    /// Weight of the object term (1).
    pub lambda_obj: f32,
    /// Weight of the no-object term (v1: 0.5).
    pub lambda_noobj: f32,
    /// Weight of the class term (1).
    pub lambda_class: f32,
}

impl YoloLoss {
    /// The loss for `grid` with YOLO v1's weights: coordinates 5, object
    /// 1, no object 0.5, classes 1.
    pub fn new(grid: Grid) -> Self {
        YoloLoss {
            grid,
            lambda_coord: 5.0,
            lambda_obj: 1.0,
            lambda_noobj: 0.5,
            lambda_class: 1.0,
        }
    }

    /// The grid the loss reads outputs and targets on.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// Checks one anchor's target: `pc` is 0 or 1; with an object, the
    /// offsets are in `0..=1`, the sizes positive, the class values not
    /// negative and not all 0.
    fn check_anchor(&self, t: &[f32], at: usize) -> Result<()> {
        let bad = |what: &str| {
            Err(Error::InvalidArgument(format!(
                "yolo loss: target value {at}: {what}"
            )))
        };
        if t.iter().any(|v| !v.is_finite()) {
            return bad("the target holds a value that is not finite");
        }
        match t[0] {
            0.0 => Ok(()),
            1.0 => {
                if !(0.0..=1.0).contains(&t[1]) || !(0.0..=1.0).contains(&t[2]) {
                    return bad(&format!(
                        "the midpoint ({}, {}) must be relative to its cell, in 0..=1",
                        t[1], t[2]
                    ));
                }
                if t[3] <= 0.0 || t[4] <= 0.0 {
                    return bad(&format!(
                        "the size {}x{} relative to the anchor must be positive",
                        t[3], t[4]
                    ));
                }
                let classes = &t[5..];
                if classes.iter().any(|&c| c < 0.0) || classes.iter().sum::<f32>() <= 0.0 {
                    return bad("the class values must be >= 0 and not all 0 (one-hot)");
                }
                Ok(())
            }
            pc => bad(&format!("pc is {pc}; it must be 0 or 1")),
        }
    }
}

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl Loss for YoloLoss {
    fn name(&self) -> &str {
        "yolo"
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        let g = &self.grid;
        let (s, a, k) = (g.size(), g.anchors().len(), g.classes());
        check_grid(shape, s, a, k)
            .map_err(|m| Error::InvalidArgument(format!("yolo loss: {}", m.as_str())))?;
        let per_example = g.len();
        if output.is_empty() || !output.len().is_multiple_of(per_example) {
            return Err(Error::shape(
                "yolo loss: output",
                format!("a multiple of {per_example} values (S*S*A(5 + K))"),
                output.len(),
            ));
        }
        crate::error::check_len("yolo loss: grad", grad.len(), output.len())?;
        let Target::Values(target) = target else {
            return Err(Error::InvalidArgument(
                "yolo loss: the target must be Target::Values, a volume from Grid::encode".into(),
            ));
        };
        crate::error::check_len("yolo loss: target", target.len(), output.len())?;
        let n = g.per_anchor();
        for (i, t) in target.chunks_exact(n).enumerate() {
            self.check_anchor(t, i * n)?;
        }
        let batch = output.len() / per_example;
        // Every term is divided by the batch: the gradient of the mean.
        let inv = 1.0 / batch as f32;
        let mut total = 0.0f64;
        let mut probs = vec![0.0; k];
        for ((o, t), d) in output
            .chunks_exact(n)
            .zip(target.chunks_exact(n))
            .zip(grad.chunks_exact_mut(n))
        {
            d.fill(0.0);
            if t[0] == 0.0 {
                total += (self.lambda_noobj * softplus(o[0])) as f64;
                d[0] = self.lambda_noobj * sigmoid(o[0]) * inv;
                continue;
            }
            let lc = self.lambda_coord;
            let mut l = self.lambda_obj * softplus(-o[0]);
            d[0] = self.lambda_obj * (sigmoid(o[0]) - 1.0) * inv;
            for j in 1..=2 {
                let p = sigmoid(o[j]);
                l += lc * (p - t[j]) * (p - t[j]);
                d[j] = 2.0 * lc * (p - t[j]) * p * (1.0 - p) * inv;
            }
            for j in 3..=4 {
                let e = o[j] - t[j].ln();
                l += lc * e * e;
                d[j] = 2.0 * lc * e * inv;
            }
            // Cross-entropy against the target's class values, from the
            // logits: ln sum exp(z) - z_k, gradient p * sum(c) - c.
            softmax(&o[5..], &mut probs);
            let c_sum: f32 = t[5..].iter().sum();
            let m = o[5..].iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let lse = m + o[5..].iter().map(|&z| (z - m).exp()).sum::<f32>().ln();
            for j in 0..k {
                let c = t[5 + j];
                l += self.lambda_class * c * (lse - o[5 + j]);
                d[5 + j] = self.lambda_class * (probs[j] * c_sum - c) * inv;
            }
            total += l as f64;
        }
        Ok((total / batch as f64) as f32)
    }
}
