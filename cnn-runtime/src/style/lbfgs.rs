//! L-BFGS (Nocedal 1980; Liu and Nocedal 1989), the optimiser Gatys et al.
//! used for style transfer: the two-loop recursion turns the last `m`
//! steps and gradient changes into a quasi-Newton direction, and a
//! backtracking line search takes the first step along it that satisfies
//! Armijo's sufficient-decrease condition
//! `f(x + t d) <= f(x) + c1 t g.d`. Box bounds (the pixel range) are kept
//! by projecting every trial point onto the box, which is the projected
//! backtracking search of Bertsekas (1982): the condition reads
//! `f(P(x + t d)) <= f(x) + c1 g.(P(x + t d) - x)`, and the direction
//! leaves out coordinates that sit on a bound and point out of the box.
//!
//! A pair `(s, y)` is kept only when its curvature `s.y` is positive, so
//! the implied inverse Hessian stays positive definite. The optimiser is a
//! stepper: [`Lbfgs::step`] does one iteration, so a caller can report
//! progress and save snapshots between iterations. Dot products run in
//! `f64`.

use std::collections::VecDeque;

use crate::error::{check_len, Error, Result};

/// The cost at a point, writing its gradient into the second argument.
pub type Objective<'a> = dyn FnMut(&[f32], &mut [f32]) -> Result<f32> + 'a;

/// What one [`Lbfgs::step`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsStep {
    /// The cost at the new point.
    pub value: f32,
    /// Cost evaluations in this step (the line search's trials).
    pub evals: usize,
    /// The step length accepted (0 when the search failed).
    pub step: f32,
    /// True when no trial decreased the cost enough: the point is kept
    /// and the history cleared, so the next step starts from steepest
    /// descent.
    pub stalled: bool,
}

/// L-BFGS with a projected backtracking line search; see the module's
/// documentation.
#[derive(Clone, Debug)]
pub struct Lbfgs {
    history: usize,
    c1: f64,
    shrink: f32,
    max_trials: usize,
    first_step: f32,
    bounds: Option<(f32, f32)>,
    /// `(s, y, 1 / s.y)` of the last `history` accepted steps, oldest first.
    pairs: VecDeque<(Vec<f32>, Vec<f32>, f64)>,
    /// The cost and gradient at the current point, once evaluated.
    here: Option<(f32, Vec<f32>)>,
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

impl Lbfgs {
    /// Keeps the last `history` pairs (Gatys-style transfer usually uses
    /// 10 to 100; 1 is the minimum), `c1 = 1e-4`, halves a rejected step,
    /// at most 30 trials per step, first step of Euclidean length 1.
    pub fn new(history: usize) -> Self {
        Lbfgs {
            history: history.max(1),
            c1: 1e-4,
            shrink: 0.5,
            max_trials: 30,
            first_step: 1.0,
            bounds: None,
            pairs: VecDeque::new(),
            here: None,
        }
    }

    /// Keeps every coordinate in `lo..=hi` (the pixel range).
    pub fn bounds(mut self, lo: f32, hi: f32) -> Self {
        self.bounds = Some((lo, hi));
        self
    }

    /// The Euclidean length of the very first step, taken along the
    /// steepest descent before any curvature is known (default 1).
    pub fn first_step(mut self, length: f32) -> Self {
        self.first_step = length;
        self
    }

    /// Armijo's constant `c1` in `(0, 1)` (default 1e-4).
    pub fn armijo(mut self, c1: f64) -> Self {
        self.c1 = c1;
        self
    }

    /// The pairs held now.
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Forgets the history and the cached cost: the next step starts
    /// afresh (call it after changing `x` or the cost outside `step`).
    pub fn reset(&mut self) {
        self.pairs.clear();
        self.here = None;
    }

    fn project(&self, x: &mut [f32]) {
        if let Some((lo, hi)) = self.bounds {
            x.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
        }
    }

    /// Zeroes the coordinates of `d` that sit on a bound and point out.
    fn free_direction(&self, x: &[f32], d: &mut [f32]) {
        if let Some((lo, hi)) = self.bounds {
            for (di, &xi) in d.iter_mut().zip(x) {
                if (xi <= lo && *di < 0.0) || (xi >= hi && *di > 0.0) {
                    *di = 0.0;
                }
            }
        }
    }

