//! Keras's callbacks: hooks that run at the start and end of every epoch.
//! [`EarlyStopping`] stops when a monitored metric stops improving,
//! [`ModelCheckpoint`] keeps the best (or latest) weights on disk, and
//! [`LearningRateScheduler`] sets the learning rate per epoch. A NaN or
//! infinite loss always stops training with `Error::NonFiniteLoss`.

use std::path::{Path, PathBuf};

use super::history::{EpochLog, History};
use crate::error::Result;
use crate::optim::Optimizer;

/// Whether training goes on after a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on with the next epoch.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// What a callback sees at the end of an epoch.
pub struct EpochEnd<'a> {
    /// The metrics of the epoch that ended.
    pub log: &'a EpochLog,
    /// Every epoch so far, this one included.
    pub history: &'a History,
    pub(crate) save: &'a dyn Fn(&Path) -> Result<()>,
}

impl EpochEnd<'_> {
    /// Saves the network's weights: the same file the generated `save`
    /// writes, which `load` reads back. (A resumable training checkpoint,
    /// with the optimizer state, is `Fit::checkpoint`.)
    pub fn save(&self, path: &Path) -> Result<()> {
        (self.save)(path)
    }
}

/// A hook into `fit`.
pub trait Callback {
    /// Before epoch `epoch` (counted from 1) starts.
    fn on_epoch_begin(&mut self, _epoch: usize, _optimizer: &mut dyn Optimizer) -> Result<()> {
        Ok(())
    }
    /// After the epoch's training and validation.
    fn on_epoch_end(&mut self, _end: &EpochEnd<'_>) -> Result<Control> {
        Ok(Control::Continue)
    }
}

/// Which metric a callback watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Monitor {
    /// The training loss.
    Loss,
    /// The training accuracy (the model's metric, [`super::Metric`]).
    Accuracy,
    /// The validation loss (needs validation data).
    ValLoss,
    /// The validation accuracy, or the model's metric (needs
    /// validation data).
    ValAccuracy,
}

impl Monitor {
    /// The metric's value in `log` (validation metrics need validation data).
    pub fn value(self, log: &EpochLog) -> Option<f32> {
        match self {
            Monitor::Loss => Some(log.loss),
            Monitor::Accuracy => Some(log.accuracy),
            Monitor::ValLoss => log.val_loss,
            Monitor::ValAccuracy => log.val_accuracy,
        }
    }
    /// Whether a larger value is better (for accuracy).
    pub fn maximise(self) -> bool {
        self.maximise_for(super::Metric::Accuracy)
    }
    /// Whether a larger value is better, when the model reports `metric`.
    pub fn maximise_for(self, metric: super::Metric) -> bool {
        matches!(self, Monitor::Accuracy | Monitor::ValAccuracy) && metric.higher_is_better()
    }
    fn improves(
        self,
        value: f32,
        best: Option<f32>,
        min_delta: f32,
        metric: super::Metric,
    ) -> bool {
        match best {
            None => true,
            Some(b) if self.maximise_for(metric) => value > b + min_delta,
            Some(b) => value < b - min_delta,
        }
    }
    fn metric(self, log: &EpochLog) -> f32 {
        // A monitor of validation metrics without validation data falls back
        // to the training metric, as Keras warns and does nothing useful.
        self.value(log).unwrap_or(match self {
            Monitor::ValAccuracy | Monitor::Accuracy => log.accuracy,
            Monitor::ValLoss | Monitor::Loss => log.loss,
        })
    }
}

/// Stops training when `monitor` has not improved by more than `min_delta`
/// for `patience` epochs.
#[derive(Clone, Debug)]
pub struct EarlyStopping {
    /// The metric watched.
    pub monitor: Monitor,
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// The smallest change that counts as an improvement (0 by default).
    pub min_delta: f32,
    best: Option<f32>,
    waited: usize,
    /// The epoch training stopped at, if it did.
    pub stopped_epoch: Option<usize>,
}

