//! Verification (the course's 1:1 problem): a pair is accepted as one
//! person when its distance is at most a threshold `tau`. From the
//! distances of validation pairs of one person ("same") and of two
//! persons ("different"), [`roc`] sweeps every threshold and gives the
//! receiver operating characteristic: at each one the true-accept rate
//! (TAR, same pairs accepted) and the false-accept rate (FAR, different
//! pairs accepted). On it: the threshold of best accuracy
//! ([`Roc::best_threshold`], which the course's assignment fixes at 0.7),
//! the TAR at a FAR of 1e-3 ([`Roc::tar_at_far`], how FaceNet and
//! DeepFace report), and the area under the curve. [`accuracy_at`] then
//! measures a chosen threshold on other (test) pairs.

use crate::error::{Error, Result};

/// The ROC of a verifier on labelled distances, built by [`roc`]. Point
/// `i` accepts the pairs with `distance <= thresholds()[i]`; point 0
/// accepts nothing (threshold `-inf`), the last accepts everything. FAR
/// and TAR never decrease along the points.
#[derive(Clone, Debug, PartialEq)]
pub struct Roc {
    thresholds: Vec<f32>,
    accepted_same: Vec<usize>,
    accepted_different: Vec<usize>,
    same: usize,
    different: usize,
}

/// One threshold and how the verifier does at it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OperatingPoint {
    /// Accept when `distance <= threshold`.
    pub threshold: f32,
    /// True-accept rate: the fraction of same pairs accepted.
    pub tar: f64,
    /// False-accept rate: the fraction of different pairs accepted.
    pub far: f64,
    /// The fraction of all pairs decided right (same pairs accepted,
    /// different pairs rejected), over the pairs the ROC was built from.
    pub accuracy: f64,
}

/// Checks that every distance is a number; `what` names the set.
fn check_distances(what: &str, distances: &[f32]) -> Result<()> {
    if distances.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "verification: no {what} pairs; give at least one distance of each kind"
        )));
    }
    match distances.iter().position(|d| d.is_nan()) {
        Some(i) => Err(Error::InvalidArgument(format!(
            "verification: the distance of {what} pair {i} is NaN"
        ))),
        None => Ok(()),
    }
}

