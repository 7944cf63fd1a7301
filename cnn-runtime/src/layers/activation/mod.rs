//! Element-wise activations and the row-wise softmax. Most backward
//! passes take the derivative from the activation's *output* (ReLU:
//! `y > 0`, leaky ReLU: `y > 0 ? 1 : alpha`, ReLU6: `0 < y < 6`,
//! hardsigmoid: `0 < y < 1 ? 1/6 : 0`, tanh: `1 - y^2`, sigmoid:
//! `y (1 - y)`), so a layer only has to keep its output, which the next
//! layer reads anyway. SiLU, GELU and hardswish are not one-to-one, so
//! their output does not give the derivative: `Act::needs_input` says so,
//! and their backward ([`backward_from_input`]) reads the activation's
//! input instead, which the planner keeps for them. The activation kind is
//! matched once per call, outside the loop, so each loop is a plain
//! vectorisable pass over the slice.
//!
//! This file also holds the small helpers every layer kernel here uses to
//! split its output across the thread pool (`par_rows`, `par_rows2`,
//! `Disjoint`); work below `PAR_MIN_WORK` stays on the calling thread,
//! so batch-1 inference never wakes a worker.

use crate::error::{check_len, Error, Result};
use crate::geom::Act;
use crate::parallel::{self, Disjoint};

mod erf;
#[cfg(any(test, feature = "testing"))]
pub mod reference;
#[cfg(test)]
mod tests;

pub use erf::erf;

/// `act(v)` for one value; what the kernels' epilogues apply.
#[inline(always)]
pub fn apply(act: Act, v: f32) -> f32 {
    match act {
        Act::Identity => v,
        Act::Relu => relu(v),
        Act::LeakyRelu(alpha) => leaky(alpha, v),
        Act::Tanh => v.tanh(),
        Act::Sigmoid => sigmoid(v),
        Act::Relu6 => relu6(v),
        Act::Silu => v * sigmoid(v),
        Act::Hardswish => hardswish(v),
        Act::Hardsigmoid => hardsigmoid(v),
        Act::Gelu => gelu(v),
        Act::GeluTanh => gelu_tanh(v),
    }
}

