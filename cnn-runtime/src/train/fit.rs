//! `Model`: a network compiled with an optimizer, as in Keras —
//! `Model::compile(net, optimizer)`, then `fit`, `evaluate`, `predict`.
//! `fit` trains epoch by epoch in a seeded shuffled order, shows progress,
//! validates, runs callbacks, and can write a resumable checkpoint, a CSV
//! log and the curves after every epoch. Augmented batches are made on
//! background threads (`augment::queue`), and a step schedule sets the
//! learning rate before every step.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::callbacks::{Callback, Control, EpochEnd};
use super::checkpoint;
use super::history::{EpochLog, History};
use super::metric::Metric;
use super::progress::EpochProgress;
use super::{BatchStats, Network};
use crate::augment::queue::EpochBatches;
use crate::data::dataset::TargetKind;
use crate::data::Augment;
use crate::data::{Batcher, Dataset};
use crate::dist::train::{for_each_shard, FitPlan};
use crate::dist::Ranks;
use crate::error::{Error, Result};
use crate::loss::{CrossEntropy, Fused, Loss, Target};
use crate::optim::Optimizer;
use crate::optim::StepSchedule;

/// A network and its optimizer, ready to train.
pub struct Model<N: Network> {
    net: N,
    optimizer: Box<dyn Optimizer>,
    seed: u64,
    epoch: usize,
    history: History,
    /// The optimizer's learning rate when the run started.
    initial_learning_rate: f32,
    /// The batch size of the last `fit`.
    batch_size: Option<usize>,
    /// The caller's settings, kept in checkpoints ([`Model::setting`]).
    settings: Vec<(String, String)>,
    /// After a resume: the checkpoint and its batch size, which the next
    /// `fit` must use.
    resumed_batch: Option<(PathBuf, usize)>,
    /// The loss, when not the cross-entropy of class labels (which the
    /// generated step fuses with a final softmax).
    loss: Option<Box<dyn Loss>>,
    /// The metric reported beside the loss; by default the targets'.
    metric: Option<Metric>,
}

/// How to run `fit` (Keras's keyword arguments).
pub struct Fit<'a> {
    epochs: usize,
    /// The run's epoch count as the progress and epoch lines show it.
    shown_epochs: Option<usize>,
    batch_size: usize,
    validation: Option<&'a Dataset>,
    callbacks: Vec<&'a mut dyn Callback>,
    verbose: bool,
    checkpoint: Option<PathBuf>,
    csv: Option<PathBuf>,
    curves: Option<(PathBuf, String)>,
    augment: Option<&'a dyn Augment>,
    workers: Option<usize>,
    schedule: Option<&'a dyn StepSchedule>,
    ranks: Option<Ranks<'a>>,
}

