//! Freezing at run time: which trainable tensors of a generated network
//! are frozen (`net.freeze("trunk")`, `net.unfreeze("trunk.layer4")`), and
//! what follows for a training step. A frozen tensor gets no update, no
//! weight decay and no optimizer-state work (the optimizer steps the
//! ranges of the others, [`Optimizer::step_ranges`]); the backward pass
//! stops at the lowest op that still has a trainable tensor (nothing below
//! it is back-propagated, and it computes no input gradient); and a batch
//! norm whose tensors are frozen normalises with its moving statistics,
//! as at inference and as Keras does for a frozen layer.
//!
//! `trainable: false` in the declaration is the compile-time form: those
//! layers are not trainable tensors at all (see `TRAINABLE_PARAMS`), and
//! cannot be unfrozen at run time.

use std::ops::Range;

use super::TensorInfo;
use crate::error::{Error, Result};
use crate::optim::Optimizer;

/// Which of a network's trainable tensors are frozen at run time.
#[derive(Clone, Debug, Default)]
pub struct Freezing {
    /// One per trainable tensor, in `TENSORS` order (trainable first).
    frozen: Vec<bool>,
    /// The parameter ranges of the tensors that still train.
    ranges: Vec<Range<usize>>,
}

/// Whether `layer` is `prefix` or inside it (`trunk` holds `trunk.conv1`,
/// not `trunk2`); the empty prefix holds every layer.
fn under(layer: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || layer == prefix
        || (layer.len() > prefix.len()
            && layer.starts_with(prefix)
            && layer.as_bytes()[prefix.len()] == b'.')
}

impl Freezing {
    /// Nothing frozen.
    pub fn new(tensors: &[TensorInfo]) -> Self {
        let n = tensors.iter().take_while(|t| t.trainable).count();
        let mut f = Freezing {
            frozen: vec![false; n],
            ranges: Vec::new(),
        };
        f.update_ranges(tensors);
        f
    }

    /// Freezes every trainable tensor of the layers named `prefix` or under
    /// it (`"trunk"`, `"layer3.1"`, `""` for all); returns how many
    /// parameters that froze (0 if they already were). An `Err` when no
    /// trainable layer is under `prefix`, naming the top-level ones.
    pub fn freeze(&mut self, tensors: &[TensorInfo], prefix: &str) -> Result<usize> {
        self.set(tensors, prefix, true)
    }

    /// Undoes [`Freezing::freeze`] for the layers under `prefix`; returns
    /// how many parameters train again.
    pub fn unfreeze(&mut self, tensors: &[TensorInfo], prefix: &str) -> Result<usize> {
        self.set(tensors, prefix, false)
    }

    fn set(&mut self, tensors: &[TensorInfo], prefix: &str, frozen: bool) -> Result<usize> {
        let n = self.frozen.len();
        let hits: Vec<usize> = (0..n.min(tensors.len()))
            .filter(|&k| under(tensors[k].layer, prefix))
            .collect();
        if hits.is_empty() {
            let mut tops: Vec<&str> = tensors[..n.min(tensors.len())]
                .iter()
                .map(|t| t.layer.split('.').next().unwrap_or(t.layer))
                .collect();
            tops.dedup();
            return Err(Error::InvalidArgument(format!(
                "no trainable layer is named `{prefix}` or under it (the trainable layers are under: {})",
                tops.join(", ")
            )));
        }
        let mut changed = 0;
        for k in hits {
            if self.frozen[k] != frozen {
                self.frozen[k] = frozen;
                changed += tensors[k].len;
            }
        }
        self.update_ranges(tensors);
        Ok(changed)
    }