/// `act'(x)` written through the output `y = act(x)`. For leaky ReLU this
/// assumes `alpha >= 0`, so that the sign of `y` is the sign of `x`. The
/// output does not determine the derivative of an activation that
/// [`Act::needs_input`]: those give NaN here (use [`derivative`]).
#[inline(always)]
pub fn derivative_from_output(act: Act, y: f32) -> f32 {
    match act {
        Act::Identity => 1.0,
        Act::Relu => {
            if y > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Act::LeakyRelu(alpha) => {
            if y > 0.0 {
                1.0
            } else {
                alpha
            }
        }
        Act::Tanh => 1.0 - y * y,
        Act::Sigmoid => y * (1.0 - y),
        Act::Relu6 => relu6_slope(y),
        Act::Hardsigmoid => hardsigmoid_slope(y),
        Act::Silu | Act::Hardswish | Act::Gelu | Act::GeluTanh => f32::NAN,
    }
}

/// `act'(x)` from the input `x`, for every activation. At a kink it takes
/// PyTorch's side (ReLU6, hardsigmoid and hardswish: the outer piece's
/// slope); for the others it equals [`derivative_from_output`] of
/// `apply(act, x)` exactly.
#[inline(always)]
pub fn derivative(act: Act, x: f32) -> f32 {
    match act {
        Act::Identity
        | Act::Relu
        | Act::LeakyRelu(_)
        | Act::Tanh
        | Act::Sigmoid
        | Act::Relu6
        | Act::Hardsigmoid => derivative_from_output(act, apply(act, x)),
        Act::Silu => {
            let s = sigmoid(x);
            s + x * s * (1.0 - s)
        }
        Act::Hardswish => hardswish_slope(x),
        Act::Gelu => gelu_slope(x),
        Act::GeluTanh => gelu_tanh_slope(x),
    }
}

// `v < 0 ? 0 : v` rather than `v.max(0)`: a NaN stays NaN, so a diverging
// network shows up in the loss instead of being masked here.
#[inline(always)]
fn relu(v: f32) -> f32 {
    if v < 0.0 {
        0.0
    } else {
        v
    }
}

#[inline(always)]
fn leaky(alpha: f32, v: f32) -> f32 {
    if v < 0.0 {
        alpha * v
    } else {
        v
    }
}

/// `min(max(v, 0), 6)`; `clamp` keeps a NaN, as [`relu`] does.
#[inline(always)]
fn relu6(v: f32) -> f32 {
    v.clamp(0.0, 6.0)
}

/// 1 strictly inside (0, 6), where `y` is `x`; PyTorch's `hardtanh`
/// backward takes the same open interval.
#[inline(always)]
fn relu6_slope(y: f32) -> f32 {
    if y > 0.0 && y < 6.0 {
        1.0
    } else {
        0.0
    }
}

/// `relu6(v + 3) / 6`, PyTorch's hardsigmoid (Keras's older one had
/// slope 0.2).
#[inline(always)]
fn hardsigmoid(v: f32) -> f32 {
    relu6(v + 3.0) / 6.0
}

/// 1/6 where `0 < y < 1`, that is `-3 < x < 3`.
#[inline(always)]
fn hardsigmoid_slope(y: f32) -> f32 {
    if y > 0.0 && y < 1.0 {
        1.0 / 6.0
    } else {
        0.0
    }
}

/// `v * relu6(v + 3) / 6` (Howard et al., 2019, MobileNetV3), in
/// PyTorch's order of operations.
#[inline(always)]
fn hardswish(v: f32) -> f32 {
    v * relu6(v + 3.0) / 6.0
}

/// PyTorch's `hardswish_backward`: 0 up to -3, `x / 3 + 1/2` between,
/// 1 from 3 on.
#[inline(always)]
fn hardswish_slope(x: f32) -> f32 {
    if x <= -3.0 {
        0.0
    } else if x < 3.0 {
        x / 3.0 + 0.5
    } else {
        1.0
    }
}

/// `x * Phi(x)`, the exact GELU (Hendrycks and Gimpel, 2016), in `f64`
/// inside so that the negative tail keeps its digits.
#[inline(always)]
fn gelu(v: f32) -> f32 {
    let x = v as f64;
    (x * erf::phi64(x)) as f32
}

/// `Phi(x) + x * phi(x)`, `phi` the normal density.
#[inline(always)]
fn gelu_slope(v: f32) -> f32 {
    let x = v as f64;
    // 1 / sqrt(2 pi)
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    let density = (-0.5 * x * x).exp() * INV_SQRT_2PI;
    (erf::phi64(x) + x * density) as f32
}

/// `sqrt(2 / pi)` and the cubic's factor of the tanh GELU.
const GELU_K: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// `x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))`, PyTorch's
/// `approximate='tanh'`.
#[inline(always)]
fn gelu_tanh(v: f32) -> f32 {
    let t = (GELU_K * (v + GELU_C * v * v * v)).tanh();
    0.5 * v * (1.0 + t)
}

/// The tanh GELU's derivative as PyTorch's `gelu_backward` writes it.
#[inline(always)]
fn gelu_tanh_slope(v: f32) -> f32 {
    let t = (GELU_K * (v + GELU_C * v * v * v)).tanh();
    let sech2 = 1.0 - t * t;
    // Far out the tanh is ±1 and `v^2` may be infinite: the term is 0.
    let far = if sech2 == 0.0 {
        0.0
    } else {
        0.5 * v * sech2 * GELU_K * (1.0 + 3.0 * GELU_C * v * v)
    };
    0.5 * (1.0 + t) + far
}

/// Stable for any `|x|`: with `e = exp(-|x|) <= 1` nothing overflows, and
/// for `x < 0` the result `e / (1 + e)` keeps its relative precision where
/// `1 - 1 / (1 + e)` would round to 0.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    let e = (-x.abs()).exp();
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 {
        r
    } else {
        e * r
    }
}

