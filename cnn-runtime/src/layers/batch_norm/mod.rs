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
//! One function per pass: the fused activation is a field of the layer's
//! [`Settings`], and the data-parallel ranks of synchronised batch norm an
//! optional argument. The per-channel tensors travel in structs with a
//! type per role ([`Params`], [`Stats`], [`RunningStats`], ...; `args.rs`),
//! so that two of them swapped do not compile.
//!
//! With few channels a loop along one row is too short to vectorise, so
//! every pass walks the data in *groups* of whole rows, about 64 values,
//! against per-channel parameters repeated to the group's length: each
//! pass is one long element-wise loop. The statistics are summed in f32
//! lanes of a group for a few groups at a time, then in f64, around a
//! shift (the first row) so that `E[(x-k)^2] - E[x-k]^2` does not cancel.
//! Large inputs split the rows across threads, each summing its block into
//! its own f64 partials, added at the end.

use std::cell::RefCell;

use crate::dist::Collective;
use crate::error::{check_len, Error, Result};
use crate::geom::Act;
use crate::layers::activation::{
    apply, derivative, derivative_from_output, map_inplace, par_rows, PAR_MIN_WORK,
};
use crate::parallel::{self, Disjoint};
use crate::scratch::{self, Slot};

pub use args::{Folded, Grads, Params, RunningStats, Settings, Shape, Stats, TrainOut};
pub use frozen::backward_frozen;

mod args;
mod frozen;
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
    finish: impl FnOnce(&mut [f64]) -> R,
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

/// Values in a group: as many whole rows as fit in 64 values, or one row
/// when a row is longer than 32.
fn group_len(c: usize) -> usize {
    c * (64 / c).max(1)
}

/// Groups summed in f32 (16 values per lane) before their lanes are added
/// into the f64 sums.
const FLUSH_EVERY: usize = 16;

