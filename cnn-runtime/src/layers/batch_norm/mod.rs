//! Batch normalisation over the channels of `[m, c]` data (NHWC with
//! `m = batch * h * w` rows, or `[batch, c]` after a dense layer).
//!
//! Training normalises with the batch's own statistics (biased variance,
//! as Keras and the original paper do), keeps the mean and `1 / sqrt(var +
//! eps)` for the backward pass, and moves the running statistics Keras's
//! way: `running = momentum * running + (1 - momentum) * batch`. Inference
//! uses the running statistics folded into one scale and shift per channel,
//! which is also what a convolution's epilogue takes ([`fold`]).
//!
//! The statistics are sums over rows, kept in f64 and taken around a shift
//! (the first row) so that `E[(x-k)^2] - E[x-k]^2` does not cancel. Large
//! inputs split the rows across threads, each summing its block into its
//! own f64 partials, added at the end; every other pass is element-wise.

use std::cell::RefCell;

use crate::error::{check_len, Error, Result};
use crate::layers::activation::{par_rows, Disjoint, PAR_MIN_WORK};
use crate::parallel;
use crate::scratch::{self, Slot};

#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;

/// Checks m and c; returns `m * c`.
fn rows_len(what: &str, m: usize, c: usize) -> Result<usize> {
    if c == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what}: channels must be positive (c = 0)"
        )));
    }
    m.checked_mul(c).ok_or_else(|| {
        Error::InvalidArgument(format!("{what}: m * c overflows (m = {m}, c = {c})"))
    })
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