/// Relative cost of one element, in units of a ReLU, for deciding whether
/// a call is worth spreading over threads (`exp` and `tanh` are libm calls;
/// the exact GELU adds a Chebyshev series in `f64`).
fn cost(act: Act) -> usize {
    match act {
        Act::Identity
        | Act::Relu
        | Act::LeakyRelu(_)
        | Act::Relu6
        | Act::Hardswish
        | Act::Hardsigmoid => 1,
        Act::Tanh | Act::Sigmoid | Act::Silu | Act::GeluTanh => 16,
        Act::Gelu => 32,
    }
}

/// `y = act(x)` element by element, single-threaded.
fn map(act: Act, x: &[f32], y: &mut [f32]) {
    match act {
        Act::Identity => y.copy_from_slice(x),
        Act::Relu => y.iter_mut().zip(x).for_each(|(o, &v)| *o = relu(v)),
        Act::LeakyRelu(alpha) => y.iter_mut().zip(x).for_each(|(o, &v)| *o = leaky(alpha, v)),
        Act::Tanh => y.iter_mut().zip(x).for_each(|(o, &v)| *o = v.tanh()),
        Act::Sigmoid => y.iter_mut().zip(x).for_each(|(o, &v)| *o = sigmoid(v)),
        Act::Relu6 => y.iter_mut().zip(x).for_each(|(o, &v)| *o = relu6(v)),
        Act::Silu => y.iter_mut().zip(x).for_each(|(o, &v)| *o = v * sigmoid(v)),
        Act::Hardswish => y.iter_mut().zip(x).for_each(|(o, &v)| *o = hardswish(v)),
        Act::Hardsigmoid => y.iter_mut().zip(x).for_each(|(o, &v)| *o = hardsigmoid(v)),
        Act::Gelu => y.iter_mut().zip(x).for_each(|(o, &v)| *o = gelu(v)),
        Act::GeluTanh => y.iter_mut().zip(x).for_each(|(o, &v)| *o = gelu_tanh(v)),
    }
}

/// `y = act(y)` in place, single-threaded (for epilogues that already
/// run inside a task).
pub(crate) fn map_inplace(act: Act, y: &mut [f32]) {
    match act {
        Act::Identity => {}
        Act::Relu => y.iter_mut().for_each(|v| *v = relu(*v)),
        Act::LeakyRelu(alpha) => y.iter_mut().for_each(|v| *v = leaky(alpha, *v)),
        Act::Tanh => y.iter_mut().for_each(|v| *v = v.tanh()),
        Act::Sigmoid => y.iter_mut().for_each(|v| *v = sigmoid(*v)),
        Act::Relu6 => y.iter_mut().for_each(|v| *v = relu6(*v)),
        Act::Silu => y.iter_mut().for_each(|v| *v = *v * sigmoid(*v)),
        Act::Hardswish => y.iter_mut().for_each(|v| *v = hardswish(*v)),
        Act::Hardsigmoid => y.iter_mut().for_each(|v| *v = hardsigmoid(*v)),
        Act::Gelu => y.iter_mut().for_each(|v| *v = gelu(*v)),
        Act::GeluTanh => y.iter_mut().for_each(|v| *v = gelu_tanh(*v)),
    }
}

