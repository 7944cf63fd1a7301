//! Training both networks on the training identities with the same
//! augmentation, the same optimizer and schedule: the encoder with the
//! triplet loss on L2-normalised embeddings, mined online in batches of
//! P identities x K images (the held pass), and the softmax baseline with
//! the cross-entropy over the identities. Batches are made
//! and distorted on a background thread (`EpochBatches`).

use cnn::augment::queue::EpochBatches;
use cnn::augment::{Affine, Border, Elastic, Pipeline};
use cnn::data::{Augment, Dataset};
use cnn::embed::{L2Normalized, Mining, PkSampler, TripletLoss};
use cnn::loss::{CrossEntropy, Loss, Target};
use cnn::ndarray::ArrayView4;
use cnn::optim::{Adam, Optimizer, StepSchedule, WarmupCosine};
use cnn::pass::Mode;
use cnn::train::progress::EpochProgress;
use cnn::train::Metric;
use cnn::Error;
use std::time::Instant;

use super::data::SIDE;
use super::nets::{Classifier, Encoder};

/// Where the triplet encoder's weights start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// The trained softmax baseline's encoder, fine-tuned with the triplet
    /// loss (the baseline is trained first).
    Softmax,
    /// Random weights (the seed's).
    Random,
}

/// How both networks train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Epochs of the encoder; an epoch shows about as many images as the
    /// training set holds.
    pub epochs: usize,
    /// Epochs of the softmax baseline.
    pub baseline_epochs: usize,
    /// Identities per batch.
    pub p: usize,
    /// Images per identity in a batch.
    pub k: usize,
    /// The triplet margin on unit-length embeddings.
    pub margin: f32,
    /// Which triplets of a batch count.
    pub mining: Mining,
    /// Adam's peak learning rate (warm-up, then cosine to 0, every step).
    pub lr: f32,
    /// Distort training images (affine and elastic).
    pub augment: bool,
    /// Where the triplet encoder starts.
    pub init: Init,
    /// Seed of the weights, the batches and the distortions.
    pub seed: u64,
    /// Print a progress bar and a line per epoch.
    pub verbose: bool,
}

/// What one epoch did, for the CSV and the summary.
#[derive(Clone, Debug)]
pub struct EpochLine {
    /// `triplet` or `softmax`.
    pub network: &'static str,
    /// Counted from 1.
    pub epoch: usize,
    /// The mean loss over the epoch's batches.
    pub loss: f64,
    /// Triplet: the share of a batch's images whose nearest other image
    /// in the batch is of the same identity; softmax: the share of images
    /// whose most probable class is right. Both on distorted images,
    /// before the step.
    pub batch_accuracy: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The distortions that make renderings look drawn: a small random affine
/// map (rotation and shear up to 8 degrees, scale 0.9-1.1, shifts up to 2
/// pixels), then a light elastic warp (alpha 20, sigma 5 pixels; Simard
/// et al.'s MNIST values are 34 and 4), background 0.
pub fn distortions() -> Pipeline {
    Pipeline::new()
        .then(Affine {
            rotation: 8.0,
            shear: 8.0,
            scale: (0.9, 1.1),
            translate: 2.0,
            p: 1.0,
        })
        .then(Elastic::new(20.0, 5.0))
        .border(Border::Constant(0.0))
}

/// One image batch as the networks take it.
fn batch_view(x: &[f32]) -> Result<ArrayView4<'_, f32>, Error> {
    let n = x.len() / (SIDE * SIDE);
    ArrayView4::from_shape((n, SIDE, SIDE, 1), x)
        .map_err(|e| Error::InvalidArgument(format!("batch of {} values: {e}", x.len())))
}

/// The share of the batch's embeddings (rows of `dim`) whose nearest
/// other one (by cosine) has the same identity: how well the batch is
/// already sorted.
fn batch_nn_accuracy(e: &[f32], ids: &[usize], dim: usize) -> f64 {
    let norms: Vec<f32> = e
        .chunks_exact(dim)
        .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12))
        .collect();
    let n = ids.len();
    let mut right = 0;
    for i in 0..n {
        let a = &e[i * dim..(i + 1) * dim];
        let best = (0..n).filter(|&j| j != i).max_by(|&j, &k| {
            let cos = |j: usize| {
                let b = &e[j * dim..(j + 1) * dim];
                a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / norms[j]
            };
            cos(j).total_cmp(&cos(k))
        });
        right += usize::from(best.is_some_and(|j| ids[j] == ids[i]));
    }
    right as f64 / n.max(1) as f64
}

