//! Augmented batches made on background threads while the network trains
//! (the course: "use a different CPU thread to make distorted mini batches
//! while you are training"). Plain `std` threads and bounded channels, not
//! the kernels' pool (`crate::parallel`), whose threads are busy with the
//! training step.
//!
//! Worker `k` of `n` makes batches `k, k + n, k + 2n, ...` and puts each in
//! its own channel, which holds at most `depth` ready batches (then the
//! worker waits); the trainer takes batch `b` from channel `b % n`, so
//! batches arrive in order, and hands the buffers back to be refilled, so
//! after the first few batches no memory is allocated. What a batch holds
//! depends only on `(seed, epoch, order)`: each image's generator is
//! `image_rng(seed, epoch, index)`. The thread count
//! changes how fast batches come, never what they hold. A label map moves
//! with its image's pixels (`Augment::apply_into_with_labels`).

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use super::image_rng;
use crate::data::dataset::gather_target;
use crate::data::dataset::TargetKind;
use crate::data::{Augment, Dataset};
use crate::error::Result;
use crate::loss::Target;

/// One epoch's batches: the examples of `data` in `order`, cut into
/// batches of `batch_size` (the last may be smaller), each example
/// transformed by `augment` (if any) with its own generator.
#[derive(Clone, Copy)]
pub struct EpochBatches<'a> {
    /// The examples.
    pub data: &'a Dataset,
    /// The order of the epoch (indices into `data`).
    pub order: &'a [usize],
    /// Examples per batch.
    pub batch_size: usize,
    /// The transform, if any.
    pub augment: Option<&'a dyn Augment>,
    /// The run's seed.
    pub seed: u64,
    /// The epoch, counted from 1 as `fit` counts.
    pub epoch: usize,
}

/// A batch: examples back to back, and their labels or values.
#[derive(Default)]
pub struct Batch {
    x: Vec<f32>,
    y: Vec<usize>,
    v: Vec<f32>,
}

impl EpochBatches<'_> {
    /// The number of batches.
    pub fn len(&self) -> usize {
        self.order.len().div_ceil(self.batch_size.max(1))
    }

    /// Whether there are no batches.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The shape of one example as the network gets it.
    pub fn example_shape(&self) -> Result<[usize; 3]> {
        match self.augment {
            Some(a) => a.output_shape(self.data.shape()),
            None => Ok(self.data.shape()),
        }
    }

    /// Makes batch `b` into `batch` (resized as needed); `out_len` is the
    /// number of values of one output example. Returns the pixels and
    /// the targets.
    pub fn make<'b>(
        &self,
        b: usize,
        out_len: usize,
        batch: &'b mut Batch,
    ) -> (&'b [f32], Target<'b>) {
        let bs = self.batch_size.max(1);
        let idx = &self.order[b * bs..((b + 1) * bs).min(self.order.len())];
        let Batch { x, y, v } = batch;
        x.resize(idx.len() * out_len, 0.0);
        if let (Some(a), TargetKind::LabelMaps { per_example }) =
            (self.augment, self.data.target_kind())
        {
            // Label maps move with the pixels (`fit` has checked that the
            // augmentation can, and that a map covers the output image).
            gather_target(self.data, idx, y, v);
            let maps = y.chunks_exact_mut(per_example);
            for ((&i, dst), labels) in idx.iter().zip(x.chunks_exact_mut(out_len)).zip(maps) {
                let mut rng = image_rng(self.seed, self.epoch, i);
                a.apply_into_with_labels(
                    self.data.image(i),
                    self.data.shape(),
                    dst,
                    labels,
                    &mut rng,
                );
            }
            return (x, self.data.target_kind().target(y, v));
        }
        for (&i, dst) in idx.iter().zip(x.chunks_exact_mut(out_len)) {
            let ex = self.data.image(i);
            match self.augment {
                Some(a) => {
                    let mut rng = image_rng(self.seed, self.epoch, i);
                    a.apply_into(ex, self.data.shape(), dst, &mut rng);
                }
                None => dst.copy_from_slice(ex),
            }
        }
        (x, gather_target(self.data, idx, y, v))
    }

    /// The targets of a batch made by [`EpochBatches::make`].
    fn targets<'b>(&self, batch: &'b Batch) -> Target<'b> {
        self.data.target_kind().target(&batch.y, &batch.v)
    }

    /// Calls `consume(b, x, y)` for every batch in order. With `workers ==
    /// 0` the batches are made on the calling thread; otherwise `workers`
    /// threads make them ahead, each keeping up to `depth` (at least 1)
    /// ready. Stops at the first `Err` of `consume` and returns it; a panic
    /// in a worker is resumed here.
    pub fn for_each(
        &self,
        workers: usize,
        depth: usize,
        mut consume: impl FnMut(usize, &[f32], Target<'_>) -> Result<()>,
    ) -> Result<()> {
        let out_len: usize = self.example_shape()?.iter().product();
        let n = self.len();
        if workers == 0 {
            let mut batch = Batch::default();
            for b in 0..n {
                let (x, t) = self.make(b, out_len, &mut batch);
                consume(b, x, t)?;
            }
            return Ok(());
        }
        let workers = workers.min(n.max(1));
        std::thread::scope(|scope| {
            let mut ready: Vec<Receiver<Batch>> = Vec::with_capacity(workers);
            let mut spent: Vec<Sender<Batch>> = Vec::with_capacity(workers);
            for k in 0..workers {
                let (ready_tx, ready_rx): (SyncSender<Batch>, _) = sync_channel(depth.max(1));
                let (spent_tx, spent_rx) = channel::<Batch>();
                ready.push(ready_rx);
                spent.push(spent_tx);
                let this = *self;
                std::thread::Builder::new()
                    .name(format!("cnn-augment-{k}"))
                    .spawn_scoped(scope, move || {
                        for b in (k..n).step_by(workers) {
                            let mut batch = spent_rx.try_recv().unwrap_or_default();
                            this.make(b, out_len, &mut batch);
                            if ready_tx.send(batch).is_err() {
                                return; // the trainer stopped
                            }
                        }
                    })
                    .expect("cannot start an augmentation thread");
            }
            let mut run = || -> Result<()> {
                for b in 0..n {
                    let Ok(batch) = ready[b % workers].recv() else {
                        // The worker panicked; the scope resumes the panic.
                        return Ok(());
                    };
                    consume(b, &batch.x, self.targets(&batch))?;
                    let _ = spent[b % workers].send(batch);
                }
                Ok(())
            };
            let result = run();
            // Workers blocked on a full channel wake with an error and stop.
            drop(ready);
            result
        })
    }
}