/// `dy *= act'(y)`, single-threaded; an activation that needs its input
/// never comes here.
fn scale_by_derivative(act: Act, y: &[f32], dy: &mut [f32]) {
    match act {
        Act::Identity => {}
        // Selects rather than conditional stores, so that the loops vectorise.
        Act::Relu => dy
            .iter_mut()
            .zip(y)
            .for_each(|(d, &v)| *d = if v > 0.0 { *d } else { 0.0 }),
        Act::LeakyRelu(alpha) => dy
            .iter_mut()
            .zip(y)
            .for_each(|(d, &v)| *d *= if v > 0.0 { 1.0 } else { alpha }),
        Act::Tanh => dy.iter_mut().zip(y).for_each(|(d, &v)| *d *= 1.0 - v * v),
        Act::Sigmoid => dy.iter_mut().zip(y).for_each(|(d, &v)| *d *= v * (1.0 - v)),
        Act::Relu6 => dy
            .iter_mut()
            .zip(y)
            .for_each(|(d, &v)| *d *= relu6_slope(v)),
        Act::Hardsigmoid => dy
            .iter_mut()
            .zip(y)
            .for_each(|(d, &v)| *d *= hardsigmoid_slope(v)),
        Act::Silu | Act::Hardswish | Act::Gelu | Act::GeluTanh => {
            unreachable!("backward_inplace refuses activations that need their input")
        }
    }
}

/// `dy *= act'(x)` from the input, single-threaded.
fn scale_by_derivative_at(act: Act, x: &[f32], dy: &mut [f32]) {
    match act {
        Act::Identity => {}
        Act::Hardswish => dy
            .iter_mut()
            .zip(x)
            .for_each(|(d, &v)| *d *= hardswish_slope(v)),
        Act::Gelu => dy.iter_mut().zip(x).for_each(|(d, &v)| *d *= gelu_slope(v)),
        Act::GeluTanh => dy
            .iter_mut()
            .zip(x)
            .for_each(|(d, &v)| *d *= gelu_tanh_slope(v)),
        _ => dy
            .iter_mut()
            .zip(x)
            .for_each(|(d, &v)| *d *= derivative(act, v)),
    }
}

/// `y = act(x)`. Overwrites y.
/// x, y: any shape, same length.
pub fn forward(act: Act, x: &[f32], y: &mut [f32]) -> Result<()> {
    check_len("activation y", y.len(), x.len())?;
    let work = x.len() * cost(act);
    par_rows(y, x.len(), work, |start, chunk| {
        map(act, &x[start..start + chunk.len()], chunk);
    });
    Ok(())
}

/// `y = act(y)` in place.
pub fn forward_inplace(act: Act, y: &mut [f32]) {
    if act == Act::Identity {
        return;
    }
    let work = y.len() * cost(act);
    let len = y.len();
    par_rows(y, len, work, |_, chunk| map_inplace(act, chunk));
}

/// `dy *= act'(x)`, with the derivative taken from the output `y = act(x)`.
/// y, dy: same length. An error for an activation that
/// [`Act::needs_input`] (see [`backward_from_input`]).
pub fn backward_inplace(act: Act, y: &[f32], dy: &mut [f32]) -> Result<()> {
    check_len("activation dy", dy.len(), y.len())?;
    if act.needs_input() {
        return Err(Error::InvalidArgument(format!(
            "activation backward: {act:?}'s output does not give its derivative; use backward_from_input"
        )));
    }
    if act == Act::Identity {
        return Ok(());
    }
    let work = y.len() * cost(act).min(2);
    par_rows(dy, y.len(), work, |start, chunk| {
        scale_by_derivative(act, &y[start..start + chunk.len()], chunk);
    });
    Ok(())
}

/// `dy *= act'(x)`, with the derivative taken from the input `x` (every
/// activation; the only way for those that [`Act::needs_input`]).
/// x, dy: same length.
pub fn backward_from_input(act: Act, x: &[f32], dy: &mut [f32]) -> Result<()> {
    check_len("activation dy", dy.len(), x.len())?;
    if act == Act::Identity {
        return Ok(());
    }
    let work = x.len() * cost(act);
    par_rows(dy, x.len(), work, |start, chunk| {
        scale_by_derivative_at(act, &x[start..start + chunk.len()], chunk);
    });
    Ok(())
}

