//! Anchor shapes found by k-means over the training boxes, as YOLO v2
//! found its five (Redmon and Farhadi 2017, section "Dimension
//! Clusters"): the boxes' `(h, w)` are clustered with the distance
//! `d = 1 - IoU(box, centroid)`, both shapes placed on one centre, so that
//! large boxes do not weigh more than small ones as they would under the
//! Euclidean distance. A centroid moves to the mean height and width of
//! its boxes.
//!
//! Seeding is k-means++ (the next centroid drawn with probability
//! proportional to `d^2` from the nearest one already chosen) with the
//! crate's seeded [`Rng`], so one seed gives one result; a cluster that
//! empties takes the box farthest from its centroid.

use super::boxes::shape_iou;
use super::grid::Anchor;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// What [`kmeans_anchors`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct AnchorFit {
    /// The `k` anchors, by increasing area.
    pub anchors: Vec<Anchor>,
    /// The mean over the boxes of the IoU with their nearest anchor (the
    /// figure YOLO v2 reports: 61.0 for 5 clusters on VOC 2007).
    pub mean_iou: f32,
    /// The iterations run (at most the cap given).
    pub iterations: usize,
}

fn distance(b: (f32, f32), a: &Anchor) -> f32 {
    1.0 - shape_iou(b, (a.h, a.w))
}

/// The index of the nearest anchor and the distance to it.
fn nearest(b: (f32, f32), anchors: &[Anchor]) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (i, a) in anchors.iter().enumerate() {
        let d = distance(b, a);
        if d < best.1 {
            best = (i, d);
        }
    }
    best
}

/// Clusters `shapes` (`(h, w)` of the training boxes, normalised like
/// every size here) into `k` anchors with `1 - IoU` as the distance,
/// running at most `max_iterations` rounds (it stops when no box changes
/// cluster). Needs `1 <= k <= shapes.len()` and positive finite shapes.
pub fn kmeans_anchors(
    shapes: &[(f32, f32)],
    k: usize,
    seed: u64,
    max_iterations: usize,
) -> Result<AnchorFit> {
    if k == 0 || k > shapes.len() {
        return Err(Error::InvalidArgument(format!(
            "detect: k-means needs 1 <= k <= the number of boxes, got k = {k} for {} boxes",
            shapes.len()
        )));
    }
    if let Some((i, s)) = shapes
        .iter()
        .enumerate()
        .find(|(_, &(h, w))| !(h > 0.0 && w > 0.0 && h.is_finite() && w.is_finite()))
    {
        return Err(Error::InvalidArgument(format!(
            "detect: k-means: box {i} has the shape {}x{}; heights and widths must be positive and finite",
            s.0, s.1
        )));
    }
    let mut rng = Rng::new(seed);
    let as_anchor = |&(h, w): &(f32, f32)| Anchor { h, w };
    // k-means++ seeding.
    let mut anchors = vec![as_anchor(&shapes[rng.below(shapes.len())])];
    let mut d2: Vec<f64> = vec![0.0; shapes.len()];
    while anchors.len() < k {
        for (d, &b) in d2.iter_mut().zip(shapes) {
            let n = nearest(b, &anchors).1 as f64;
            *d = n * n;
        }
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let mut u = rng.uniform() as f64 * total;
            d2.iter()
                .position(|&d| {
                    u -= d;
                    u < 0.0
                })
                .unwrap_or(shapes.len() - 1)
        } else {
            // Every box sits on a centroid already: duplicates are all
            // that is left.
            rng.below(shapes.len())
        };
        anchors.push(as_anchor(&shapes[pick]));
    }
    let mut assignment = vec![usize::MAX; shapes.len()];
    let mut iterations = 0;
    while iterations < max_iterations {
        iterations += 1;
        let mut changed = false;
        for (slot, &b) in assignment.iter_mut().zip(shapes) {
            let c = nearest(b, &anchors).0;
            changed |= *slot != c;
            *slot = c;
        }
        if !changed {
            break;
        }
        let mut sums = vec![(0.0f64, 0.0f64, 0usize); k];
        for (&c, &(h, w)) in assignment.iter().zip(shapes) {
            sums[c].0 += h as f64;
            sums[c].1 += w as f64;
            sums[c].2 += 1;
        }
        for (c, &(h, w, n)) in sums.iter().enumerate() {
            if n > 0 {
                anchors[c] = Anchor {
                    h: (h / n as f64) as f32,
                    w: (w / n as f64) as f32,
                };
            } else {
                // An empty cluster takes the box worst served by its own.
                let far = (0..shapes.len())
                    .max_by(|&i, &j| {
                        let di = distance(shapes[i], &anchors[assignment[i]]);
                        let dj = distance(shapes[j], &anchors[assignment[j]]);
                        di.total_cmp(&dj)
                    })
                    .unwrap_or(0);
                anchors[c] = as_anchor(&shapes[far]);
                assignment[far] = c;
            }
        }
    }
    anchors.sort_by(|a, b| (a.h * a.w).total_cmp(&(b.h * b.w)));
    let mean_iou = shapes
        .iter()
        .map(|&b| 1.0 - nearest(b, &anchors).1 as f64)
        .sum::<f64>()
        / shapes.len() as f64;
    Ok(AnchorFit {
        anchors,
        mean_iou: mean_iou as f32,
        iterations,
    })
}