/// The ROC of the distances of `same` pairs (one person) and `different`
/// pairs (two persons): one point per distinct distance, plus the point
/// that accepts nothing. Either set empty, or a NaN, is an `Err`.
///
/// ```
/// use cnn_runtime::embed::roc;
/// let r = roc(&[0.1, 0.4], &[0.3, 0.9]).unwrap();
/// let far: Vec<f64> = r.points().map(|(far, _)| far).collect();
/// let tar: Vec<f64> = r.points().map(|(_, tar)| tar).collect();
/// assert_eq!(far, [0.0, 0.0, 0.5, 0.5, 1.0]);
/// assert_eq!(tar, [0.0, 0.5, 0.5, 1.0, 1.0]);
/// assert_eq!(r.auc(), 0.75);
/// ```
pub fn roc(same: &[f32], different: &[f32]) -> Result<Roc> {
    check_distances("same", same)?;
    check_distances("different", different)?;
    let mut all: Vec<(f32, bool)> = same
        .iter()
        .map(|&d| (d, true))
        .chain(different.iter().map(|&d| (d, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut r = Roc {
        thresholds: vec![f32::NEG_INFINITY],
        accepted_same: vec![0],
        accepted_different: vec![0],
        same: same.len(),
        different: different.len(),
    };
    let (mut s, mut d) = (0, 0);
    for (k, &(value, is_same)) in all.iter().enumerate() {
        if is_same {
            s += 1;
        } else {
            d += 1;
        }
        // One point per distinct value, after its last occurrence.
        if all.get(k + 1).is_none_or(|next| next.0 != value) {
            r.thresholds.push(value);
            r.accepted_same.push(s);
            r.accepted_different.push(d);
        }
    }
    Ok(r)
}

/// The fraction of pairs a verifier with `threshold` decides right: same
/// pairs with `distance <= threshold` and different pairs beyond it.
/// Either set empty, or a NaN distance, is an `Err`.
///
/// ```
/// use cnn_runtime::embed::accuracy_at;
/// assert_eq!(accuracy_at(&[0.1, 0.8], &[0.9, 0.5], 0.7).unwrap(), 0.5);
/// ```
pub fn accuracy_at(same: &[f32], different: &[f32], threshold: f32) -> Result<f64> {
    check_distances("same", same)?;
    check_distances("different", different)?;
    let right = same.iter().filter(|&&d| d <= threshold).count()
        + different.iter().filter(|&&d| d > threshold).count();
    Ok(right as f64 / (same.len() + different.len()) as f64)
}

impl Roc {
    /// The number of points (distinct distances plus one).
    pub fn len(&self) -> usize {
        self.thresholds.len()
    }

    /// Always false: a ROC has at least its accept-nothing point and one
    /// more.
    pub fn is_empty(&self) -> bool {
        self.thresholds.is_empty()
    }

    /// The threshold of each point: `-inf`, then the distinct distances in
    /// increasing order.
    pub fn thresholds(&self) -> &[f32] {
        &self.thresholds
    }

    /// The number of same pairs and of different pairs.
    pub fn pairs(&self) -> (usize, usize) {
        (self.same, self.different)
    }

    /// `(far, tar)` of each point, in order.
    pub fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        (0..self.len()).map(|i| (self.far(i), self.tar(i)))
    }

    fn tar(&self, i: usize) -> f64 {
        self.accepted_same[i] as f64 / self.same as f64
    }

    fn far(&self, i: usize) -> f64 {
        self.accepted_different[i] as f64 / self.different as f64
    }

    /// Point `i` as an operating point. Its threshold is halfway to the
    /// next distinct distance rather than on a validation distance, so a
    /// test distance a hair away from a validation one is not decided by
    /// chance; on the validation pairs it decides exactly as point `i`.
    fn point(&self, i: usize) -> OperatingPoint {
        let here = self.thresholds[i];
        let threshold = match self.thresholds.get(i + 1) {
            Some(&next) if i > 0 => {
                let mid = ((here as f64 + next as f64) / 2.0) as f32;
                if mid < next {
                    mid
                } else {
                    here
                }
            }
            _ => here,
        };
        let right = self.accepted_same[i] + (self.different - self.accepted_different[i]);
        OperatingPoint {
            threshold,
            tar: self.tar(i),
            far: self.far(i),
            accuracy: right as f64 / (self.same + self.different) as f64,
        }
    }

    /// The threshold that decides the most pairs right (of equals, the
    /// smallest), halfway between the validation distances on either side
    /// of it. The accuracy counts every pair alike, so with many more
    /// different pairs than same pairs it leans to rejecting.
    pub fn best_threshold(&self) -> OperatingPoint {
        let score = |i: usize| self.accepted_same[i] + self.different - self.accepted_different[i];
        let best = (0..self.len()).fold(0, |b, i| if score(i) > score(b) { i } else { b });
        self.point(best)
    }

    /// The operating point of the highest TAR whose FAR is at most `far`
    /// (`1e-3` for the usual report), read off the steps of the curve
    /// without interpolating. With `D` different pairs the FAR moves in
    /// steps of `1 / D`, so a FAR of 1e-3 needs at least 1000 different
    /// pairs to differ from a FAR of 0.
    pub fn tar_at_far(&self, far: f64) -> OperatingPoint {
        let i = (0..self.len())
            .rev()
            .find(|&i| self.far(i) <= far)
            .unwrap_or(0);
        self.point(i)
    }

    /// The area under the curve (trapezoids between the points): 1 when
    /// every same pair is closer than every different pair, 0.5 for
    /// chance; ties count half.
    pub fn auc(&self) -> f64 {
        let pts: Vec<(f64, f64)> = self.points().collect();
        pts.windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum()
    }
}