/// Row-wise softmax, with the row maximum subtracted before `exp` so that
/// no logit overflows. Overwrites y.
/// x, y: [batch, classes]
pub fn softmax(batch: usize, classes: usize, x: &[f32], y: &mut [f32]) -> Result<()> {
    if classes == 0 {
        return Err(Error::InvalidArgument(
            "softmax: classes must be positive".into(),
        ));
    }
    let len = batch
        .checked_mul(classes)
        .ok_or_else(|| Error::InvalidArgument("softmax: batch * classes overflows".into()))?;
    check_len("softmax x", x.len(), len)?;
    check_len("softmax y", y.len(), len)?;
    par_rows(y, batch, len * cost(Act::Sigmoid), |r0, rows| {
        for (xr, yr) in x[r0 * classes..]
            .chunks_exact(classes)
            .zip(rows.chunks_exact_mut(classes))
        {
            softmax_row(xr, yr);
        }
    });
    Ok(())
}

/// One row of [`softmax`]; returns the row maximum and `sum exp(x - max)`
/// for the fused loss.
#[inline]
pub(crate) fn softmax_row(x: &[f32], y: &mut [f32]) -> (f32, f32) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0f32;
    for (o, &v) in y.iter_mut().zip(x) {
        let e = (v - max).exp();
        *o = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    y.iter_mut().for_each(|v| *v *= inv);
    (max, sum)
}

// ---------------------------------------------------------------------------
// Splitting a kernel's output across the thread pool.

/// Below this many element-operations a kernel runs on the calling thread:
/// waking a worker costs a few microseconds, which is what ~100k cheap
/// element operations take.
pub(crate) const PAR_MIN_WORK: usize = 1 << 17;

/// How many tasks to cut `rows` into for `work` element-operations.
fn n_tasks(rows: usize, work: usize) -> usize {
    let threads = parallel::threads();
    if work < PAR_MIN_WORK || threads <= 1 {
        1
    } else {
        // Two tasks per thread so that a thread slowed by another process
        // does not hold up the whole call.
        (2 * threads)
            .min(rows)
            .min(work / (PAR_MIN_WORK / 4))
            .max(1)
    }
}

/// Cuts `out` (`rows` equal rows) into blocks of whole rows and calls
/// `f(first_row, block)` for each, across the pool when `work` is at least
/// [`PAR_MIN_WORK`], else once on the calling thread with all of `out`.
pub(crate) fn par_rows<T: Send>(
    out: &mut [T],
    rows: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    if rows == 0 {
        return;
    }
    let tasks = n_tasks(rows, work);
    if tasks <= 1 {
        f(0, out);
        return;
    }
    let row_len = out.len() / rows;
    let per = rows.div_ceil(tasks);
    let out = Disjoint::new(out);
    parallel::for_each(tasks, &|t| {
        let r0 = t * per;
        let r1 = ((t + 1) * per).min(rows);
        if r0 < r1 {
            // SAFETY: task t alone takes rows r0..r1.
            let block = unsafe { out.range(r0 * row_len, r1 * row_len) };
            f(r0, block);
        }
    });
}

/// [`par_rows`] over two outputs cut at the same rows.
pub(crate) fn par_rows2<T: Send, U: Send>(
    a: &mut [T],
    b: &mut [U],
    rows: usize,
    work: usize,
    f: impl Fn(usize, &mut [T], &mut [U]) + Sync,
) {
    if rows == 0 {
        return;
    }
    let tasks = n_tasks(rows, work);
    if tasks <= 1 {
        f(0, a, b);
        return;
    }
    let (a_row, b_row) = (a.len() / rows, b.len() / rows);
    let per = rows.div_ceil(tasks);
    let (a, b) = (Disjoint::new(a), Disjoint::new(b));
    parallel::for_each(tasks, &|t| {
        let r0 = t * per;
        let r1 = ((t + 1) * per).min(rows);
        if r0 < r1 {
            // SAFETY: task t alone takes rows r0..r1 of both outputs.
            let (ab, bb) = unsafe {
                (
                    a.range(r0 * a_row, r1 * a_row),
                    b.range(r0 * b_row, r1 * b_row),
                )
            };
            f(r0, ab, bb);
        }
    });
}
