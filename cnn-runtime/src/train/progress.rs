//! The progress bar of one epoch (indicatif): batches done, running loss and
//! accuracy, images per second. Hidden when standard error is not a
//! terminal (CI logs get the one-line epoch summaries only) or when quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One epoch's bar.
pub struct EpochProgress {
    bar: ProgressBar,
}

impl EpochProgress {
    /// A bar over `batches` steps, labelled `epoch k/n`.
    pub fn new(epoch: usize, epochs: usize, batches: usize, visible: bool) -> Self {
        let target = if visible {
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
        bar.set_prefix(format!("epoch {epoch}/{epochs}"));
        EpochProgress { bar }
    }

    /// After a batch: the running means so far and the speed.
    pub fn update(&self, batches_done: usize, loss: f64, accuracy: f64, images_per_second: f64) {
        self.bar.set_position(batches_done as u64);
        if batches_done % 8 == 0 {
            self.bar.set_message(format!(
                "loss {loss:.4} acc {:.2}% {images_per_second:.0} img/s",
                100.0 * accuracy
            ));
        }
    }

    /// Removes the bar (the epoch's summary line replaces it).
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