/// The share of rows of `probs` (one per label) whose largest value is
/// at the label.
fn top1(probs: &[f32], labels: &[usize]) -> f64 {
    let classes = probs.len() / labels.len().max(1);
    let right = probs
        .chunks_exact(classes.max(1))
        .zip(labels)
        .filter(|(row, &l)| {
            let best = (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b]));
            best == Some(l)
        })
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// The schedule of a run of `steps` steps, `per_epoch` of them an epoch:
/// a linear warm-up over the first 5% (at most an epoch), then cosine to 0.
fn schedule(peak: f32, steps: usize, per_epoch: usize) -> WarmupCosine {
    WarmupCosine::new(peak, (steps / 20).min(per_epoch), steps)
}

/// Trains the encoder with the triplet loss on `train`'s identities,
/// from `init`'s weights (the softmax baseline's encoder) or, without it,
/// from random ones.
///
/// PkSampler's epoch visits each identity once, which on a set of few
/// identities (MNIST's five digits) is one batch; so a training epoch
/// strings together as many of its epochs (each with its own
/// distortions) as it takes to show about `train.len()` images.
pub fn train_triplet(
    train: &Dataset,
    cfg: &TrainConfig,
    history: &mut Vec<EpochLine>,
    init: Option<Encoder>,
) -> Result<Encoder, Error> {
    let start = if init.is_some() {
        "the softmax baseline's encoder"
    } else {
        "random weights"
    };
    let mut net = init.unwrap_or_else(|| Encoder::new(cfg.seed));
    let by_identity = train.labels().iter().fold(Vec::new(), |mut c, &l| {
        if c.len() <= l {
            c.resize(l + 1, 0usize);
        }
        c[l] += 1;
        c
    });
    let usable = by_identity.iter().filter(|&&c| c >= 2).count();
    // Fewer identities than P (MNIST's five digits): all of them, with
    // more images each, so that batches keep their size.
    let (p, k) = if usable < cfg.p {
        (usable, (cfg.p * cfg.k / usable.max(1)).max(cfg.k))
    } else {
        (cfg.p, cfg.k)
    };
    let sampler = PkSampler::new(train.labels(), p, k)?;
    let rounds = train
        .len()
        .div_ceil(sampler.batches_per_epoch() * sampler.batch_size())
        .max(1);
    let per_epoch = rounds * sampler.batches_per_epoch();
    let sched = schedule(cfg.lr, cfg.epochs * per_epoch, per_epoch);
    let loss_fn = L2Normalized::new(TripletLoss::new(cfg.margin, cfg.mining));
    let mut opt = Adam::new(cfg.lr);
    let pipeline = distortions();
    let augment: Option<&dyn Augment> = cfg.augment.then_some(&pipeline);
    let dim = Encoder::OUTPUT_SIZE;
    if cfg.verbose {
        println!(
            "triplet: {} epochs of {per_epoch} batches of P {} x K {} ({} loss, margin {}, {:?} \
             mining) from {start}, Adam {} warmed up and cosine-annealed",
            cfg.epochs,
            p,
            k,
            loss_fn.name(),
            cfg.margin,
            cfg.mining,
            cfg.lr
        );
    }
    let mut order = Vec::new();
    let mut step = 0;
    for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        let progress =
            EpochProgress::new(epoch, cfg.epochs, per_epoch, cfg.verbose, Metric::Accuracy);
        let (mut loss_sum, mut acc_sum, mut done) = (0.0, 0.0, 0usize);
        for round in 0..rounds {
            // Each round is one of the sampler's epochs, numbered on
            // through the run so that every round draws other batches.
            let sampler_epoch = (epoch - 1) * rounds + round + 1;
            sampler.epoch_order(cfg.seed, sampler_epoch, &mut order);
            let batches = EpochBatches {
                data: train,
                order: &order,
                batch_size: sampler.batch_size(),
                augment,
                seed: cfg.seed,
                epoch: sampler_epoch,
            };
            batches.for_each(1, 4, |_, x, y| {
                let Target::Classes(ids) = y else {
                    unreachable!("the data set holds class labels")
                };
                // The pass holds the network until it goes out of scope.
                loss_sum += {
                    let mut pass = net.forward(batch_view(x)?, Mode::Train)?;
                    let out = pass.output();
                    acc_sum += batch_nn_accuracy(out.as_slice().unwrap_or(&[]), ids, dim);
                    pass.backward_loss(&loss_fn, y)? as f64
                };
                opt.set_learning_rate(sched.lr(step));
                net.step(&mut opt)?;
                step += 1;
                done += 1;
                let ips = (done * sampler.batch_size()) as f64 / t0.elapsed().as_secs_f64();
                progress.update(done, loss_sum / done as f64, acc_sum / done as f64, ips);
                Ok(())
            })?;
        }
        progress.finish();
        let line = EpochLine {
            network: "triplet",
            epoch,
            loss: loss_sum / done.max(1) as f64,
            batch_accuracy: acc_sum / done.max(1) as f64,
            seconds: t0.elapsed().as_secs_f64(),
        };
        if cfg.verbose {
            println!(
                "triplet epoch {epoch}/{}: loss {:.4}, nearest in batch right {:.1}%, {:.1} s",
                cfg.epochs,
                line.loss,
                100.0 * line.batch_accuracy,
                line.seconds
            );
        }
        history.push(line);
    }
    Ok(net)
}

