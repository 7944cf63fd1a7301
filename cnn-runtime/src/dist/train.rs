//! The data-parallel side of `Model::fit`: [`Ranks`] (the communicator and
//! the batch-norm choice, given to `Fit::ranks`), a rank's shards of an
//! epoch's batches and its step on one (the fused cross-entropy, or any
//! loss through the held pass), the epoch's end (moving statistics averaged,
//! weights checked equal), the sharded [`evaluate`], and [`resume`] from
//! rank 0's checkpoint with any number of ranks.

use std::path::Path;

use super::check::{agree, check_same, hash_f32, Fingerprint};
use super::{shard_range, Collective};
use crate::augment::queue::EpochBatches;
use crate::error::{Error, Result};
use crate::loss::Target;
use crate::net::Shard;
use crate::optim::Optimizer;
use crate::rng::splitmix64;
use crate::train::fit::{argmax, Evaluation};
use crate::train::{BatchStats, Batcher, Dataset, Model, Network};

/// How `Model::fit` runs on several ranks (`Fit::ranks`): the
/// communicator, and whether batch norm takes its statistics over the
/// whole global batch (synchronised, PyTorch's `SyncBatchNorm`) or over
/// each rank's shard (per-rank, the default, as PyTorch's
/// `DistributedDataParallel` does).
pub struct Ranks<'a> {
    comm: &'a mut dyn Collective,
    sync_batch_norm: bool,
}

/// What `fit` is about to do, compared across ranks before the first step.
pub(crate) struct FitPlan<'a> {
    pub train: &'a Dataset,
    pub validation: Option<&'a Dataset>,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
    pub epoch: usize,
    pub augment: bool,
    pub optimizer: &'a dyn Optimizer,
}

impl<'a> Ranks<'a> {
    /// Trains on the ranks of `comm`, with per-rank batch statistics.
    pub fn new(comm: &'a mut dyn Collective) -> Self {
        Ranks {
            comm,
            sync_batch_norm: false,
        }
    }

    /// Batch norm normalises with the statistics of the whole global batch
    /// (two small all-reduces per batch-norm layer and step: one in the
    /// forward pass, one in backward). Then the result does not depend on
    /// the number of ranks, with batch norm too.
    pub fn sync_batch_norm(mut self, on: bool) -> Self {
        self.sync_batch_norm = on;
        self
    }

