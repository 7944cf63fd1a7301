//! What a training loop reports beside the loss, one set per kind of
//! target: accuracy for class labels; accuracy per position and mean
//! intersection over union of the classes for label maps; mean absolute
//! error for values; and, for the localization rows
//! `[pc, bx, by, bh, bw, c_1..c_K]`, how often the presence and the class
//! are right and how well the boxes overlap. All are pure functions of a
//! batch of outputs and its targets; the caller averages over batches
//! (weighting by batch size) if it wants an epoch's figure.

use super::binary_cross_entropy::sigmoid;
use super::check::labels_in_range;
use super::localization::{bounding_box, BOX, FIRST_CLASS, PRESENCE};
use crate::error::{check_len, Error, Result};

/// The index of the largest value, the first one on a tie (NaN is never
/// largest); 0 for an empty slice.
pub(crate) fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Checks `output` holds `labels.len()` rows of `classes` and every label
/// is a class.
fn check_rows(what: &str, output: &[f32], classes: usize, labels: &[usize]) -> Result<()> {
    if classes == 0 || labels.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{what}: classes and labels must be positive (classes = {classes}, labels = {})",
            labels.len()
        )));
    }
    let len = labels
        .len()
        .checked_mul(classes)
        .ok_or_else(|| Error::InvalidArgument(format!("{what}: labels * classes overflows")))?;
    check_len(what, output.len(), len)?;
    labels_in_range(labels, classes)
}

/// The fraction of rows whose largest output is the label's: accuracy for
/// [`super::Target::Classes`] (a row per example) and per-position
/// accuracy for [`super::Target::LabelMap`] (a row per position). Ties go
/// to the lowest class.
/// output: `[rows, classes]` (logits or probabilities)  labels: `[rows]`
///
/// ```
/// use cnn_runtime::loss::metrics::accuracy;
///
/// let output = [0.1, 0.9, 0.8, 0.2, 0.3, 0.7];
/// assert_eq!(accuracy(&output, 2, &[1, 0, 0]).unwrap(), 2.0 / 3.0);
/// ```
pub fn accuracy(output: &[f32], classes: usize, labels: &[usize]) -> Result<f32> {
    check_rows("accuracy output", output, classes, labels)?;
    let right = output
        .chunks_exact(classes)
        .zip(labels)
        .filter(|(row, &label)| argmax(row) == label)
        .count();
    Ok(right as f32 / labels.len() as f32)
}

/// Mean intersection over union of the classes of a label map (the
/// segmentation benchmarks' mIoU, over one batch): for each class `c`,
/// `IoU_c = |pred = c and label = c| / |pred = c or label = c|` counted
/// over all positions, then the mean over the classes that occur in the
/// prediction or the labels (a class in neither has no IoU and is left
/// out). The prediction is each row's largest output.
/// output: `[positions, classes]`  labels: `[positions]`
///
/// ```
/// use cnn_runtime::loss::metrics::mean_iou;
///
/// // Predicted 0, 0, 1, 1 against labels 0, 1, 1, 1:
/// // class 0: 1 / 2, class 1: 2 / 3.
/// let output = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
/// let miou = mean_iou(&output, 2, &[0, 1, 1, 1]).unwrap();
/// assert!((miou - (0.5 + 2.0 / 3.0) / 2.0).abs() < 1e-6);
/// ```
pub fn mean_iou(output: &[f32], classes: usize, labels: &[usize]) -> Result<f32> {
    check_rows("mean_iou output", output, classes, labels)?;
    // Per class: positions predicted, labelled, and both.
    let mut predicted = vec![0usize; classes];
    let mut labelled = vec![0usize; classes];
    let mut both = vec![0usize; classes];
    for (row, &label) in output.chunks_exact(classes).zip(labels) {
        let p = argmax(row);
        predicted[p] += 1;
        labelled[label] += 1;
        if p == label {
            both[label] += 1;
        }
    }
    let (sum, present) = (0..classes)
        .map(|c| (both[c], predicted[c] + labelled[c] - both[c]))
        .filter(|&(_, union)| union > 0)
        .fold((0f64, 0usize), |(s, n), (inter, union)| {
            (s + inter as f64 / union as f64, n + 1)
        });
    // Labels are not empty, so at least one class occurs.
    Ok((sum / present as f64) as f32)
}

/// The mean of `|o - t|` over all values: the figure for
/// [`super::Target::Values`].
///
/// ```
/// use cnn_runtime::loss::metrics::mean_absolute_error;
///
/// let mae = mean_absolute_error(&[1.0, 2.0, 4.0], &[1.5, 2.0, 3.0]).unwrap();
/// assert_eq!(mae, 0.5);
/// ```
pub fn mean_absolute_error(output: &[f32], targets: &[f32]) -> Result<f32> {
    if output.is_empty() {
        return Err(Error::InvalidArgument(
            "mean_absolute_error: no values".into(),
        ));
    }
    check_len("mean_absolute_error targets", targets.len(), output.len())?;
    let sum: f64 = output
        .iter()
        .zip(targets)
        .map(|(&o, &t)| (o as f64 - t as f64).abs())
        .sum();
    Ok((sum / output.len() as f64) as f32)
}

