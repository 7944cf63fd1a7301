//! Ensembles (the course's tip for benchmarks): several networks trained
//! independently (other seeds), their probabilities averaged in one call.
//! Costs N times the time and the memory of one network at test time.

use super::classifier::Classifier;
use crate::error::{Error, Result};

/// Networks that take the same inputs and give the same classes, answering
/// as one: the mean of their probabilities.
pub struct Ensemble<C: Classifier> {
    members: Vec<C>,
}

impl<C: Classifier> Ensemble<C> {
    /// At least one member; all with the same input and classes.
    pub fn new(members: Vec<C>) -> Result<Self> {
        let Some(first) = members.first() else {
            return Err(Error::InvalidArgument("ensemble: no networks".into()));
        };
        for (k, m) in members.iter().enumerate() {
            if m.input_dims() != first.input_dims() || m.n_classes() != first.n_classes() {
                return Err(Error::InvalidArgument(format!(
                    "ensemble: network {} takes {:?} and gives {} classes, but network 1 takes {:?} and gives {}",
                    k + 1,
                    m.input_dims(),
                    m.n_classes(),
                    first.input_dims(),
                    first.n_classes()
                )));
            }
        }
        Ok(Ensemble { members })
    }
    /// The networks.
    pub fn members(&self) -> &[C] {
        &self.members
    }
    /// The networks, giving up the ensemble.
    pub fn into_members(self) -> Vec<C> {
        self.members
    }
}

impl<C: Classifier> Classifier for Ensemble<C> {
    fn input_dims(&self) -> &[usize] {
        self.members[0].input_dims()
    }
    fn n_classes(&self) -> usize {
        self.members[0].n_classes()
    }
    fn probabilities(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        let mut probs = vec![0.0; out.len()];
        out.fill(0.0);
        for m in &self.members {
            m.probabilities(x, &mut probs)?;
            out.iter_mut().zip(&probs).for_each(|(o, p)| *o += p);
        }
        let inv = 1.0 / self.members.len() as f32;
        out.iter_mut().for_each(|o| *o *= inv);
        Ok(())
    }
}
