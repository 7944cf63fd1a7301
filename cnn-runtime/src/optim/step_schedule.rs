//! Learning-rate schedules that move every optimizer step. A schedule that
//! changes once per epoch keeps a short run at its first rate: ResNet-20
//! on MNIST trained for one epoch at 0.1 stops at 93% because it never
//! anneals. These are asked before every step by `Fit::schedule`, with the
//! step counted from 0 over the whole run (so a resumed run continues where
//! the interrupted one was).
//!
//! ```text
//! WarmupCosine { peak, min, warmup_steps: w, total_steps: T }:
//!     s < w:        peak * (s + 1) / w                                   (linear warm-up, Goyal et al. 2017)
//!     w <= s < T:   min + (peak - min) * (1 + cos(pi * (s - w) / (T - w))) / 2   (Loshchilov and Hutter 2017)
//!     s >= T:       min
//! OneCycle { max_lr, total_steps: T, pct_start: p, div_factor: d, final_div_factor: f }:
//!     start = max_lr / d,  end = start / f,  a = p * T - 1,  b = T - 1
//!     s <= a:       cos_anneal(start, max_lr, s / a)
//!     a < s <= b:   cos_anneal(max_lr, end, (s - a) / (b - a))
//!     s > b:        end
//!     cos_anneal(x, y, t) = y + (x - y) * (1 + cos(pi * t)) / 2          (Smith and Topin 2017; PyTorch's OneCycleLR)
//! ```

use std::f64::consts::PI;

/// A learning rate per optimizer step.
pub trait StepSchedule {
    /// The learning rate of step `step` (0 is the first step of the run).
    fn lr(&self, step: usize) -> f32;
}

/// `to + (from - to) * (1 + cos(pi t)) / 2`: `from` at t = 0, `to` at t = 1.
fn cos_anneal(from: f64, to: f64, t: f64) -> f64 {
    to + (from - to) * 0.5 * (1.0 + (PI * t.clamp(0.0, 1.0)).cos())
}

/// Linear warm-up to `peak` over `warmup_steps`, then cosine annealing to
/// `min` at `total_steps`, and `min` after that. `warmup_steps == 0` starts
/// at `peak` (PyTorch's `CosineAnnealingLR` by step; Keras's `CosineDecay`
/// with `warmup_steps`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupCosine {
    /// The rate at the end of the warm-up.
    pub peak: f32,
    /// The rate at `total_steps` and after.
    pub min: f32,
    /// Steps of linear warm-up from `peak / warmup_steps` to `peak`.
    pub warmup_steps: usize,
    /// The step at which the annealing reaches `min`.
    pub total_steps: usize,
}

impl WarmupCosine {
    /// From `peak` down to 0 over `total_steps`, the first `warmup_steps`
    /// warming up.
    pub fn new(peak: f32, warmup_steps: usize, total_steps: usize) -> Self {
        WarmupCosine {
            peak,
            min: 0.0,
            warmup_steps,
            total_steps,
        }
    }
}

impl StepSchedule for WarmupCosine {
    fn lr(&self, step: usize) -> f32 {
        let (peak, min) = (self.peak as f64, self.min as f64);
        if step < self.warmup_steps {
            return (peak * (step + 1) as f64 / self.warmup_steps as f64) as f32;
        }
        if step >= self.total_steps {
            return self.min;
        }
        let span = (self.total_steps - self.warmup_steps) as f64;
        cos_anneal(peak, min, (step - self.warmup_steps) as f64 / span) as f32
    }
}

/// Smith's one-cycle policy as PyTorch's `OneCycleLR` (cosine annealing,
/// two phases): up from `max_lr / div_factor` to `max_lr` over the first
/// `pct_start` of the run, then down to `max_lr / div_factor /
/// final_div_factor` at the last step. (PyTorch also cycles the momentum
/// the other way; here the optimizer's momentum stays as it is.)
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneCycle {
    /// The highest rate, reached after `pct_start * total_steps` steps.
    pub max_lr: f32,
    /// Steps in the run.
    pub total_steps: usize,
    /// The fraction of the run spent going up (0.3 by default).
    pub pct_start: f32,
    /// The first rate is `max_lr / div_factor` (25 by default).
    pub div_factor: f32,
    /// The last rate is the first divided by this (1e4 by default).
    pub final_div_factor: f32,
}

