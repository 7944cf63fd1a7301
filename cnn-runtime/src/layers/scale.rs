//! A learnable per-channel scale (ConvNeXt's `layer_scale`, Touvron et
//! al., 2021, "Going deeper with image transformers"): every channel of
//! every position multiplied by its own factor, one `[c]` vector shared by
//! the whole batch. Unlike a gate's factors, which the network computes
//! per example, these are parameters, so backward sums their gradient over
//! the batch and the positions.

use crate::error::{check_len, Error, Result};

/// Checks the sizes; returns `m * c`.
fn size(what: &str, m: usize, c: usize) -> Result<usize> {
    m.checked_mul(c).ok_or_else(|| {
        Error::InvalidArgument(format!("{what}: m * c overflows (m = {m}, c = {c})"))
    })
}

/// `y[r, ch] = x[r, ch] * s[ch]`. Overwrites y.
/// x, y: `[m, c]`  s: `[c]`  (m = batch * positions)
pub fn forward(m: usize, c: usize, x: &[f32], s: &[f32], y: &mut [f32]) -> Result<()> {
    let len = size("scale::forward", m, c)?;
    check_len("scale::forward x", x.len(), len)?;
    check_len("scale::forward s", s.len(), c)?;
    check_len("scale::forward y", y.len(), len)?;
    if len == 0 {
        return Ok(());
    }
    for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
        for ((o, &v), &k) in yr.iter_mut().zip(xr).zip(s) {
            *o = v * k;
        }
    }
    Ok(())
}

/// Gradients of [`forward`]: `dx = dy * s` (overwrites dx when given) and
/// `ds[ch] += sum_r dy[r, ch] * x[r, ch]` (adds into ds when given).
/// x, dy, dx: `[m, c]`  s, ds: `[c]`
pub fn backward(
    m: usize,
    c: usize,
    x: &[f32],
    s: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    ds: Option<&mut [f32]>,
) -> Result<()> {
    let len = size("scale::backward", m, c)?;
    check_len("scale::backward x", x.len(), len)?;
    check_len("scale::backward s", s.len(), c)?;
    check_len("scale::backward dy", dy.len(), len)?;
    if let Some(dx) = &dx {
        check_len("scale::backward dx", dx.len(), len)?;
    }
    if let Some(ds) = &ds {
        check_len("scale::backward ds", ds.len(), c)?;
    }
    if len == 0 {
        return Ok(());
    }
    if let Some(dx) = dx {
        for (dyr, dxr) in dy.chunks_exact(c).zip(dx.chunks_exact_mut(c)) {
            for ((o, &d), &k) in dxr.iter_mut().zip(dyr).zip(s) {
                *o = d * k;
            }
        }
    }
    if let Some(ds) = ds {
        for (dyr, xr) in dy.chunks_exact(c).zip(x.chunks_exact(c)) {
            for ((o, &d), &v) in ds.iter_mut().zip(dyr).zip(xr) {
                *o += d * v;
            }
        }
    }
    Ok(())
}

/// Slow, obviously correct versions for tests.
#[cfg(any(test, feature = "testing"))]
pub mod reference {
    /// The definition, index by index.
    pub fn forward(m: usize, c: usize, x: &[f32], s: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; m * c];
        for r in 0..m {
            for ch in 0..c {
                y[r * c + ch] = x[r * c + ch] * s[ch];
            }
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

    #[test]
    fn forward_matches_reference() {
        for &(m, c) in &[(1, 1), (15, 4), (3, 30), (18, 7)] {
            let x = random(m * c, 1);
            let s = random(c, 2);
            let mut y = nan_filled(x.len());
            forward(m, c, &x, &s, &mut y).unwrap();
            assert_close(&y, &reference::forward(m, c, &x, &s), 1e-6, 0.0);
        }
    }

    /// Central differences on `loss = sum(y * r)` for the input and the
    /// scale; the scale's gradient is added to what ds held.
    #[test]
    fn gradcheck_x_and_s() {
        let (m, c) = (15, 4);
        let mut x = random(m * c, 3);
        let mut s = random(c, 4);
        let r = random(x.len(), 5);
        let held = random(c, 6);
        let mut dx = nan_filled(x.len());
        let mut ds = held.clone();
        backward(m, c, &x, &s, &r, Some(&mut dx), Some(&mut ds)).unwrap();
        let ds: Vec<f32> = ds.iter().zip(&held).map(|(a, b)| a - b).collect();
        let s0 = s.clone();
        gradcheck(&mut x, &dx, 1e-3, 1e-3, None, |x| {
            dot(&reference::forward(m, c, x, &s0), &r)
        });
        let x0 = x.clone();
        gradcheck(&mut s, &ds, 1e-3, 1e-3, None, |s| {
            dot(&reference::forward(m, c, &x0, s), &r)
        });
    }

    #[test]
    fn bad_lengths_are_errors() {
        let x = vec![0.0; 12];
        let mut y = vec![0.0; 12];
        assert!(forward(3, 4, &x, &[1.0; 3], &mut y).is_err());
        assert!(forward(4, 4, &x, &[1.0; 4], &mut y).is_err());
        assert!(forward(usize::MAX, 2, &x, &[1.0; 2], &mut y).is_err());
        let mut ds = vec![0.0; 5];
        assert!(backward(3, 4, &x, &[1.0; 4], &x, None, Some(&mut ds)).is_err());
        let mut dx = vec![0.0; 11];
        assert!(backward(3, 4, &x, &[1.0; 4], &x, Some(&mut dx), None).is_err());
    }
}
