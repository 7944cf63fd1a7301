//! [`Shard`]: what a generated training step needs to know when its batch
//! is one rank's part of a larger, global batch (data-parallel training,
//! `crate::dist`). The default, [`Shard::whole`], is one process with the
//! whole batch, and leaves the step exactly as it was: weight 1 (a
//! multiplication by one), dropout masks from element 0, per-rank batch
//! statistics, no collective call.

use crate::dist::Collective;
use crate::error::{Error, Result};

/// One rank's part of a global batch.
pub struct Shard<'a> {
    first: usize,
    weight: f32,
    ranks: Option<&'a mut dyn Collective>,
    sync_batch_norm: bool,
    /// This rank's weighted loss, and its part of the step's metric (the
    /// examples it classified right, or a metric's sum and count), until
    /// `finish`.
    local: [f32; 3],
    /// The metric's sum and count over all ranks, after `finish`.
    summed: Option<[f32; 2]>,
}

impl Shard<'static> {
    /// One process, the whole batch.
    pub fn whole() -> Self {
        Shard {
            first: 0,
            weight: 1.0,
            ranks: None,
            sync_batch_norm: false,
            local: [0.0; 3],
            summed: None,
        }
    }
}

impl<'a> Shard<'a> {
    /// Examples `first..first + len` of a global batch of `global`
    /// examples, on the ranks of `ranks`; with `sync_batch_norm`, batch
    /// norm takes its statistics over the whole batch (summed over the
    /// ranks) instead of this shard.
    pub fn of(
        ranks: &'a mut dyn Collective,
        first: usize,
        len: usize,
        global: usize,
        sync_batch_norm: bool,
    ) -> Self {
        Shard {
            first,
            weight: (len as f64 / global.max(1) as f64) as f32,
            ranks: Some(ranks),
            sync_batch_norm,
            local: [0.0; 3],
            summed: None,
        }
    }

    /// The shard's first example in the global batch.
    pub fn first(&self) -> usize {
        self.first
    }

    /// `len / global`: the loss of the shard (a mean over its examples) is
    /// multiplied by it, so that the losses and gradients of the ranks add
    /// up to those of the global batch.
    pub fn weight(&self) -> f32 {
        self.weight
    }

    /// The ranks batch norm sums its statistics over, if synchronised.
    pub fn batch_norm_sync(&mut self) -> Option<&mut dyn Collective> {
        match (&mut self.ranks, self.sync_batch_norm) {
            (Some(r), true) => Some(&mut **r),
            _ => None,
        }
    }

    /// After the forward pass, before backward. One process: `loss` as it
    /// is. A rank's shard: keeps this rank's weighted loss and the examples
    /// it classified right (`logits: [batch, classes]`) for
    /// [`Shard::finish`], and returns 0 in its place, so that backward runs
    /// even when this rank's loss is not finite: the ranks decide together,
    /// after the one all-reduce of the step, whether to apply it.
    pub fn total_loss(
        &mut self,
        loss: Result<f32>,
        logits: &[f32],
        classes: usize,
        labels: &[usize],
    ) -> Result<f32> {
        if self.ranks.is_none() {
            return loss;
        }
        let local = loss?;
        self.local = [
            local,
            super::count_correct(logits, classes, labels) as f32,
            0.0,
        ];
        Ok(0.0)
    }

    /// After backward through a held pass with another loss (a rank's
    /// shard, in `Network::train_loss_shard`): this rank's loss, already
    /// weighted by [`Shard::weight`], and its part of the metric (a sum and
    /// a count), for [`Shard::finish`] to add over the ranks.
    pub fn hold(&mut self, weighted_loss: f32, metric: [f64; 2]) {
        self.local = [weighted_loss, metric[0] as f32, metric[1] as f32];
    }

    /// After backward, on a rank's shard: the step's one collective. The
    /// gradients (each rank's already weighted by its share of the batch)
    /// are summed over the ranks, and with them the weighted losses, the
    /// correct counts and how many ranks failed, so that every rank holds
    /// the global batch's gradient and loss and all of them agree on
    /// whether to apply it. A rank whose step failed (`step` is `Err`)
    /// still takes part, and returns its error; the others return
    /// `Error::Ranks`. One process: `step` as it is, and nothing is summed.
    pub fn finish(&mut self, step: Result<f32>, grads: &mut [f32]) -> Result<f32> {
        let Some(ranks) = self.ranks.as_deref_mut() else {
            return step;
        };
        let failed = step.is_err();
        let [loss, sum, count] = self.local;
        let mut extra = match failed {
            false => [loss, sum, count, 0.0],
            true => {
                // What this rank could not compute: no contribution.
                grads.fill(0.0);
                [0.0, 0.0, 0.0, 1.0]
            }
        };
        ranks.sum_f32_with(grads, &mut extra);
        self.summed = Some([extra[1], extra[2]]);
        step?;
        if extra[3] > 0.0 {
            return Err(Error::Ranks(format!(
                "{} other rank(s) failed in this step; their errors say why",
                extra[3]
            )));
        }
        Ok(extra[0])
    }

    /// The examples classified right over all ranks, once
    /// [`Shard::finish`] has run on a rank's shard of a fused step.
    pub fn correct(&self) -> Option<usize> {
        self.summed.map(|s| s[0] as usize)
    }

    /// The metric's sum and count over all ranks ([`Shard::hold`]), once
    /// [`Shard::finish`] has run on a rank's shard.
    pub fn metric(&self) -> Option<[f32; 2]> {
        self.summed
    }
}
