//! Group normalisation from the definitions, in f64, for tests: each
//! example's groups gathered into a list, normalised, scaled. The backward
//! pass goes through the intermediate gradients (xhat, variance, mean) one
//! by one, not through the closed form the kernel uses.

use super::{Params, Shape};

/// The flat indices of group `g` of example `e` in `[n, hw, c]` data.
fn members(e: usize, hw: usize, c: usize, groups: usize, g: usize) -> Vec<usize> {
    let cg = c / groups;
    let mut out = Vec::new();
    for p in 0..hw {
        for ch in g * cg..(g + 1) * cg {
            out.push((e * hw + p) * c + ch);
        }
    }
    out
}

/// `gamma * (x - mean) / sqrt(var + eps) + beta`, per example and group.
pub fn forward(shape: Shape, x: &[f32], params: Params, eps: f32) -> Vec<f32> {
    let Shape { n, hw, c, groups } = shape;
    let Params { gamma, beta } = params;
    let mut y = vec![0.0; n * hw * c];
    for e in 0..n {
        for g in 0..groups {
            let idx = members(e, hw, c, groups, g);
            let m = idx.len() as f64;
            let mean = idx.iter().map(|&i| x[i] as f64).sum::<f64>() / m;
            let var = idx
                .iter()
                .map(|&i| (x[i] as f64 - mean).powi(2))
                .sum::<f64>()
                / m;
            for &i in &idx {
                let xhat = (x[i] as f64 - mean) / (var + eps as f64).sqrt();
                y[i] = (gamma[i % c] as f64 * xhat + beta[i % c] as f64) as f32;
            }
        }
    }
    y
}

/// `(dx, dgamma, dbeta)` for the output gradient `dy`, step by step:
/// `dxhat = dy * gamma`, `dvar = sum(dxhat * (x - mean)) * -1/2 (var +
/// eps)^(-3/2)`, `dmean = -sum(dxhat) / std - 2 dvar * mean(x - mean)`,
/// `dx = dxhat / std + dvar * 2 (x - mean) / m + dmean / m`.
pub fn backward(
    shape: Shape,
    x: &[f32],
    gamma: &[f32],
    eps: f32,
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let Shape { n, hw, c, groups } = shape;
    let mut dx = vec![0.0; n * hw * c];
    let (mut dgamma, mut dbeta) = (vec![0.0f64; c], vec![0.0f64; c]);
    for e in 0..n {
        for g in 0..groups {
            let idx = members(e, hw, c, groups, g);
            let m = idx.len() as f64;
            let mean = idx.iter().map(|&i| x[i] as f64).sum::<f64>() / m;
            let var = idx
                .iter()
                .map(|&i| (x[i] as f64 - mean).powi(2))
                .sum::<f64>()
                / m;
            let std = (var + eps as f64).sqrt();
            let mut dvar = 0.0;
            let mut dmean = 0.0;
            let mut centred = 0.0;
            for &i in &idx {
                let dxhat = dy[i] as f64 * gamma[i % c] as f64;
                dvar += dxhat * (x[i] as f64 - mean) * -0.5 * (var + eps as f64).powf(-1.5);
                dmean -= dxhat / std;
                centred += x[i] as f64 - mean;
                dgamma[i % c] += dy[i] as f64 * (x[i] as f64 - mean) / std;
                dbeta[i % c] += dy[i] as f64;
            }
            dmean += dvar * -2.0 * centred / m;
            for &i in &idx {
                let dxhat = dy[i] as f64 * gamma[i % c] as f64;
                let v = dxhat / std + dvar * 2.0 * (x[i] as f64 - mean) / m + dmean / m;
                dx[i] = v as f32;
            }
        }
    }
    let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
    (dx, f(dgamma), f(dbeta))
}
