//! Average precision of a detector over a set of pictures, per class and
//! its mean, by the two conventions the field reports.
//!
//! - [`voc_map`], PASCAL VOC (2010 onwards): at one IoU threshold (0.5),
//!   all-point interpolation, the area under the precision-recall curve
//!   after each precision is raised to the best precision at any higher
//!   recall. Matching follows the devkit's `voc_eval`: detections of a
//!   class by descending score; each takes the true box of its picture
//!   with the highest IoU; it is a true positive if that IoU is `> 0.5`
//!   (the devkit's `ovmax > ovthresh`) and that box is not already taken,
//!   else a false positive. IoU without `+ 1` (the devkit adds 1 pixel).
//!   No "difficult" flags.
//! - [`coco_map`], COCO (`pycocotools.COCOeval`, boxes, area "all", up to
//!   100 detections per picture and class): the AP at each IoU threshold
//!   0.50, 0.55, ..., 0.95 is the mean of the interpolated precision at
//!   101 recall points 0, 0.01, ..., 1, and the AP is their mean over
//!   thresholds and classes. A detection takes the best still-free true
//!   box with IoU `>=` the threshold. Computed in `f64` with the same
//!   thresholds (`numpy.linspace`'s) and comparisons as pycocotools, whose
//!   figures it reproduces.
//!
//! Pictures are given as two lists of the same length: the true objects
//! and the detections of picture `i` at index `i`. A class without any
//! true object has no AP (`None`) and is left out of the mean, as in
//! pycocotools.

use super::boxes::{Corners, Detection, Object};
use crate::error::{Error, Result};

/// Per-class and mean AP of [`voc_map`].
#[derive(Clone, Debug, PartialEq)]
pub struct VocReport {
    /// AP of each class; `None` for a class with no true object.
    pub per_class: Vec<Option<f64>>,
    /// The mean over the classes that have an AP (`None` if none has).
    pub map: Option<f64>,
}

/// The figures of [`coco_map`].
#[derive(Clone, Debug, PartialEq)]
pub struct CocoReport {
    /// AP averaged over the ten IoU thresholds and the classes
    /// (pycocotools' first figure, `AP@[.50:.95]`); `None` without any
    /// true object.
    pub ap: Option<f64>,
    /// At IoU 0.50 (101-point interpolation, not VOC's).
    pub ap50: Option<f64>,
    /// At IoU 0.75.
    pub ap75: Option<f64>,
    /// AP over the ten thresholds, per class.
    pub per_class: Vec<Option<f64>>,
    /// AP over the classes, per threshold of [`coco_iou_thresholds`].
    pub per_threshold: Vec<Option<f64>>,
}

/// The area under a precision-recall curve by all-point interpolation
/// (VOC 2010 onwards): `recall` non-decreasing, one point per detection.
/// The curve is closed with `(0, 0)` before and `(1, 0)` after, each
/// precision becomes the best at any recall at or above it, and the areas
/// of the steps where the recall changes are summed.
pub fn average_precision(recall: &[f64], precision: &[f64]) -> Result<f64> {
    crate::error::check_len(
        "average precision: precision",
        precision.len(),
        recall.len(),
    )?;
    if recall.windows(2).any(|w| w[1] < w[0])
        || recall.iter().chain(precision).any(|v| !v.is_finite())
    {
        return Err(Error::InvalidArgument(
            "average precision: the recall must be finite and non-decreasing".into(),
        ));
    }
    let mrec: Vec<f64> = [0.0].iter().chain(recall).chain(&[1.0]).copied().collect();
    let mut mpre: Vec<f64> = [0.0]
        .iter()
        .chain(precision)
        .chain(&[0.0])
        .copied()
        .collect();
    for i in (1..mpre.len()).rev() {
        mpre[i - 1] = mpre[i - 1].max(mpre[i]);
    }
    Ok((1..mrec.len())
        .filter(|&i| mrec[i] != mrec[i - 1])
        .map(|i| (mrec[i] - mrec[i - 1]) * mpre[i])
        .sum())
}

