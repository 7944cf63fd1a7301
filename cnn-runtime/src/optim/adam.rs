//! Adam (Kingma and Ba, 2015, Algorithm 1) with optional L2 weight decay,
//! and AdamW (Loshchilov and Hutter, 2019) with decoupled weight decay.
//!
//! For each parameter `p` with gradient `grad`, step `t` (counting from 1) is:
//!
//! ```text
//! AdamW only:  p = p * (1 - lr * weight_decay)      (decoupled decay)
//! g     = grad + weight_decay * p                   (Adam only: L2 through the moments)
//! m     = b1 * m + (1 - b1) * g
//! v     = b2 * v + (1 - b2) * g^2
//! m_hat = m / (1 - b1^t)
//! v_hat = v / (1 - b2^t)
//! p    -= lr * m_hat / (sqrt(v_hat) + epsilon)
//! ```
//!
//! This is the paper's algorithm and exactly what PyTorch's `Adam` / `AdamW`
//! compute. Defaults: `b1 = 0.9`, `b2 = 0.999`, and `epsilon = 1e-7`, the
//! Keras default (PyTorch uses 1e-8), because the rest of the library
//! follows Keras' conventions. Keras adds epsilon to `sqrt(v)` before bias
//! correction rather than to `sqrt(v_hat)`; the two differ only while
//! `sqrt(v_hat)` is comparable to epsilon. AdamW's default weight decay is
//! 0.01, as in PyTorch.
//!
//! The step count `t` is saved as a one-element `f32` buffer, exact up to
//! 2^24 (16.7 million) steps; by then both bias corrections are 1.

use super::{find_buffer, Optimizer};
use crate::error::{Error, Result};

/// Adam: `Adam::new(1e-3).betas(0.9, 0.999).epsilon(1e-7).weight_decay(0.0)`.
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f32,
    hyper: Hyper,
    /// L2 coefficient, added to the gradient.
    weight_decay: f32,
    moments: Moments,
}

/// AdamW: Adam with decoupled weight decay (`AdamW::new(1e-3).weight_decay(0.01)`).
#[derive(Clone, Debug)]
pub struct AdamW {
    lr: f32,
    hyper: Hyper,
    /// Decoupled coefficient: `p *= 1 - lr * weight_decay` each step.
    weight_decay: f32,
    moments: Moments,
}

#[derive(Clone, Copy, Debug)]
struct Hyper {
    beta1: f32,
    beta2: f32,
    epsilon: f32,
}

const DEFAULT_HYPER: Hyper = Hyper {
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-7,
};

/// First and second moments and the number of steps taken.
#[derive(Clone, Debug, Default)]
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
    t: u64,
}

impl Moments {
    /// One Adam step; `l2` is added to the gradient as `l2 * p`, `decoupled`
    /// shrinks `p` by `1 - lr * decoupled` first.
    fn step(
        &mut self,
        name: &str,
        h: Hyper,
        lr: f32,
        l2: f32,
        decoupled: f32,
        params: &mut [f32],
        grads: &[f32],
        ranges: &[std::ops::Range<usize>],
    ) {
        assert_eq!(
            params.len(),
            grads.len(),
            "{name}::step: {} parameters but {} gradients",
            params.len(),
            grads.len()
        );
        if self.m.len() != params.len() || self.v.len() != params.len() {
            self.m.clear();
            self.m.resize(params.len(), 0.0);
            self.v.clear();
            self.v.resize(params.len(), 0.0);
            self.t = 0;
        }
        self.t += 1;
        // Bias corrections in f64: b^t for small t is close to 1 and the
        // difference is what matters. PyTorch's form of the update:
        // p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps).
        let t = self.t.min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - (h.beta1 as f64).powi(t);
        let bc2 = 1.0 - (h.beta2 as f64).powi(t);
        let step_size = (lr as f64 / bc1) as f32;
        let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
        let shrink = 1.0 - lr * decoupled;
        let (b1, b2, eps) = (h.beta1, h.beta2, h.epsilon);
        for r in ranges {
            let moments = self.m[r.clone()]
                .iter_mut()
                .zip(self.v[r.clone()].iter_mut());
            for ((p, &grad), (m, v)) in params[r.clone()]
                .iter_mut()
                .zip(&grads[r.clone()])
                .zip(moments)
            {
                let mut q = *p * shrink;
                let g = grad + l2 * q;
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                q -= step_size * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
                *p = q;
            }
        }
    }

