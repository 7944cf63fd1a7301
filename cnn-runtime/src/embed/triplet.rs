//! The triplet loss of FaceNet (Schroff, Kalenichenko and Philbin 2015),
//! `max(d(A, P) - d(A, N) + alpha, 0)`, with its triplets mined online
//! inside each batch: a batch is `n` embeddings with one identity each
//! (`Target::Classes`), and the [`Mining`] rule picks the triplets from the
//! batch's distance matrix. The picks are fixed while the gradient is
//! taken (an argmin has no gradient); the gradient then flows through the
//! two distances of every triplet whose hinge is open. [`TripletLoss::mine`]
//! shows which triplets a batch gives, through the same code the loss
//! runs.

use super::distance::{add_distance_grad, pairwise_f64, Distance};
use super::{check_embeddings, with_scratch};
use crate::error::{Error, Result};
use crate::loss::{Loss, Target};

/// How the triplets of a batch are chosen. In every rule a positive is
/// another example of the anchor's identity and a negative an example of
/// another identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mining {
    /// Every valid triplet `(a, p, n)`: `a != p` of one identity, `n` of
    /// another. The loss is the mean over all of them, the inactive ones
    /// (hinge at 0) included, as PyTorch's `TripletMarginLoss` with
    /// `reduction="mean"` averages the triplets it is given. (Averaging
    /// over the active ones only, Hermans et al.'s "batch all ≠ 0", keeps
    /// the gradient from shrinking as training succeeds; it is not done
    /// here, so the loss stays the plain definition.)
    All,
    /// Batch-hard (Hermans, Beyer and Leibe 2017, "In defense of the
    /// triplet loss"): for each anchor, its furthest positive and its
    /// closest negative, one triplet per anchor; an anchor with no
    /// positive or no negative in the batch gives none. Ties go to the
    /// lower index. The loss is the mean over the anchors that give one.
    BatchHard,
    /// FaceNet's semi-hard negatives (the default): for every
    /// anchor-positive pair, the closest negative that is further from the
    /// anchor than the positive (`d(A, N) > d(A, P)`). When that negative
    /// lies within the margin (`d(A, N) < d(A, P) + alpha`) the triplet
    /// has a loss; when it lies beyond, the pair's loss is 0. A pair with
    /// no negative further than its positive (every negative is at least
    /// as close: a hard pair) takes its furthest negative, the least hard
    /// one, as TensorFlow Addons' `TripletSemiHardLoss` does. A pair
    /// whose anchor has no negative in the batch gives no triplet. The
    /// loss is the mean over the anchor-positive pairs that give one.
    #[default]
    SemiHard,
}

/// One triplet, as indices into the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Triplet {
    /// The anchor A.
    pub anchor: usize,
    /// The positive P: another example of A's identity.
    pub positive: usize,
    /// The negative N: an example of another identity.
    pub negative: usize,
}

/// The triplet loss over a batch of embeddings, mined online.
///
/// Takes `Target::Classes(identities)`, one identity per example (any
/// `usize`, no range); one example's shape is the embedding's (`[d]`; a
/// larger shape is read flat). The value is the mean of
/// `max(d(A, P) - d(A, N) + margin, 0)` over the triplets [`Mining`]
/// picks, with `d` the [`Distance`] (squared Euclidean by default, the
/// course's `||f(A) - f(P)||^2`). A batch that gives no triplet at all
/// (one identity only, or no identity twice) is an `Err`: draw batches
/// of P identities x K images with [`super::PkSampler`]. The hinge's
/// slope at exactly 0 is taken as 0.
///
/// ```
/// use cnn_runtime::embed::{Mining, TripletLoss};
/// use cnn_runtime::loss::{Loss, Target};
///
/// // Two identities on a line: 0 at 0 and 1, 1 at 3.
/// let e = [0.0, 1.0, 3.0];
/// let loss = TripletLoss::new(0.2, Mining::All);
/// let mut grad = [0.0; 3];
/// let value = loss.loss(&e, &[1], Target::Classes(&[0, 0, 1]), &mut grad).unwrap();
/// // (A, P, N) = (0, 1, 2): max(1 - 9 + 0.2, 0) = 0; (1, 0, 2): max(1 - 4 + 0.2, 0) = 0.
/// assert_eq!(value, 0.0);
/// assert_eq!(grad, [0.0; 3]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TripletLoss {
    /// The margin `alpha` (0.2 in FaceNet, on L2-normalised 128-d
    /// embeddings); finite and at least 0.
    pub margin: f32,
    /// How triplets are chosen.
    pub mining: Mining,
    /// The distance `d`.
    pub distance: Distance,
}

impl Default for TripletLoss {
    /// FaceNet's: margin 0.2, semi-hard negatives, squared distance.
    fn default() -> Self {
        TripletLoss::new(0.2, Mining::SemiHard)
    }
}

impl TripletLoss {
    /// The triplet loss with `margin` and `mining`, on the squared
    /// Euclidean distance.
    pub fn new(margin: f32, mining: Mining) -> Self {
        TripletLoss {
            margin,
            mining,
            distance: Distance::SquaredEuclidean,
        }
    }

    /// The same loss on `distance`.
    pub fn with_distance(mut self, distance: Distance) -> Self {
        self.distance = distance;
        self
    }

