//! The course's costs (Gatys et al. 2015, as the deeplearning.ai
//! assignment normalises them), each a pure function of one example's
//! activations `[h, w, c]` that returns the value and writes the gradient
//! with respect to the generated picture's activations, ready for
//! `Grads::tap`:
//!
//! - content: `J_content = 1/(4 nH nW nC) * sum (a(C) - a(G))^2`;
//! - style of one layer: `J_style[l] = 1/(2 nH nW nC)^2 * sum_kk' (G(S)_kk' - G(G)_kk')^2`
//!   on the Gram matrices ([`super::gram`]);
//! - style over layers: `J_style = sum_l lambda[l] J_style[l]` ([`StyleTargets`]);
//! - total variation of the picture (an option, not in the course):
//!   `sum (x[i+1, j] - x[i, j])^2 + (x[i, j+1] - x[i, j])^2` per channel.
//!
//! Sums run in `f64`; the costs are returned as `f32`.

use super::gram::{gram, times_activations, volume};
use crate::error::{check_len, Error, Result};

/// `J_content` of the generated picture's activations `a_g` against the
/// content picture's `a_c`; writes `dJ/da_g = (a_g - a_c) / (2 nH nW nC)`
/// into `da_g` (overwrites).
/// a_c, a_g, da_g: `[h, w, c]`
pub fn content_cost(a_c: &[f32], a_g: &[f32], shape: [usize; 3], da_g: &mut [f32]) -> Result<f32> {
    let n = volume("content cost", shape)?;
    check_len("content cost: a(C)", a_c.len(), n)?;
    check_len("content cost: a(G)", a_g.len(), n)?;
    check_len("content cost: gradient", da_g.len(), n)?;
    let scale = 1.0 / (4.0 * n as f64);
    let grad_scale = (1.0 / (2.0 * n as f64)) as f32;
    let mut sum = 0.0f64;
    for ((d, &c), &g) in da_g.iter_mut().zip(a_c).zip(a_g) {
        let diff = g - c;
        sum += diff as f64 * diff as f64;
        *d = diff * grad_scale;
    }
    Ok((sum * scale) as f32)
}

/// `J_style[l]` of the generated picture's activations `a_g` against the
/// style picture's Gram matrix `gram_s` (from [`gram`]); writes
/// `dJ/da_g = 4 A (G(G) - G(S)) / (2 nH nW nC)^2` into `da_g`
/// (overwrites): the cost's gradient with respect to `G(G)` is
/// `2 (G(G) - G(S)) / (2 nH nW nC)^2`, symmetric, taken back through the
/// Gram matrix as `A (dG + dG^T)`.
/// gram_s: `[c, c]`  a_g, da_g: `[h, w, c]`
pub fn style_cost(gram_s: &[f32], a_g: &[f32], shape: [usize; 3], da_g: &mut [f32]) -> Result<f32> {
    let c = shape[2];
    check_len("style cost: G(S)", gram_s.len(), c * c)?;
    let n = volume("style cost", shape)? as f64;
    let mut diff = vec![0.0f32; c * c];
    gram(a_g, shape, &mut diff)?;
    let mut sum = 0.0f64;
    for (d, &s) in diff.iter_mut().zip(gram_s) {
        *d -= s;
        sum += *d as f64 * *d as f64;
    }
    let norm = (2.0 * n) * (2.0 * n);
    times_activations((4.0 / norm) as f32, a_g, shape, &diff, da_g)?;
    Ok((sum / norm) as f32)
}

/// One style layer: its name (a tap), weight `lambda[l]`, shape and the
/// style picture's Gram matrix there.
#[derive(Clone, Debug)]
pub struct StyleLayer {
    /// The tapped layer's name.
    pub name: String,
    /// `lambda[l]`.
    pub weight: f32,
    /// One example's activations there, `[h, w, c]`.
    pub shape: [usize; 3],
    /// `G(S)`, `[c, c]`.
    pub gram: Vec<f32>,
}

/// The style picture's Gram matrices at several layers with their weights:
/// `J_style = sum_l lambda[l] J_style[l]`.
#[derive(Clone, Debug, Default)]
pub struct StyleTargets {
    /// The layers, in the order [`StyleTargets::cost`] takes activations.
    pub layers: Vec<StyleLayer>,
}

impl StyleTargets {
    /// No layer yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds layer `name` with weight `lambda` and the style picture's
    /// activations there, `a_s: [h, w, c]`.
    pub fn add(&mut self, name: &str, lambda: f32, a_s: &[f32], shape: [usize; 3]) -> Result<()> {
        let c = shape[2];
        let mut g = vec![0.0; c * c];
        gram(a_s, shape, &mut g)?;
        self.layers.push(StyleLayer {
            name: name.to_string(),
            weight: lambda,
            shape,
            gram: g,
        });
        Ok(())
    }

    /// `sum_l lambda[l] J_style[l]` for the generated picture's
    /// activations (`acts[l]` at `self.layers[l]`); writes each layer's
    /// gradient, times its weight, into `grads[l]` (overwrites).
    pub fn cost(&self, acts: &[&[f32]], grads: &mut [&mut [f32]]) -> Result<f32> {
        if acts.len() != self.layers.len() || grads.len() != self.layers.len() {
            return Err(Error::InvalidArgument(format!(
                "style cost: {} style layers, but {} activations and {} gradients",
                self.layers.len(),
                acts.len(),
                grads.len()
            )));
        }
        let mut total = 0.0f64;
        for ((layer, a), g) in self.layers.iter().zip(acts).zip(grads.iter_mut()) {
            let j = style_cost(&layer.gram, a, layer.shape, g)?;
            g.iter_mut().for_each(|v| *v *= layer.weight);
            total += layer.weight as f64 * j as f64;
        }
        Ok(total as f32)
    }
}

/// The total variation of a picture, squared differences of neighbours
/// down and across, summed over channels; adds `weight * dTV/dx` into
/// `dx` and returns `TV` (unweighted). A smoothness prior that removes the
/// high-frequency noise pixel optimisation leaves (Mahendran and Vedaldi
/// 2015; Johnson et al. 2016).
/// x, dx: `[h, w, c]`
pub fn total_variation(x: &[f32], shape: [usize; 3], weight: f32, dx: &mut [f32]) -> Result<f32> {
    let [h, w, c] = shape;
    let n = volume("total variation", shape)?;
    check_len("total variation: picture", x.len(), n)?;
    check_len("total variation: gradient", dx.len(), n)?;
    let mut sum = 0.0f64;
    let at = |i: usize, j: usize, k: usize| (i * w + j) * c + k;
    for i in 0..h {
        for j in 0..w {
            for k in 0..c {
                let here = x[at(i, j, k)];
                for (ni, nj) in [(i + 1, j), (i, j + 1)] {
                    if ni < h && nj < w {
                        let d = x[at(ni, nj, k)] - here;
                        sum += d as f64 * d as f64;
                        dx[at(ni, nj, k)] += 2.0 * weight * d;
                        dx[at(i, j, k)] -= 2.0 * weight * d;
                    }
                }
            }
        }
    }
    Ok(sum as f32)
}