/// Intersection over union of two boxes given as `[bx, by, bh, bw]`
/// (centre, height, width, as the localization rows hold them): the area
/// both cover over the area either covers. Boxes that do not meet give 0;
/// so do two boxes of no area. A negative height or width counts as 0.
///
/// ```
/// use cnn_runtime::loss::metrics::box_iou;
///
/// // Two 2x2 squares, one shifted right by 1: they share 1x2 of 2*4 - 2.
/// let iou = box_iou([1.0, 1.0, 2.0, 2.0], [2.0, 1.0, 2.0, 2.0]);
/// assert!((iou - 2.0 / 6.0).abs() < 1e-6);
/// ```
pub fn box_iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    // Edges along one axis from a centre and a length.
    let span = |centre: f32, length: f32| {
        let half = length.max(0.0) / 2.0;
        (centre - half, centre + half)
    };
    let overlap =
        |(lo1, hi1): (f32, f32), (lo2, hi2): (f32, f32)| (hi1.min(hi2) - lo1.max(lo2)).max(0.0);
    let (ax, ay) = (span(a[0], a[3]), span(a[1], a[2]));
    let (bx, by) = (span(b[0], b[3]), span(b[1], b[2]));
    let inter = overlap(ax, bx) * overlap(ay, by);
    let area = |w: f32, h: f32| w.max(0.0) * h.max(0.0);
    let union = area(a[3], a[2]) + area(b[3], b[2]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// The figures of a batch of localization rows (see [`localization`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalizationMetrics {
    /// Rows in the batch.
    pub rows: usize,
    /// Rows whose target holds an object (`pc = 1`).
    pub objects: usize,
    /// Fraction of all rows where the predicted presence (`s(pc) >= 0.5`,
    /// that is a logit `pc >= 0`) matches the target's.
    pub presence_accuracy: f32,
    /// Over the rows with an object: fraction whose largest class logit is
    /// the target's class (the largest of its class values). NaN when no
    /// row has an object.
    pub class_accuracy: f32,
    /// Over the rows with an object: mean IoU of the predicted box with the
    /// target's ([`box_iou`]). NaN when no row has an object.
    pub mean_iou: f32,
    /// Over the rows with an object: fraction whose box has an IoU of at
    /// least 0.5 with the target's, the course's "correct" localization.
    /// NaN when no row has an object.
    pub iou_at_least_half: f32,
}

/// Presence accuracy, and class accuracy and box overlap on the rows with
/// an object, for rows `[pc, bx, by, bh, bw, c_1..c_K]` of raw outputs
/// (a logit for `pc`) against target rows of the same layout (`pc` 0 or
/// 1, the class one-hot), as the localization loss takes them.
/// output, targets: `[rows, row_len]`, `row_len >= 6`
///
/// ```
/// use cnn_runtime::loss::metrics::localization;
///
/// let output = [2.0, 0.5, 0.5, 1.0, 1.0, 0.3, 0.1, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
/// let target = [1.0, 0.5, 0.5, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
/// let m = localization(&output, 7, &target).unwrap();
/// assert_eq!((m.rows, m.objects), (2, 1));
/// assert_eq!(m.presence_accuracy, 1.0);
/// assert_eq!(m.class_accuracy, 1.0);
/// assert_eq!(m.mean_iou, 1.0);
/// ```
pub fn localization(
    output: &[f32],
    row_len: usize,
    targets: &[f32],
) -> Result<LocalizationMetrics> {
    if row_len <= FIRST_CLASS {
        return Err(Error::InvalidArgument(format!(
            "localization metrics: a row has {row_len} values, but [pc, bx, by, bh, bw, c_1..c_K] \
             needs at least 6"
        )));
    }
    if output.is_empty() || !output.len().is_multiple_of(row_len) {
        return Err(Error::shape(
            "localization metrics output",
            format!("a positive multiple of {row_len} values"),
            output.len(),
        ));
    }
    check_len("localization metrics targets", targets.len(), output.len())?;
    let rows = output.len() / row_len;
    let (mut presence_right, mut objects, mut class_right, mut hits) =
        (0usize, 0usize, 0usize, 0usize);
    let mut iou_sum = 0f64;
    for (o, t) in output
        .chunks_exact(row_len)
        .zip(targets.chunks_exact(row_len))
    {
        let has_object = t[PRESENCE] >= 0.5;
        if (sigmoid(o[PRESENCE]) >= 0.5) == has_object {
            presence_right += 1;
        }
        if !has_object {
            continue;
        }
        objects += 1;
        if argmax(&o[FIRST_CLASS..]) == argmax(&t[FIRST_CLASS..]) {
            class_right += 1;
        }
        let iou = box_iou(
            bounding_box(o),
            [t[BOX], t[BOX + 1], t[BOX + 2], t[BOX + 3]],
        );
        iou_sum += iou as f64;
        if iou >= 0.5 {
            hits += 1;
        }
    }
    let over_objects = |count: f64| {
        if objects == 0 {
            f32::NAN
        } else {
            (count / objects as f64) as f32
        }
    };
    Ok(LocalizationMetrics {
        rows,
        objects,
        presence_accuracy: presence_right as f32 / rows as f32,
        class_accuracy: over_objects(class_right as f64),
        mean_iou: over_objects(iou_sum),
        iou_at_least_half: over_objects(hits as f64),
    })
}
