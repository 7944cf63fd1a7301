//! FaceNet's batches: P identities x K images each, so that every batch
//! holds positives for every anchor and negatives from P - 1 other
//! identities, which online triplet mining needs (a batch shuffled over
//! thousands of identities has almost no two images of one person).
//!
//! [`PkSampler::epoch_order`] writes an epoch's order of example indices,
//! batch after batch of `P * K`: exactly what the augmentation queue
//! ([`EpochBatches`](crate::augment::queue::EpochBatches)) cuts into
//! batches of `batch_size`, so P x K batches are made and augmented on the
//! data pipeline's background threads with no change to it (see the
//! example). The order depends on `(seed, epoch)` alone, as
//! `Dataset::epoch_order`'s does, so a resumed run sees the same batches.
//!
//! Not done here: `Model::fit` draws its own shuffled order and has no
//! hook for another; train embeddings with the held pass in a loop of
//! your own, as the example does.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::rng::{splitmix64, Rng};

/// Draws batches of P identities x K images; see the module's docs.
///
/// An epoch visits every identity with at least two images once, in a
/// shuffled order, P at a time (the last `identities % P` of the order
/// wait for the next epoch). Of an identity with at least K images it
/// takes K distinct ones at random; of one with fewer, all of them and
/// then repeats drawn at random (Hermans et al.'s sampling). A repeated
/// index gets the same augmentation in the queue, which seeds by example
/// index, so prefer K at most the smallest identity's count. Identities
/// with a single image are left out: they can be no anchor.
///
/// ```
/// use cnn_runtime::augment::queue::EpochBatches;
/// use cnn_runtime::embed::PkSampler;
/// use cnn_runtime::loss::Target;
/// use cnn_runtime::train::Dataset;
///
/// // 12 one-pixel images of 4 identities, 3 each.
/// let ids: Vec<usize> = (0..12).map(|i| i % 4).collect();
/// let x: Vec<f32> = (0..12).map(|i| i as f32).collect();
/// let data = Dataset::new([1, 1, 1], x, ids.clone(), 4).unwrap();
/// let sampler = PkSampler::new(&ids, 2, 2).unwrap();
/// let mut order = Vec::new();
/// sampler.epoch_order(42, 1, &mut order);
/// let batches = EpochBatches {
///     data: &data,
///     order: &order,
///     batch_size: sampler.batch_size(),
///     augment: None, // or Some(&pipeline): made on the queue's threads
///     seed: 42,
///     epoch: 1,
/// };
/// assert_eq!(batches.len(), 2);
/// batches
///     .for_each(1, 2, |_, x, t| {
///         let Target::Classes(y) = t else { unreachable!("class labels") };
///         assert_eq!((x.len(), y.len()), (4, 4));
///         assert!(y[0] == y[1] && y[2] == y[3] && y[0] != y[2]);
///         // Here: net.forward(x, Mode::Train), pass.backward_loss(&triplet, t),
///         // net.step(&mut opt).
///         Ok(())
///     })
///     .unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkSampler {
    p: usize,
    k: usize,
    /// The examples of each identity that has two or more, by identity.
    groups: Vec<Vec<usize>>,
    /// Identities left out for having one example.
    singles: usize,
}

impl PkSampler {
    /// A sampler over a data set whose example `i` shows `identities[i]`
    /// (a data set's class labels), for batches of `p` identities x `k`
    /// images. `p` must be at least 2 (negatives), `k` at least 2
    /// (positives), and at least `p` identities must have two images.
    pub fn new(identities: &[usize], p: usize, k: usize) -> Result<PkSampler> {
        if p < 2 || k < 2 {
            return Err(Error::InvalidArgument(format!(
                "P x K sampler: P = {p} identities x K = {k} images; both must be at least 2 \
                 (a triplet needs a positive and a negative)"
            )));
        }
        let mut by_identity: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, &id) in identities.iter().enumerate() {
            by_identity.entry(id).or_default().push(i);
        }
        let total = by_identity.len();
        let groups: Vec<Vec<usize>> = by_identity.into_values().filter(|g| g.len() >= 2).collect();
        if groups.len() < p {
            return Err(Error::InvalidArgument(format!(
                "P x K sampler: {} of the {total} identities have two or more images, fewer than \
                 P = {p}; lower P or add images",
                groups.len()
            )));
        }
        Ok(PkSampler {
            p,
            k,
            singles: total - groups.len(),
            groups,
        })
    }

    /// Examples per batch, `P * K`: the queue's `batch_size`.
    pub fn batch_size(&self) -> usize {
        self.p * self.k
    }

    /// Batches per epoch: identities with two images or more, divided by P.
    pub fn batches_per_epoch(&self) -> usize {
        self.groups.len() / self.p
    }

    /// Identities the sampler draws from (two images or more).
    pub fn identities(&self) -> usize {
        self.groups.len()
    }

    /// Identities left out for having a single image.
    pub fn left_out(&self) -> usize {
        self.singles
    }

    /// Overwrites `out` with epoch `epoch`'s order: [`batches_per_epoch`]
    /// batches of `P * K` example indices, each the K images of one
    /// identity after the K of another. Fixed by `(seed, epoch)`.
    ///
    /// [`batches_per_epoch`]: PkSampler::batches_per_epoch
    pub fn epoch_order(&self, seed: u64, epoch: usize, out: &mut Vec<usize>) {
        let mut rng = Rng::new(splitmix64(
            seed ^ splitmix64(epoch as u64 ^ 0x05ee_d0fb_47c4),
        ));
        let mut who: Vec<usize> = (0..self.groups.len()).collect();
        rng.shuffle(&mut who);
        out.clear();
        let mut pool = Vec::new();
        for &g in &who[..self.batches_per_epoch() * self.p] {
            let group = &self.groups[g];
            pool.clear();
            pool.extend_from_slice(group);
            // A partial Fisher-Yates shuffle: the first min(K, len) are a
            // random subset in random order.
            let take = self.k.min(pool.len());
            for i in 0..take {
                let j = i + rng.below(pool.len() - i);
                pool.swap(i, j);
            }
            out.extend_from_slice(&pool[..take]);
            for _ in take..self.k {
                out.push(group[rng.below(group.len())]);
            }
        }
    }
}