/// `rep[j] = v[j % c]`: a per-channel parameter repeated along a group.
fn repeat(v: &[f32], rep: &mut [f32]) {
    for chunk in rep.chunks_mut(v.len()) {
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// Repeats `rep[..c]` along the rest of `rep`.
fn extend_repeat(rep: &mut [f32], c: usize) {
    for j in c..rep.len() {
        rep[j] = rep[j - c];
    }
}

/// Adds f32 lanes into per-channel f64 sums and clears them.
fn flush(lanes: &mut [f32], sums: &mut [f64]) {
    for chunk in lanes.chunks_mut(sums.len()) {
        for (s, l) in sums.iter_mut().zip(chunk.iter_mut()) {
            *s += *l as f64;
            *l = 0.0;
        }
    }
}

/// Per-channel sums over rows `r0..r1` of `[m, c]` data, group by group:
/// `body(lanes_a, lanes_b, at)` adds the group of values starting at flat
/// offset `at` (length `lanes_a.len()`, shorter for the last) into the f32
/// lanes, which go into `sums[..c]` and `sums[c..]` every few groups.
fn grouped_sums(
    c: usize,
    gl: usize,
    r0: usize,
    r1: usize,
    sums: &mut [f64],
    body: impl Fn(&mut [f32], &mut [f32], usize),
) {
    let (s1, s2) = sums.split_at_mut(c);
    scratch::with(Slot::Partial, 2 * gl, |lanes| {
        let (l1, l2) = lanes.split_at_mut(gl);
        l1.fill(0.0);
        l2.fill(0.0);
        for (n, at) in (r0 * c..r1 * c).step_by(gl).enumerate() {
            let len = gl.min(r1 * c - at);
            body(&mut l1[..len], &mut l2[..len], at);
            if n % FLUSH_EVERY == FLUSH_EVERY - 1 {
                flush(l1, s1);
                flush(l2, s2);
            }
        }
        flush(l1, s1);
        flush(l2, s2);
    });
}

/// Batch normalisation in training mode, with the batch's own statistics
/// (biased variance), then `settings.act` in the same pass:
/// `y = act(gamma * (x - mean) * inv_std + beta)` (the batch norm + ReLU
/// of a ResNet block, without a second pass over the output;
/// `Act::Identity` for batch norm alone). Overwrites `out.y`, `out.mean`
/// and `out.inv_std`; moves `out.running_mean` and `out.running_var` by
/// `settings.momentum`.
/// x, out.y: `[m, c]`  params, out.mean, out.inv_std, out.running_mean, out.running_var: `[c]`
///
/// `sync` is for one rank's shard of a data-parallel batch. With it
/// (synchronised batch norm, PyTorch's `SyncBatchNorm`) the per-channel
/// sums and the row count are added over the ranks before the mean and
/// variance are taken, so every rank normalises with the statistics of
/// the whole batch, as one process would; the moving statistics move by
/// them too, the same on every rank. `None`: the shard's own statistics,
/// as one process on its whole batch.
///
/// The ranks' sums must share a shift to be added; each rank turns its
/// sums around its first row into sums around the moving mean (the same
/// on every rank, and near the batch mean once training has started), in
/// f64. One `sum_f64` of `2c + 1` values per call with `sync`.
pub fn forward_train(
    shape: Shape,
    x: &[f32],
    params: Params,
    settings: Settings,
    out: TrainOut,
    sync: Option<&mut dyn Collective>,
) -> Result<()> {
    let Shape { m, c } = shape;
    let Params { gamma, beta } = params;
    let Settings { eps, momentum, act } = settings;
    let TrainOut {
        y,
        mean: save_mean,
        inv_std: save_inv_std,
        running_mean,
        running_var,
    } = out;
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
    check_len("batch norm params.gamma", gamma.len(), c)?;
    check_len("batch norm params.beta", beta.len(), c)?;
    check_len("batch norm out.y", y.len(), len)?;
    check_len("batch norm out.mean", save_mean.len(), c)?;
    check_len("batch norm out.inv_std", save_inv_std.len(), c)?;
    check_len("batch norm out.running_mean", running_mean.len(), c)?;
    check_len("batch norm out.running_var", running_var.len(), c)?;

    let gl = group_len(c);
    let inv_m = 1.0 / m as f64;
    scratch::with(Slot::Aux, 4 * gl, |reps| {
        let (shift, rest) = reps.split_at_mut(gl);
        let (mean_rep, rest) = rest.split_at_mut(gl);
        let (scale_rep, beta_rep) = rest.split_at_mut(gl);
        // The first row is the shift.
        repeat(&x[..c], shift);
        let shift = &*shift;
        // With `sync`, one more total: the row count, added over the ranks.
        let extra = usize::from(sync.is_some());
        sum_rows(
            m,
            2 * c + extra,
            len,
            |r0, r1, acc| {
                grouped_sums(c, gl, r0, r1, &mut acc[..2 * c], |l1, l2, at| {
                    let xg = &x[at..at + l1.len()];
                    for (((a, b), &v), &k) in l1.iter_mut().zip(l2.iter_mut()).zip(xg).zip(shift) {
                        let d = v - k;
                        *a += d;
                        *b += d * d;
                    }
                })
            },
            |sums| {
                let (shift, inv_m) = match sync {
                    None => (shift, inv_m),
                    Some(ranks) => {
                        // The common shift: the moving mean as it was
                        // before this batch (mean_rep is free until below).
                        let base = &mut mean_rep[..c];
                        base.copy_from_slice(running_mean);
                        rebase_sums(sums, m, c, shift, base);
                        ranks.sum_f64(sums);
                        (&*base, 1.0 / sums[2 * c])
                    }
                };
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
        // y = (x - mean) * (gamma * inv_std) + beta: subtracting the mean
        // first keeps the digits that `x * scale + shift` would cancel.
        repeat(save_mean, mean_rep);
        for ((s, &g), &i) in scale_rep.iter_mut().zip(gamma).zip(&*save_inv_std) {
            *s = g * i;
        }
        extend_repeat(scale_rep, c);
        repeat(beta, beta_rep);
        let (mean_rep, scale_rep, beta_rep) = (&*mean_rep, &*scale_rep, &*beta_rep);
        par_rows(y, m, len, |r0, y| {
            for (yg, xg) in y.chunks_mut(gl).zip(x[r0 * c..].chunks(gl)) {
                let params = mean_rep.iter().zip(scale_rep).zip(beta_rep);
                for ((o, &v), ((&mu, &s), &b)) in yg.iter_mut().zip(xg).zip(params) {
                    *o = normalized(v, mu, s, b);
                }
                map_inplace(act, yg);
            }
        });
    });
    Ok(())
}

/// Turns `sums = [sum(x - k), sum((x - k)^2), _]` over `m` rows, with `k`
/// the per-channel `shift` (repeated along a group), into sums around
/// `base` (`[c]`), and puts `m` last: what the ranks of a synchronised batch
/// norm add up. With `d = k - base`: `sum(x - base) = s1 + m d` and
/// `sum((x - base)^2) = s2 + 2 d s1 + m d^2`.
fn rebase_sums(sums: &mut [f64], m: usize, c: usize, shift: &[f32], base: &[f32]) {
    let m = m as f64;
    for ch in 0..c {
        let d = shift[ch] as f64 - base[ch] as f64;
        let s1 = sums[ch];
        sums[ch] = s1 + m * d;
        sums[c + ch] += 2.0 * d * s1 + m * d * d;
    }
    sums[2 * c] = m;
}

/// The normalised value before the activation; backward recomputes it
/// from x with exactly these operations, so that the activation's
/// derivative matches the forward pass bit for bit.
#[inline(always)]
fn normalized(x: f32, mean: f32, scale: f32, beta: f32) -> f32 {
    (x - mean) * scale + beta
}

/// Per-channel scale and shift that turn batch normalisation with fixed
/// statistics into `y = x * scale + shift`:
/// `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`.
/// Overwrites `out.scale` and `out.shift`.
/// params, running, out: `[c]` each (c is gamma's length)
pub fn fold(params: Params, running: RunningStats, eps: f32, out: Folded) -> Result<()> {
    let Params { gamma, beta } = params;
    let c = gamma.len();
    rows_len("batch norm fold", 1, c)?;
    check_eps("batch norm fold", eps)?;
    check_len("batch norm fold params.beta", beta.len(), c)?;
    check_len("batch norm fold running.mean", running.mean.len(), c)?;
    check_len("batch norm fold running.var", running.var.len(), c)?;
    check_len("batch norm fold out.scale", out.scale.len(), c)?;
    check_len("batch norm fold out.shift", out.shift.len(), c)?;
    fold_unchecked(params, running, eps, out);
    Ok(())
}

fn fold_unchecked(params: Params, running: RunningStats, eps: f32, out: Folded) {
    let (Params { gamma, beta }, RunningStats { mean, var }) = (params, running);
    let Folded { scale, shift } = out;
    for ch in 0..gamma.len() {
        let s = (gamma[ch] as f64 / (var[ch] as f64 + eps as f64).sqrt()) as f32;
        scale[ch] = s;
        shift[ch] = beta[ch] - mean[ch] * s;
    }
}

/// Batch normalisation in inference mode, with the moving statistics,
/// then `settings.act` in the same pass: `y = act(x * scale + shift)` with
/// `(scale, shift)` from [`fold`]. Overwrites y; reads `settings.eps` and
/// `settings.act`.
/// x, y: `[m, c]`  params, running: `[c]`
pub fn forward_infer(
    shape: Shape,
    x: &[f32],
    params: Params,
    running: RunningStats,
    settings: Settings,
    y: &mut [f32],
) -> Result<()> {
    let Shape { m, c } = shape;
    let Settings { eps, act, .. } = settings;
    let len = rows_len("batch norm", m, c)?;
    check_eps("batch norm", eps)?;
    check_running(c, len, x, params, running)?;
    check_len("batch norm y", y.len(), len)?;
    let gl = group_len(c);
    scratch::with(Slot::Aux, 2 * gl, |buf| {
        let (scale, shift) = buf.split_at_mut(gl);
        let out = Folded {
            scale: &mut scale[..c],
            shift: &mut shift[..c],
        };
        fold_unchecked(params, running, eps, out);
        extend_repeat(scale, c);
        extend_repeat(shift, c);
        let (scale, shift) = (&*scale, &*shift);
        par_rows(y, m, len, |r0, y| {
            for (yg, xg) in y.chunks_mut(gl).zip(x[r0 * c..].chunks(gl)) {
                for (((o, &v), &s), &t) in yg.iter_mut().zip(xg).zip(scale).zip(shift) {
                    *o = v * s + t;
                }
                map_inplace(act, yg);
            }
        });
    });
    Ok(())
}

/// The length checks of x and the per-channel tensors of a pass on the
/// moving statistics ([`forward_infer`], [`backward_frozen`]).
fn check_running(
    c: usize,
    len: usize,
    x: &[f32],
    params: Params,
    running: RunningStats,
) -> Result<()> {
    check_len("batch norm x", x.len(), len)?;
    check_len("batch norm params.gamma", params.gamma.len(), c)?;
    check_len("batch norm params.beta", params.beta.len(), c)?;
    check_len("batch norm running.mean", running.mean.len(), c)?;
    check_len("batch norm running.var", running.var.len(), c)
}

/// Gradients of [`forward_train`], in the closed form (Ioffe and
/// Szegedy, 2015, with the sums gathered):
/// `dx = gamma * inv_std * (dz - mean(dz) - xhat * mean(dz * xhat))`,
/// `dgamma = sum(dz * xhat)`, `dbeta = sum(dz)`, with
/// `xhat = (x - mean) * inv_std` from the saved statistics and
/// `dz = dy * act'(z)` the gradient before `settings.act` (`dy` itself for
/// `Act::Identity`). The activation's derivative is taken from the
/// normalised value `z = gamma * (x - mean) * inv_std + beta` recomputed
/// from x (as in the forward pass, so `beta` is needed), which spares
/// reading the output: for ReLU, it is `z > 0`. Reads `settings.act`
/// alone. Overwrites `grads.dx`; adds into `grads.dgamma` and `grads.dbeta`.
/// x, grads.dy, grads.dx: `[m, c]`  params, stats, grads.dgamma, grads.dbeta: `[c]`
///
/// With `sync` (the ranks of [`forward_train`]'s), the two per-channel
/// sums that `dx` needs (`sum(dz)`, `sum(dz * xhat)`) and the row count are
/// added over the ranks first, since every row of the whole batch moved
/// the statistics; `dgamma` and `dbeta` get this rank's sums only, as the
/// gradient all-reduce adds the ranks' afterwards. `dy` must carry the
/// whole batch's scale on every rank (each rank's loss weighted by its
/// share of the batch). One `sum_f64` of `2c + 1` values per call with
/// `sync`; `None` is one process on its whole batch.
pub fn backward(
    shape: Shape,
    x: &[f32],
    params: Params,
    stats: Stats,
    settings: Settings,
    grads: Grads,
    sync: Option<&mut dyn Collective>,
) -> Result<()> {
    let Shape { m, c } = shape;
    let Params { gamma, beta } = params;
    let Stats {
        mean: save_mean,
        inv_std: save_inv_std,
    } = stats;
    let Grads {
        dy,
        dx,
        dgamma,
        dbeta,
    } = grads;
    let act = settings.act;
    let len = rows_len("batch norm", m, c)?;
    if m == 0 {
        return Err(Error::InvalidArgument(
            "batch norm: backward needs at least one row (m = 0)".into(),
        ));
    }
    check_len("batch norm x", x.len(), len)?;
    check_len("batch norm params.gamma", gamma.len(), c)?;
    check_len("batch norm params.beta", beta.len(), c)?;
    check_len("batch norm stats.mean", save_mean.len(), c)?;
    check_len("batch norm stats.inv_std", save_inv_std.len(), c)?;
    check_len("batch norm grads.dy", dy.len(), len)?;
    check_len("batch norm grads.dx", dx.len(), len)?;
    check_len("batch norm grads.dgamma", dgamma.len(), c)?;
    check_len("batch norm grads.dbeta", dbeta.len(), c)?;
    // The activation's derivative, chosen once per call so that each loop
    // is compiled for one activation: `grad(d, z)` is `d * act'(z)` at the
    // normalised value z (the derivative written through `act(z)`, as
    // `activation::backward_inplace` takes it).
    let p = Backward {
        m,
        c,
        x,
        gamma,
        beta,
        save_mean,
        save_inv_std,
        dy,
    };
    match act {
        Act::Identity => p.run::<false>(dx, dgamma, dbeta, sync, |d, _| d),
        Act::Relu => p.run::<true>(
            dx,
            dgamma,
            dbeta,
            sync,
            |d, z| if z > 0.0 { d } else { 0.0 },
        ),
        Act::LeakyRelu(alpha) => p.run::<true>(dx, dgamma, dbeta, sync, move |d, z| {
            d * derivative_from_output(Act::LeakyRelu(alpha), apply(Act::LeakyRelu(alpha), z))
        }),
        Act::Tanh => p.run::<true>(dx, dgamma, dbeta, sync, |d, z| {
            d * derivative_from_output(Act::Tanh, apply(Act::Tanh, z))
        }),
        Act::Sigmoid => p.run::<true>(dx, dgamma, dbeta, sync, |d, z| {
            d * derivative_from_output(Act::Sigmoid, apply(Act::Sigmoid, z))
        }),
        // The others from z itself: SiLU, GELU and hardswish need it, and
        // z is what this pass has (batch norm fuses every activation).
        a => p.run::<true>(dx, dgamma, dbeta, sync, move |d, z| d * derivative(a, z)),
    }
    Ok(())
}

/// The checked arguments of [`backward`].
struct Backward<'a> {
    m: usize,
    c: usize,
    x: &'a [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    save_mean: &'a [f32],
    save_inv_std: &'a [f32],
    dy: &'a [f32],
}

impl Backward<'_> {
    /// The two passes, with `grad(dy, z)` the gradient before the
    /// activation (`FUSED`: z, the normalised value, is computed).
    fn run<const FUSED: bool>(
        &self,
        dx: &mut [f32],
        dgamma: &mut [f32],
        dbeta: &mut [f32],
        sync: Option<&mut dyn Collective>,
        grad: impl Fn(f32, f32) -> f32 + Sync,
    ) {
        let Backward {
            m,
            c,
            x,
            gamma,
            beta,
            save_mean,
            save_inv_std,
            dy,
        } = *self;
        let len = m * c;
        let gl = group_len(c);
        let inv_m = 1.0 / m as f64;
        // Repeated per channel: mean, inv_std, then a = gamma * inv_std,
        // mean(dy), k = inv_std * mean(dy * xhat), so that
        // dx = a * (dy - mean(dy) - (x - mean) * k); with an activation,
        // scale = gamma * inv_std and beta rebuild the normalised value.
        scratch::with(Slot::Aux, 7 * gl, |buf| {
            let (mean, rest) = buf.split_at_mut(gl);
            let (inv_std, rest) = rest.split_at_mut(gl);
            let (a, rest) = rest.split_at_mut(gl);
            let (mdy, rest) = rest.split_at_mut(gl);
            let (k, rest) = rest.split_at_mut(gl);
            let (scale, beta_rep) = rest.split_at_mut(gl);
            repeat(save_mean, mean);
            repeat(save_inv_std, inv_std);
            for ((s, &g), &i) in scale.iter_mut().zip(gamma).zip(save_inv_std) {
                *s = g * i;
            }
            extend_repeat(scale, c);
            repeat(beta, beta_rep);
            let (mean, inv_std, scale, beta_rep) = (&*mean, &*inv_std, &*scale, &*beta_rep);
            // dy times the activation's derivative at the recomputed value.
            let grad = |d: f32, v: f32, mu: f32, s: f32, b: f32| -> f32 {
                if FUSED {
                    grad(d, normalized(v, mu, s, b))
                } else {
                    d
                }
            };
            let extra = usize::from(sync.is_some());
            sum_rows(
                m,
                2 * c + extra,
                len,
                |r0, r1, acc| {
                    grouped_sums(c, gl, r0, r1, &mut acc[..2 * c], |l1, l2, at| {
                        let (dg, xg) = (&dy[at..at + l1.len()], &x[at..at + l1.len()]);
                        let params = mean.iter().zip(inv_std).zip(scale.iter().zip(beta_rep));
                        for (((a, b), (&d, &v)), ((&mu, &is), (&s, &bt))) in l1
                            .iter_mut()
                            .zip(l2.iter_mut())
                            .zip(dg.iter().zip(xg))
                            .zip(params)
                        {
                            let d = grad(d, v, mu, s, bt);
                            *a += d;
                            *b += d * (v - mu) * is;
                        }
                    })
                },
                |sums| {
                    let inv_m = match sync {
                        None => inv_m,
                        Some(ranks) => {
                            // This rank's parameter gradients, then the
                            // whole batch's sums for dx.
                            for ch in 0..c {
                                dgamma[ch] += sums[c + ch] as f32;
                                dbeta[ch] += sums[ch] as f32;
                            }
                            sums[2 * c] = m as f64;
                            ranks.sum_f64(sums);
                            1.0 / sums[2 * c]
                        }
                    };
                    let local = extra == 0;
                    let (sdy, sdyx) = sums.split_at(c);
                    for ch in 0..c {
                        a[ch] = gamma[ch] * save_inv_std[ch];
                        mdy[ch] = (sdy[ch] * inv_m) as f32;
                        k[ch] = (save_inv_std[ch] as f64 * sdyx[ch] * inv_m) as f32;
                        if local {
                            dgamma[ch] += sdyx[ch] as f32;
                            dbeta[ch] += sdy[ch] as f32;
                        }
                    }
                },
            );
            extend_repeat(a, c);
            extend_repeat(mdy, c);
            extend_repeat(k, c);
            let (a, mdy, k) = (&*a, &*mdy, &*k);
            par_rows(dx, m, len, |r0, dx| {
                let groups = dx
                    .chunks_mut(gl)
                    .zip(x[r0 * c..].chunks(gl))
                    .zip(dy[r0 * c..].chunks(gl));
                for ((og, xg), dg) in groups {
                    let params = a.iter().zip(mdy).zip(k).zip(mean);
                    let act = scale.iter().zip(beta_rep);
                    for ((((o, &v), &d), (((&a, &mdy), &k), &mu)), (&s, &bt)) in
                        og.iter_mut().zip(xg).zip(dg).zip(params).zip(act)
                    {
                        let d = grad(d, v, mu, s, bt);
                        *o = a * (d - mdy - (v - mu) * k);
                    }
                }
            });
        });
    }
}
