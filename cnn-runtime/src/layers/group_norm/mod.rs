//! Group normalisation (Wu and He, 2018; PyTorch's `nn.GroupNorm`): for
//! each example, the channels are split into `groups` equal runs and each
//! run is normalised over its channels and all positions together, then
//! scaled and shifted per channel:
//! `y = gamma[ch] * (x - mean_g) / sqrt(var_g + eps) + beta[ch]`, with the
//! biased variance, as PyTorch. There are no running statistics: training
//! and inference compute the same thing.
//!
//! Layer normalisation as ConvNeXt uses it (PyTorch's `LayerNorm(C)` on
//! NHWC data: each position over its channels) is the special case of one
//! group and one position per "example", so [`crate::layers::layer_norm`]
//! calls these kernels with `n = batch * h * w`, `hw = 1`, `groups = 1`.
//!
//! Data is NHWC, so a group's values at one position are contiguous and
//! the positions are `c` apart. Statistics are summed in f64 lanes, in one
//! pass around a shift so that the variance does not cancel; the
//! element-wise passes are f32. Backward recomputes the statistics
//! from `x` rather than keeping them, so the workspace holds nothing but
//! the activations; both passes split the examples across threads, and the
//! per-channel `dgamma`, `dbeta` are summed per example in order on the
//! calling thread, so results do not depend on the thread count.

use crate::error::{check_len, Error, Result};
use crate::layers::activation::par_rows;

#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;

/// The data's size: `n` examples of `hw` positions of `c` channels,
/// `[n, hw, c]`, the channels split into `groups` runs of `c / groups`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Examples, each normalised on its own.
    pub n: usize,
    /// Positions per example (`h * w`).
    pub hw: usize,
    /// Channels.
    pub c: usize,
    /// Groups of channels (a divisor of `c`).
    pub groups: usize,
}

/// The learnt per-channel scale and shift, `y = gamma * xhat + beta`.
/// gamma, beta: `[c]`
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    /// Scale.
    pub gamma: &'a [f32],
    /// Shift.
    pub beta: &'a [f32],
}

/// The gradients of [`Params`], which backward adds into.
/// dgamma, dbeta: `[c]`
#[derive(Debug)]
pub struct ParamGrads<'a> {
    /// Gradient of gamma.
    pub dgamma: &'a mut [f32],
    /// Gradient of beta.
    pub dbeta: &'a mut [f32],
}

/// Checks the sizes; returns `n * hw * c` and the channels per group.
fn sizes(what: &str, shape: Shape) -> Result<(usize, usize)> {
    let Shape { n, hw, c, groups } = shape;
    if c == 0 || groups == 0 || hw == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what}: channels, groups and positions must be positive (c = {c}, groups = {groups}, hw = {hw})"
        )));
    }
    if !c.is_multiple_of(groups) {
        return Err(Error::InvalidArgument(format!(
            "{what}: groups {groups} does not divide the channels {c}"
        )));
    }
    let len = n
        .checked_mul(hw)
        .and_then(|v| v.checked_mul(c))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{what}: n * hw * c overflows (n = {n}, hw = {hw}, c = {c})"
            ))
        })?;
    Ok((len, c / groups))
}

fn check_eps(what: &str, eps: f32) -> Result<()> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{what}: epsilon must be finite and >= 0, got {eps}"
        )))
    }
}

/// Lanes of the f64 partial sums: independent chains that the compiler
/// vectorises, added in a fixed order at the end.
const LANES: usize = 8;

/// Adds `f(i)` for each `i` in `0..len` into lanes `i % LANES` of `acc`
/// (two sums at once).
#[inline(always)]
fn add_lanes(len: usize, acc: &mut [[f64; LANES]; 2], f: impl Fn(usize) -> (f64, f64)) {
    let full = len - len % LANES;
    let [first, second] = acc;
    for i0 in (0..full).step_by(LANES) {
        for (l, (s, t)) in first.iter_mut().zip(second.iter_mut()).enumerate() {
            let (a, b) = f(i0 + l);
            *s += a;
            *t += b;
        }
    }
    for (i, (s, t)) in (full..len).zip(first.iter_mut().zip(second.iter_mut())) {
        let (a, b) = f(i);
        *s += a;
        *t += b;
    }
}

/// Mean and `1 / sqrt(var + eps)` of group `g` of one example `x`
/// (`[hw, c]`), whose groups hold `cg` channels: one pass in f64 around a
/// shift (the group's first value), so that `E[(x-k)^2] - E[x-k]^2` does
/// not cancel.
fn stats(x: &[f32], c: usize, cg: usize, g: usize, eps: f32) -> (f32, f32) {
    let range = g * cg..(g + 1) * cg;
    let k = f64::from(x[range.start]);
    let mut acc = [[0f64; LANES]; 2];
    for row in x.chunks_exact(c) {
        let part = &row[range.clone()];
        add_lanes(part.len(), &mut acc, |i| {
            let d = f64::from(part[i]) - k;
            (d, d * d)
        });
    }
    let count = (x.len() / c * cg) as f64;
    let m1 = acc[0].iter().sum::<f64>() / count;
    let var = (acc[1].iter().sum::<f64>() / count - m1 * m1).max(0.0);
    (
        (k + m1) as f32,
        (1.0 / (var + f64::from(eps)).sqrt()) as f32,
    )
}

