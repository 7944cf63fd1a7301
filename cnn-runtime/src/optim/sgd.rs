//! Stochastic gradient descent with optional momentum, Nesterov momentum and
//! L2 weight decay, with PyTorch's `torch.optim.SGD` semantics (dampening 0).
//!
//! For each parameter `p` with gradient `grad`, one step is:
//!
//! ```text
//! g = grad + weight_decay * p          (L2: the decay goes through momentum)
//! if momentum == 0:  p -= lr * g
//! else:
//!     v = momentum * v + g             (v starts at 0, so the first v is g)
//!     nesterov:      p -= lr * (g + momentum * v)
//!     otherwise:     p -= lr * v
//! ```
//!
//! Keras writes momentum as `v = m * v - lr * g; p += v`, which is the same
//! update as long as the learning rate does not change between steps.

use super::{find_buffer, Optimizer};
use crate::error::{Error, Result};

/// SGD: `Sgd::new(0.01).momentum(0.9).nesterov(true).weight_decay(5e-4)`.
#[derive(Clone, Debug)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    nesterov: bool,
    weight_decay: f32,
    /// One velocity per parameter; empty until the first step with momentum.
    velocity: Vec<f32>,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`: no momentum, no weight decay.
    pub fn new(lr: f32) -> Self {
        Sgd {
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            velocity: Vec::new(),
        }
    }

    /// Momentum coefficient (0.9 is the usual value); 0 turns it off.
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// Nesterov momentum (only has an effect with momentum > 0).
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// L2 penalty coefficient: `weight_decay * p` is added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        let all = 0..params.len();
        self.step_ranges(params, grads, &[all]);
    }

    fn step_ranges(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        ranges: &[std::ops::Range<usize>],
    ) {
        assert_eq!(
            params.len(),
            grads.len(),
            "Sgd::step: {} parameters but {} gradients",
            params.len(),
            grads.len()
        );
        let (lr, m, wd) = (self.lr, self.momentum, self.weight_decay);
        if m == 0.0 {
            for r in ranges {
                for (p, &grad) in params[r.clone()].iter_mut().zip(&grads[r.clone()]) {
                    let g = grad + wd * *p;
                    *p -= lr * g;
                }
            }
            return;
        }
        if self.velocity.len() != params.len() {
            self.velocity.clear();
            self.velocity.resize(params.len(), 0.0);
        }
        for r in ranges {
            let (p, g, v) = (
                &mut params[r.clone()],
                &grads[r.clone()],
                &mut self.velocity[r.clone()],
            );
            if self.nesterov {
                for ((p, &grad), v) in p.iter_mut().zip(g).zip(v) {
                    let g = grad + wd * *p;
                    *v = m * *v + g;
                    *p -= lr * (g + m * *v);
                }
            } else {
                for ((p, &grad), v) in p.iter_mut().zip(g).zip(v) {
                    let g = grad + wd * *p;
                    *v = m * *v + g;
                    *p -= lr * *v;
                }
            }
        }
    }

    fn learning_rate(&self) -> f32 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }

    /// `velocity` (empty before the first step, and always without momentum).
    fn state(&self) -> Vec<(&'static str, Vec<f32>)> {
        vec![("velocity", self.velocity.clone())]
    }

    fn load_state(&mut self, state: &[(String, Vec<f32>)]) -> Result<()> {
        let velocity = find_buffer("Sgd", state, "velocity")?;
        if self.momentum == 0.0 && !velocity.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "Sgd state: buffer `velocity` holds {} values but this optimizer has no momentum",
                velocity.len()
            )));
        }
        self.velocity.clear();
        self.velocity.extend_from_slice(velocity);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_close;

    #[test]
    fn plain_step_by_hand() {
        // p = [1, -2], g = [0.5, 1], lr = 0.1:
        // p = [1 - 0.1*0.5, -2 - 0.1*1] = [0.95, -2.1]
        let mut p = vec![1.0, -2.0];
        let mut opt = Sgd::new(0.1);
        opt.step(&mut p, &[0.5, 1.0]);
        assert_close(&p, &[0.95, -2.1], 1e-6, 1e-7);
        assert!(opt.state()[0].1.is_empty(), "no velocity without momentum");
    }

    #[test]
    fn weight_decay_is_added_to_the_gradient() {
        // p = 2, g = 1, wd = 0.5, lr = 0.1: g' = 1 + 0.5*2 = 2; p = 2 - 0.2 = 1.8
        let mut p = vec![2.0];
        Sgd::new(0.1).weight_decay(0.5).step(&mut p, &[1.0]);
        assert_close(&p, &[1.8], 1e-6, 1e-7);
    }

    #[test]
    fn momentum_two_steps_by_hand() {
        // lr = 0.1, m = 0.9, p0 = 1, g = 1 then 2.
        // step 1: v = 0.9*0 + 1 = 1;         p = 1 - 0.1*1 = 0.9
        // step 2: v = 0.9*1 + 2 = 2.9;       p = 0.9 - 0.1*2.9 = 0.61
        let mut p = vec![1.0];
        let mut opt = Sgd::new(0.1).momentum(0.9);
        opt.step(&mut p, &[1.0]);
        assert_close(&p, &[0.9], 1e-6, 1e-7);
        opt.step(&mut p, &[2.0]);
        assert_close(&p, &[0.61], 1e-6, 1e-7);
        assert_close(&opt.state()[0].1, &[2.9], 1e-6, 1e-7);
    }

    #[test]
    fn nesterov_two_steps_by_hand() {
        // lr = 0.1, m = 0.9, wd = 0.1, p0 = 1, g = 1 then 2.
        // step 1: g' = 1 + 0.1*1 = 1.1; v = 1.1; p = 1 - 0.1*(1.1 + 0.9*1.1) = 1 - 0.209 = 0.791
        // step 2: g' = 2 + 0.1*0.791 = 2.0791; v = 0.9*1.1 + 2.0791 = 3.0691;
        //         p = 0.791 - 0.1*(2.0791 + 0.9*3.0691) = 0.791 - 0.48413 = 0.30687
        let mut p = vec![1.0];
        let mut opt = Sgd::new(0.1).momentum(0.9).nesterov(true).weight_decay(0.1);
        opt.step(&mut p, &[1.0]);
        assert_close(&p, &[0.791], 1e-6, 1e-7);
        opt.step(&mut p, &[2.0]);
        assert_close(&p, &[0.30687], 1e-5, 1e-7);
    }

    #[test]
    fn ranges_leave_the_rest_alone_and_keep_their_state() {
        let g = [1.0f32, 2.0, 3.0, 4.0];
        let mut whole = vec![1.0f32; 4];
        let mut a = Sgd::new(0.1).momentum(0.9).weight_decay(0.1);
        a.step(&mut whole, &g);
        a.step(&mut whole, &g);
        // Two steps on ranges 0..1 and 2..4: those elements move exactly as
        // in the whole step, element 1 not at all (not even decay).
        let mut part = vec![1.0f32; 4];
        let mut b = Sgd::new(0.1).momentum(0.9).weight_decay(0.1);
        b.step_ranges(&mut part, &g, &[0..1, 2..4]);
        b.step_ranges(&mut part, &g, &[0..1, 2..4]);
        assert_eq!(part[1], 1.0);
        assert_eq!(
            b.state()[0].1[1],
            0.0,
            "no state work for the frozen element"
        );
        for i in [0, 2, 3] {
            assert_eq!(part[i].to_bits(), whole[i].to_bits());
        }
    }

    #[test]
    fn converges_on_a_quadratic() {
        // f(p) = sum_i a_i (p_i - c_i)^2 / 2, gradient a_i (p_i - c_i).
        let a = [1.0f32, 4.0, 0.5];
        let c = [3.0f32, -1.0, 0.25];
        for mut opt in [
            Sgd::new(0.2),
            Sgd::new(0.1).momentum(0.9),
            Sgd::new(0.1).momentum(0.9).nesterov(true),
        ] {
            let mut p = vec![0.0f32; 3];
            let mut g = vec![0.0f32; 3];
            for _ in 0..500 {
                for i in 0..3 {
                    g[i] = a[i] * (p[i] - c[i]);
                }
                opt.step(&mut p, &g);
            }
            assert_close(&p, &c, 1e-4, 1e-4);
        }
    }

    #[test]
    fn state_round_trip_continues_exactly() {
        let grads = [[0.3f32, -0.7, 1.1], [0.2, 0.4, -0.9], [-1.0, 0.5, 0.25]];
        let mut a = Sgd::new(0.05).momentum(0.8).nesterov(true);
        let mut pa = vec![0.5f32, -0.5, 2.0];
        a.step(&mut pa, &grads[0]);
        let saved: Vec<(String, Vec<f32>)> = a
            .state()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let mut b = Sgd::new(0.05).momentum(0.8).nesterov(true);
        b.load_state(&saved).unwrap();
        let mut pb = pa.clone();
        for g in &grads[1..] {
            a.step(&mut pa, g);
            b.step(&mut pb, g);
        }
        assert_eq!(pa, pb);
    }

    #[test]
    fn load_state_errors_name_the_buffer() {
        let mut opt = Sgd::new(0.1).momentum(0.9);
        let err = opt.load_state(&[]).unwrap_err().to_string();
        assert!(err.contains("velocity"), "{err}");
        let mut plain = Sgd::new(0.1);
        let err = plain
            .load_state(&[("velocity".into(), vec![1.0])])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("velocity") && err.contains("no momentum"),
            "{err}"
        );
    }

    #[test]
    fn a_new_length_resets_the_velocity() {
        let mut opt = Sgd::new(0.1).momentum(0.9);
        let mut p = vec![1.0; 2];
        opt.step(&mut p, &[1.0, 1.0]);
        let mut q = vec![1.0; 3];
        opt.step(&mut q, &[1.0, 1.0, 1.0]);
        // Fresh velocity: the first step is a plain one.
        assert_close(&q, &[0.9; 3], 1e-6, 1e-7);
    }

    #[test]
    fn try_step_rejects_mismatched_lengths() {
        let mut opt = Sgd::new(0.1);
        let err = opt
            .try_step(&mut [1.0, 2.0], &[1.0])
            .unwrap_err()
            .to_string();
        assert!(err.contains("gradients"), "{err}");
    }
}
