//! Element-wise activations and the row-wise softmax. The backward pass
//! takes the derivative from the activation's *output* (ReLU: `y > 0`,
//! leaky ReLU: `y > 0 ? 1 : alpha`, tanh: `1 - y^2`, sigmoid: `y (1 - y)`),
//! so a layer only has to keep its output, which the next layer reads
//! anyway. The activation kind is matched once per call, outside the loop,
//! so each loop is a plain vectorisable pass over the slice.
//!
//! This file also holds the small helpers every layer kernel here uses to
//! split its output across the thread pool (`par_rows`, `par_rows2`,
//! `Disjoint`); work below `PAR_MIN_WORK` stays on the calling thread,
//! so batch-1 inference never wakes a worker.

use std::marker::PhantomData;

use crate::error::{check_len, Error, Result};
use crate::geom::Act;
use crate::parallel;

/// `act(v)` for one value; what the kernels' epilogues apply.
#[inline(always)]
pub fn apply(act: Act, v: f32) -> f32 {
    match act {
        Act::Identity => v,
        Act::Relu => relu(v),
        Act::LeakyRelu(alpha) => leaky(alpha, v),
        Act::Tanh => v.tanh(),
        Act::Sigmoid => sigmoid(v),
    }
}

/// `act'(x)` written through the output `y = act(x)`. For leaky ReLU this
/// assumes `alpha >= 0`, so that the sign of `y` is the sign of `x`.
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
/// a call is worth spreading over threads (`exp` and `tanh` are libm calls).
fn cost(act: Act) -> usize {
    match act {
        Act::Identity | Act::Relu | Act::LeakyRelu(_) => 1,
        Act::Tanh | Act::Sigmoid => 16,
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
    }
}