/// IoU in `f64`, from corners, without `+ 1` (as COCO's `bbIou`).
fn iou64(a: &Corners, b: &Corners) -> f64 {
    let (ax1, ay1, ax2, ay2) = (a.x1 as f64, a.y1 as f64, a.x2 as f64, a.y2 as f64);
    let (bx1, by1, bx2, by2) = (b.x1 as f64, b.y1 as f64, b.x2 as f64, b.y2 as f64);
    let iw = (ax2.min(bx2) - ax1.max(bx1)).max(0.0);
    let ih = (ay2.min(by2) - ay1.max(by1)).max(0.0);
    let inter = iw * ih;
    let area = |w: f64, h: f64| w.max(0.0) * h.max(0.0);
    let union = area(ax2 - ax1, ay2 - ay1) + area(bx2 - bx1, by2 - by1) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

fn check_inputs(
    what: &str,
    truths: &[Vec<Object>],
    dets: &[Vec<Detection>],
    classes: usize,
) -> Result<()> {
    if truths.len() != dets.len() {
        return Err(Error::InvalidArgument(format!(
            "{what}: {} pictures of true objects but {} of detections; give one list of each per picture",
            truths.len(),
            dets.len()
        )));
    }
    for (p, objects) in truths.iter().enumerate() {
        for (i, o) in objects.iter().enumerate() {
            if o.class >= classes {
                return Err(Error::InvalidArgument(format!(
                    "{what}: picture {p}, object {i}: class {} is not below {classes}",
                    o.class
                )));
            }
            o.bbox
                .checked(&format!("{what}: picture {p}, object {i}"))?;
        }
    }
    for (p, ds) in dets.iter().enumerate() {
        for (i, d) in ds.iter().enumerate() {
            if d.class >= classes || !d.score.is_finite() {
                return Err(Error::InvalidArgument(format!(
                    "{what}: picture {p}, detection {i}: class {} must be below {classes} and the score {} finite",
                    d.class, d.score
                )));
            }
            d.bbox
                .checked(&format!("{what}: picture {p}, detection {i}"))?;
        }
    }
    Ok(())
}

/// One class's true boxes per picture, and its detections `(picture,
/// score, corners)` in picture order, each picture's by descending score
/// (stable), at most `cap` per picture.
type ClassData = (Vec<Vec<Corners>>, Vec<(usize, f64, Corners)>);

fn class_data(
    truths: &[Vec<Object>],
    dets: &[Vec<Detection>],
    class: usize,
    cap: usize,
) -> ClassData {
    let gts = truths
        .iter()
        .map(|os| {
            os.iter()
                .filter(|o| o.class == class)
                .map(|o| o.bbox.corners())
                .collect()
        })
        .collect();
    let mut ds = Vec::new();
    for (p, list) in dets.iter().enumerate() {
        let mut mine: Vec<&Detection> = list.iter().filter(|d| d.class == class).collect();
        mine.sort_by(|a, b| b.score.total_cmp(&a.score));
        ds.extend(
            mine.into_iter()
                .take(cap)
                .map(|d| (p, d.score as f64, d.bbox.corners())),
        );
    }
    (gts, ds)
}

/// Stable sort of the detections by descending score (numpy's
/// `argsort(-scores, kind="mergesort")`).
fn by_score(ds: &mut [(usize, f64, Corners)]) {
    ds.sort_by(|a, b| b.1.total_cmp(&a.1));
}

/// Mean average precision by PASCAL VOC's rules (see the module's docs)
/// at `iou_threshold` (VOC: 0.5), over `classes` classes.
pub fn voc_map(
    truths: &[Vec<Object>],
    dets: &[Vec<Detection>],
    classes: usize,
    iou_threshold: f64,
) -> Result<VocReport> {
    check_inputs("voc_map", truths, dets, classes)?;
    let mut per_class = Vec::with_capacity(classes);
    for class in 0..classes {
        let (gts, mut ds) = class_data(truths, dets, class, usize::MAX);
        let npos: usize = gts.iter().map(Vec::len).sum();
        if npos == 0 {
            per_class.push(None);
            continue;
        }
        by_score(&mut ds);
        let mut taken: Vec<Vec<bool>> = gts.iter().map(|g| vec![false; g.len()]).collect();
        let (mut tp, mut fp) = (0.0f64, 0.0f64);
        let mut recall = Vec::with_capacity(ds.len());
        let mut precision = Vec::with_capacity(ds.len());
        for (p, _, c) in &ds {
            // The devkit's argmax: the first true box of the highest IoU.
            let mut best: Option<(usize, f64)> = None;
            for (j, g) in gts[*p].iter().enumerate() {
                let o = iou64(c, g);
                if best.is_none_or(|(_, b)| o > b) {
                    best = Some((j, o));
                }
            }
            match best {
                Some((j, o)) if o > iou_threshold && !taken[*p][j] => {
                    taken[*p][j] = true;
                    tp += 1.0;
                }
                _ => fp += 1.0,
            }
            recall.push(tp / npos as f64);
            precision.push(tp / (tp + fp).max(f64::EPSILON));
        }
        per_class.push(Some(average_precision(&recall, &precision)?));
    }
    let map = mean(per_class.iter().flatten().copied());
    Ok(VocReport { per_class, map })
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// `numpy.linspace(start, stop, num)`, computed as numpy computes it, so
/// that a recall or IoU equal to a threshold compares as in pycocotools.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// COCO's IoU thresholds, 0.50:0.05:0.95 (ten).
pub fn coco_iou_thresholds() -> Vec<f64> {
    linspace(0.5, 0.95, 10)
}

/// COCO's recall points, 0:0.01:1 (101).
pub fn coco_recall_points() -> Vec<f64> {
    linspace(0.0, 1.0, 101)
}

/// The most detections per picture and class that COCO's AP counts.
pub const COCO_MAX_DETECTIONS: usize = 100;

/// COCO's figures (see the module's docs) over `classes` classes.
pub fn coco_map(
    truths: &[Vec<Object>],
    dets: &[Vec<Detection>],
    classes: usize,
) -> Result<CocoReport> {
    check_inputs("coco_map", truths, dets, classes)?;
    let thresholds = coco_iou_thresholds();
    let recall_points = coco_recall_points();
    // ap[class][threshold]
    let mut ap: Vec<Option<Vec<f64>>> = Vec::with_capacity(classes);
    for class in 0..classes {
        let (gts, ds) = class_data(truths, dets, class, COCO_MAX_DETECTIONS);
        let npig: usize = gts.iter().map(Vec::len).sum();
        if npig == 0 {
            ap.push(None);
            continue;
        }
        let mut per_t = Vec::with_capacity(thresholds.len());
        for &t in &thresholds {
            // Match picture by picture, each picture's detections best
            // first (they are already in that order).
            let mut taken: Vec<Vec<bool>> = gts.iter().map(|g| vec![false; g.len()]).collect();
            let mut scored: Vec<(usize, f64, Corners)> = Vec::with_capacity(ds.len());
            let mut hit = Vec::with_capacity(ds.len());
            for &(p, score, c) in &ds {
                let mut need = t.min(1.0 - 1e-10);
                let mut m = None;
                for (j, g) in gts[p].iter().enumerate() {
                    if taken[p][j] {
                        continue;
                    }
                    let o = iou64(&c, g);
                    if o < need {
                        continue;
                    }
                    need = o;
                    m = Some(j);
                }
                if let Some(j) = m {
                    taken[p][j] = true;
                }
                // The match rides along in the picture slot of a copy.
                scored.push((hit.len(), score, c));
                hit.push(m.is_some());
            }
            by_score(&mut scored);
            let (mut tp, mut fp) = (0.0f64, 0.0f64);
            let mut rc = Vec::with_capacity(scored.len());
            let mut pr = Vec::with_capacity(scored.len());
            for &(i, _, _) in &scored {
                if hit[i] {
                    tp += 1.0;
                } else {
                    fp += 1.0;
                }
                rc.push(tp / npig as f64);
                // np.spacing(1) is f64::EPSILON.
                pr.push(tp / (fp + tp + f64::EPSILON));
            }
            for i in (1..pr.len()).rev() {
                if pr[i] > pr[i - 1] {
                    pr[i - 1] = pr[i];
                }
            }
            // searchsorted(rc, r, side="left"): the first recall >= r;
            // past the end the precision stays 0.
            let q: f64 = recall_points
                .iter()
                .map(|&r| {
                    let i = rc.partition_point(|&x| x < r);
                    pr.get(i).copied().unwrap_or(0.0)
                })
                .sum();
            per_t.push(q / recall_points.len() as f64);
        }
        ap.push(Some(per_t));
    }
    let per_class: Vec<Option<f64>> = ap
        .iter()
        .map(|a| a.as_ref().and_then(|v| mean(v.iter().copied())))
        .collect();
    let per_threshold: Vec<Option<f64>> = (0..thresholds.len())
        .map(|t| mean(ap.iter().flatten().map(|v| v[t])))
        .collect();
    Ok(CocoReport {
        ap: mean(per_class.iter().flatten().copied()),
        ap50: per_threshold[0],
        ap75: per_threshold[5],
        per_class,
        per_threshold,
    })
}