impl EarlyStopping {
    /// Stops after `patience` epochs without improvement of `monitor`.
    pub fn new(monitor: Monitor, patience: usize) -> Self {
        EarlyStopping {
            monitor,
            patience,
            min_delta: 0.0,
            best: None,
            waited: 0,
            stopped_epoch: None,
        }
    }
    /// Sets the smallest change that counts as an improvement.
    pub fn min_delta(mut self, d: f32) -> Self {
        self.min_delta = d;
        self
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, end: &EpochEnd<'_>) -> Result<Control> {
        let v = self.monitor.metric(end.log);
        if self
            .monitor
            .improves(v, self.best, self.min_delta, end.history.metric)
        {
            self.best = Some(v);
            self.waited = 0;
            return Ok(Control::Continue);
        }
        self.waited += 1;
        if self.waited >= self.patience {
            self.stopped_epoch = Some(end.log.epoch);
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    }
}

/// Saves the weights after an epoch: every epoch, or only when `monitor`
/// improved (`best_only`). Writes are atomic, so the file on disk is always
/// a whole checkpoint.
#[derive(Clone, Debug)]
pub struct ModelCheckpoint {
    /// Where the weights are written.
    pub path: PathBuf,
    /// The metric that decides what is best.
    pub monitor: Monitor,
    /// Save only when `monitor` improved (else after every epoch).
    pub best_only: bool,
    best: Option<f32>,
    /// The epoch whose weights the file holds.
    pub saved_epoch: Option<usize>,
}

impl ModelCheckpoint {
    /// Keeps the best weights by `monitor` at `path`.
    pub fn best(path: impl Into<PathBuf>, monitor: Monitor) -> Self {
        ModelCheckpoint {
            path: path.into(),
            monitor,
            best_only: true,
            best: None,
            saved_epoch: None,
        }
    }
    /// For a resumed run whose earlier epochs (in `history`) already wrote
    /// the file: their best value of `monitor` is the one to beat, and
    /// [`ModelCheckpoint::saved_epoch`] starts at their best epoch, so the
    /// file is not overwritten by a later epoch that is worse.
    pub fn continue_from(mut self, history: &History) -> Self {
        for log in &history.epochs {
            let v = self.monitor.metric(log);
            if self.monitor.improves(v, self.best, 0.0, history.metric) {
                self.best = Some(v);
                self.saved_epoch = Some(log.epoch);
            }
        }
        self
    }

    /// Saves after every epoch.
    pub fn every_epoch(path: impl Into<PathBuf>) -> Self {
        ModelCheckpoint {
            best_only: false,
            ..ModelCheckpoint::best(path, Monitor::Loss)
        }
    }
}

impl Callback for ModelCheckpoint {
    fn on_epoch_end(&mut self, end: &EpochEnd<'_>) -> Result<Control> {
        let v = self.monitor.metric(end.log);
        if !self.best_only || self.monitor.improves(v, self.best, 0.0, end.history.metric) {
            self.best = Some(v);
            end.save(&self.path)?;
            self.saved_epoch = Some(end.log.epoch);
        }
        Ok(Control::Continue)
    }
}

/// Sets the learning rate at the start of every epoch from a function of
/// the epoch (counted from 1), e.g. a step or cosine schedule.
pub struct LearningRateScheduler {
    schedule: Box<dyn Fn(usize) -> f32>,
}

impl LearningRateScheduler {
    /// A scheduler from the learning rate of each epoch (counted from 1).
    pub fn new(schedule: impl Fn(usize) -> f32 + 'static) -> Self {
        LearningRateScheduler {
            schedule: Box::new(schedule),
        }
    }
}

impl LearningRateScheduler {
    /// Follows an `optim` schedule (`StepDecay`, `Cosine`, ...), whose epochs
    /// count from 0.
    pub fn from_schedule(schedule: impl crate::optim::Schedule + 'static) -> Self {
        LearningRateScheduler::new(move |epoch| schedule.lr(epoch.saturating_sub(1)))
    }
}

impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, epoch: usize, optimizer: &mut dyn Optimizer) -> Result<()> {
        optimizer.set_learning_rate((self.schedule)(epoch));
        Ok(())
    }
}

