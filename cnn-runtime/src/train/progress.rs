//! The progress of one epoch: batches done, running loss and accuracy,
//! images per second. On a terminal it is an indicatif bar; when standard
//! error is not a terminal (a log file, CI) it is a plain line at most every
//! ten seconds, so a long epoch still shows that it moves; quiet runs show
//! nothing.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a log (not a terminal) gets a progress line.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// One epoch's progress.
pub struct EpochProgress {
    bar: ProgressBar,
    /// For logs: where to print plain lines, and when the last one went out.
    log: Option<(String, std::cell::Cell<Instant>)>,
    batches: usize,
    /// What the running metric is, so that a mean absolute error is not
    /// shown as an accuracy in percent.
    metric: super::Metric,
}

impl EpochProgress {
    /// Progress over `batches` steps, labelled `epoch k/n`, with the running
    /// `metric`.
    pub fn new(
        epoch: usize,
        epochs: usize,
        batches: usize,
        visible: bool,
        metric: super::Metric,
    ) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let target = if visible && terminal {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(batches as u64), target);
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        let prefix = format!("epoch {epoch}/{epochs}");
        bar.set_prefix(prefix.clone());
        let log = (visible && !terminal).then(|| (prefix, std::cell::Cell::new(Instant::now())));
        EpochProgress {
            bar,
            log,
            batches,
            metric,
        }
    }

    /// After a batch: the running means so far and the speed.
    pub fn update(&self, batches_done: usize, loss: f64, metric: f64, images_per_second: f64) {
        let msg = || {
            let value = match self.metric {
                super::Metric::Accuracy => format!("acc {:.2}%", 100.0 * metric),
                m => format!("{} {}", m.name(), m.show(metric as f32)),
            };
            format!("loss {loss:.4} {value} {images_per_second:.0} img/s")
        };
        if let Some((prefix, last)) = &self.log {
            if last.get().elapsed() >= LOG_EVERY && batches_done < self.batches {
                last.set(Instant::now());
                eprintln!("{prefix}: batch {batches_done}/{}: {}", self.batches, msg());
            }
            return;
        }
        self.bar.set_position(batches_done as u64);
        if batches_done.is_multiple_of(8) {
            self.bar.set_message(msg());
        }
    }

    /// Removes the bar (the epoch's summary line replaces it).
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