impl<'a> Fit<'a> {
    /// Train until `epochs` epochs are complete (counting those before a
    /// resume, as Keras's `initial_epoch` does).
    pub fn epochs(epochs: usize) -> Self {
        Fit {
            epochs,
            shown_epochs: None,
            batch_size: 32,
            validation: None,
            callbacks: Vec::new(),
            verbose: true,
            checkpoint: None,
            csv: None,
            curves: None,
            augment: None,
            workers: None,
            schedule: None,
            ranks: None,
        }
    }
    /// The run's epoch count, for the progress bar and the epoch lines
    /// ("epoch 3/24"), when the run calls `fit` once per epoch, with
    /// `Fit::epochs(e)` for epoch `e`, because each epoch trains on data
    /// of its own (scenes made fresh every epoch). It changes nothing else.
    pub fn of(mut self, run_epochs: usize) -> Self {
        self.shown_epochs = Some(run_epochs);
        self
    }
    /// Examples per training step (32 by default, as in Keras).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Evaluated after every epoch (`val_loss`, `val_accuracy`).
    pub fn validation_data(mut self, data: &'a Dataset) -> Self {
        self.validation = Some(data);
        self
    }
    /// Adds a callback, run at the start and end of every epoch.
    pub fn callback(mut self, c: &'a mut dyn Callback) -> Self {
        self.callbacks.push(c);
        self
    }
    /// Progress bar and epoch lines on standard error / output.
    pub fn verbose(mut self, v: bool) -> Self {
        self.verbose = v;
        self
    }
    /// A resumable checkpoint written after every epoch.
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }
    /// Transforms every training example as its batch is gathered
    /// (validation and evaluation data are left alone): an
    /// `augment::Pipeline`, or [`RandomShift`](super::RandomShift). Its
    /// parameters are checked against the data before the first step, and
    /// its output shape must be the network's input.
    pub fn augment(mut self, a: &'a dyn Augment) -> Self {
        self.augment = Some(a);
        self
    }
    /// Threads that make augmented batches while the network trains (1 by
    /// default with augmentation, 0 without; 0 makes them on the training
    /// thread). The result does not depend on it.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }
    /// Sets the learning rate before every step from `schedule`, the step
    /// counted from 0 over the whole run (epochs before a resume
    /// included). It overrides rates set by callbacks at the epoch's start.
    pub fn schedule(mut self, schedule: &'a dyn StepSchedule) -> Self {
        self.schedule = Some(schedule);
        self
    }
    /// Data-parallel training on several ranks (`crate::dist`): every
    /// rank calls `fit` with the same network, data and settings, makes
    /// and trains on its shard of each global batch, and the gradients are
    /// summed over the ranks once per step. The batch size is the global
    /// batch's, and the result does not depend on the number of ranks.
    /// Rank 0 alone shows progress and writes the checkpoint, the CSV log,
    /// the curves and the callbacks' files; validation is split over the
    /// ranks.
    pub fn ranks(mut self, ranks: Ranks<'a>) -> Self {
        self.ranks = Some(ranks);
        self
    }
    /// The history as CSV, rewritten after every epoch.
    pub fn csv_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.csv = Some(path.into());
        self
    }
    /// Loss and accuracy curves as SVG, rewritten after every epoch.
    pub fn curves(mut self, path: impl Into<PathBuf>, title: impl Into<String>) -> Self {
        self.curves = Some((path.into(), title.into()));
        self
    }
}

/// Loss and metric over a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean loss (cross-entropy unless the model has another).
    pub loss: f32,
    /// The model's metric: the fraction of examples (or positions) whose
    /// highest output is the label, unless the model reports another
    /// ([`Model::metric`]).
    pub accuracy: f32,
}

impl<N: Network> Model<N> {
    /// Keras's `compile`: pairs the network with its optimizer. The loss is
    /// categorical cross-entropy of the final softmax (per position for a
    /// softmax on an image) and the metric accuracy, unless [`Model::loss`]
    /// and [`Model::metric`] say otherwise.
    pub fn compile(net: N, optimizer: impl Optimizer + 'static) -> Self {
        Model {
            loss: None,
            metric: None,
            initial_learning_rate: optimizer.learning_rate(),
            net,
            optimizer: Box::new(optimizer),
            seed: 0,
            epoch: 0,
            history: History::default(),
            batch_size: None,
            settings: Vec::new(),
            resumed_batch: None,
        }
    }

    /// Trains with `loss` (`cnn::loss`: mean squared error, Huber, binary
    /// cross-entropy, the course's localization loss, a YOLO or triplet
    /// loss, or your own) through the held forward pass, on any targets a
    /// [`Dataset`] holds. The fused cross-entropy of class labels needs no
    /// call.
    pub fn loss(mut self, loss: impl Loss + 'static) -> Self {
        self.loss = Some(Box::new(loss));
        self
    }