    /// The triplets this loss would use on a batch: `embeddings` holds
    /// `identities.len()` embeddings of `dim` values. In the loss's order
    /// (by anchor, then positive, then negative).
    pub fn mine(
        &self,
        embeddings: &[f32],
        dim: usize,
        identities: &[usize],
    ) -> Result<Vec<Triplet>> {
        let n = super::distance::batch_len(self.name(), embeddings, dim)?;
        check_identities(self.name(), identities, n)?;
        let mut dist = Vec::new();
        pairwise_f64(embeddings, n, dim, self.distance, &mut dist);
        let mut out = Vec::new();
        for_each_triplet(self.mining, identities, &dist, |t| out.push(t));
        Ok(out)
    }
}

/// Checks that there is one identity per example.
pub(crate) fn check_identities(name: &str, identities: &[usize], n: usize) -> Result<()> {
    if identities.len() == n {
        Ok(())
    } else {
        Err(Error::shape(
            format!("{name} target"),
            format!("{n} identities, one per embedding"),
            identities.len(),
        ))
    }
}

/// Calls `f` on every triplet `mining` picks from the batch whose
/// identities are `ids` and whose distance matrix is `d` (`[n, n]`).
pub(crate) fn for_each_triplet(
    mining: Mining,
    ids: &[usize],
    d: &[f64],
    mut f: impl FnMut(Triplet),
) {
    let n = ids.len();
    let at = |i: usize, j: usize| d[i * n + j];
    for a in 0..n {
        let positives = (0..n).filter(|&p| p != a && ids[p] == ids[a]);
        let negatives = || (0..n).filter(|&q| ids[q] != ids[a]);
        match mining {
            Mining::All => {
                for p in positives {
                    for q in negatives() {
                        f(Triplet {
                            anchor: a,
                            positive: p,
                            negative: q,
                        });
                    }
                }
            }
            Mining::BatchHard => {
                // Strict comparisons: the first of equals wins.
                let hardest_positive = positives.fold(None, |best: Option<usize>, p| match best {
                    Some(b) if at(a, p) <= at(a, b) => best,
                    _ => Some(p),
                });
                let hardest_negative =
                    negatives().fold(None, |best: Option<usize>, q| match best {
                        Some(b) if at(a, q) >= at(a, b) => best,
                        _ => Some(q),
                    });
                if let (Some(p), Some(q)) = (hardest_positive, hardest_negative) {
                    f(Triplet {
                        anchor: a,
                        positive: p,
                        negative: q,
                    });
                }
            }
            Mining::SemiHard => {
                for p in positives {
                    let d_ap = at(a, p);
                    let (mut semi, mut furthest) = (None::<usize>, None::<usize>);
                    for q in negatives() {
                        let d_an = at(a, q);
                        if d_an > d_ap && semi.is_none_or(|s| d_an < at(a, s)) {
                            semi = Some(q);
                        }
                        if furthest.is_none_or(|s| d_an > at(a, s)) {
                            furthest = Some(q);
                        }
                    }
                    if let Some(q) = semi.or(furthest) {
                        f(Triplet {
                            anchor: a,
                            positive: p,
                            negative: q,
                        });
                    }
                }
            }
        }
    }
}

impl Loss for TripletLoss {
    fn name(&self) -> &str {
        match self.mining {
            Mining::All => "triplet_all",
            Mining::BatchHard => "triplet_batch_hard",
            Mining::SemiHard => "triplet_semi_hard",
        }
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        let name = self.name();
        let (n, dim) = check_embeddings(name, output, shape, grad)?;
        let Target::Classes(ids) = target else {
            return Err(Error::InvalidArgument(format!(
                "{name}: takes Target::Classes (one identity per embedding), not {}",
                super::target_kind(&target)
            )));
        };
        check_identities(name, ids, n)?;
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "{name}: the margin must be a finite number >= 0, got {}",
                self.margin
            )));
        }
        let margin = self.margin as f64;
        with_scratch(|s| {
            pairwise_f64(output, n, dim, self.distance, &mut s.dist);
            let d = &s.dist;
            let hinge =
                |t: Triplet| d[t.anchor * n + t.positive] - d[t.anchor * n + t.negative] + margin;
            let (mut count, mut total) = (0usize, 0f64);
            for_each_triplet(self.mining, ids, d, |t| {
                count += 1;
                total += hinge(t).max(0.0);
            });
            if count == 0 {
                return Err(Error::InvalidArgument(format!(
                    "{name}: the batch of {n} embeddings holds no triplet (an identity twice and \
                     another identity); draw batches of P identities x K images (PkSampler)"
                )));
            }
            let weight = 1.0 / count as f64;
            s.grad.clear();
            s.grad.resize(output.len(), 0.0);
            for_each_triplet(self.mining, ids, d, |t| {
                if hinge(t) > 0.0 {
                    let (a, p, q) = (t.anchor, t.positive, t.negative);
                    let g = &mut s.grad;
                    add_distance_grad(output, dim, self.distance, (a, p), d[a * n + p], weight, g);
                    add_distance_grad(output, dim, self.distance, (a, q), d[a * n + q], -weight, g);
                }
            });
            for (dst, &src) in grad.iter_mut().zip(&s.grad) {
                *dst = src as f32;
            }
            Ok((total * weight) as f32)
        })
    }
}
