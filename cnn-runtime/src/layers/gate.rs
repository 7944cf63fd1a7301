//! The gate of a `Gate` block (squeeze-and-excitation, Hu et al., 2018):
//! the block's input multiplied by what its body computed from it, one
//! factor per channel broadcast over the positions (`g: [batch, c]`), or
//! one per element (`hw = 1`, `c` the whole example). The gradient goes to
//! both factors: the input's directly, and the gate's, which backward
//! carries on through the body into the input again.

use crate::error::{check_len, Error, Result};

/// Checks the sizes; returns `batch * hw * c` and `batch * c`.
fn sizes(what: &str, batch: usize, hw: usize, c: usize) -> Result<(usize, usize)> {
    let overflow = || {
        Error::InvalidArgument(format!(
            "{what}: batch * hw * c overflows (batch = {batch}, hw = {hw}, c = {c})"
        ))
    };
    let per = batch.checked_mul(c).ok_or_else(overflow)?;
    let len = per.checked_mul(hw).ok_or_else(overflow)?;
    Ok((len, per))
}

/// `y[b, p, ch] = x[b, p, ch] * g[b, ch]`. Overwrites y.
/// x, y: [batch, hw, c]  g: [batch, c]
pub fn forward(
    batch: usize,
    hw: usize,
    c: usize,
    x: &[f32],
    g: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let (len, per) = sizes("gate::forward", batch, hw, c)?;
    check_len("gate::forward x", x.len(), len)?;
    check_len("gate::forward g", g.len(), per)?;
    check_len("gate::forward y", y.len(), len)?;
    if len == 0 {
        return Ok(());
    }
    let example = hw * c;
    for ((xe, ye), ge) in x
        .chunks_exact(example)
        .zip(y.chunks_exact_mut(example))
        .zip(g.chunks_exact(c))
    {
        for (xr, yr) in xe.chunks_exact(c).zip(ye.chunks_exact_mut(c)) {
            for ((o, &v), &k) in yr.iter_mut().zip(xr).zip(ge) {
                *o = v * k;
            }
        }
    }
    Ok(())
}

/// Gradients of [`forward`]: `dx = dy * g` (broadcast) and
/// `dg[b, ch] = sum_p dy[b, p, ch] * x[b, p, ch]`. Overwrites each that
/// is given.
/// x, dy, dx: [batch, hw, c]  g, dg: [batch, c]
#[allow(clippy::too_many_arguments)] // sizes, the two factors and three gradients
pub fn backward(
    batch: usize,
    hw: usize,
    c: usize,
    x: &[f32],
    g: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dg: Option<&mut [f32]>,
) -> Result<()> {
    let (len, per) = sizes("gate::backward", batch, hw, c)?;
    check_len("gate::backward x", x.len(), len)?;
    check_len("gate::backward g", g.len(), per)?;
    check_len("gate::backward dy", dy.len(), len)?;
    if len == 0 {
        return Ok(());
    }
    let example = hw * c;
    if let Some(dx) = dx {
        check_len("gate::backward dx", dx.len(), len)?;
        for ((dye, dxe), ge) in dy
            .chunks_exact(example)
            .zip(dx.chunks_exact_mut(example))
            .zip(g.chunks_exact(c))
        {
            for (dyr, dxr) in dye.chunks_exact(c).zip(dxe.chunks_exact_mut(c)) {
                for ((o, &d), &k) in dxr.iter_mut().zip(dyr).zip(ge) {
                    *o = d * k;
                }
            }
        }
    }
    if let Some(dg) = dg {
        check_len("gate::backward dg", dg.len(), per)?;
        dg.fill(0.0);
        for ((dye, xe), dge) in dy
            .chunks_exact(example)
            .zip(x.chunks_exact(example))
            .zip(dg.chunks_exact_mut(c))
        {
            for (dyr, xr) in dye.chunks_exact(c).zip(xe.chunks_exact(c)) {
                for ((o, &d), &v) in dge.iter_mut().zip(dyr).zip(xr) {
                    *o += d * v;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

    /// The definition, index by index.
    fn reference(batch: usize, hw: usize, c: usize, x: &[f32], g: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; x.len()];
        for b in 0..batch {
            for p in 0..hw {
                for ch in 0..c {
                    let i = (b * hw + p) * c + ch;
                    y[i] = x[i] * g[b * c + ch];
                }
            }
        }
        y
    }

    #[test]
    fn forward_matches_reference() {
        for &(batch, hw, c) in &[(1, 1, 1), (3, 5, 4), (2, 1, 30), (2, 9, 7)] {
            let x = random(batch * hw * c, 1);
            let g = random(batch * c, 2);
            let mut y = nan_filled(x.len());
            forward(batch, hw, c, &x, &g, &mut y).unwrap();
            assert_close(&y, &reference(batch, hw, c, &x, &g), 1e-6, 0.0);
        }
    }

    /// Central differences on `loss = sum(y * r)` for both factors.
    #[test]
    fn gradcheck_x_and_g() {
        let (batch, hw, c) = (3, 5, 4);
        let mut x = random(batch * hw * c, 3);
        let mut g = random(batch * c, 4);
        let r = random(x.len(), 5);
        let (mut dx, mut dg) = (nan_filled(x.len()), nan_filled(g.len()));
        backward(batch, hw, c, &x, &g, &r, Some(&mut dx), Some(&mut dg)).unwrap();
        let g0 = g.clone();
        gradcheck(&mut x, &dx, 1e-3, 1e-3, None, |x| {
            dot(&reference(batch, hw, c, x, &g0), &r)
        });
        let x0 = x.clone();
        gradcheck(&mut g, &dg, 1e-3, 1e-3, None, |g| {
            dot(&reference(batch, hw, c, &x0, g), &r)
        });
    }

    #[test]
    fn bad_lengths_are_errors() {
        let x = vec![0.0; 12];
        let mut y = vec![0.0; 12];
        assert!(forward(1, 3, 4, &x, &[1.0; 3], &mut y).is_err());
        assert!(forward(2, 3, 4, &x, &[1.0; 8], &mut y).is_err());
        let mut dg = vec![0.0; 5];
        assert!(backward(1, 3, 4, &x, &[1.0; 4], &x, None, Some(&mut dg)).is_err());
    }
}