/// Trains the softmax baseline over `train`'s identities (shuffled
/// batches of `P * K`, the same distortions and schedule).
pub fn train_softmax(
    train: &Dataset,
    cfg: &TrainConfig,
    history: &mut Vec<EpochLine>,
) -> Result<Classifier, Error> {
    let mut net = Classifier::new(cfg.seed);
    let batch_size = cfg.p * cfg.k;
    let per_epoch = train.len().div_ceil(batch_size);
    let sched = schedule(cfg.lr, cfg.baseline_epochs * per_epoch, per_epoch);
    let mut opt = Adam::new(cfg.lr);
    let pipeline = distortions();
    let augment: Option<&dyn Augment> = cfg.augment.then_some(&pipeline);
    if cfg.verbose {
        println!(
            "softmax baseline: {} epochs of {per_epoch} batches of {batch_size}, cross-entropy over \
             {} identities",
            cfg.baseline_epochs,
            train.classes()
        );
    }
    let mut order = Vec::new();
    let mut step = 0;
    for epoch in 1..=cfg.baseline_epochs {
        let t0 = Instant::now();
        let progress = EpochProgress::new(
            epoch,
            cfg.baseline_epochs,
            per_epoch,
            cfg.verbose,
            Metric::Accuracy,
        );
        train.epoch_order(cfg.seed, epoch, &mut order);
        let batches = EpochBatches {
            data: train,
            order: &order,
            batch_size,
            augment,
            seed: cfg.seed ^ 0x50f7,
            epoch,
        };
        let (mut loss_sum, mut acc_sum, mut done) = (0.0, 0.0, 0usize);
        batches.for_each(1, 4, |_, x, y| {
            let Target::Classes(labels) = y else {
                unreachable!("the data set holds class labels")
            };
            loss_sum += {
                let mut pass = net.forward(batch_view(x)?, Mode::Train)?;
                acc_sum += top1(pass.output().as_slice().unwrap_or(&[]), labels);
                pass.backward_loss(&CrossEntropy::new(), y)? as f64
            };
            opt.set_learning_rate(sched.lr(step));
            net.step(&mut opt)?;
            step += 1;
            done += 1;
            let ips = (done * batch_size) as f64 / t0.elapsed().as_secs_f64();
            progress.update(done, loss_sum / done as f64, acc_sum / done as f64, ips);
            Ok(())
        })?;
        progress.finish();
        let line = EpochLine {
            network: "softmax",
            epoch,
            loss: loss_sum / done.max(1) as f64,
            batch_accuracy: acc_sum / done.max(1) as f64,
            seconds: t0.elapsed().as_secs_f64(),
        };
        if cfg.verbose {
            println!(
                "softmax epoch {epoch}/{}: cross-entropy {:.4}, training accuracy {:.1}%, {:.1} s",
                cfg.baseline_epochs,
                line.loss,
                100.0 * line.batch_accuracy,
                line.seconds
            );
        }
        history.push(line);
    }
    Ok(net)
}