/// `y = gamma * (x - mean_g) / sqrt(var_g + eps) + beta` per example and
/// group of `c / groups` channels. Overwrites y.
/// x, y: `[n, hw, c]`  params: `[c]`
pub fn forward(shape: Shape, x: &[f32], params: Params, eps: f32, y: &mut [f32]) -> Result<()> {
    let what = "group_norm::forward";
    let (len, cg) = sizes(what, shape)?;
    let Shape { n, hw, c, groups } = shape;
    let Params { gamma, beta } = params;
    check_eps(what, eps)?;
    check_len("group_norm::forward x", x.len(), len)?;
    check_len("group_norm::forward y", y.len(), len)?;
    check_len("group_norm::forward params.gamma", gamma.len(), c)?;
    check_len("group_norm::forward params.beta", beta.len(), c)?;
    let example = hw * c;
    par_rows(y, n, len, |e0, y| {
        let x = &x[e0 * example..e0 * example + y.len()];
        for (xe, ye) in x.chunks_exact(example).zip(y.chunks_exact_mut(example)) {
            for g in 0..groups {
                let (mean, inv_std) = stats(xe, c, cg, g, eps);
                let range = g * cg..(g + 1) * cg;
                let (gamma, beta) = (&gamma[range.clone()], &beta[range.clone()]);
                for (xr, yr) in xe.chunks_exact(c).zip(ye.chunks_exact_mut(c)) {
                    let (xs, ys) = (&xr[range.clone()], &mut yr[range.clone()]);
                    for (((o, &v), &gm), &bt) in ys.iter_mut().zip(xs).zip(gamma).zip(beta) {
                        *o = (v - mean) * inv_std * gm + bt;
                    }
                }
            }
        }
    });
    Ok(())
}

/// Gradients of [`forward`], with the statistics recomputed from x:
/// `dx = inv_std * (dxhat - mean_g(dxhat) - xhat * mean_g(dxhat * xhat))`
/// for `dxhat = dy * gamma`, `dgamma = sum(dy * xhat)`, `dbeta = sum(dy)`
/// over examples and positions (beta is not needed). Overwrites dx when
/// given; adds into `dparams` when given (a frozen layer passes `None`).
/// x, dy, dx: `[n, hw, c]`  gamma, dparams: `[c]`
pub fn backward(
    shape: Shape,
    x: &[f32],
    gamma: &[f32],
    eps: f32,
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dparams: Option<ParamGrads>,
) -> Result<()> {
    let what = "group_norm::backward";
    let (len, cg) = sizes(what, shape)?;
    let Shape { n, hw, c, groups } = shape;
    check_eps(what, eps)?;
    check_len("group_norm::backward x", x.len(), len)?;
    check_len("group_norm::backward dy", dy.len(), len)?;
    check_len("group_norm::backward gamma", gamma.len(), c)?;
    if let Some(dx) = &dx {
        check_len("group_norm::backward dx", dx.len(), len)?;
    }
    if let Some(d) = &dparams {
        check_len("group_norm::backward dparams.dgamma", d.dgamma.len(), c)?;
        check_len("group_norm::backward dparams.dbeta", d.dbeta.len(), c)?;
    }
    let example = hw * c;
    if let Some(ParamGrads { dgamma, dbeta }) = dparams {
        // Per channel, in example order on this thread: the sums do not
        // depend on how the examples were split for dx.
        for (xe, dye) in x.chunks_exact(example).zip(dy.chunks_exact(example)) {
            for g in 0..groups {
                let (mean, inv_std) = stats(xe, c, cg, g, eps);
                let range = g * cg..(g + 1) * cg;
                for (xr, dyr) in xe.chunks_exact(c).zip(dye.chunks_exact(c)) {
                    let (xs, dys) = (&xr[range.clone()], &dyr[range.clone()]);
                    let sums = dgamma[range.clone()]
                        .iter_mut()
                        .zip(dbeta[range.clone()].iter_mut());
                    for ((dg, db), (&v, &d)) in sums.zip(xs.iter().zip(dys)) {
                        *dg += d * ((v - mean) * inv_std);
                        *db += d;
                    }
                }
            }
        }
    }
    let Some(dx) = dx else {
        return Ok(());
    };
    par_rows(dx, n, len, |e0, dx| {
        let range = e0 * example..e0 * example + dx.len();
        let examples = x[range.clone()]
            .chunks_exact(example)
            .zip(dy[range].chunks_exact(example))
            .zip(dx.chunks_exact_mut(example));
        for ((xe, dye), dxe) in examples {
            for g in 0..groups {
                let (mean, inv_std) = stats(xe, c, cg, g, eps);
                let range = g * cg..(g + 1) * cg;
                let gamma = &gamma[range.clone()];
                let mut acc = [[0f64; LANES]; 2];
                for (xr, dyr) in xe.chunks_exact(c).zip(dye.chunks_exact(c)) {
                    let (xs, dys) = (&xr[range.clone()], &dyr[range.clone()]);
                    add_lanes(cg, &mut acc, |i| {
                        let d = dys[i] * gamma[i];
                        (f64::from(d), f64::from(d * ((xs[i] - mean) * inv_std)))
                    });
                }
                let count = (hw * cg) as f64;
                let mean_d = (acc[0].iter().sum::<f64>() / count) as f32;
                let mean_dx = (acc[1].iter().sum::<f64>() / count) as f32;
                for ((xr, dyr), dxr) in xe
                    .chunks_exact(c)
                    .zip(dye.chunks_exact(c))
                    .zip(dxe.chunks_exact_mut(c))
                {
                    let (xs, dys) = (&xr[range.clone()], &dyr[range.clone()]);
                    let out = dxr[range.clone()].iter_mut().zip(xs).zip(dys).zip(gamma);
                    for (((o, &v), &d), &gm) in out {
                        let xhat = (v - mean) * inv_std;
                        *o = inv_std * (d * gm - mean_d - xhat * mean_dx);
                    }
                }
            }
        }
    });
    Ok(())
}
