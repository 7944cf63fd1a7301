//! Training both networks on the training identities with the same
//! augmentation, the same optimizer and schedule: the encoder with the
//! triplet loss on L2-normalised embeddings, mined online in batches of
//! P identities x K images (the held pass), and the softmax baseline with
//! the cross-entropy over the identities. Batches are made
//! and distorted on a background thread (`EpochBatches`).

use cnn::augment::queue::EpochBatches;
use cnn::augment::{Affine, Border, Elastic, Pipeline};
use cnn::data::{Augment, Dataset};
use cnn::embed::{L2Normalized, Mining, TripletLoss};
use cnn::loss::{CrossEntropy, Loss, Target};
use cnn::ndarray::ArrayView4;
use cnn::optim::{Adam, Optimizer, StepSchedule, WarmupCosine};
use cnn::pass::Mode;
use cnn::rng::Rng;
use cnn::train::progress::EpochProgress;
use cnn::Error;
use std::time::Instant;

use super::data::{Identities, SIDE};
use super::nets::{Classifier, Encoder};

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
    /// How many groups (alphabets) a batch's identities come from.
    pub spread: usize,
    /// Adam's peak learning rate (warm-up, then cosine to 0, every step).
    pub lr: f32,
    /// Distort training images (affine and elastic).
    pub augment: bool,
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
/// et al.'s MNIST values are 34 and 4), background 0, and then a random
/// stroke weight ([`StrokeWeight`]).
pub fn distortions() -> Distortions {
    Distortions(
        Pipeline::new()
            .then(Affine {
                rotation: 8.0,
                shear: 8.0,
                scale: (0.9, 1.1),
                translate: 2.0,
                p: 1.0,
            })
            .then(Elastic::new(20.0, 5.0))
            .border(Border::Constant(0.0)),
    )
}

/// The pipeline, then the stroke weight: font faces differ most in how
/// heavy their strokes are (light, regular, bold), which no geometric map
/// changes. A third of the images get bolder (each pixel the largest of
/// itself and its 4 neighbours), a fifth lighter (halfway to the
/// smallest of them, so that a thin stroke fades rather than vanishes).
pub struct Distortions(pub Pipeline);

impl Augment for Distortions {
    fn apply(&self, example: &mut [f32], shape: [usize; 3], rng: &mut Rng) {
        let src = example.to_vec();
        self.apply_into(&src, shape, example, rng);
    }

    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3], Error> {
        Augment::output_shape(&self.0, input)
    }

    fn apply_into(&self, src: &[f32], shape: [usize; 3], dst: &mut [f32], rng: &mut Rng) {
        Augment::apply_into(&self.0, src, shape, dst, rng);
        let r = rng.uniform();
        let (bolder, lighter) = (r < 0.33, (0.33..0.53).contains(&r));
        if !(bolder || lighter) || shape[2] != 1 {
            return;
        }
        let [h, w, _] = shape;
        let x = dst.to_vec();
        for y in 0..h {
            for c in 0..w {
                let mut around = [x[y * w + c]; 5];
                if y > 0 {
                    around[1] = x[(y - 1) * w + c];
                }
                if y + 1 < h {
                    around[2] = x[(y + 1) * w + c];
                }
                if c > 0 {
                    around[3] = x[y * w + c - 1];
                }
                if c + 1 < w {
                    around[4] = x[y * w + c + 1];
                }
                let v = &mut dst[y * w + c];
                *v = if bolder {
                    around.iter().fold(f32::MIN, |a, &b| a.max(b))
                } else {
                    0.5 * (*v + around.iter().fold(f32::MAX, |a, &b| a.min(b)))
                };
            }
        }
    }
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

/// P x K batches whose P identities come from few groups: each batch
/// takes up to `P / spread` identities of a group drawn at random, then of
/// another, until it holds P. The test's episodes and different pairs are
/// within an alphabet, so its distractors are letters of one script;
/// batches drawn over all alphabets (`PkSampler`'s) give mostly negatives
/// of other scripts, which are easy. K images per identity as `PkSampler`
/// takes them: distinct when it has K, else all and repeats.
pub struct GroupedBatches {
    /// The images of each identity that has two or more.
    images: Vec<Vec<usize>>,
    /// The usable identities (indices into `images`) of each group.
    groups: Vec<Vec<usize>>,
    p: usize,
    k: usize,
    spread: usize,
}

impl GroupedBatches {
    /// Batches of `p` identities x `k` images of `set`, drawn from groups
    /// `spread` at a time (1 for one group per batch). P is lowered to the
    /// identities that have two images, if fewer.
    pub fn new(set: &Identities, p: usize, k: usize, spread: usize) -> Result<Self, Error> {
        let mut images = Vec::new();
        let mut groups = vec![Vec::new(); set.group_names.len()];
        for (id, imgs) in set.images_by_identity().into_iter().enumerate() {
            if imgs.len() >= 2 {
                groups[set.group_of[id]].push(images.len());
                images.push(imgs);
            }
        }
        if images.len() < 2 {
            return Err(Error::InvalidArgument(format!(
                "triplet batches: {} identities have two images or more; a triplet needs 2",
                images.len()
            )));
        }
        groups.retain(|g| !g.is_empty());
        Ok(GroupedBatches {
            p: p.min(images.len()),
            k,
            spread: spread.max(1),
            images,
            groups,
        })
    }

