//! Fully connected layers: `y = act(x w + b)` as one GEMM per call with the
//! bias and the activation applied to each output row while it is still in
//! cache. The backward pass is two more GEMMs on transposed views of the
//! same buffers (`dx = dy w^T`, `dw += x^T dy`; nothing is copied) and a
//! column sum for the bias. One or two rows (batch-1 inference) skip the
//! GEMM for plain matrix-vector loops, which do not pay for packing w.
//!
//! The GEMMs are [`tiled::gemm`] (allocation-free, from scratch memory) for
//! weights up to 1 MiB; above, the convolutions' blocked GEMM where its
//! micro-kernel runs (allocation-free too), matrixmultiply elsewhere.
//!
//! The GEMMs run on one thread, so a large call is cut into blocks of
//! rows, one per thread: batch rows for `y` and `dx`, input rows for `dw`.
//! The layers of small CNNs (LeNet-5: 400 -> 120 -> 84 -> 10) are often too
//! small for that to pay, and batch-1 inference never is: below
//! [`PAR_MIN_MACS`] everything stays on the calling thread.

use crate::error::{check_len, Error, Result};
use crate::gemm::{tiled, Mat};
use crate::geom::Act;
use crate::layers::activation::map_inplace;
use crate::layers::conv2d::gemm_product;
use crate::parallel;
use crate::parallel::Disjoint;
use crate::scratch::{self, Slot};

/// Multiply-adds below which a product runs on the calling thread: about
/// 20-50 microseconds of single-threaded GEMM, against a few for waking a
/// worker and each worker packing its own copy of the shared operand.
pub const PAR_MIN_MACS: usize = 1 << 19;

/// Up to this many rows, products run as plain vector loops over the rows
/// of w (w is read once, the few output rows stay in L1) instead of a GEMM
/// whose packing of w would cost more than the arithmetic: batch-1
/// inference is a matrix-vector product. Measured at LeNet-5's sizes on
/// one core, the loops are 2-4x faster than the GEMM at 1 row, about 1.5x
/// at 2 and no faster from 4 rows on.
pub const SMALL_BATCH: usize = 2;

/// `y += a * x`.
#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    y.iter_mut().zip(x).for_each(|(o, &v)| *o += a * v);
}