// Each thread's f64 partial sums, grown once and kept (the f32 buffers of
// `scratch` cannot hold them).
thread_local! {
    static PARTIALS: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Sums `per_rows(r0, r1, acc)` over blocks of the `m` rows into `len`
/// totals (`acc` has length `len` and starts at zero for each block), one
/// block per thread when `work` is large, and returns `finish(totals)`.
fn sum_rows<R>(
    m: usize,
    len: usize,
    work: usize,
    per_rows: impl Fn(usize, usize, &mut [f64]) + Sync,
    finish: impl FnOnce(&[f64]) -> R,
) -> R {
    let threads = parallel::threads();
    let n = if work < PAR_MIN_WORK || threads <= 1 {
        1
    } else {
        threads.min(m).max(1)
    };
    // Totals first, then one block of partials per task when threaded.
    let parts = if n > 1 { n } else { 0 };
    let mut buf = PARTIALS.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if buf.len() < (1 + parts) * len {
        buf.resize((1 + parts) * len, 0.0);
    }
    let (totals, partials) = buf[..(1 + parts) * len].split_at_mut(len);
    totals.fill(0.0);
    if n == 1 {
        per_rows(0, m, totals);
    } else {
        let shared = Disjoint::new(partials);
        parallel::for_each(n, &|t| {
            // SAFETY: task t alone takes partials t*len..(t+1)*len.
            let acc = unsafe { shared.range(t * len, (t + 1) * len) };
            acc.fill(0.0);
            per_rows(t * m / n, (t + 1) * m / n, acc);
        });
        for part in partials.chunks_exact(len) {
            totals.iter_mut().zip(part).for_each(|(o, &p)| *o += p);
        }
    }
    let out = finish(totals);
    PARTIALS.with(|p| {
        let mut p = p.borrow_mut();
        if p.capacity() < buf.capacity() {
            *p = buf;
        }
    });
    out
}

/// Per-channel `[sum(x - k), sum((x - k)^2)]` of rows `r0..r1`, `k` the shift.
fn shifted_moments(x: &[f32], c: usize, shift: &[f32], r0: usize, r1: usize, acc: &mut [f64]) {
    let (s1, s2) = acc.split_at_mut(c);
    for row in x[r0 * c..r1 * c].chunks_exact(c) {
        for (((a, b), &v), &k) in s1.iter_mut().zip(s2.iter_mut()).zip(row).zip(shift) {
            let d = (v - k) as f64;
            *a += d;
            *b += d * d;
        }
    }
}

/// Batch normalisation in training mode. Overwrites y, save_mean and
/// save_inv_std; updates running_mean and running_var in place.
/// x, y: [m, c]  gamma, beta, save_mean, save_inv_std, running_mean, running_var: [c]
pub fn forward_train(
    m: usize,
    c: usize,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    momentum: f32,
    y: &mut [f32],
    save_mean: &mut [f32],
    save_inv_std: &mut [f32],
    running_mean: &mut [f32],
    running_var: &mut [f32],
) -> Result<()> {
    let len = rows_len("batch norm", m, c)?;
    if m == 0 {
        return Err(Error::InvalidArgument(
            "batch norm: training needs at least one row to take statistics over (m = 0)".into(),
        ));
    }
    check_eps("batch norm", eps)?;
    if !(0.0..=1.0).contains(&momentum) {
        return Err(Error::InvalidArgument(format!(
            "batch norm: momentum must be in [0, 1], got {momentum}"
        )));
    }
    check_len("batch norm x", x.len(), len)?;
    check_len("batch norm gamma", gamma.len(), c)?;
    check_len("batch norm beta", beta.len(), c)?;
    check_len("batch norm y", y.len(), len)?;
    check_len("batch norm save_mean", save_mean.len(), c)?;
    check_len("batch norm save_inv_std", save_inv_std.len(), c)?;
    check_len("batch norm running_mean", running_mean.len(), c)?;
    check_len("batch norm running_var", running_var.len(), c)?;

    // The first row is the shift; it needs no copy as it is never written.
    let shift = &x[..c];
    let inv_m = 1.0 / m as f64;
    sum_rows(
        m,
        2 * c,
        len,
        |r0, r1, acc| shifted_moments(x, c, shift, r0, r1, acc),
        |sums| {
            let (s1, s2) = sums.split_at(c);
            for ch in 0..c {
                let d = s1[ch] * inv_m;
                let var = (s2[ch] * inv_m - d * d).max(0.0);
                let mean = shift[ch] as f64 + d;
                save_mean[ch] = mean as f32;
                save_inv_std[ch] = (1.0 / (var + eps as f64).sqrt()) as f32;
                running_mean[ch] = momentum * running_mean[ch] + (1.0 - momentum) * mean as f32;
                running_var[ch] = momentum * running_var[ch] + (1.0 - momentum) * var as f32;
            }
        },
    );
    // y = (x - mean) * (gamma * inv_std) + beta: subtracting the mean first
    // keeps the digits that `x * scale + shift` would cancel.
    scratch::with(Slot::Aux, c, |scale| {
        scale
            .iter_mut()
            .zip(gamma)
            .zip(&*save_inv_std)
            .for_each(|((s, &g), &i)| *s = g * i);
        let (scale, mean) = (&*scale, &*save_mean);
        par_rows(y, m, len, |r0, y| {
            for (yr, xr) in y.chunks_exact_mut(c).zip(x[r0 * c..].chunks_exact(c)) {
                for ((((o, &v), &mu), &s), &b) in
                    yr.iter_mut().zip(xr).zip(mean).zip(scale).zip(beta)
                {
                    *o = (v - mu) * s + b;
                }
            }
        });
    });
    Ok(())
}

/// Per-channel scale and shift that turn batch normalisation with fixed
/// statistics into `y = x * scale + shift`:
/// `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`.
/// Overwrites scale and shift. All slices: [c].
pub fn fold(
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
    scale: &mut [f32],
    shift: &mut [f32],
) -> Result<()> {
    let c = gamma.len();
    rows_len("batch norm fold", 1, c)?;
    check_eps("batch norm fold", eps)?;
    check_len("batch norm fold beta", beta.len(), c)?;
    check_len("batch norm fold mean", mean.len(), c)?;
    check_len("batch norm fold var", var.len(), c)?;
    check_len("batch norm fold scale", scale.len(), c)?;
    check_len("batch norm fold shift", shift.len(), c)?;
    fold_unchecked(gamma, beta, mean, var, eps, scale, shift);
    Ok(())
}

fn fold_unchecked(
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
    scale: &mut [f32],
    shift: &mut [f32],
) {
    for ch in 0..gamma.len() {
        let s = (gamma[ch] as f64 / (var[ch] as f64 + eps as f64).sqrt()) as f32;
        scale[ch] = s;
        shift[ch] = beta[ch] - mean[ch] * s;
    }
}

/// Batch normalisation in inference mode, with the running statistics:
/// `y = x * scale + shift` with `(scale, shift)` from [`fold`]. Overwrites y.
/// x, y: [m, c]  gamma, beta, running_mean, running_var: [c]
pub fn forward_infer(
    m: usize,
    c: usize,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    running_mean: &[f32],
    running_var: &[f32],
    eps: f32,
    y: &mut [f32],
) -> Result<()> {
    let len = rows_len("batch norm", m, c)?;
    check_eps("batch norm", eps)?;
    check_len("batch norm x", x.len(), len)?;
    check_len("batch norm gamma", gamma.len(), c)?;
    check_len("batch norm beta", beta.len(), c)?;
    check_len("batch norm running_mean", running_mean.len(), c)?;
    check_len("batch norm running_var", running_var.len(), c)?;
    check_len("batch norm y", y.len(), len)?;
    scratch::with(Slot::Aux, 2 * c, |buf| {
        let (scale, shift) = buf.split_at_mut(c);
        fold_unchecked(gamma, beta, running_mean, running_var, eps, scale, shift);
        let (scale, shift) = (&*scale, &*shift);
        par_rows(y, m, len, |r0, y| {
            for (yr, xr) in y.chunks_exact_mut(c).zip(x[r0 * c..].chunks_exact(c)) {
                for (((o, &v), &s), &t) in yr.iter_mut().zip(xr).zip(scale).zip(shift) {
                    *o = v * s + t;
                }
            }
        });
    });
    Ok(())
}

/// Gradients of training-mode batch normalisation, in the closed form
/// (Ioffe and Szegedy, 2015, with the sums gathered):
/// `dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat))`,
/// `dgamma = sum(dy * xhat)`, `dbeta = sum(dy)`, with
/// `xhat = (x - mean) * inv_std` from the saved statistics.
/// Overwrites dx; adds into dgamma and dbeta.
/// x, dy, dx: [m, c]  gamma, save_mean, save_inv_std, dgamma, dbeta: [c]
pub fn backward(
    m: usize,
    c: usize,
    x: &[f32],
    gamma: &[f32],
    save_mean: &[f32],
    save_inv_std: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) -> Result<()> {
    let len = rows_len("batch norm", m, c)?;
    if m == 0 {
        return Err(Error::InvalidArgument(
            "batch norm: backward needs at least one row (m = 0)".into(),
        ));
    }
    check_len("batch norm x", x.len(), len)?;
    check_len("batch norm gamma", gamma.len(), c)?;
    check_len("batch norm save_mean", save_mean.len(), c)?;
    check_len("batch norm save_inv_std", save_inv_std.len(), c)?;
    check_len("batch norm dy", dy.len(), len)?;
    check_len("batch norm dx", dx.len(), len)?;
    check_len("batch norm dgamma", dgamma.len(), c)?;
    check_len("batch norm dbeta", dbeta.len(), c)?;
    let inv_m = 1.0 / m as f64;
    // Per channel: a = gamma * inv_std, mean(dy), and inv_std * mean(dy * xhat),
    // so that dx = a * (dy - mean(dy) - (x - mean) * k).
    scratch::with(Slot::Aux, 3 * c, |buf| {
        let (a, rest) = buf.split_at_mut(c);
        let (mdy, k) = rest.split_at_mut(c);
        sum_rows(
            m,
            2 * c,
            len,
            |r0, r1, acc| {
                let (sdy, sdyx) = acc.split_at_mut(c);
                let rows = x[r0 * c..r1 * c]
                    .chunks_exact(c)
                    .zip(dy[r0 * c..r1 * c].chunks_exact(c));
                for (xr, dr) in rows {
                    let it = sdy
                        .iter_mut()
                        .zip(sdyx.iter_mut())
                        .zip(xr)
                        .zip(dr)
                        .zip(save_mean)
                        .zip(save_inv_std);
                    for (((((s, t), &v), &d), &mu), &is) in it {
                        *s += d as f64;
                        *t += (d * (v - mu) * is) as f64;
                    }
                }
            },
            |sums| {
                let (sdy, sdyx) = sums.split_at(c);
                for ch in 0..c {
                    a[ch] = gamma[ch] * save_inv_std[ch];
                    mdy[ch] = (sdy[ch] * inv_m) as f32;
                    k[ch] = (save_inv_std[ch] as f64 * sdyx[ch] * inv_m) as f32;
                    dgamma[ch] += sdyx[ch] as f32;
                    dbeta[ch] += sdy[ch] as f32;
                }
            },
        );
        let (a, mdy, k) = (&*a, &*mdy, &*k);
        par_rows(dx, m, len, |r0, dx| {
            let rows = dx
                .chunks_exact_mut(c)
                .zip(x[r0 * c..].chunks_exact(c))
                .zip(dy[r0 * c..].chunks_exact(c));
            for ((o, xr), dr) in rows {
                for ch in 0..c {
                    o[ch] = a[ch] * (dr[ch] - mdy[ch] - (xr[ch] - save_mean[ch]) * k[ch]);
                }
            }
        });
    });
    Ok(())
}