    fn update_ranges(&mut self, tensors: &[TensorInfo]) {
        self.ranges.clear();
        for (k, &frozen) in self.frozen.iter().enumerate() {
            if frozen {
                continue;
            }
            let r = tensors[k].range();
            match self.ranges.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => self.ranges.push(r),
            }
        }
    }

    /// Whether trainable tensor `k` (its index in `TENSORS`) is frozen.
    pub fn is_frozen(&self, k: usize) -> bool {
        self.frozen.get(k).copied().unwrap_or(false)
    }

    /// Whether anything is frozen.
    pub fn any(&self) -> bool {
        self.frozen.iter().any(|&f| f)
    }

    /// The parameters that train now.
    pub fn trainable_params(&self) -> usize {
        self.ranges.iter().map(|r| r.len()).sum()
    }

    /// The ranges of `params` that train now.
    pub fn ranges(&self) -> &[Range<usize>] {
        &self.ranges
    }

    /// One optimizer step on what trains: the whole trainable part when
    /// nothing is frozen (exactly `opt.step`), else its ranges.
    pub fn step(&self, opt: &mut (impl Optimizer + ?Sized), params: &mut [f32], grads: &[f32]) {
        if self.any() {
            opt.step_ranges(params, grads, &self.ranges);
        } else {
            opt.step(params, grads);
        }
    }

    /// The first op (in forward order) that has a tensor still training,
    /// from `tensor_op[k]`, the op of trainable tensor `k`; `usize::MAX`
    /// when everything is frozen. Backward runs no op below it.
    pub fn lowest(&self, tensor_op: &[usize]) -> usize {
        tensor_op
            .iter()
            .zip(&self.frozen)
            .filter(|(_, &f)| !f)
            .map(|(&op, _)| op)
            .min()
            .unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Init;

    const TABLE: [TensorInfo; 5] = [
        TensorInfo {
            name: "trunk.c.weight",
            layer: "trunk.c",
            shape: &[],
            offset: 0,
            len: 6,
            trainable: true,
            init: Init::Zeros,
        },
        TensorInfo {
            name: "trunk.bn.gamma",
            layer: "trunk.bn",
            shape: &[],
            offset: 6,
            len: 2,
            trainable: true,
            init: Init::Ones,
        },
        TensorInfo {
            name: "trunk2.weight",
            layer: "trunk2",
            shape: &[],
            offset: 8,
            len: 3,
            trainable: true,
            init: Init::Zeros,
        },
        TensorInfo {
            name: "head.weight",
            layer: "head",
            shape: &[],
            offset: 11,
            len: 4,
            trainable: true,
            init: Init::Zeros,
        },
        TensorInfo {
            name: "trunk.bn.moving_mean",
            layer: "trunk.bn",
            shape: &[],
            offset: 15,
            len: 2,
            trainable: false,
            init: Init::Zeros,
        },
    ];

    #[test]
    fn prefixes_stop_at_dots_and_ranges_follow() {
        let mut f = Freezing::new(&TABLE);
        assert_eq!(f.ranges(), std::slice::from_ref(&(0..15)));
        assert_eq!(f.freeze(&TABLE, "trunk").unwrap(), 8);
        assert!(f.is_frozen(0) && f.is_frozen(1) && !f.is_frozen(2));
        assert_eq!(f.ranges(), std::slice::from_ref(&(8..15)));
        assert_eq!(f.trainable_params(), 7);
        assert_eq!(f.freeze(&TABLE, "trunk").unwrap(), 0, "already frozen");
        assert_eq!(f.unfreeze(&TABLE, "trunk.bn").unwrap(), 2);
        assert_eq!(f.ranges(), std::slice::from_ref(&(6..15)));
        assert_eq!(f.lowest(&[0, 1, 2, 3]), 1);
        f.freeze(&TABLE, "").unwrap();
        assert_eq!(f.trainable_params(), 0);
        assert_eq!(f.lowest(&[0, 1, 2, 3]), usize::MAX);
        let err = f.freeze(&TABLE, "tr").unwrap_err().to_string();
        assert!(
            err.contains("`tr`") && err.contains("trunk, trunk2, head"),
            "{err}"
        );
    }
}
