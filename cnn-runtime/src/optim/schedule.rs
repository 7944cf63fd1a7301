//! Learning-rate schedules. A [`Schedule`] gives the learning rate as a
//! function of the epoch (counting from 0): `LearningRateScheduler` asks it
//! at the start of each epoch. A [`StepSchedule`](super::StepSchedule) gives it as a function of
//! the optimizer step (counting from 0 over the whole run): `Fit::schedule`
//! asks it before every step, so even a one-epoch run warms up and anneals.
//! Both end in [`Optimizer::set_learning_rate`](super::Optimizer::set_learning_rate).
//!
//! Per epoch:
//!
//! ```text
//! Constant(lr):                      lr
//! StepDecay { initial, factor, every }:  initial * factor^floor(epoch / every)
//! Cosine { initial, min, epochs }:   min + (initial - min) * (1 + cos(pi * e / epochs)) / 2,
//!                                    e = min(epoch, epochs)   (Loshchilov and Hutter's SGDR, one cycle)
//! ```
//!
//! Per step (in `step_schedule.rs`): [`WarmupCosine`](super::WarmupCosine) (linear warm-up, then
//! cosine annealing) and [`OneCycle`](super::OneCycle) (Smith's one-cycle policy).

/// A learning rate per epoch.
pub trait Schedule {
    /// The learning rate to use during `epoch` (0 is the first).
    fn lr(&self, epoch: usize) -> f32;
}

/// The same learning rate every epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant(pub f32);

impl Schedule for Constant {
    fn lr(&self, _epoch: usize) -> f32 {
        self.0
    }
}

/// Multiplies the learning rate by `factor` every `every` epochs
/// (Keras' step decay; PyTorch's `StepLR` with `step_size = every`,
/// `gamma = factor`). `every == 0` never decays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepDecay {
    /// The learning rate of epoch 0.
    pub initial: f32,
    /// What the rate is multiplied by at each step.
    pub factor: f32,
    /// Epochs between steps.
    pub every: usize,
}

impl Schedule for StepDecay {
    fn lr(&self, epoch: usize) -> f32 {
        if self.every == 0 {
            return self.initial;
        }
        let k = (epoch / self.every).min(i32::MAX as usize) as i32;
        (self.initial as f64 * (self.factor as f64).powi(k)) as f32
    }
}

/// Cosine annealing from `initial` at epoch 0 down to `min` at epoch
/// `epochs`, and `min` after that (PyTorch's `CosineAnnealingLR` with
/// `T_max = epochs`, `eta_min = min`). `epochs == 0` gives `min`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cosine {
    /// The learning rate of epoch 0.
    pub initial: f32,
    /// The learning rate at `epochs` and after.
    pub min: f32,
    /// Epochs from `initial` down to `min`.
    pub epochs: usize,
}

impl Schedule for Cosine {
    fn lr(&self, epoch: usize) -> f32 {
        if epoch >= self.epochs {
            return self.min;
        }
        let progress = epoch as f64 / self.epochs as f64;
        let (hi, lo) = (self.initial as f64, self.min as f64);
        (lo + (hi - lo) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_close;

    fn first(s: &dyn Schedule, n: usize) -> Vec<f32> {
        (0..n).map(|e| s.lr(e)).collect()
    }

    #[test]
    fn constant() {
        assert_eq!(first(&Constant(0.3), 3), vec![0.3; 3]);
    }

    #[test]
    fn step_decay_halves_every_two_epochs() {
        let s = StepDecay {
            initial: 0.1,
            factor: 0.5,
            every: 2,
        };
        // 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125
        assert_close(
            &first(&s, 7),
            &[0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125],
            1e-6,
            0.0,
        );
        let never = StepDecay { every: 0, ..s };
        assert_eq!(never.lr(1000), 0.1);
    }

    #[test]
    fn cosine_by_hand() {
        let s = Cosine {
            initial: 1.0,
            min: 0.1,
            epochs: 4,
        };
        // e = 0..4: 0.1 + 0.9 * (1 + cos(pi e / 4)) / 2
        // = 1, 0.1 + 0.45*(1 + 0.7071068) = 0.8681981, 0.55, 0.1 + 0.45*(1 - 0.7071068) = 0.2318019, 0.1
        assert_close(
            &first(&s, 6),
            &[1.0, 0.868_198_1, 0.55, 0.231_801_9, 0.1, 0.1],
            1e-6,
            0.0,
        );
        let empty = Cosine { epochs: 0, ..s };
        assert_eq!(empty.lr(0), 0.1);
    }

    #[test]
    fn schedules_are_object_safe_and_monotone() {
        let all: [Box<dyn Schedule>; 2] = [
            Box::new(StepDecay {
                initial: 0.1,
                factor: 0.9,
                every: 1,
            }),
            Box::new(Cosine {
                initial: 0.1,
                min: 0.0,
                epochs: 50,
            }),
        ];
        for s in &all {
            let lrs = first(s.as_ref(), 60);
            assert!(lrs.windows(2).all(|w| w[1] <= w[0]), "{lrs:?}");
        }
    }
}
