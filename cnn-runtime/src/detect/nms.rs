//! Non-max suppression: of the boxes a detector puts on one object, keep
//! the best and drop the others. [`nms()`] is the course's rule, per class:
//! drop every box with `score <= score_threshold`, then, while boxes
//! remain, output the one with the highest score and drop every remaining
//! box of its class whose IoU with it is `>= iou_threshold` ("at least
//! 0.5": a box at exactly the threshold is dropped). [`suppress`] is the
//! greedy loop alone, with the choice of per class or across classes and
//! a cap on the boxes kept (what the course's car-detection assignment
//! calls with `max_boxes = 10`, across classes). [`soft_nms`] decays the
//! other boxes' scores instead of dropping them (Bodla et al. 2017,
//! Gaussian form `s *= exp(-iou^2 / sigma)`).
//!
//! torchvision's `nms` and TensorFlow's `non_max_suppression` suppress at
//! `iou > threshold`; the two differ only for a pair at exactly the
//! threshold.
//!
//! Ties in score keep the input order (a stable sort), so the result does
//! not depend on the sort algorithm.

use super::boxes::{iou_corners, Corners, Detection};
use crate::error::{Error, Result};

/// Checks what every suppression needs: finite scores and valid boxes.
fn check_detections(what: &str, dets: &[Detection]) -> Result<()> {
    for (i, d) in dets.iter().enumerate() {
        if !d.score.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "{what}: detection {i} has the score {}; scores must be finite",
                d.score
            )));
        }
        d.bbox.checked(&format!("{what}: detection {i}"))?;
    }
    Ok(())
}

fn check_threshold(what: &str, name: &str, t: f32) -> Result<()> {
    if t.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{what}: the {name} must be finite, got {t}"
        )))
    }
}

/// Indices of `dets` by descending score; equal scores keep their order.
fn by_score(dets: &[Detection]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..dets.len()).collect();
    order.sort_by(|&a, &b| dets[b].score.total_cmp(&dets[a].score));
    order
}

/// The greedy loop of non-max suppression, without a score threshold:
/// the indices of the boxes kept, best first. Going down the boxes by
/// descending score, a box is kept unless a box already kept (of the same
/// class when `per_class`, of any class otherwise) has an IoU with it of
/// `>= iou_threshold`; at most `max_boxes` are kept. A non-finite score or
/// threshold, or a box with a negative size, is an `Err`.
pub fn suppress(
    dets: &[Detection],
    iou_threshold: f32,
    per_class: bool,
    max_boxes: Option<usize>,
) -> Result<Vec<usize>> {
    check_detections("non-max suppression", dets)?;
    check_threshold("non-max suppression", "IoU threshold", iou_threshold)?;
    let corners: Vec<Corners> = dets.iter().map(|d| d.bbox.corners()).collect();
    let max = max_boxes.unwrap_or(usize::MAX);
    let mut kept: Vec<usize> = Vec::new();
    for i in by_score(dets) {
        if kept.len() >= max {
            break;
        }
        let suppressed = kept.iter().any(|&k| {
            (!per_class || dets[k].class == dets[i].class)
                && iou_corners(&corners[k], &corners[i]) >= iou_threshold
        });
        if !suppressed {
            kept.push(i);
        }
    }
    Ok(kept)
}

/// The course's non-max suppression, per class: drops the boxes with
/// `score <= score_threshold`, then keeps the best box and drops the
/// boxes of its class with an IoU `>=` `iou_threshold` with it, until none
/// remain. The kept boxes come best first. The course's values are 0.6
/// and 0.5.
pub fn nms(dets: &[Detection], score_threshold: f32, iou_threshold: f32) -> Result<Vec<Detection>> {
    check_threshold("non-max suppression", "score threshold", score_threshold)?;
    check_detections("non-max suppression", dets)?;
    let candidates: Vec<Detection> = dets
        .iter()
        .copied()
        .filter(|d| d.score > score_threshold)
        .collect();
    let kept = suppress(&candidates, iou_threshold, true, None)?;
    Ok(kept.into_iter().map(|i| candidates[i]).collect())
}

/// Soft-NMS with a Gaussian penalty (Bodla et al. 2017), per class:
/// repeatedly outputs the remaining box of highest score and multiplies
/// the score of every remaining box of its class by
/// `exp(-iou^2 / sigma)`; a box whose score is below `score_threshold`
/// (at the start or after a decay) is dropped. The boxes come in the
/// order they were output, with their decayed scores. The paper uses
/// `sigma = 0.5` and a final threshold of 0.001. `sigma` must be positive.
pub fn soft_nms(dets: &[Detection], sigma: f32, score_threshold: f32) -> Result<Vec<Detection>> {
    check_detections("soft-NMS", dets)?;
    check_threshold("soft-NMS", "score threshold", score_threshold)?;
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "soft-NMS: sigma must be positive and finite, got {sigma}"
        )));
    }
    let mut rest: Vec<(Detection, Corners)> = dets
        .iter()
        .filter(|d| d.score >= score_threshold)
        .map(|d| (*d, d.bbox.corners()))
        .collect();
    let mut out = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        // The first of the highest scores, so that ties keep input order.
        let best = (0..rest.len())
            .reduce(|b, i| {
                if rest[i].0.score > rest[b].0.score {
                    i
                } else {
                    b
                }
            })
            .unwrap_or(0);
        let (m, mc) = rest.remove(best);
        out.push(m);
        for (d, c) in rest.iter_mut() {
            if d.class == m.class {
                let o = iou_corners(&mc, c);
                d.score *= (-o * o / sigma).exp();
            }
        }
        rest.retain(|(d, _)| d.score >= score_threshold);
    }
    Ok(out)
}
