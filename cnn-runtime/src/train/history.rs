//! Per-epoch metrics of a training run, as Keras's `History`: what `fit`
//! returns, what the curves are drawn from, and what the CSV log holds.

use std::fmt::Write as _;
use std::path::Path;

use super::metric::Metric;
use crate::error::Result;

/// The metrics of one epoch. Validation figures are `None` without
/// validation data.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochLog {
    /// Counted from 1, as Keras prints it.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f32,
    /// The training metric: accuracy (0 to 1) unless the model reports
    /// another ([`History::metric`]).
    pub accuracy: f32,
    /// Validation loss.
    pub val_loss: Option<f32>,
    /// The validation metric.
    pub val_accuracy: Option<f32>,
    /// The learning rate used during the epoch.
    pub learning_rate: f32,
    /// Wall time of the training part of the epoch.
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

impl EpochLog {
    /// The one-line summary printed after each epoch.
    pub fn line(&self, epochs: usize) -> String {
        self.line_with(epochs, Metric::Accuracy)
    }

    /// [`EpochLog::line`] for a run that reports `metric`.
    pub fn line_with(&self, epochs: usize, metric: Metric) -> String {
        let name = metric.name();
        let mut s = format!(
            "epoch {}/{epochs}: loss {:.4}, {name} {}",
            self.epoch,
            self.loss,
            metric.show(self.accuracy)
        );
        if let (Some(l), Some(a)) = (self.val_loss, self.val_accuracy) {
            let _ = write!(s, ", val_loss {l:.4}, val_{name} {}", metric.show(a));
        }
        let _ = write!(
            s,
            ", lr {:.3e}, {:.1} s, {:.0} images/s",
            self.learning_rate, self.seconds, self.images_per_second
        );
        s
    }
}

/// Every epoch's metrics, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per epoch, the first epoch first.
    pub epochs: Vec<EpochLog>,
    /// What the `accuracy` fields hold.
    pub metric: Metric,
}

fn csv_header(metric: Metric) -> String {
    let m = metric.name();
    format!("epoch,loss,{m},val_loss,val_{m},learning_rate,seconds,images_per_second")
}

impl History {
    /// The last epoch's log.
    pub fn last(&self) -> Option<&EpochLog> {
        self.epochs.last()
    }

    /// The log as CSV text, one row per epoch (empty cells where there was no
    /// validation data).
    pub fn to_csv(&self) -> String {
        let mut s = csv_header(self.metric);
        s.push('\n');
        let opt = |v: Option<f32>| v.map(|v| v.to_string()).unwrap_or_default();
        for e in &self.epochs {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{:.3},{:.1}",
                e.epoch,
                e.loss,
                e.accuracy,
                opt(e.val_loss),
                opt(e.val_accuracy),
                e.learning_rate,
                e.seconds,
                e.images_per_second
            );
        }
        s
    }

    /// Reads what [`History::to_csv`] wrote (to continue a resumed run's log).
    pub fn from_csv(text: &str) -> Option<History> {
        let mut lines = text.lines();
        let header = lines.next()?;
        let name = header.strip_prefix("epoch,loss,")?.split(',').next()?;
        let metric = Metric::from_name(name)?;
        if header != csv_header(metric) {
            return None;
        }
        let mut epochs = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 8 {
                return None;
            }
            let opt = |s: &str| {
                if s.is_empty() {
                    Some(None)
                } else {
                    s.parse().ok().map(Some)
                }
            };
            epochs.push(EpochLog {
                epoch: f[0].parse().ok()?,
                loss: f[1].parse().ok()?,
                accuracy: f[2].parse().ok()?,
                val_loss: opt(f[3])?,
                val_accuracy: opt(f[4])?,
                learning_rate: f[5].parse().ok()?,
                seconds: f[6].parse().ok()?,
                images_per_second: f[7].parse().ok()?,
            });
        }
        Some(History { epochs, metric })
    }

    /// Writes the CSV log atomically.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        crate::io::write_bytes_atomic(path, self.to_csv().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip() {
        let h = History {
            epochs: vec![
                EpochLog {
                    epoch: 1,
                    loss: 0.5,
                    accuracy: 0.875,
                    val_loss: Some(0.25),
                    val_accuracy: Some(0.9375),
                    learning_rate: 0.01,
                    seconds: 1.5,
                    images_per_second: 40000.0,
                },
                EpochLog {
                    epoch: 2,
                    loss: 0.125,
                    accuracy: 0.96875,
                    val_loss: None,
                    val_accuracy: None,
                    learning_rate: 0.001,
                    seconds: 1.25,
                    images_per_second: 48000.0,
                },
            ],
            metric: Metric::Accuracy,
        };
        assert_eq!(History::from_csv(&h.to_csv()), Some(h.clone()));
        let mae = History {
            metric: Metric::MeanAbsoluteError,
            ..h.clone()
        };
        assert!(mae.to_csv().starts_with("epoch,loss,mae,val_loss,val_mae,"));
        assert_eq!(History::from_csv(&mae.to_csv()), Some(mae.clone()));
        assert!(mae.epochs[0]
            .line_with(2, mae.metric)
            .contains("mae 0.8750, val_loss"));
        assert!(h.epochs[0]
            .line(2)
            .starts_with("epoch 1/2: loss 0.5000, accuracy 87.50%, val_loss 0.2500"));
    }
}