/// `sum(a * b)`, with eight running sums so that the loop vectorises
/// (one sum would have to be added to in order).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(p, q)| p * q)
        .sum();
    for (pa, pb) in ca.zip(cb) {
        for ((s, &p), &q) in acc.iter_mut().zip(pa).zip(pb) {
            *s += p * q;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `y = x w` for a few rows: each row of w is added, scaled, into every
/// output row. Overwrites y.
fn small_xw(rows: usize, n_in: usize, n_out: usize, x: &[f32], w: &[f32], y: &mut [f32]) {
    y.fill(0.0);
    for (i, wi) in w.chunks_exact(n_out).enumerate() {
        for (r, yr) in y.chunks_exact_mut(n_out).enumerate().take(rows) {
            axpy(x[r * n_in + i], wi, yr);
        }
    }
}

/// Checks the sizes; returns the lengths of x, w and y.
fn sizes(batch: usize, n_in: usize, n_out: usize) -> Result<[usize; 3]> {
    if n_in == 0 || n_out == 0 {
        return Err(Error::InvalidArgument(format!(
            "dense: n_in and n_out must be positive (n_in = {n_in}, n_out = {n_out})"
        )));
    }
    let overflow = || {
        Error::InvalidArgument(format!(
            "dense: sizes overflow (batch {batch}, {n_in} -> {n_out})"
        ))
    };
    let x = batch.checked_mul(n_in).ok_or_else(overflow)?;
    let w = n_in.checked_mul(n_out).ok_or_else(overflow)?;
    let y = batch.checked_mul(n_out).ok_or_else(overflow)?;
    // The MAC count is used to decide on threads; it must not wrap either.
    x.checked_mul(n_out).ok_or_else(overflow)?;
    Ok([x, w, y])
}

/// How many blocks to cut a product of `macs` multiply-adds into, along an
/// axis of `rows`.
fn blocks(rows: usize, macs: usize) -> usize {
    if macs < PAR_MIN_MACS {
        1
    } else {
        parallel::threads().min(rows).max(1)
    }
}

/// Rows `t * rows / n .. (t + 1) * rows / n`: `n` near-equal blocks.
fn block(t: usize, n: usize, rows: usize) -> (usize, usize) {
    (t * rows / n, (t + 1) * rows / n)
}

/// `y = act(x w + b)`. Overwrites y.
/// x: [batch, n_in]  w: [n_in, n_out]  b: `[n_out]`  y: [batch, n_out]
pub fn forward(
    batch: usize,
    n_in: usize,
    n_out: usize,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    act: Act,
    y: &mut [f32],
) -> Result<()> {
    let [x_len, w_len, y_len] = sizes(batch, n_in, n_out)?;
    check_len("dense x", x.len(), x_len)?;
    check_len("dense w", w.len(), w_len)?;
    if let Some(b) = b {
        check_len("dense b", b.len(), n_out)?;
    }
    check_len("dense y", y.len(), y_len)?;
    let rows_block = |r0: usize, y: &mut [f32]| {
        let rows = y.len() / n_out;
        let xb = &x[r0 * n_in..(r0 + rows) * n_in];
        if tiled::fits(n_in, n_out) && tiled::vectorised() {
            tiled::gemm(
                Mat::rows(xb, rows, n_in),
                Mat::rows(w, n_in, n_out),
                false,
                y,
                n_out,
            );
        } else if rows <= SMALL_BATCH {
            small_xw(rows, n_in, n_out, xb, w, y);
        } else if tiled::fits(n_in, n_out) {
            tiled::gemm(
                Mat::rows(xb, rows, n_in),
                Mat::rows(w, n_in, n_out),
                false,
                y,
                n_out,
            );
        } else {
            gemm_product(
                Mat::rows(xb, rows, n_in),
                Mat::rows(w, n_in, n_out),
                0.0,
                y,
                n_out,
            );
        }
        match b {
            Some(b) => {
                for row in y.chunks_exact_mut(n_out) {
                    row.iter_mut().zip(b).for_each(|(v, &bias)| *v += bias);
                    map_inplace(act, row);
                }
            }
            None => map_inplace(act, y),
        }
    };
    let n = blocks(batch, x_len * n_out);
    if n <= 1 {
        rows_block(0, y);
        return Ok(());
    }
    let y = Disjoint::new(y);
    parallel::for_each(n, &|t| {
        let (r0, r1) = block(t, n, batch);
        // SAFETY: block t alone writes rows r0..r1.
        rows_block(r0, unsafe { y.range(r0 * n_out, r1 * n_out) });
    });
    Ok(())
}

/// Gradients of `y = x w + b` given `dy`, the gradient with respect to the
/// output before any activation (the caller applied act'). Overwrites dx
/// when given; adds into dw and db.
/// x, dx: [batch, n_in]  w, dw: [n_in, n_out]  dy: [batch, n_out]  db: `[n_out]`
pub fn backward(
    batch: usize,
    n_in: usize,
    n_out: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) -> Result<()> {
    let [x_len, w_len, y_len] = sizes(batch, n_in, n_out)?;
    check_len("dense x", x.len(), x_len)?;
    check_len("dense w", w.len(), w_len)?;
    check_len("dense dy", dy.len(), y_len)?;
    if let Some(dx) = &dx {
        check_len("dense dx", dx.len(), x_len)?;
    }
    check_len("dense dw", dw.len(), w_len)?;
    if let Some(db) = &db {
        check_len("dense db", db.len(), n_out)?;
    }
    if let Some(db) = db {
        // Column sums of dy, row by row so that dy is read in order.
        for row in dy.chunks_exact(n_out) {
            db.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
        }
    }
    // The tiled GEMM wants B = w^T with unit column stride: one transposed
    // copy for every task (from this thread's scratch, so no allocation).
    let small = batch <= SMALL_BATCH;
    let use_tiled = !small && tiled::fits(n_out, n_in) && tiled::fits(batch, n_out);
    let wt_len = if use_tiled && dx.is_some() { w_len } else { 0 };
    scratch::with(Slot::Partial, wt_len, |wt| {
        if wt_len > 0 {
            tiled::transpose(n_in, n_out, n_out, w, wt);
        }
        let wt = &*wt;
        backward_products(batch, n_in, n_out, x, w, wt, use_tiled, dy, dx, Some(dw));
    });
    Ok(())
}

/// The input gradient of a dense layer alone, `dx = dy w^T`, when its
/// weights get no gradient (frozen). Overwrites dx.
/// w: [n_in, n_out]  dy: [batch, n_out]  dx: [batch, n_in]
pub fn backward_input(
    batch: usize,
    n_in: usize,
    n_out: usize,
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let [x_len, w_len, y_len] = sizes(batch, n_in, n_out)?;
    check_len("dense w", w.len(), w_len)?;
    check_len("dense dy", dy.len(), y_len)?;
    check_len("dense dx", dx.len(), x_len)?;
    let use_tiled = batch > SMALL_BATCH && tiled::fits(n_out, n_in) && tiled::fits(batch, n_out);
    let wt_len = if use_tiled { w_len } else { 0 };
    scratch::with(Slot::Partial, wt_len, |wt| {
        if wt_len > 0 {
            tiled::transpose(n_in, n_out, n_out, w, wt);
        }
        let wt = &*wt;
        backward_products(
            batch,
            n_in,
            n_out,
            &[],
            w,
            wt,
            use_tiled,
            dy,
            Some(dx),
            None,
        );
    });
    Ok(())
}

/// The two products of [`backward`]: `dx = dy w^T` (rows of the batch per
/// task) and `dw += x^T dy` (rows of w per task). `wt` is `w^T` when the
/// tiled GEMM runs them (`use_tiled`) and dx is asked for.
fn backward_products(
    batch: usize,
    n_in: usize,
    n_out: usize,
    x: &[f32],
    w: &[f32],
    wt: &[f32],
    use_tiled: bool,
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
) {
    // dx rows r0..r1 = dy[r0..r1] w^T, with w^T [n_out, n_in] a view of w.
    let dx_block = |r0: usize, dx: &mut [f32]| {
        let rows = dx.len() / n_in;
        let dyb = &dy[r0 * n_out..(r0 + rows) * n_out];
        if rows <= SMALL_BATCH {
            for (dxr, dyr) in dx.chunks_exact_mut(n_in).zip(dyb.chunks_exact(n_out)) {
                for (o, wi) in dxr.iter_mut().zip(w.chunks_exact(n_out)) {
                    *o = dot(dyr, wi);
                }
            }
        } else if use_tiled {
            let wtm = Mat::rows(wt, n_out, n_in);
            tiled::gemm(Mat::rows(dyb, rows, n_out), wtm, false, dx, n_in);
        } else {
            gemm_product(
                Mat::rows(dyb, rows, n_out),
                Mat::transposed(w, n_out, n_in),
                0.0,
                dx,
                n_in,
            );
        }
    };
    // dw rows i0..i1 += x[:, i0..i1]^T dy: the transposed view of x's
    // columns i0..i1 starts at x[i0] and steps n_in per batch row.
    let dw_block = |i0: usize, dw: &mut [f32]| {
        let rows = dw.len() / n_out;
        let xt = Mat {
            data: &x[i0..],
            rows,
            cols: batch,
            row_stride: 1,
            col_stride: n_in,
        };
        if batch <= SMALL_BATCH {
            for (k, dwi) in dw.chunks_exact_mut(n_out).enumerate() {
                for (xr, dyr) in x.chunks_exact(n_in).zip(dy.chunks_exact(n_out)) {
                    axpy(xr[i0 + k], dyr, dwi);
                }
            }
        } else if use_tiled {
            tiled::gemm(xt, Mat::rows(dy, batch, n_out), true, dw, n_out);
        } else {
            gemm_product(xt, Mat::rows(dy, batch, n_out), 1.0, dw, n_out);
        }
    };
    let macs = batch * n_in * n_out;
    let n_dx = if dx.is_some() { blocks(batch, macs) } else { 0 };
    let n_dw = if dw.is_some() { blocks(n_in, macs) } else { 0 };
    if n_dx <= 1 && n_dw <= 1 {
        if let Some(dx) = dx {
            dx_block(0, dx);
        }
        if let Some(dw) = dw {
            dw_block(0, dw);
        }
        return;
    }
    // One call for both products: the first n_dx tasks cut dx by batch
    // rows, the next n_dw cut dw by input rows.
    let dx = dx.map(Disjoint::new);
    let dw = dw.map(Disjoint::new);
    parallel::for_each(n_dx + n_dw, &|t| {
        if t < n_dx {
            let (r0, r1) = block(t, n_dx, batch);
            if let Some(dx) = &dx {
                // SAFETY: task t alone writes dx rows r0..r1.
                dx_block(r0, unsafe { dx.range(r0 * n_in, r1 * n_in) });
            }
        } else {
            let (i0, i1) = block(t - n_dx, n_dw, n_in);
            if let Some(dw) = &dw {
                // SAFETY: task t alone writes dw rows i0..i1.
                dw_block(i0, unsafe { dw.range(i0 * n_out, i1 * n_out) });
            }
        }
    });
}

/// Slow versions for tests: plain loops, f64 sums.
#[cfg(any(test, feature = "testing"))]
pub mod reference {
    use crate::geom::Act;
    use crate::layers::activation::reference::apply;

    /// `act(x w + b)`.
    pub fn forward(
        batch: usize,
        n_in: usize,
        n_out: usize,
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        act: Act,
    ) -> Vec<f32> {
        let mut y = vec![0.0; batch * n_out];
        for r in 0..batch {
            for j in 0..n_out {
                let mut acc = b.map_or(0.0, |b| b[j] as f64);
                for i in 0..n_in {
                    acc += x[r * n_in + i] as f64 * w[i * n_out + j] as f64;
                }
                y[r * n_out + j] = apply(act, acc as f32);
            }
        }
        y
    }

    /// `(dx, dw, db)` of `x w + b` for the output gradient `dy`.
    pub fn backward(
        batch: usize,
        n_in: usize,
        n_out: usize,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut dx = vec![0.0; batch * n_in];
        let mut dw = vec![0.0; n_in * n_out];
        let mut db = vec![0.0; n_out];
        for r in 0..batch {
            for i in 0..n_in {
                dx[r * n_in + i] = (0..n_out)
                    .map(|j| dy[r * n_out + j] as f64 * w[i * n_out + j] as f64)
                    .sum::<f64>() as f32;
            }
        }
        for i in 0..n_in {
            for j in 0..n_out {
                dw[i * n_out + j] = (0..batch)
                    .map(|r| x[r * n_in + i] as f64 * dy[r * n_out + j] as f64)
                    .sum::<f64>() as f32;
            }
        }
        for (j, g) in db.iter_mut().enumerate() {
            *g = (0..batch).map(|r| dy[r * n_out + j] as f64).sum::<f64>() as f32;
        }
        (dx, dw, db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::activation;
    use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

    const ACTS: [Act; 11] = [
        Act::Identity,
        Act::Relu,
        Act::LeakyRelu(0.2),
        Act::Tanh,
        Act::Sigmoid,
        Act::Relu6,
        Act::Silu,
        Act::Hardswish,
        Act::Hardsigmoid,
        Act::Gelu,
        Act::GeluTanh,
    ];

    /// (batch, n_in, n_out): odd sizes, batches 1 and 2 (the small-batch
    /// loops), 3 (the GEMM), and LeNet-5's three layers at batch 64 (the
    /// first two go through the threaded path).
    const SHAPES: [(usize, usize, usize); 9] = [
        (1, 1, 1),
        (2, 9, 17),
        (2, 120, 84),
        (3, 7, 5),
        (1, 400, 120),
        (3, 17, 33),
        (64, 400, 120),
        (64, 120, 84),
        (64, 84, 10),
    ];

    /// Products too large for the tiled GEMM's in-place B go to the
    /// blocked GEMM (matrixmultiply on CPUs without AVX2; the rerun under
    /// every other ISA covers it).
    #[test]
    fn large_products_match_reference() {
        let (batch, n_in, n_out) = (3, 520, 512);
        assert!(!tiled::fits(n_in, n_out));
        let x = random(batch * n_in, 1);
        let w = random(n_in * n_out, 2);
        let mut y = nan_filled(batch * n_out);
        forward(batch, n_in, n_out, &x, &w, None, Act::Identity, &mut y).unwrap();
        let want = reference::forward(batch, n_in, n_out, &x, &w, None, Act::Identity);
        assert_close(&y, &want, 1e-4, 1e-5);
        let dy = random(batch * n_out, 3);
        let (want_dx, want_dw, _) = reference::backward(batch, n_in, n_out, &x, &w, &dy);
        let (mut dx, mut dw) = (nan_filled(x.len()), vec![0.0; w.len()]);
        backward(
            batch,
            n_in,
            n_out,
            &x,
            &w,
            &dy,
            Some(&mut dx),
            &mut dw,
            None,
        )
        .unwrap();
        assert_close(&dx, &want_dx, 1e-4, 1e-5);
        assert_close(&dw, &want_dw, 1e-4, 1e-5);
    }

    #[test]
    fn forward_matches_reference() {
        parallel::set_threads(2);
        for (s, &(batch, n_in, n_out)) in SHAPES.iter().enumerate() {
            let x = random(batch * n_in, s as u64);
            let w = random(n_in * n_out, s as u64 + 10);
            let b = random(n_out, s as u64 + 20);
            for (k, act) in ACTS.into_iter().enumerate() {
                let bias = (k % 2 == 0).then_some(&b[..]);
                let mut y = nan_filled(batch * n_out);
                forward(batch, n_in, n_out, &x, &w, bias, act, &mut y).unwrap();
                let want = reference::forward(batch, n_in, n_out, &x, &w, bias, act);
                assert_close(&y, &want, 1e-4, 1e-5);
            }
        }
    }

    #[test]
    fn backward_matches_reference_and_accumulates() {
        parallel::set_threads(2);
        for (s, &(batch, n_in, n_out)) in SHAPES.iter().enumerate() {
            let x = random(batch * n_in, s as u64 + 30);
            let w = random(n_in * n_out, s as u64 + 40);
            let dy = random(batch * n_out, s as u64 + 50);
            let (want_dx, want_dw, want_db) = reference::backward(batch, n_in, n_out, &x, &w, &dy);
            let mut dx = nan_filled(x.len());
            // dw and db start from earlier gradients: backward adds into them.
            let dw0 = random(w.len(), 60);
            let db0 = random(n_out, 70);
            let (mut dw, mut db) = (dw0.clone(), db0.clone());
            backward(
                batch,
                n_in,
                n_out,
                &x,
                &w,
                &dy,
                Some(&mut dx),
                &mut dw,
                Some(&mut db),
            )
            .unwrap();
            assert_close(&dx, &want_dx, 1e-4, 1e-5);
            let plus =
                |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| p + q).collect::<Vec<f32>>();
            assert_close(&dw, &plus(&dw0, &want_dw), 1e-4, 1e-5);
            assert_close(&db, &plus(&db0, &want_db), 1e-4, 1e-5);
            // dx alone (a frozen layer).
            let mut dx = nan_filled(x.len());
            backward_input(batch, n_in, n_out, &w, &dy, &mut dx).unwrap();
            assert_close(&dx, &want_dx, 1e-4, 1e-5);
            // Without dx and db, dw alone.
            let mut dw = vec![0.0; w.len()];
            backward(batch, n_in, n_out, &x, &w, &dy, None, &mut dw, None).unwrap();
            assert_close(&dw, &want_dw, 1e-4, 1e-5);
        }
    }

    /// Gradient check of x, w and b through the activation: the layer's
    /// caller turns dL/dy into dL/d(xw+b) with `activation::backward_inplace`.
    #[test]
    fn gradcheck_x_w_b() {
        let (n_in, n_out) = (6, 4);
        for (batch, act) in [
            (3, Act::Identity),
            (1, Act::Tanh),
            (3, Act::Sigmoid),
            (2, Act::Identity),
        ] {
            let mut x = random(batch * n_in, 1);
            let mut w = random(n_in * n_out, 2);
            let mut b = random(n_out, 3);
            let r = random(batch * n_out, 4);
            let mut y = nan_filled(batch * n_out);
            forward(batch, n_in, n_out, &x, &w, Some(&b), act, &mut y).unwrap();
            let mut dz = r.clone();
            activation::backward_inplace(act, &y, &mut dz).unwrap();
            let (mut dx, mut dw, mut db) =
                (nan_filled(x.len()), vec![0.0; w.len()], vec![0.0; n_out]);
            backward(
                batch,
                n_in,
                n_out,
                &x,
                &w,
                &dz,
                Some(&mut dx),
                &mut dw,
                Some(&mut db),
            )
            .unwrap();
            let loss = |x: &[f32], w: &[f32], b: &[f32]| {
                let mut y = vec![0.0; batch * n_out];
                forward(batch, n_in, n_out, x, w, Some(b), act, &mut y).unwrap();
                dot(&y, &r)
            };
            let tol = 2e-3;
            gradcheck(&mut x, &dx, 1e-3, tol, None, |x| loss(x, &w, &b));
            gradcheck(&mut w, &dw, 1e-3, tol, None, |w| loss(&x, w, &b));
            gradcheck(&mut b, &db, 1e-3, tol, None, |b| loss(&x, &w, b));
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let (x, w, b) = (vec![0.0; 6], vec![0.0; 12], vec![0.0; 4]);
        let mut y = vec![0.0; 8];
        let msg = |r: Result<()>| r.unwrap_err().to_string();
        assert!(msg(forward(2, 3, 4, &x[1..], &w, None, Act::Relu, &mut y)).contains("dense x"));
        assert!(msg(forward(2, 3, 4, &x, &w[1..], None, Act::Relu, &mut y)).contains("dense w"));
        assert!(
            msg(forward(2, 3, 4, &x, &w, Some(&b[1..]), Act::Relu, &mut y)).contains("dense b")
        );
        assert!(msg(forward(2, 3, 4, &x, &w, None, Act::Relu, &mut y[1..])).contains("dense y"));
        let (mut dx, mut dw, mut db) = (vec![0.0; 6], vec![0.0; 12], vec![0.0; 4]);
        assert!(msg(backward(2, 3, 4, &x, &w, &y[1..], None, &mut dw, None)).contains("dense dy"));
        assert!(msg(backward(
            2,
            3,
            4,
            &x,
            &w,
            &y,
            Some(&mut dx[1..]),
            &mut dw,
            None
        ))
        .contains("dense dx"));
        assert!(msg(backward(2, 3, 4, &x, &w, &y, None, &mut dw[1..], None)).contains("dense dw"));
        assert!(msg(backward(
            2,
            3,
            4,
            &x,
            &w,
            &y,
            None,
            &mut dw,
            Some(&mut db[1..])
        ))
        .contains("dense db"));
        assert!(msg(backward(2, 3, 4, &x[1..], &w, &y, None, &mut dw, None)).contains("dense x"));
        assert!(forward(2, 0, 4, &[], &[], None, Act::Relu, &mut y).is_err());
        assert!(forward(2, 3, 0, &x, &[], None, Act::Relu, &mut []).is_err());
        assert!(backward(usize::MAX, 3, 4, &x, &w, &y, None, &mut dw, None).is_err());
        assert!(forward(3, usize::MAX / 2, 4, &x, &w, None, Act::Relu, &mut y).is_err());
        // An empty batch is nothing to do.
        forward(0, 3, 4, &[], &w, None, Act::Relu, &mut []).unwrap();
        backward(0, 3, 4, &[], &w, &[], Some(&mut []), &mut dw, Some(&mut db)).unwrap();
        assert!(dw.iter().all(|&v| v == 0.0));
    }
}
