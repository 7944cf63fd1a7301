//! The course's learned similarity: verification as binary
//! classification (Taigman et al. 2014, DeepFace). A pair of embeddings
//! goes through a logistic unit on their element-wise absolute difference,
//! `p(same) = sigmoid(sum_k w_k |f(x_i)_k - f(x_j)_k| + b)`, trained with
//! binary cross-entropy on same / different labels.
//!
//! The head is a small struct with its own `d + 1` parameters rather than
//! a `network!` layer: its input is a pair, which the macro's networks do
//! not take. Pairs are laid out as [`super::ContrastiveLoss`] takes them,
//! the two embeddings of pair `i` at rows `2i` and `2i + 1` of one batch,
//! so the gradient the head returns for the embeddings is the gradient of
//! the embedding network's output, ready for the held pass's backward.

use crate::error::{check_len, Error, Result};

/// A logistic unit on `|a - b|`; see the module's docs.
///
/// ```
/// use cnn_runtime::embed::{SiameseGrads, SiameseHead};
/// use cnn_runtime::optim::{Optimizer, Sgd};
///
/// // Pairs of 2-d embeddings: the first of one person, the second of two.
/// let pairs = [0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 2.0, 1.0];
/// let same = [1.0, 0.0];
/// let mut head = SiameseHead::new(2);
/// let mut grads = SiameseGrads::default();
/// let mut opt = Sgd::new(0.5);
/// let first = head.loss(&pairs, &same, &mut grads).unwrap();
/// for _ in 0..50 {
///     head.loss(&pairs, &same, &mut grads).unwrap();
///     opt.step(head.params_mut(), &grads.params);
/// }
/// assert!(head.loss(&pairs, &same, &mut grads).unwrap() < first / 4.0);
/// let mut p = [0.0; 2];
/// head.probabilities(&pairs, &mut p).unwrap();
/// assert!(p[0] > 0.5 && p[1] < 0.5);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SiameseHead {
    /// `[w_0, .., w_{d-1}, b]`.
    params: Vec<f32>,
}

/// The gradients [`SiameseHead::backward`] and [`SiameseHead::loss`]
/// write; resized on use, so one value serves every call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SiameseGrads {
    /// With respect to the embeddings, laid out as they are (`[2m, d]`,
    /// pair `i` at rows `2i` and `2i + 1`).
    pub embeddings: Vec<f32>,
    /// With respect to the head's parameters, laid out as
    /// [`SiameseHead::params`] (`[w_0, .., w_{d-1}, b]`).
    pub params: Vec<f32>,
}

impl SiameseHead {
    /// A head for embeddings of `dim` values, every parameter 0 (a
    /// logistic unit has no symmetry to break).
    pub fn new(dim: usize) -> Self {
        SiameseHead {
            params: vec![0.0; dim + 1],
        }
    }

    /// A head with the weights `weights` (one per embedding value) and
    /// `bias`.
    pub fn from_weights(weights: &[f32], bias: f32) -> Self {
        let mut params = weights.to_vec();
        params.push(bias);
        SiameseHead { params }
    }

    /// The embedding length it takes.
    pub fn dim(&self) -> usize {
        self.params.len() - 1
    }

    /// The weights `w` (one per embedding value).
    pub fn weights(&self) -> &[f32] {
        &self.params[..self.dim()]
    }

    /// The bias `b`.
    pub fn bias(&self) -> f32 {
        self.params[self.dim()]
    }

    /// Every parameter, `[w_0, .., w_{d-1}, b]`: what an optimizer
    /// updates, with [`SiameseGrads::params`].
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// The parameters, to update in place.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// The number of pairs in `pairs` (`[2m, d]`), or an `Err`.
    fn pairs(&self, what: &str, pairs: &[f32]) -> Result<usize> {
        let d = self.dim();
        let row = 2 * d;
        if d == 0 || pairs.is_empty() || !pairs.len().is_multiple_of(row) {
            return Err(Error::shape(
                format!("siamese head: {what}"),
                format!(
                    "pairs of embeddings of {d} values, a positive multiple of 2 x {d} = {row}"
                ),
                pairs.len(),
            ));
        }
        Ok(pairs.len() / row)
    }

