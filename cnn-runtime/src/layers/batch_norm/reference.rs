//! Batch normalisation from the definitions, in f64, for tests. The
//! backward pass goes through the intermediate gradients one by one
//! (xhat, variance, mean), not through the closed form the kernel uses.

/// Per-channel mean and biased variance of `[m, c]` data, two passes.
pub fn moments(m: usize, c: usize, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0f64; c];
    let mut var = vec![0f64; c];
    for r in 0..m {
        for ch in 0..c {
            mean[ch] += x[r * c + ch] as f64 / m as f64;
        }
    }
    for r in 0..m {
        for ch in 0..c {
            var[ch] += (x[r * c + ch] as f64 - mean[ch]).powi(2) / m as f64;
        }
    }
    (mean, var)
}

/// Training-mode output `gamma * (x - mean) / sqrt(var + eps) + beta`.
pub fn forward_train(
    m: usize,
    c: usize,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) -> Vec<f32> {
    let (mean, var) = moments(m, c, x);
    let mut y = vec![0.0; m * c];
    for r in 0..m {
        for ch in 0..c {
            let xhat = (x[r * c + ch] as f64 - mean[ch]) / (var[ch] + eps as f64).sqrt();
            y[r * c + ch] = (gamma[ch] as f64 * xhat + beta[ch] as f64) as f32;
        }
    }
    y
}

/// `(dx, dgamma, dbeta)` by the staged chain rule:
/// dxhat = dy * gamma;
/// dvar = sum(dxhat * (x - mean)) * -1/2 * (var + eps)^(-3/2);
/// dmean = -sum(dxhat) / sqrt(var + eps) - 2 dvar * sum(x - mean) / m;
/// dx = dxhat / sqrt(var + eps) + 2 dvar (x - mean) / m + dmean / m.
pub fn backward(
    m: usize,
    c: usize,
    x: &[f32],
    gamma: &[f32],
    eps: f32,
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mean, var) = moments(m, c, x);
    let mf = m as f64;
    let mut dx = vec![0.0; m * c];
    let mut dgamma = vec![0.0; c];
    let mut dbeta = vec![0.0; c];
    for ch in 0..c {
        let sd = (var[ch] + eps as f64).sqrt();
        let (mut dvar, mut sum_dxhat, mut sum_centered, mut dg, mut db) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for r in 0..m {
            let centered = x[r * c + ch] as f64 - mean[ch];
            let d = dy[r * c + ch] as f64;
            let dxhat = d * gamma[ch] as f64;
            dvar += dxhat * centered * -0.5 * sd.powi(-3);
            sum_dxhat += dxhat;
            sum_centered += centered;
            dg += d * centered / sd;
            db += d;
        }
        let dmean = -sum_dxhat / sd - 2.0 * dvar * sum_centered / mf;
        for r in 0..m {
            let centered = x[r * c + ch] as f64 - mean[ch];
            let dxhat = dy[r * c + ch] as f64 * gamma[ch] as f64;
            dx[r * c + ch] = (dxhat / sd + 2.0 * dvar * centered / mf + dmean / mf) as f32;
        }
        dgamma[ch] = dg as f32;
        dbeta[ch] = db as f32;
    }
    (dx, dgamma, dbeta)
}