/// Lowers the learning rate when `monitor` has stopped improving (Keras's
/// `ReduceLROnPlateau`): after `patience` epochs without an improvement of
/// more than `min_delta`, the rate is multiplied by `factor`, never below
/// `min_lr`, and the count starts again after `cooldown` epochs. The new
/// rate takes effect from the next epoch. Without a
/// [`super::Fit::schedule`] or a [`LearningRateScheduler`] after it,
/// which would set the rate again.
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    /// The metric watched.
    pub monitor: Monitor,
    /// What the rate is multiplied by (0.1 by default, as Keras's).
    pub factor: f32,
    /// Epochs without improvement before the rate is lowered.
    pub patience: usize,
    /// The smallest change that counts as an improvement (1e-4 by default).
    pub min_delta: f32,
    /// Epochs to wait after a reduction before counting again (0 by default).
    pub cooldown: usize,
    /// The lowest rate (0 by default).
    pub min_lr: f32,
    best: Option<f32>,
    waited: usize,
    cooling: usize,
    reduce: bool,
    /// The epochs after which the rate was lowered, with the new rate.
    pub reductions: Vec<(usize, f32)>,
}

impl ReduceLrOnPlateau {
    /// Multiplies the rate by `factor` after `patience` epochs without an
    /// improvement of `monitor`. Errors: a factor outside (0, 1).
    pub fn new(monitor: Monitor, factor: f32, patience: usize) -> Result<Self> {
        if !(factor > 0.0 && factor < 1.0) {
            return Err(crate::Error::InvalidArgument(format!(
                "ReduceLrOnPlateau: the factor must be in (0, 1), got {factor}"
            )));
        }
        Ok(ReduceLrOnPlateau {
            monitor,
            factor,
            patience,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            best: None,
            waited: 0,
            cooling: 0,
            reduce: false,
            reductions: Vec::new(),
        })
    }
    /// Sets the lowest rate.
    pub fn min_lr(mut self, lr: f32) -> Self {
        self.min_lr = lr;
        self
    }
    /// Sets the smallest change that counts as an improvement.
    pub fn min_delta(mut self, d: f32) -> Self {
        self.min_delta = d;
        self
    }
    /// Sets the epochs to wait after a reduction before counting again.
    pub fn cooldown(mut self, epochs: usize) -> Self {
        self.cooldown = epochs;
        self
    }
}