    /// The logit `sum_k w_k |a_k - b_k| + b` of each pair into `out`
    /// (one per pair).
    pub fn logits(&self, pairs: &[f32], out: &mut [f32]) -> Result<()> {
        let m = self.pairs("pairs", pairs)?;
        check_len("siamese head: logits", out.len(), m)?;
        let d = self.dim();
        for (pair, z) in pairs.chunks_exact(2 * d).zip(out.iter_mut()) {
            *z = self.logit(pair) as f32;
        }
        Ok(())
    }

    fn logit(&self, pair: &[f32]) -> f64 {
        let (a, b) = pair.split_at(self.dim());
        let dot: f64 = a
            .iter()
            .zip(b)
            .zip(self.weights())
            .map(|((&x, &y), &w)| w as f64 * (x as f64 - y as f64).abs())
            .sum();
        dot + self.bias() as f64
    }

    /// The probability that each pair is of one person, `sigmoid(logit)`.
    pub fn probabilities(&self, pairs: &[f32], out: &mut [f32]) -> Result<()> {
        self.logits(pairs, out)?;
        for p in out.iter_mut() {
            *p = sigmoid(*p as f64) as f32;
        }
        Ok(())
    }

    /// Backward from `d_logits` (the gradient of some loss with respect to
    /// each pair's logit): overwrites `grads` with the gradient with
    /// respect to the embeddings (`w_k sign(a_k - b_k) dz` onto `a`, its
    /// negative onto `b`, 0 where `a_k = b_k`) and to the parameters
    /// (`|a_k - b_k| dz` summed over pairs, and `dz` summed for the bias).
    pub fn backward(
        &self,
        pairs: &[f32],
        d_logits: &[f32],
        grads: &mut SiameseGrads,
    ) -> Result<()> {
        let m = self.pairs("pairs", pairs)?;
        check_len("siamese head: d_logits", d_logits.len(), m)?;
        let d = self.dim();
        grads.embeddings.clear();
        grads.embeddings.resize(pairs.len(), 0.0);
        let mut dparams = vec![0f64; d + 1];
        for ((pair, dpair), &dz) in pairs
            .chunks_exact(2 * d)
            .zip(grads.embeddings.chunks_exact_mut(2 * d))
            .zip(d_logits)
        {
            let dz = dz as f64;
            let (a, b) = pair.split_at(d);
            let (da, db) = dpair.split_at_mut(d);
            for k in 0..d {
                let diff = a[k] as f64 - b[k] as f64;
                // sign(0) = 0, as PyTorch takes the slope of |x| at 0.
                let sign = if diff == 0.0 { 0.0 } else { diff.signum() };
                dparams[k] += diff.abs() * dz;
                let g = self.params[k] as f64 * sign * dz;
                da[k] = g as f32;
                db[k] = -g as f32;
            }
            dparams[d] += dz;
        }
        grads.params.clear();
        grads.params.extend(dparams.iter().map(|&g| g as f32));
        Ok(())
    }

    /// Binary cross-entropy of the head's prediction against `same` (one
    /// label in [0, 1] per pair: 1 one person, 0 two), averaged over the
    /// pairs, computed from the logits as PyTorch's
    /// `binary_cross_entropy_with_logits` does (stable for any logit).
    /// Returns the mean loss and overwrites `grads` with its gradient.
    pub fn loss(&self, pairs: &[f32], same: &[f32], grads: &mut SiameseGrads) -> Result<f32> {
        let m = self.pairs("pairs", pairs)?;
        check_len("siamese head: labels", same.len(), m)?;
        if let Some((i, y)) = same
            .iter()
            .enumerate()
            .find(|(_, y)| !(0.0..=1.0).contains(*y))
        {
            return Err(Error::InvalidArgument(format!(
                "siamese head: the label of pair {i} is {y}; labels are 1 (same) or 0 (different)"
            )));
        }
        let d = self.dim();
        let mut total = 0f64;
        let mut d_logits = Vec::with_capacity(m);
        for (pair, &y) in pairs.chunks_exact(2 * d).zip(same) {
            let (z, y) = (self.logit(pair), y as f64);
            total += z.max(0.0) - z * y + (-z.abs()).exp().ln_1p();
            d_logits.push(((sigmoid(z) - y) / m as f64) as f32);
        }
        self.backward(pairs, &d_logits, grads)?;
        Ok((total / m as f64) as f32)
    }
}

/// The logistic function, without overflow on either side.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}