    /// Examples per batch.
    pub fn batch_size(&self) -> usize {
        self.p * self.k
    }

    /// Overwrites `out` with `batches` batches drawn with `rng`.
    pub fn order(&self, batches: usize, rng: &mut Rng, out: &mut Vec<usize>) {
        out.clear();
        let share = self.p.div_ceil(self.spread);
        let mut chosen = Vec::with_capacity(self.p);
        let mut members = Vec::new();
        for _ in 0..batches {
            chosen.clear();
            while chosen.len() < self.p {
                // A group in proportion to its identities.
                let pick = rng.below(self.images.len());
                let g = self.groups.iter().position(|g| g.contains(&pick)).unwrap_or(0);
                members.clear();
                members.extend(self.groups[g].iter().filter(|id| !chosen.contains(*id)));
                rng.shuffle(&mut members);
                let room = (self.p - chosen.len()).min(share);
                chosen.extend(members.iter().take(room));
            }
            for &id in &chosen {
                let imgs = &self.images[id];
                let start = out.len();
                out.extend_from_slice(imgs);
                rng.shuffle(&mut out[start..]);
                out.truncate(start + self.k.min(imgs.len()));
                while out.len() < start + self.k {
                    out.push(imgs[rng.below(imgs.len())]);
                }
            }
        }
    }
}

/// Trains the encoder with the triplet loss on `train`'s identities, in
/// batches from [`GroupedBatches`]; an epoch shows about as many images as
/// the set holds.
pub fn train_triplet(
    train: &Identities,
    cfg: &TrainConfig,
    history: &mut Vec<EpochLine>,
) -> Result<Encoder, Error> {
    let mut net = Encoder::new(cfg.seed);
    let sampler = GroupedBatches::new(train, cfg.p, cfg.k, cfg.spread)?;
    let per_epoch = train.data.len().div_ceil(sampler.batch_size()).max(1);
    let sched = schedule(cfg.lr, cfg.epochs * per_epoch, per_epoch);
    let loss_fn = L2Normalized::new(TripletLoss::new(cfg.margin, cfg.mining));
    let mut opt = Adam::new(cfg.lr);
    let pipeline = distortions();
    let augment: Option<&dyn Augment> = cfg.augment.then_some(&pipeline);
    let dim = Encoder::OUTPUT_SIZE;
    if cfg.verbose {
        println!(
            "triplet: {} epochs of {per_epoch} batches of P {} x K {} (identities from {} groups \
             at a time; {} loss, margin {}, {:?} mining), Adam {} warmed up and cosine-annealed",
            cfg.epochs,
            sampler.p,
            cfg.k,
            cfg.spread,
            loss_fn.name(),
            cfg.margin,
            cfg.mining,
            cfg.lr
        );
    }
    let mut order = Vec::new();
    let mut rng = Rng::new(cfg.seed ^ 0x7219);
    let mut step = 0;
    for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        let progress = EpochProgress::new(epoch, cfg.epochs, per_epoch, cfg.verbose);
        let (mut loss_sum, mut acc_sum, mut done) = (0.0, 0.0, 0usize);
        sampler.order(per_epoch, &mut rng, &mut order);
        let batches = EpochBatches {
            data: &train.data,
            order: &order,
            batch_size: sampler.batch_size(),
            augment,
            seed: cfg.seed,
            epoch,
        };
        batches.for_each(1, 4, |_, x, y| {
            let Target::Classes(ids) = y else {
                unreachable!("the data set holds class labels")
            };
            let mut pass = net.forward(batch_view(x)?, Mode::Train)?;
            let out = pass.output();
            acc_sum += batch_nn_accuracy(out.as_slice().unwrap_or(&[]), ids, dim);
            loss_sum += pass.backward_loss(&loss_fn, y)? as f64;
            drop(pass);
            opt.set_learning_rate(sched.lr(step));
            net.step(&mut opt)?;
            step += 1;
            done += 1;
            let ips = (done * sampler.batch_size()) as f64 / t0.elapsed().as_secs_f64();
            progress.update(done, loss_sum / done as f64, acc_sum / done as f64, ips);
            Ok(())
        })?;
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
        let progress = EpochProgress::new(epoch, cfg.baseline_epochs, per_epoch, cfg.verbose);
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
            let mut pass = net.forward(batch_view(x)?, Mode::Train)?;
            acc_sum += top1(pass.output().as_slice().unwrap_or(&[]), labels);
            loss_sum += pass.backward_loss(&CrossEntropy::new(), y)? as f64;
            drop(pass);
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