impl Callback for ReduceLrOnPlateau {
    fn on_epoch_begin(&mut self, epoch: usize, optimizer: &mut dyn Optimizer) -> Result<()> {
        if std::mem::take(&mut self.reduce) {
            let old = optimizer.learning_rate();
            let new = (old * self.factor).max(self.min_lr);
            if new < old {
                optimizer.set_learning_rate(new);
                self.reductions.push((epoch - 1, new));
            }
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, end: &EpochEnd<'_>) -> Result<Control> {
        let v = self.monitor.metric(end.log);
        if self.cooling > 0 {
            self.cooling -= 1;
            self.waited = 0;
        }
        if self
            .monitor
            .improves(v, self.best, self.min_delta, end.history.metric)
        {
            self.best = Some(v);
            self.waited = 0;
        } else if self.cooling == 0 {
            self.waited += 1;
            if self.waited >= self.patience && end.log.learning_rate > self.min_lr {
                self.reduce = true;
                self.cooling = self.cooldown;
                self.waited = 0;
            }
        }
        Ok(Control::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(epoch: usize, val_loss: f32) -> EpochLog {
        EpochLog {
            epoch,
            loss: 1.0,
            accuracy: 0.5,
            val_loss: Some(val_loss),
            val_accuracy: Some(0.5),
            learning_rate: 0.1,
            seconds: 0.0,
            images_per_second: 0.0,
        }
    }

    fn end_of<'a>(
        l: &'a EpochLog,
        h: &'a History,
        save: &'a dyn Fn(&Path) -> Result<()>,
    ) -> EpochEnd<'a> {
        EpochEnd {
            log: l,
            history: h,
            save,
        }
    }

    #[test]
    fn early_stopping_waits_patience_epochs() {
        let h = History::default();
        let nosave = |_: &Path| Ok(());
        let mut es = EarlyStopping::new(Monitor::ValLoss, 2);
        let losses = [1.0, 0.8, 0.85, 0.9, 0.7];
        let mut stops = vec![];
        for (i, &v) in losses.iter().enumerate() {
            let l = log(i + 1, v);
            stops.push(es.on_epoch_end(&end_of(&l, &h, &nosave)).unwrap());
        }
        assert_eq!(
            stops[..4],
            [
                Control::Continue,
                Control::Continue,
                Control::Continue,
                Control::Stop
            ]
        );
        assert_eq!(es.stopped_epoch, Some(4));
    }

    #[test]
    fn plateau_lowers_the_rate_after_patience_epochs() {
        let h = History::default();
        let nosave = |_: &Path| Ok(());
        let mut opt = crate::optim::Sgd::new(0.1);
        let mut rp = ReduceLrOnPlateau::new(Monitor::ValLoss, 0.5, 2)
            .unwrap()
            .min_lr(0.03);
        // No improvement in epochs 3 and 4: halved from epoch 5; none in 5
        // and 6: down to the floor from epoch 7; then never lower.
        let losses = [1.0, 0.9, 0.95, 0.9, 0.92, 0.91, 0.93, 0.94];
        let mut rates = vec![];
        for (i, &v) in losses.iter().enumerate() {
            rp.on_epoch_begin(i + 1, &mut opt).unwrap();
            rates.push(opt.learning_rate());
            let mut l = log(i + 1, v);
            l.learning_rate = opt.learning_rate();
            assert_eq!(
                rp.on_epoch_end(&end_of(&l, &h, &nosave)).unwrap(),
                Control::Continue
            );
        }
        assert_eq!(rates, [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03]);
        assert_eq!(rp.reductions, [(4, 0.05), (6, 0.03)]);
        assert!(ReduceLrOnPlateau::new(Monitor::Loss, 1.0, 3).is_err());
    }

    #[test]
    fn training_metrics_are_monitored_too() {
        // Monitor::Loss and Monitor::Accuracy read the training metrics
        // (they once panicked: the validation fallback was evaluated first).
        let h = History::default();
        let nosave = |_: &Path| Ok(());
        let mut es = EarlyStopping::new(Monitor::Loss, 1);
        let mut by_accuracy = EarlyStopping::new(Monitor::Accuracy, 1);
        let mut l = log(1, 0.3);
        for (epoch, loss) in [(1, 1.0), (2, 1.5)] {
            l.epoch = epoch;
            l.loss = loss;
            let end = end_of(&l, &h, &nosave);
            let stop = es.on_epoch_end(&end).unwrap();
            assert_eq!(stop == Control::Stop, epoch == 2);
            // The accuracy stays at 0.5: no improvement in epoch 2.
            let stop = by_accuracy.on_epoch_end(&end).unwrap();
            assert_eq!(stop == Control::Stop, epoch == 2);
        }
    }

    #[test]
    fn checkpoint_saves_only_improvements() {
        let h = History::default();
        let saves = std::cell::RefCell::new(vec![]);
        let save = |p: &Path| {
            saves.borrow_mut().push(p.to_path_buf());
            Ok(())
        };
        let mut cp = ModelCheckpoint::best("best.safetensors", Monitor::ValLoss);
        for (i, v) in [1.0, 0.5, 0.7, 0.4].into_iter().enumerate() {
            let l = log(i + 1, v);
            cp.on_epoch_end(&end_of(&l, &h, &save)).unwrap();
        }
        assert_eq!(saves.borrow().len(), 3);
        assert_eq!(cp.saved_epoch, Some(4));

        // Resumed after epoch 2 of the same losses: epoch 3 (0.7) does not
        // beat epoch 2 (0.5), epoch 4 (0.4) does.
        saves.borrow_mut().clear();
        let history = History {
            epochs: vec![log(1, 1.0), log(2, 0.5)],
            ..History::default()
        };
        let mut cp =
            ModelCheckpoint::best("best.safetensors", Monitor::ValLoss).continue_from(&history);
        assert_eq!(cp.saved_epoch, Some(2));
        for (i, v) in [(3, 0.7), (4, 0.4)] {
            let l = log(i, v);
            cp.on_epoch_end(&end_of(&l, &h, &save)).unwrap();
        }
        assert_eq!(saves.borrow().len(), 1);
        assert_eq!(cp.saved_epoch, Some(4));
    }
}
