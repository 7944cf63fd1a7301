//! What `fit` and `evaluate` report beside the loss, chosen by the targets:
//! accuracy for class labels (per position for label maps), the mean
//! absolute error for values, and the mean IoU of the boxes for the
//! course's localization rows. Each is a sum and a count over a batch, so
//! that an epoch's figure is the mean over its examples whatever the
//! batch sizes.

use crate::data::dataset::TargetKind;
use crate::loss::{metrics, Target};

/// A metric of the outputs against the targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Metric {
    /// The fraction of examples (or of a label map's positions) whose
    /// highest output is the label.
    #[default]
    Accuracy,
    /// The mean of `|output - target|` over every value.
    MeanAbsoluteError,
    /// The mean IoU of the predicted and true boxes of the course's
    /// localization rows (`[pc, bx, by, bh, bw, c..]`) that hold an object.
    BoxIou,
}

impl Metric {
    /// The metric for targets of this kind when none is chosen.
    pub fn for_targets(kind: TargetKind) -> Metric {
        match kind {
            TargetKind::Classes | TargetKind::LabelMaps { .. } => Metric::Accuracy,
            TargetKind::Values { .. } => Metric::MeanAbsoluteError,
        }
    }

    /// Its name in logs, the CSV header and the curves.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::MeanAbsoluteError => "mae",
            Metric::BoxIou => "mean_iou",
        }
    }

    /// The metric of this name.
    pub fn from_name(name: &str) -> Option<Metric> {
        [Metric::Accuracy, Metric::MeanAbsoluteError, Metric::BoxIou]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        self != Metric::MeanAbsoluteError
    }

    /// How a value is shown: a percentage for accuracy, else 4 decimals.
    pub fn show(self, value: f32) -> String {
        match self {
            Metric::Accuracy => format!("{:.2}%", 100.0 * value),
            _ => format!("{value:.4}"),
        }
    }

    /// The sum and the count it averages over, for one batch of
    /// `outputs` (one example's shape `shape`) against `target`. A target
    /// the metric does not apply to counts nothing.
    pub fn tally(self, outputs: &[f32], shape: &[usize], target: Target<'_>) -> (f64, f64) {
        let channels = shape.last().copied().unwrap_or(1).max(1);
        match (self, target) {
            (Metric::Accuracy, Target::Classes(labels) | Target::LabelMap(labels)) => {
                let rows = outputs.len() / channels;
                if rows != labels.len() {
                    // One label per example for a whole vector of scores.
                    let per = outputs.len() / labels.len().max(1);
                    let right = count_right(outputs, per.max(1), labels);
                    return (right as f64, labels.len() as f64);
                }
                let right = count_right(outputs, channels, labels);
                (right as f64, labels.len() as f64)
            }
            (Metric::Accuracy, Target::Values(v)) => {
                // One-hot (or soft) rows: the argmaxes agree.
                let per = shape.iter().product::<usize>().max(1);
                let right = outputs
                    .chunks_exact(per)
                    .zip(v.chunks_exact(per))
                    .filter(|(o, t)| argmax(o) == argmax(t))
                    .count();
                (right as f64, (outputs.len() / per) as f64)
            }
            (Metric::MeanAbsoluteError, Target::Values(v)) if v.len() == outputs.len() => {
                let sum: f64 = outputs
                    .iter()
                    .zip(v)
                    .map(|(a, b)| (a - b).abs() as f64)
                    .sum();
                (sum, v.len() as f64)
            }
            (Metric::BoxIou, Target::Values(v)) if v.len() == outputs.len() => {
                let per = shape.iter().product::<usize>().max(1);
                match metrics::localization(outputs, per, v) {
                    Ok(m) if m.objects > 0 => {
                        (m.mean_iou as f64 * m.objects as f64, m.objects as f64)
                    }
                    _ => (0.0, 0.0),
                }
            }
            _ => (0.0, 0.0),
        }
    }
}

/// Rows of `outputs` (`width` values each) whose largest value is at the
/// label.
fn count_right(outputs: &[f32], width: usize, labels: &[usize]) -> usize {
    outputs
        .chunks_exact(width)
        .zip(labels)
        .filter(|(row, &l)| argmax(row) == l)
        .count()
}

fn argmax(row: &[f32]) -> usize {
    super::fit::argmax(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_by_hand() {
        let out = [0.1, 0.9, 0.8, 0.2, 0.3, 0.7];
        // Three examples of two classes: right, right, wrong.
        let t = Metric::Accuracy.tally(&out, &[2], Target::Classes(&[1, 0, 0]));
        assert_eq!(t, (2.0, 3.0));
        // The same numbers as one example's 3-position label map.
        let t = Metric::Accuracy.tally(&out, &[3, 1, 2], Target::LabelMap(&[1, 0, 1]));
        assert_eq!(t, (3.0, 3.0));
        let t = Metric::MeanAbsoluteError.tally(&[1.0, -1.0], &[2], Target::Values(&[0.5, 0.0]));
        assert_eq!(t, (1.5, 2.0));
        assert!(!Metric::MeanAbsoluteError.higher_is_better());
        assert_eq!(Metric::from_name("mean_iou"), Some(Metric::BoxIou));
        assert_eq!(Metric::Accuracy.show(0.5), "50.00%");
    }
}