    /// The metric `fit` and `evaluate` report (by default accuracy for
    /// class labels and label maps, the mean absolute error for values).
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = Some(metric);
        self
    }

    /// The seed of the per-epoch data order.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// A setting of the run that checkpoints keep (`("epochs", 20)`: what
    /// a learning-rate schedule spans, say). [`Model::resume_from`] refuses
    /// a checkpoint whose settings differ; the value is compared as text.
    pub fn setting(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        let value = value.to_string();
        match self.settings.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.settings.push((name.to_string(), value)),
        }
        self.settings.sort();
        self
    }

    /// What this run was started with, as checkpoints record it.
    pub fn run_info(&self) -> checkpoint::RunInfo {
        checkpoint::RunInfo {
            network: Some(self.net.name().to_string()),
            seed: self.seed,
            initial_learning_rate: Some(self.initial_learning_rate),
            batch_size: self.batch_size,
            settings: self.settings.clone(),
        }
    }

    /// Restores a checkpoint written by `fit` (`Fit::checkpoint`) into a
    /// freshly made network and optimizer of the same kind, taking the
    /// seed and settings from the file; `fit` then goes on from the epoch
    /// after the saved one and gives exactly the result of the run that was
    /// not interrupted. A checkpoint of another network is refused (see
    /// [`checkpoint::load`]), and so is a `fit` with another batch size.
    /// To refuse a checkpoint of a run started with another seed, learning
    /// rate or settings too, use [`Model::resume_from`].
    pub fn resume(
        mut net: N,
        mut optimizer: impl Optimizer + 'static,
        path: &Path,
    ) -> Result<Self> {
        let r = checkpoint::load(path, &mut net, &mut optimizer)?;
        let initial_learning_rate = r
            .run
            .initial_learning_rate
            .unwrap_or_else(|| optimizer.learning_rate());
        Ok(Model {
            loss: None,
            metric: Some(r.history.metric),
            net,
            optimizer: Box::new(optimizer),
            seed: r.run.seed,
            epoch: r.epoch,
            history: r.history,
            initial_learning_rate,
            batch_size: r.run.batch_size,
            settings: r.run.settings,
            resumed_batch: r.run.batch_size.map(|b| (path.to_path_buf(), b)),
        })
    }

    /// Continues this run from a checkpoint it wrote: the model must be
    /// made as the interrupted run's was (`compile` with the same network
    /// kind, optimizer and learning rate, the same `seed` and
    /// [`Model::setting`]s). A checkpoint of another network, or of a run
    /// with another seed, initial learning rate or settings, is an
    /// [`Error::Mismatch`] that lists every difference with both values;
    /// the next `fit` must use the checkpoint's batch size. Then `fit`
    /// goes on from the epoch after the saved one and ends with the
    /// weights of the run that was not interrupted, bit for bit.
    pub fn resume_from(mut self, path: &Path) -> Result<Self> {
        let current = self.run_info();
        let r = checkpoint::load(path, &mut self.net, self.optimizer.as_mut())?;
        let differences = r.run.differences(&current);
        if !differences.is_empty() {
            return Err(Error::Mismatch {
                path: path.to_path_buf(),
                message: format!(
                    "a checkpoint of a run with other settings: {}; a resumed run repeats \
                     the interrupted one only with the settings that run was started with",
                    differences.join("; ")
                ),
            });
        }
        self.epoch = r.epoch;
        self.history = r.history;
        self.batch_size = r.run.batch_size;
        self.resumed_batch = r.run.batch_size.map(|b| (path.to_path_buf(), b));
        Ok(self)
    }

    /// The network being trained.
    pub fn network(&self) -> &N {
        &self.net
    }
    /// The network, mutably.
    pub fn network_mut(&mut self) -> &mut N {
        &mut self.net
    }
    /// The network, giving up the model.
    pub fn into_network(self) -> N {
        self.net
    }
    /// The optimizer, to change its learning rate.
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer {
        self.optimizer.as_mut()
    }
    /// Epochs completed so far.
    pub fn epoch(&self) -> usize {
        self.epoch
    }
    /// The metrics of every epoch so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Writes a resumable checkpoint of the current state.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        checkpoint::save(
            path,
            &self.net,
            self.optimizer.as_ref(),
            self.epoch,
            &self.run_info(),
            &self.history,
        )
    }

    /// Trains until `cfg.epochs` epochs are complete or a callback stops
    /// it. A non-finite loss stops with `Error::NonFiniteLoss` (the weights
    /// of that step are not applied, and files already written stay whole).
    pub fn fit(&mut self, train: &Dataset, mut cfg: Fit<'_>) -> Result<&History> {
        let example_shape = match cfg.augment {
            Some(a) => a.output_shape(train.shape())?,
            None => train.shape(),
        };
        self.check_data(train, example_shape, "training data")?;
        if let Some(v) = cfg.validation {
            self.check_data(v, v.shape(), "validation data")?;
            if v.target_kind() != train.target_kind() {
                return Err(Error::InvalidArgument(format!(
                    "fit: the validation data's targets ({:?}) are not the training data's ({:?})",
                    v.target_kind(),
                    train.target_kind()
                )));
            }
        }
        match (cfg.augment, train.target_kind()) {
            (Some(a), TargetKind::LabelMaps { per_example }) => {
                // The map moves with the pixels: it must cover the image
                // the network gets, one class per pixel.
                a.moves_label_maps().map_err(|why| {
                    Error::InvalidArgument(format!(
                        "fit: the augmentation cannot move the label maps with the pixels: {why}"
                    ))
                })?;
                let [h, w, _] = a.output_shape(train.shape())?;
                if a.moves_pixels().is_some() && per_example != h * w {
                    return Err(Error::InvalidArgument(format!(
                        "fit: the augmentation moves pixels, and a label map of {per_example} classes is not one per pixel of the {h}x{w} images it makes, so it cannot move with them; augment with colour transforms only"
                    )));
                }
            }
            (Some(a), kind @ TargetKind::Values { .. }) => {
                if let Some(name) = a.moves_pixels() {
                    return Err(Error::InvalidArgument(format!(
                        "fit: the augmentation's {name} moves pixels, but the targets ({kind:?}) may be tied to places in the image (boxes, landmarks) and would not move with them; augment with colour transforms only, or move the targets yourself"
                    )));
                }
            }
            _ => {}
        }
        if self.loss.is_none() && matches!(train.target_kind(), TargetKind::Values { .. }) {
            return Err(Error::InvalidArgument(
                "fit: the targets are values, which need a loss: Model::compile(net, opt).loss(cnn::loss::Mse) (or another of cnn::loss)".into(),
            ));
        }
        if self.loss.is_some() && cfg.ranks.as_ref().is_some_and(|r| r.synchronised()) {
            return Err(Error::InvalidArgument(
                "fit: synchronised batch norm over the ranks takes the fused cross-entropy only (a model without .loss(..)); with another loss, batch norm takes each rank's statistics (Ranks::sync_batch_norm(false))".into(),
            ));
        }
        let metric = self
            .metric
            .unwrap_or(Metric::for_targets(train.target_kind()));
        self.history.metric = metric;
        if cfg.batch_size == 0 {
            return Err(Error::InvalidArgument(
                "fit: batch size must be positive".into(),
            ));
        }
        if let Some((path, saved)) = &self.resumed_batch {
            if *saved != cfg.batch_size {
                return Err(Error::Mismatch {
                    path: path.clone(),
                    message: format!(
                        "a checkpoint of a run with other settings: batch size {saved} in \
                         the checkpoint, {} now; a resumed run repeats the interrupted one \
                         only with the batch size that run used",
                        cfg.batch_size
                    ),
                });
            }
        }
        self.resumed_batch = None;
        self.batch_size = Some(cfg.batch_size);
        if let Some(r) = cfg.ranks.as_mut() {
            let plan = FitPlan {
                train,
                validation: cfg.validation,
                batch_size: cfg.batch_size,
                epochs: cfg.epochs,
                seed: self.seed,
                epoch: self.epoch,
                augment: cfg.augment.is_some(),
                optimizer: self.optimizer.as_ref(),
            };
            r.start(&self.net, &plan)?;
            cfg.verbose &= r.is_root();
        }
        // Rank 0 alone writes files (one process: always); each rank its shards.
        let writes = cfg.ranks.as_ref().is_none_or(|r| r.is_root());
        let part = cfg.ranks.as_ref().map(|r| (r.rank(), r.size()));
        let mut order = Vec::with_capacity(train.len());
        let batches = train.len().div_ceil(cfg.batch_size);
        let workers = cfg
            .workers
            .unwrap_or(if cfg.augment.is_some() { 1 } else { 0 });
        while self.epoch < cfg.epochs {
            let epoch = self.epoch + 1;
            for c in cfg.callbacks.iter_mut() {
                c.on_epoch_begin(epoch, self.optimizer.as_mut())?;
            }
            let first_step = (epoch - 1) * batches;
            if let Some(s) = cfg.schedule {
                self.optimizer.set_learning_rate(s.lr(first_step));
            }
            let learning_rate = self.optimizer.learning_rate();
            train.epoch_order(self.seed, epoch, &mut order);
            let shown_epochs = cfg.shown_epochs.unwrap_or(cfg.epochs);
            let bar = EpochProgress::new(epoch, shown_epochs, batches, cfg.verbose, metric);
            let start = Instant::now();
            let (mut loss_sum, mut seen) = (0f64, 0usize);
            let (mut metric_sum, mut metric_count) = (0f64, 0f64);
            let mut outputs = Vec::new();
            let out_shape = self.net.output_shape();
            let in_len = self.net.input_len();
            let epoch_batches = EpochBatches {
                data: train,
                order: &order,
                batch_size: cfg.batch_size,
                augment: cfg.augment,
                seed: self.seed,
                epoch,
            };
            let (net, optimizer, loss_fn) = (&mut self.net, &mut self.optimizer, &self.loss);
            // Batch b, or this rank's shard of it (examples first.. of
            // global); the loss and counts are the global batch's.
            let mut step = |b: usize, x: &[f32], t: Target<'_>, first: usize, global: usize| {
                if let Some(s) = cfg.schedule {
                    optimizer.set_learning_rate(s.lr(first_step + b));
                }
                let stats = match (cfg.ranks.as_mut(), loss_fn, t) {
                    (Some(r), None, Target::Classes(y)) => {
                        r.train_shard(&mut *net, optimizer.as_mut(), x, y, first, global)
                    }
                    (Some(r), Some(l), t) => {
                        let mut tally = |out: &[f32]| {
                            let (sum, count) = metric.tally(out, out_shape, t);
                            [sum, count]
                        };
                        r.train_loss_shard(
                            &mut *net,
                            optimizer.as_mut(),
                            x,
                            t,
                            l.as_ref(),
                            &mut tally,
                            first,
                            global,
                        )
                        .map(|(loss, [sum, count])| {
                            // Counted here, over every rank: the fused step's count is 0.
                            metric_sum += f64::from(sum);
                            metric_count += f64::from(count);
                            BatchStats { loss, correct: 0 }
                        })
                    }
                    (None, None, Target::Classes(y) | Target::LabelMap(y)) => {
                        net.train_batch(x, y, optimizer.as_mut())
                    }
                    (None, Some(l), t) => net
                        .train_loss(x, t, l.as_ref(), optimizer.as_mut(), &mut outputs)
                        .map(|loss| {
                            let (sum, count) = metric.tally(&outputs, out_shape, t);
                            // Counted here: the fused step's count is 0.
                            metric_sum += sum;
                            metric_count += count;
                            BatchStats { loss, correct: 0 }
                        }),
                    _ => Err(Error::InvalidArgument(
                        "fit: these targets need a loss (Model::loss) and one process".into(),
                    )),
                };
                let BatchStats { loss, correct: c } = stats.map_err(|e| match e {
                    Error::NonFiniteLoss { loss, .. } => Error::NonFiniteLoss {
                        loss,
                        at: format!("epoch {epoch}, batch {}", b + 1),
                    },
                    other => other,
                })?;
                if loss_fn.is_none() {
                    // The fused step's right labels, of the global batch's
                    // labels (one per example, or per position).
                    let per_example = match t {
                        Target::LabelMap(y) => y.len() / (x.len() / in_len.max(1)).max(1),
                        _ => 1,
                    };
                    metric_sum += c as f64;
                    metric_count += (global * per_example) as f64;
                }
                loss_sum += loss as f64 * global as f64;
                seen += global;
                let secs = start.elapsed().as_secs_f64().max(1e-9);
                bar.update(
                    b + 1,
                    loss_sum / seen as f64,
                    metric_sum / metric_count.max(1.0),
                    seen as f64 / secs,
                );
                Ok(())
            };
            match part {
                Some((rank, size)) => for_each_shard(&epoch_batches, rank, size, workers, step)?,
                None => epoch_batches.for_each(workers, 2, |b, x, t| {
                    step(b, x, t, 0, x.len() / in_len.max(1))
                })?,
            }
            let seconds = start.elapsed().as_secs_f64();
            bar.finish();
            if let Some(r) = cfg.ranks.as_mut() {
                r.end_epoch(&mut self.net, epoch)?;
            }
            let eval_batch = cfg.batch_size.max(256);
            let val = match (cfg.validation, cfg.ranks.as_mut()) {
                // The fused loss: the validation set split over the ranks.
                // Another loss: every rank evaluates all of it (the same
                // weights give the same figures everywhere).
                (Some(v), Some(r)) if self.loss.is_none() => {
                    Some(crate::dist::evaluate(r.comm(), &self.net, v, eval_batch)?)
                }
                (v, _) => v.map(|v| self.evaluate(v, eval_batch)).transpose()?,
            };
            let log = EpochLog {
                epoch,
                loss: (loss_sum / seen as f64) as f32,
                accuracy: (metric_sum / metric_count.max(1.0)) as f32,
                val_loss: val.map(|v| v.loss),
                val_accuracy: val.map(|v| v.accuracy),
                learning_rate,
                seconds,
                images_per_second: seen as f64 / seconds.max(1e-9),
            };
            if cfg.verbose {
                println!("{}", log.line_with(shown_epochs, metric));
            }
            self.history.epochs.push(log.clone());
            self.epoch = epoch;
            // Files and callbacks; with ranks, an error on rank 0 (which
            // alone writes) stops every rank instead of leaving them waiting.
            let ended = (|| -> Result<bool> {
                if let Some(p) = cfg.checkpoint.as_ref().filter(|_| writes) {
                    self.save_checkpoint(p)?;
                }
                if let Some(p) = cfg.csv.as_ref().filter(|_| writes) {
                    self.history.write_csv(p)?;
                }
                if let Some((p, title)) = cfg.curves.as_ref().filter(|_| writes) {
                    super::curves::write_svg(&self.history, title, p)?;
                }
                let mut stop = false;
                let (net, hist) = (&self.net, &self.history);
                let save = |p: &Path| match writes {
                    true => checkpoint::save_weights(p, net),
                    false => Ok(()),
                };
                let end = EpochEnd {
                    log: &log,
                    history: hist,
                    save: &save,
                };
                for c in cfg.callbacks.iter_mut() {
                    stop |= c.on_epoch_end(&end)? == Control::Stop;
                }
                Ok(stop)
            })();
            let stop = match cfg.ranks.as_mut() {
                Some(r) => crate::dist::agree(r.comm(), ended)?,
                None => ended?,
            };
            if stop {
                break;
            }
        }
        Ok(&self.history)
    }

    /// The mean loss and the metric over `data` in inference mode: the
    /// cross-entropy and accuracy of class labels unless the model was
    /// given another loss or metric. A loss fused with the network's final
    /// activation reads logits recovered from its outputs (`ln p` for a
    /// softmax, `ln(p / (1 - p))` for a sigmoid).
    pub fn evaluate(&self, data: &Dataset, batch_size: usize) -> Result<Evaluation> {
        self.check_data(data, data.shape(), "evaluation data")?;
        if self.loss.is_none() && data.target_kind() == TargetKind::Classes {
            return self.evaluate_classes(data, batch_size);
        }
        let metric = self
            .metric
            .unwrap_or(Metric::for_targets(data.target_kind()));
        let default = CrossEntropy::default();
        let loss: &dyn Loss = match (&self.loss, data.target_kind()) {
            (Some(l), _) => l.as_ref(),
            (None, TargetKind::Values { .. }) => {
                return Err(Error::InvalidArgument(
                    "evaluate: the targets are values, which need a loss (Model::loss)".into(),
                ))
            }
            (None, _) => &default,
        };
        let shape = self.net.output_shape();
        let out_len: usize = shape.iter().product();
        let fin = self.net.final_activation();
        let logits = loss.fused().filter(|f| Some(*f) == fin);
        let (mut out, mut input, mut grad) = (Vec::new(), Vec::new(), Vec::new());
        let (mut total, mut metric_sum, mut metric_count) = (0f64, 0f64, 0f64);
        let mut batcher = Batcher::new();
        let idx: Vec<usize> = (0..data.len()).collect();
        for chunk in idx.chunks(batch_size.max(1)) {
            let (x, t) = batcher.gather_targets(data, chunk);
            out.resize(chunk.len() * out_len, 0.0);
            self.net.infer_batch(x, &mut out)?;
            let (sum, count) = metric.tally(&out, shape, t);
            metric_sum += sum;
            metric_count += count;
            input.clear();
            input.extend(out.iter().map(|&p| match logits {
                Some(Fused::Softmax) => p.max(f32::MIN_POSITIVE).ln(),
                Some(Fused::Sigmoid) => {
                    let p = p.clamp(f32::MIN_POSITIVE, 1.0 - f32::EPSILON);
                    (p / (1.0 - p)).ln()
                }
                None => p,
            }));
            grad.resize(out.len(), 0.0);
            total += loss.loss(&input, shape, t, &mut grad)? as f64 * chunk.len() as f64;
        }
        Ok(Evaluation {
            loss: (total / data.len().max(1) as f64) as f32,
            accuracy: (metric_sum / metric_count.max(1.0)) as f32,
        })
    }

    /// [`Model::evaluate`] of class labels with the fused cross-entropy:
    /// from class probabilities.
    fn evaluate_classes(&self, data: &Dataset, batch_size: usize) -> Result<Evaluation> {
        let classes = self.net.classes();
        let mut probs = Vec::new();
        let (mut loss, mut correct) = (0f64, 0usize);
        let mut batcher = Batcher::new();
        let idx: Vec<usize> = (0..data.len()).collect();
        for chunk in idx.chunks(batch_size.max(1)) {
            let (x, y) = batcher.gather(data, chunk);
            probs.resize(chunk.len() * classes, 0.0);
            self.net.predict_batch(x, &mut probs)?;
            for (row, &label) in probs.chunks_exact(classes).zip(y) {
                loss -= (row[label].max(1e-12) as f64).ln();
                if argmax(row) == label {
                    correct += 1;
                }
            }
        }
        let n = data.len().max(1) as f64;
        Ok(Evaluation {
            loss: (loss / n) as f32,
            accuracy: (correct as f64 / n) as f32,
        })
    }

    /// Class probabilities for every example of `data`: `[len, classes]`.
    pub fn predict(&self, data: &Dataset, batch_size: usize) -> Result<Vec<f32>> {
        self.check_data(data, data.shape(), "prediction data")?;
        let classes = self.net.classes();
        let mut out = vec![0.0; data.len() * classes];
        let mut batcher = Batcher::new();
        let idx: Vec<usize> = (0..data.len()).collect();
        for (chunk, dst) in idx
            .chunks(batch_size.max(1))
            .zip(out.chunks_mut(batch_size.max(1) * classes))
        {
            let (x, _) = batcher.gather(data, chunk);
            self.net.predict_batch(x, dst)?;
        }
        Ok(out)
    }

    /// `got` is the shape the network will see (after augmentation).
    fn check_data(&self, data: &Dataset, got: [usize; 3], what: &str) -> Result<()> {
        let want = self.net.input_shape();
        let fits = match *want {
            [_, _, _] => want == got,
            // A sequence `[l, c]` is stored as the height-1 image `[1, l, c]`.
            [l, c] => got == [1, l, c],
            // A volume `[d, h, w, c]` is stored as `d * h` rows of `w x c`.
            [d, h, w, c] => got == [d * h, w, c],
            _ => want.iter().product::<usize>() == got.iter().product::<usize>(),
        };
        if !fits {
            return Err(Error::shape(
                what,
                format!("examples of shape {want:?} (the network's input)"),
                format!("{got:?}"),
            ));
        }
        if data.classes() > self.net.classes() {
            return Err(Error::InvalidArgument(format!(
                "{what} has {} classes but the network outputs {}",
                data.classes(),
                self.net.classes()
            )));
        }
        if data.is_empty() {
            return Err(Error::InvalidArgument(format!("{what} is empty")));
        }
        Ok(())
    }
}

/// Index of the largest value (the first of equals).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}