    /// Whether batch norm sums its statistics over the ranks.
    pub(crate) fn synchronised(&self) -> bool {
        self.sync_batch_norm
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// Rank 0, the one that writes files and shows progress.
    pub fn is_root(&self) -> bool {
        self.comm.rank() == 0
    }

    /// The communicator.
    pub fn comm(&mut self) -> &mut dyn Collective {
        &mut *self.comm
    }

    /// Before the first step: the same network, data and settings on every
    /// rank, and a shard for every rank in every batch.
    pub(crate) fn start<N: Network + ?Sized>(&mut self, net: &N, plan: &FitPlan<'_>) -> Result<()> {
        let mut f = Fingerprint::new();
        f.network(net);
        f.data("training data", plan.train);
        if let Some(v) = plan.validation {
            f.data("validation data", v);
        }
        const SETTINGS: &str = "pass the same Fit settings and seed on every rank";
        let state: Vec<f32> = plan
            .optimizer
            .state()
            .into_iter()
            .flat_map(|(_, v)| v)
            .collect();
        f.add("the batch size", plan.batch_size as u64, SETTINGS)
            .add("the number of epochs", plan.epochs as u64, SETTINGS)
            .add("the data seed", plan.seed, SETTINGS)
            .add(
                "the epochs already done",
                plan.epoch as u64,
                "resume every rank from the same checkpoint (dist::resume)",
            )
            .add(
                "augmentation (on or off)",
                u64::from(plan.augment),
                SETTINGS,
            )
            .add(
                "synchronised batch norm (on or off)",
                u64::from(self.sync_batch_norm),
                SETTINGS,
            )
            .add(
                "the network's generator",
                net.rng_state().iter().fold(0, |h, &w| splitmix64(h ^ w)),
                "make the network with the same seed on every rank",
            )
            .add(
                "the optimizer's learning rate",
                plan.optimizer.learning_rate().to_bits() as u64,
                SETTINGS,
            )
            .add(
                "the optimizer's state",
                hash_f32(&state),
                "resume every rank from the same checkpoint (dist::resume)",
            );
        check_same(&mut *self.comm, &f)?;
        // Every rank gets at least one example of every batch.
        let size = self.size();
        let n = plan.train.len();
        let last = match n % plan.batch_size.max(1) {
            0 => plan.batch_size,
            r => r,
        };
        let smallest = plan.batch_size.min(last);
        if smallest < size {
            return Err(Error::Ranks(format!(
                "a batch of {smallest} examples (of {n} in batches of {}) cannot be shared by {size} ranks: every rank needs at least one example of every batch\n  = help: use a batch size of at least {size} and a training set whose size is a multiple of it or leaves at least {size} over",
                plan.batch_size
            )));
        }
        Ok(())
    }

    /// One step on this rank's shard of a global batch: examples
    /// `first..first + y.len()` of `global`. Returns the global batch's
    /// loss and correct count.
    pub(crate) fn train_shard<N: Network + ?Sized>(
        &mut self,
        net: &mut N,
        optimizer: &mut dyn Optimizer,
        x: &[f32],
        y: &[usize],
        first: usize,
        global: usize,
    ) -> Result<BatchStats> {
        let mut shard = Shard::of(
            &mut *self.comm,
            first,
            y.len(),
            global,
            self.sync_batch_norm,
        );
        net.train_shard(x, y, optimizer, &mut shard)
    }

    /// One step with another loss on this rank's shard of a global batch
    /// (examples `first..` of `global`): returns the global batch's loss
    /// and the metric's sum and count over all ranks (`metric` gives this
    /// shard's from its outputs).
    pub(crate) fn train_loss_shard<N: Network + ?Sized>(
        &mut self,
        net: &mut N,
        optimizer: &mut dyn Optimizer,
        x: &[f32],
        target: Target<'_>,
        loss: &dyn crate::loss::Loss,
        metric: &mut dyn FnMut(&[f32]) -> [f64; 2],
        first: usize,
        global: usize,
    ) -> Result<(f32, [f32; 2])> {
        let len = net.input_len().max(1);
        let mut shard = Shard::of(
            &mut *self.comm,
            first,
            x.len() / len,
            global,
            self.sync_batch_norm,
        );
        let total = net.train_loss_shard(x, target, loss, optimizer, metric, &mut shard)?;
        Ok((total, shard.metric().unwrap_or_default()))
    }

    /// At the end of an epoch: with per-rank statistics, every rank's
    /// moving statistics become the mean of the ranks' (so evaluation,
    /// checkpoints and the next epoch start alike everywhere); then the
    /// weights must be equal on every rank, which catches a transport
    /// that does not give every rank the same sums.
    pub(crate) fn end_epoch<N: Network + ?Sized>(
        &mut self,
        net: &mut N,
        epoch: usize,
    ) -> Result<()> {
        if !self.sync_batch_norm {
            sync_moving_stats(&mut *self.comm, net);
        }
        let mut f = Fingerprint::new();
        f.add(
            format!("the weights after epoch {epoch}"),
            hash_f32(net.params()),
            "the ranks' sums were not bit-identical; report it with the MPI library and its version",
        );
        check_same(&mut *self.comm, &f)
    }
}

/// Runs `consume(b, first, global, x, y)` on rank `rank` of `size`'s
/// shard of every batch `b` of `all` (examples `first..` of the `global`
/// of that batch, made and augmented on `workers` threads as `fit` makes
/// whole batches). Every image's generator depends only on `(seed, epoch,
/// index)`, so a shard holds exactly what that part of the whole batch
/// would. A rank's shards of the full batches have one length, so they
/// are batches of one `EpochBatches` over this rank's part of the order;
/// the last, shorter batch is another.
pub(crate) fn for_each_shard(
    all: &EpochBatches<'_>,
    rank: usize,
    size: usize,
    workers: usize,
    mut consume: impl FnMut(usize, &[f32], Target<'_>, usize, usize) -> Result<()>,
) -> Result<()> {
    let bs = all.batch_size.max(1);
    let full = all.order.len() / bs;
    let part = shard_range(bs, rank, size);
    let mut mine = Vec::with_capacity(full * part.len());
    for b in 0..full {
        mine.extend_from_slice(&all.order[b * bs + part.start..b * bs + part.end]);
    }
    let shards = EpochBatches {
        order: &mine,
        batch_size: part.len(),
        ..*all
    };
    shards.for_each(workers, 2, |b, x, y| consume(b, x, y, part.start, bs))?;
    let last = &all.order[full * bs..];
    if !last.is_empty() {
        let p = shard_range(last.len(), rank, size);
        let tail = EpochBatches {
            order: &last[p.clone()],
            batch_size: p.len(),
            ..*all
        };
        tail.for_each(0, 1, |_, x, y| consume(full, x, y, p.start, last.len()))?;
    }
    Ok(())
}

/// Replaces the network's non-trainable tensors (batch norm's moving
/// statistics) by their mean over the ranks: with per-rank batch
/// statistics each rank's moved with its own shards. One sum of the
/// non-trainable parameters.
pub fn sync_moving_stats<N: Network + ?Sized>(ranks: &mut dyn Collective, net: &mut N) {
    let Some(start) = net
        .tensors()
        .iter()
        .filter(|t| !t.trainable)
        .map(|t| t.offset)
        .min()
    else {
        return;
    };
    let size = ranks.size() as f32;
    let rest = &mut net.params_mut()[start..];
    ranks.sum_f32(rest);
    rest.iter_mut().for_each(|v| *v /= size);
}

/// [`Model::evaluate`] with the data split over the ranks: each rank runs
/// its contiguous part, and the loss sums and counts are added, so every
/// rank returns the same figures for the whole of `data`.
pub fn evaluate<N: Network + ?Sized>(
    ranks: &mut dyn Collective,
    net: &N,
    data: &Dataset,
    batch_size: usize,
) -> Result<Evaluation> {
    let part = shard_range(data.len(), ranks.rank(), ranks.size());
    let mine: Vec<usize> = part.collect();
    let classes = net.classes();
    let outcome = (|| -> Result<[f64; 2]> {
        let (mut loss, mut correct) = (0f64, 0f64);
        let mut probs = Vec::new();
        let mut batcher = Batcher::new();
        for chunk in mine.chunks(batch_size.max(1)) {
            let (x, y) = batcher.gather(data, chunk);
            probs.resize(chunk.len() * classes, 0.0);
            net.predict_batch(x, &mut probs)?;
            for (row, &label) in probs.chunks_exact(classes).zip(y) {
                loss -= (row[label].max(1e-12) as f64).ln();
                correct += f64::from(u8::from(argmax(row) == label));
            }
        }
        Ok([loss, correct])
    })();
    let mut sums = agree(ranks, outcome)?;
    ranks.sum_f64(&mut sums);
    let n = data.len().max(1) as f64;
    Ok(Evaluation {
        loss: (sums[0] / n) as f32,
        accuracy: (sums[1] / n) as f32,
    })
}

/// [`Model::resume`] on every rank from rank 0's checkpoint at `path`:
/// rank 0 reads the file and sends its bytes to the others (which need no
/// shared file system), so a job restarted after a failure goes on from
/// rank 0's last checkpoint with any number of ranks. Every rank returns
/// the same error if rank 0 cannot read it.
pub fn resume<N: Network, O: Optimizer + 'static>(
    ranks: &mut dyn Collective,
    net: N,
    optimizer: O,
    path: &Path,
) -> Result<Model<N>> {
    let read = if ranks.rank() == 0 {
        std::fs::read(path).map_err(|e| Error::io(path, e))
    } else {
        Ok(Vec::new())
    };
    let mut bytes = agree(ranks, read)?;
    ranks.broadcast_bytes(0, &mut bytes);
    let outcome = if ranks.rank() == 0 {
        Model::resume(net, optimizer, path)
    } else {
        // The loader reads files: a private copy beside the others' temporary files.
        let tmp = std::env::temp_dir().join(format!(
            "cnn-resume-{}-{}.safetensors",
            std::process::id(),
            ranks.rank()
        ));
        let r = std::fs::write(&tmp, &bytes)
            .map_err(|e| Error::io(&tmp, e))
            .and_then(|()| Model::resume(net, optimizer, &tmp));
        let _ = std::fs::remove_file(&tmp);
        r
    };
    agree(ranks, outcome)
}