    fn state(&self) -> Vec<(&'static str, Vec<f32>)> {
        vec![
            ("m", self.m.clone()),
            ("v", self.v.clone()),
            ("step", vec![self.t as f32]),
        ]
    }

    fn load(&mut self, name: &str, state: &[(String, Vec<f32>)]) -> Result<()> {
        let m = find_buffer(name, state, "m")?;
        let v = find_buffer(name, state, "v")?;
        let step = find_buffer(name, state, "step")?;
        if v.len() != m.len() {
            return Err(Error::InvalidArgument(format!(
                "{name} state: buffer `v` holds {} values but `m` holds {}; they must be equal",
                v.len(),
                m.len()
            )));
        }
        let t = match step {
            [t] if *t >= 0.0 && t.fract() == 0.0 => *t as u64,
            _ => {
                return Err(Error::InvalidArgument(format!(
                "{name} state: buffer `step` must be one non-negative whole number, got {step:?}"
            )))
            }
        };
        self.m.clear();
        self.m.extend_from_slice(m);
        self.v.clear();
        self.v.extend_from_slice(v);
        self.t = t;
        Ok(())
    }
}

macro_rules! hyper_builders {
    () => {
        /// Decay rates of the first and second moments (0.9, 0.999).
        pub fn betas(mut self, beta1: f32, beta2: f32) -> Self {
            self.hyper.beta1 = beta1;
            self.hyper.beta2 = beta2;
            self
        }

        /// Added to `sqrt(v_hat)` so that the step stays finite (1e-7).
        pub fn epsilon(mut self, epsilon: f32) -> Self {
            self.hyper.epsilon = epsilon;
            self
        }

        /// The number of steps taken so far (0 before the first).
        pub fn steps(&self) -> u64 {
            self.moments.t
        }
    };
}

impl Adam {
    /// Adam with learning rate `lr` (1e-3 is the usual value), no weight decay.
    pub fn new(lr: f32) -> Self {
        Adam {
            lr,
            hyper: DEFAULT_HYPER,
            weight_decay: 0.0,
            moments: Moments::default(),
        }
    }

    hyper_builders!();