/// `dy *= act'(y)`, single-threaded.
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
/// y, dy: same length.
pub fn backward_inplace(act: Act, y: &[f32], dy: &mut [f32]) -> Result<()> {
    check_len("activation dy", dy.len(), y.len())?;
    if act == Act::Identity {
        return Ok(());
    }
    let work = y.len() * cost(act).min(2);
    par_rows(dy, y.len(), work, |start, chunk| {
        scale_by_derivative(act, &y[start..start + chunk.len()], chunk);
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

/// A mutable slice shared by the tasks of one `parallel::for_each` call,
/// each of which takes a range no other task takes.
pub(crate) struct Disjoint<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: a `Disjoint` only hands out ranges its callers promise are
// disjoint (see `range`), so sharing it is sharing `&mut` to separate parts
// of the slice, which is sound when `T: Send`.
unsafe impl<T: Send> Sync for Disjoint<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    pub(crate) fn new(s: &'a mut [T]) -> Self {
        Disjoint {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _borrow: PhantomData,
        }
    }

    /// `&mut slice[start..end]`.
    ///
    /// # Safety
    /// No two ranges in use at the same time may overlap.
    pub(crate) unsafe fn range(&self, start: usize, end: usize) -> &'a mut [T] {
        assert!(
            start <= end && end <= self.len,
            "disjoint range out of bounds"
        );
        // SAFETY: in bounds (checked above); exclusive by the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) }
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

/// Slow, obviously correct versions for tests (f64 inside).
#[cfg(any(test, feature = "testing"))]
pub mod reference {
    use crate::geom::Act;

    /// `act(x)` in f64, straight from the definition.
    pub fn apply(act: Act, x: f32) -> f32 {
        let x = x as f64;
        let y = match act {
            Act::Identity => x,
            Act::Relu => x.max(0.0),
            Act::LeakyRelu(alpha) => {
                if x > 0.0 {
                    x
                } else {
                    alpha as f64 * x
                }
            }
            Act::Tanh => x.tanh(),
            Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        };
        y as f32
    }

    /// `act'(x)` from the input, in f64.
    pub fn derivative(act: Act, x: f32) -> f32 {
        let x = x as f64;
        let d = match act {
            Act::Identity => 1.0,
            Act::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Act::LeakyRelu(alpha) => {
                if x > 0.0 {
                    1.0
                } else {
                    alpha as f64
                }
            }
            Act::Tanh => 1.0 - x.tanh().powi(2),
            Act::Sigmoid => {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 - s)
            }
        };
        d as f32
    }

    /// Row-wise softmax in f64.
    pub fn softmax(batch: usize, classes: usize, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; batch * classes];
        for b in 0..batch {
            let row = &x[b * classes..(b + 1) * classes];
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
            for (k, &v) in row.iter().enumerate() {
                y[b * classes + k] = ((v as f64 - max).exp() / sum) as f32;
            }
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

    const ACTS: [Act; 5] = [
        Act::Identity,
        Act::Relu,
        Act::LeakyRelu(0.1),
        Act::Tanh,
        Act::Sigmoid,
    ];

    /// Random values in ±[0.05, 3]: away from ReLU's kink at 0 by much more
    /// than the gradient-check step.
    fn off_zero(len: usize, seed: u64) -> Vec<f32> {
        random(len, seed)
            .into_iter()
            .map(|v| v.signum() * (0.05 + 2.95 * v.abs()))
            .collect()
    }

    #[test]
    fn forward_matches_reference() {
        parallel::set_threads(2);
        // 300_000 goes through the threaded path.
        for len in [1, 7, 1000, 300_000] {
            let x: Vec<f32> = random(len, len as u64).iter().map(|v| v * 8.0).collect();
            for act in ACTS {
                let mut y = nan_filled(len);
                forward(act, &x, &mut y).unwrap();
                let want: Vec<f32> = x.iter().map(|&v| reference::apply(act, v)).collect();
                assert_close(&y, &want, 1e-6, 1e-7);
                let mut z = x.clone();
                forward_inplace(act, &mut z);
                assert_eq!(z, y, "{act:?}: in place differs");
                for (i, &v) in x.iter().enumerate().step_by(97) {
                    assert_eq!(apply(act, v), y[i], "{act:?}: apply differs");
                }
            }
        }
    }

    #[test]
    fn backward_matches_reference_derivative() {
        let x = off_zero(300_000, 5);
        let dy0 = random(x.len(), 6);
        for act in ACTS {
            let mut y = nan_filled(x.len());
            forward(act, &x, &mut y).unwrap();
            let mut dy = dy0.clone();
            backward_inplace(act, &y, &mut dy).unwrap();
            let want: Vec<f32> = x
                .iter()
                .zip(&dy0)
                .map(|(&v, &d)| d * reference::derivative(act, v))
                .collect();
            assert_close(&dy, &want, 1e-4, 1e-6);
            for (i, &v) in y.iter().enumerate().step_by(101) {
                assert_eq!(dy[i], dy0[i] * derivative_from_output(act, v));
            }
        }
    }

    #[test]
    fn gradcheck_every_activation() {
        let mut x = off_zero(40, 7);
        let r = random(40, 8);
        for act in ACTS {
            let mut y = nan_filled(x.len());
            forward(act, &x, &mut y).unwrap();
            let mut dx = r.clone();
            backward_inplace(act, &y, &mut dx).unwrap();
            gradcheck(&mut x, &dx, 1e-3, 2e-3, None, |x| {
                let mut y = vec![0.0; x.len()];
                forward(act, x, &mut y).unwrap();
                dot(&y, &r)
            });
        }
    }

    #[test]
    fn sigmoid_is_stable_for_large_inputs() {
        let x = [
            -1e30,
            -1000.0,
            -100.0,
            -20.0,
            0.0,
            20.0,
            100.0,
            1000.0,
            f32::MAX,
        ];
        let mut y = nan_filled(x.len());
        forward(Act::Sigmoid, &x, &mut y).unwrap();
        assert!(
            y.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
            "{y:?}"
        );
        assert_eq!(y[0], 0.0);
        assert_eq!(y[8], 1.0);
        assert_eq!(y[4], 0.5);
        // sigmoid(-20) = 2.0611536e-9: the small tail keeps its digits.
        assert_close(&y[3..4], &[2.061_153_6e-9], 1e-5, 0.0);
        let mut t = nan_filled(2);
        forward(Act::Tanh, &[-1e4, 1e4], &mut t).unwrap();
        assert_eq!(t, [-1.0, 1.0]);
    }

    #[test]
    fn nan_propagates_through_relu() {
        let mut y = [f32::NAN, -1.0, 2.0];
        forward_inplace(Act::Relu, &mut y);
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[0.0, 2.0]);
    }

    #[test]
    fn softmax_matches_reference_and_is_stable() {
        for (batch, classes) in [(1, 1), (3, 10), (64, 10), (1000, 200)] {
            let x: Vec<f32> = random(batch * classes, 9)
                .iter()
                .map(|v| v * 10.0)
                .collect();
            let mut y = nan_filled(x.len());
            softmax(batch, classes, &x, &mut y).unwrap();
            assert_close(&y, &reference::softmax(batch, classes, &x), 1e-5, 1e-7);
            for row in y.chunks(classes) {
                let s: f32 = row.iter().sum();
                assert!((s - 1.0).abs() < 1e-5, "row sums to {s}");
            }
        }
        // Logits of magnitude 1e4 would overflow exp without the max shift.
        let x = [1e4, 1e4 - 1.0, -1e4, 3e4, 3e4, 0.0];
        let mut y = nan_filled(6);
        softmax(2, 3, &x, &mut y).unwrap();
        assert_close(&y, &reference::softmax(2, 3, &x), 1e-6, 1e-7);
        assert_close(&y[3..], &[0.5, 0.5, 0.0], 0.0, 1e-7);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let mut y = vec![0.0; 4];
        let err = forward(Act::Relu, &[1.0; 3], &mut y).unwrap_err();
        assert!(err.to_string().contains("activation y"), "{err}");
        let err = backward_inplace(Act::Tanh, &[0.0; 5], &mut y).unwrap_err();
        assert!(err.to_string().contains("activation dy"), "{err}");
        assert!(softmax(2, 3, &[0.0; 5], &mut [0.0; 6]).is_err());
        assert!(softmax(2, 3, &[0.0; 6], &mut [0.0; 5]).is_err());
        assert!(softmax(2, 0, &[], &mut []).is_err());
        assert!(softmax(usize::MAX, 2, &[], &mut []).is_err());
        // Empty tensors are fine: nothing to do.
        forward(Act::Sigmoid, &[], &mut []).unwrap();
        softmax(0, 3, &[], &mut []).unwrap();
    }
}