impl OneCycle {
    /// PyTorch's defaults: 30% up, from `max_lr / 25`, down to `max_lr / 25e4`.
    pub fn new(max_lr: f32, total_steps: usize) -> Self {
        OneCycle {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
        }
    }
}

impl StepSchedule for OneCycle {
    fn lr(&self, step: usize) -> f32 {
        let max = self.max_lr as f64;
        let start = max / self.div_factor as f64;
        let end = start / self.final_div_factor as f64;
        let a = self.pct_start as f64 * self.total_steps as f64 - 1.0;
        let b = self.total_steps as f64 - 1.0;
        let s = step as f64;
        let lr = if s <= a {
            cos_anneal(start, max, s / a.max(1e-12))
        } else if s <= b {
            cos_anneal(max, end, (s - a) / (b - a).max(1e-12))
        } else {
            end
        };
        lr as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_close;

    fn first(s: &dyn StepSchedule, n: usize) -> Vec<f32> {
        (0..n).map(|k| s.lr(k)).collect()
    }

    #[test]
    fn warmup_cosine_by_hand() {
        let s = WarmupCosine {
            peak: 1.0,
            min: 0.2,
            warmup_steps: 2,
            total_steps: 6,
        };
        // warm-up: 1/2, 2/2; then 0.2 + 0.8 * (1 + cos(pi k / 4)) / 2 for k = 0..4:
        // 1, 0.2 + 0.4 * 1.7071068 = 0.8828427, 0.6, 0.2 + 0.4 * 0.2928932 = 0.3171573; then 0.2.
        assert_close(
            &first(&s, 8),
            &[0.5, 1.0, 1.0, 0.882_842_7, 0.6, 0.317_157_3, 0.2, 0.2],
            1e-6,
            0.0,
        );
        let no_warmup = WarmupCosine::new(0.1, 0, 4);
        assert_eq!(no_warmup.lr(0), 0.1);
        assert_eq!(no_warmup.lr(4), 0.0);
    }

    #[test]
    fn one_cycle_matches_pytorch() {
        // PyTorch's OneCycleLR algorithm (phase ends at pct_start * T - 1 and
        // T - 1) for max_lr 1 over 10 steps, worked out by hand from the
        // module's formula: a = 2, b = 9, start 0.04, end 4e-6;
        // s = 1: 1 + (0.04 - 1) * (1 + cos(pi/2)) / 2 = 0.52;
        // s = 3: 4e-6 + (1 - 4e-6) * (1 + cos(pi/7)) / 2 = 0.9504846.
        let s = OneCycle::new(1.0, 10);
        let got = first(&s, 11);
        assert_close(
            &got,
            &[
                0.04,
                0.52,
                1.0,
                0.950_484_6,
                0.811_745_7,
                0.611_262,
                0.388_742,
                0.188_258_3,
                0.049_519_4,
                4e-6,
                4e-6,
            ],
            1e-5,
            1e-9,
        );
    }

    #[test]
    fn schedules_rise_then_fall() {
        let all: [Box<dyn StepSchedule>; 2] = [
            Box::new(WarmupCosine::new(0.1, 50, 1000)),
            Box::new(OneCycle::new(0.1, 1000)),
        ];
        for s in &all {
            let lrs = first(s.as_ref(), 1100);
            let top = lrs
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            assert!(lrs[..=top].windows(2).all(|w| w[1] >= w[0]));
            assert!(lrs[top..].windows(2).all(|w| w[1] <= w[0]));
            assert!(lrs.iter().all(|v| v.is_finite() && *v >= 0.0));
        }
    }
}