    /// The two-loop recursion: `d = -H g` with `H0 = (s.y / y.y) I` from
    /// the newest pair, or the scaled steepest descent with no pair.
    fn direction(&self, g: &[f32], d: &mut [f32]) {
        for (di, gi) in d.iter_mut().zip(g) {
            *di = -gi;
        }
        let Some((s_new, y_new, _)) = self.pairs.back() else {
            let norm = dot(g, g).sqrt();
            if norm > 0.0 {
                let scale = (self.first_step as f64 / norm) as f32;
                d.iter_mut().for_each(|v| *v *= scale);
            }
            return;
        };
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (s, y, rho) in self.pairs.iter().rev() {
            let a = rho * dot(s, d);
            for (di, yi) in d.iter_mut().zip(y) {
                *di -= (a as f32) * yi;
            }
            alphas.push(a);
        }
        let gamma = (dot(s_new, y_new) / dot(y_new, y_new)) as f32;
        d.iter_mut().for_each(|v| *v *= gamma);
        for ((s, y, rho), a) in self.pairs.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, d);
            for (di, si) in d.iter_mut().zip(s) {
                *di += ((a - b) as f32) * si;
            }
        }
    }

    /// One iteration from `x` (projected into the bounds first): the
    /// direction, then the line search; `x` moves to the accepted point.
    /// `f(x, g)` returns the cost at `x` and writes its gradient into `g`.
    /// A cost that is not finite at the start is an `Err`; a trial whose
    /// cost is not finite counts as too long a step.
    pub fn step(&mut self, x: &mut [f32], f: &mut Objective<'_>) -> Result<LbfgsStep> {
        let n = x.len();
        let mut evals = 0;
        let (f0, g0) = match self.here.take() {
            Some((f0, g0)) if g0.len() == n => (f0, g0),
            _ => {
                self.pairs.clear();
                self.project(x);
                let mut g = vec![0.0; n];
                let f0 = f(x, &mut g)?;
                evals += 1;
                check_len("lbfgs: gradient", g.len(), n)?;
                (f0, g)
            }
        };
        if !f0.is_finite() {
            return Err(Error::NonFiniteLoss {
                loss: f0,
                at: "the start of an L-BFGS step".into(),
            });
        }
        let mut d = vec![0.0f32; n];
        self.direction(&g0, &mut d);
        self.free_direction(x, &mut d);
        if dot(&g0, &d) >= 0.0 {
            // Not a descent direction (stale curvature): start afresh.
            self.pairs.clear();
            self.direction(&g0, &mut d);
            self.free_direction(x, &mut d);
        }
        let mut trial = vec![0.0f32; n];
        let mut g1 = vec![0.0f32; n];
        let mut t = 1.0f32;
        for _ in 0..self.max_trials {
            for ((ti, xi), di) in trial.iter_mut().zip(x.iter()).zip(&d) {
                *ti = xi + t * di;
            }
            self.project(&mut trial);
            let f1 = f(&trial, &mut g1)?;
            evals += 1;
            let moved: Vec<f32> = trial.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
            let decrease = self.c1 * dot(&g0, &moved);
            if f1.is_finite() && (f1 as f64) <= f0 as f64 + decrease && decrease < 0.0 {
                let y: Vec<f32> = g1.iter().zip(&g0).map(|(a, b)| a - b).collect();
                let sy = dot(&moved, &y);
                if sy > 1e-10 * dot(&y, &y) && sy > 0.0 {
                    if self.pairs.len() == self.history {
                        self.pairs.pop_front();
                    }
                    self.pairs.push_back((moved, y, 1.0 / sy));
                }
                x.copy_from_slice(&trial);
                self.here = Some((f1, g1));
                return Ok(LbfgsStep {
                    value: f1,
                    evals,
                    step: t,
                    stalled: false,
                });
            }
            t *= self.shrink;
        }
        self.pairs.clear();
        self.here = Some((f0, g0));
        Ok(LbfgsStep {
            value: f0,
            evals,
            step: 0.0,
            stalled: true,
        })
    }
}

#[cfg(test)]
#[path = "lbfgs_tests.rs"]
mod tests;