    /// L2 penalty: `weight_decay * p` is added to the gradient before the
    /// moments (for decoupled decay use [`AdamW`]).
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl AdamW {
    /// AdamW with learning rate `lr` and weight decay 0.01.
    pub fn new(lr: f32) -> Self {
        AdamW {
            lr,
            hyper: DEFAULT_HYPER,
            weight_decay: 0.01,
            moments: Moments::default(),
        }
    }

    hyper_builders!();

    /// Decoupled decay: each step multiplies `p` by `1 - lr * weight_decay`.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        let (h, lr, wd) = (self.hyper, self.lr, self.weight_decay);
        let all = 0..params.len();
        self.moments
            .step("Adam", h, lr, wd, 0.0, params, grads, &[all]);
    }
    fn step_ranges(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        ranges: &[std::ops::Range<usize>],
    ) {
        let (h, lr, wd) = (self.hyper, self.lr, self.weight_decay);
        self.moments
            .step("Adam", h, lr, wd, 0.0, params, grads, ranges);
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
    /// `m`, `v` and `step` (one element).
    fn state(&self) -> Vec<(&'static str, Vec<f32>)> {
        self.moments.state()
    }
    fn load_state(&mut self, state: &[(String, Vec<f32>)]) -> Result<()> {
        self.moments.load("Adam", state)
    }
}

impl Optimizer for AdamW {
    fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        let (h, lr, wd) = (self.hyper, self.lr, self.weight_decay);
        let all = 0..params.len();
        self.moments
            .step("AdamW", h, lr, 0.0, wd, params, grads, &[all]);
    }
    fn step_ranges(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        ranges: &[std::ops::Range<usize>],
    ) {
        let (h, lr, wd) = (self.hyper, self.lr, self.weight_decay);
        self.moments
            .step("AdamW", h, lr, 0.0, wd, params, grads, ranges);
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
    /// `m`, `v` and `step` (one element).
    fn state(&self) -> Vec<(&'static str, Vec<f32>)> {
        self.moments.state()
    }
    fn load_state(&mut self, state: &[(String, Vec<f32>)]) -> Result<()> {
        self.moments.load("AdamW", state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_close;

    fn owned(state: Vec<(&'static str, Vec<f32>)>) -> Vec<(String, Vec<f32>)> {
        state.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    // All three hand computations: lr = 0.1, b1 = 0.9, b2 = 0.999,
    // eps = 1e-7, p0 = 1, gradients 0.5 then -1 (checked with a few lines
    // of f64 arithmetic).

    #[test]
    fn ranges_leave_the_rest_alone() {
        for decoupled in [false, true] {
            let g = [0.5f32, -1.0, 0.25];
            let (mut whole, mut part) = (vec![1.0f32; 3], vec![1.0f32; 3]);
            let mut a: Box<dyn Optimizer> = if decoupled {
                Box::new(AdamW::new(0.1))
            } else {
                Box::new(Adam::new(0.1).weight_decay(0.1))
            };
            let mut b: Box<dyn Optimizer> = if decoupled {
                Box::new(AdamW::new(0.1))
            } else {
                Box::new(Adam::new(0.1).weight_decay(0.1))
            };
            for _ in 0..2 {
                a.step(&mut whole, &g);
                b.step_ranges(&mut part, &g, &[0..1, 2..3]);
            }
            assert_eq!(part[1], 1.0, "a frozen element gets no decay");
            assert_eq!((b.state()[0].1[1], b.state()[1].1[1]), (0.0, 0.0));
            assert_eq!(
                (part[0].to_bits(), part[2].to_bits()),
                (whole[0].to_bits(), whole[2].to_bits())
            );
        }
    }

    #[test]
    fn adam_two_steps_by_hand() {
        // t = 1: m = 0.1*0.5 = 0.05, v = 0.001*0.25 = 0.00025,
        //        m_hat = 0.05/0.1 = 0.5, v_hat = 0.00025/0.001 = 0.25,
        //        p = 1 - 0.1 * 0.5/(0.5 + 1e-7) = 0.90000002
        // t = 2: m = 0.9*0.05 - 0.1 = -0.055, v = 0.999*0.00025 + 0.001 = 0.00124975,
        //        m_hat = -0.055/0.19 = -0.2894737, v_hat = 0.00124975/0.001999 = 0.6251876,
        //        p = 0.9 + 0.1 * 0.2894737/0.7906884 = 0.93661037
        let mut p = vec![1.0];
        let mut opt = Adam::new(0.1);
        opt.step(&mut p, &[0.5]);
        assert_close(&p, &[0.900_000_02], 1e-6, 0.0);
        opt.step(&mut p, &[-1.0]);
        assert_close(&p, &[0.936_610_37], 1e-6, 0.0);
        let state = opt.state();
        assert_close(&state[0].1, &[-0.055], 1e-6, 0.0);
        // 0.999 is not exact in f32: 1 - 0.999f32 = 0.00099998713, 1.3e-5 off.
        assert_close(&state[1].1, &[0.001_249_75], 1e-4, 0.0);
        assert_eq!(state[2].1, vec![2.0]);
    }

    #[test]
    fn adam_l2_by_hand() {
        // weight_decay = 0.1 goes into the gradient.
        // t = 1: g = 0.5 + 0.1*1 = 0.6, p = 1 - 0.1*0.6/(0.6 + 1e-7) = 0.90000002
        // t = 2: g = -1 + 0.1*0.9 = -0.91, m = 0.9*0.06 - 0.091 = -0.037,
        //        v = 0.999*0.00036 + 0.001*0.8281 = 0.00118774,
        //        m_hat = -0.1947368, v_hat = 0.5941671, p = 0.9 + 0.1*0.1947368/0.7708224 = 0.92526353
        let mut p = vec![1.0];
        let mut opt = Adam::new(0.1).weight_decay(0.1);
        opt.step(&mut p, &[0.5]);
        opt.step(&mut p, &[-1.0]);
        assert_close(&p, &[0.925_263_5], 1e-6, 0.0);
    }

    #[test]
    fn adamw_decoupled_by_hand() {
        // weight_decay = 0.01 shrinks p by 1 - 0.1*0.01 = 0.999 before the Adam step.
        // t = 1: p = 0.999 - 0.1*0.5/(0.5 + 1e-7) = 0.89900002
        // t = 2: p = 0.89900002*0.999 + 0.03661037 = 0.93471137
        let mut p = vec![1.0];
        let mut opt = AdamW::new(0.1);
        opt.step(&mut p, &[0.5]);
        assert_close(&p, &[0.899_000_02], 1e-6, 0.0);
        opt.step(&mut p, &[-1.0]);
        assert_close(&p, &[0.934_711_4], 1e-6, 0.0);
    }

    #[test]
    fn builders_change_the_step() {
        // With b1 = 0, b2 = 0 and a large epsilon the first step is
        // lr * g / (|g| + eps): 0.1 * 2 / (2 + 2) = 0.05.
        let mut p = vec![0.0];
        Adam::new(0.1)
            .betas(0.0, 0.0)
            .epsilon(2.0)
            .step(&mut p, &[2.0]);
        assert_close(&p, &[-0.05], 1e-6, 0.0);
        let mut q = vec![1.0];
        AdamW::new(0.1).weight_decay(0.0).step(&mut q, &[0.5]);
        assert_close(&q, &[0.900_000_02], 1e-6, 0.0);
    }

    #[test]
    fn converges_on_a_quadratic() {
        // f(p) = sum_i a_i (p_i - c_i)^2 / 2 with badly scaled curvatures;
        // Adam's per-coordinate scaling handles them alike.
        let a = [1.0f32, 100.0, 0.01];
        let c = [3.0f32, -1.0, 0.25];
        let mut p = vec![0.0f32; 3];
        let mut g = vec![0.0f32; 3];
        let mut opt = Adam::new(0.05);
        for k in 0..3000 {
            if k == 2000 {
                opt.set_learning_rate(0.005);
            }
            for i in 0..3 {
                g[i] = a[i] * (p[i] - c[i]);
            }
            opt.step(&mut p, &g);
        }
        assert_close(&p, &c, 0.0, 1e-2);
    }

    #[test]
    fn state_round_trip_continues_exactly() {
        let grads = [[0.3f32, -0.7, 1.1], [0.2, 0.4, -0.9], [-1.0, 0.5, 0.25]];
        let mut a = AdamW::new(0.01).betas(0.8, 0.99);
        let mut pa = vec![0.5f32, -0.5, 2.0];
        a.step(&mut pa, &grads[0]);
        a.step(&mut pa, &grads[1]);
        let mut b = AdamW::new(0.01).betas(0.8, 0.99);
        b.load_state(&owned(a.state())).unwrap();
        assert_eq!(b.steps(), 2);
        let mut pb = pa.clone();
        a.step(&mut pa, &grads[2]);
        b.step(&mut pb, &grads[2]);
        assert_eq!(pa, pb);
        assert_eq!(owned(a.state()), owned(b.state()));
    }

    #[test]
    fn load_state_errors_name_the_buffer() {
        let mut opt = Adam::new(0.1);
        let full = vec![
            ("m".to_string(), vec![0.0; 2]),
            ("v".to_string(), vec![0.0; 2]),
            ("step".to_string(), vec![3.0]),
        ];
        opt.load_state(&full).unwrap();
        let err = opt.load_state(&full[..2]).unwrap_err().to_string();
        assert!(err.contains("`step`") && err.contains("missing"), "{err}");
        let mut short_v = full.clone();
        short_v[1].1.pop();
        let err = opt.load_state(&short_v).unwrap_err().to_string();
        assert!(err.contains("`v`"), "{err}");
        let mut bad_step = full.clone();
        bad_step[2].1 = vec![1.5];
        let err = opt.load_state(&bad_step).unwrap_err().to_string();
        assert!(err.contains("`step`"), "{err}");
    }

    #[test]
    fn a_new_length_resets_the_moments() {
        let mut opt = Adam::new(0.1);
        let mut p = vec![1.0; 2];
        opt.step(&mut p, &[0.5, 0.5]);
        let mut q = vec![1.0; 3];
        opt.step(&mut q, &[0.5; 3]);
        assert_eq!(opt.steps(), 1);
        assert_close(&q, &[0.900_000_02; 3], 1e-6, 0.0);
    }
}
