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
    correct: Option<usize>,
}

impl Shard<'static> {
    /// One process, the whole batch.
    pub fn whole() -> Self {
        Shard {
            first: 0,
            weight: 1.0,
            ranks: None,
            sync_batch_norm: false,
            correct: None,
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
            correct: None,
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

    /// After the forward pass, before backward: the loss of the global
    /// batch from this shard's weighted loss, and the examples classified
    /// right (`logits: [batch, classes]`), summed over the ranks. Every
    /// rank takes part even when its forward pass failed (it sends NaN and
    /// a failure count), so that all of them agree to stop instead of the
    /// others waiting in backward.
    pub fn total_loss(
        &mut self,
        loss: Result<f32>,
        logits: &[f32],
        classes: usize,
        labels: &[usize],
    ) -> Result<f32> {
        let Some(ranks) = self.ranks.as_deref_mut() else {
            return loss;
        };
        let correct = super::count_correct(logits, classes, labels);
        let mut v = [
            *loss.as_ref().unwrap_or(&f32::NAN) as f64,
            correct as f64,
            f64::from(u8::from(loss.is_err())),
        ];
        ranks.sum_f64(&mut v);
        self.correct = Some(v[1] as usize);
        let local = loss?;
        if v[2] > 0.0 {
            return Err(Error::Ranks(format!(
                "{} other rank(s) failed in the forward pass of this step; their errors say why",
                v[2]
            )));
        }
        let _ = local;
        Ok(v[0] as f32)
    }

    /// After backward: adds the ranks' gradients (each already weighted by
    /// its share of the batch), so every rank holds the global batch's.
    pub fn sum_grads(&mut self, grads: &mut [f32]) {
        if let Some(r) = self.ranks.as_deref_mut() {
            r.sum_f32(grads);
        }
    }

    /// The examples classified right over all ranks, once
    /// [`Shard::total_loss`] has run on a shard of several ranks.
    pub fn correct(&self) -> Option<usize> {
        self.correct
    }
}
