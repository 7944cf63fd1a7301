//! Batch norm inside a frozen part of a network (`trainable: false`): in
//! training it normalises with the moving statistics, as at inference and
//! as Keras does for a frozen `BatchNormalization`, so it is a fixed
//! per-channel affine map `z = x * scale + shift` with
//! `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`. Its
//! forward is [`super::forward_infer_act`]; its backward, here, only passes
//! the gradient through: `dx = act'(z) * dy * scale`, no gradient for gamma
//! or beta.

use super::{check_eps, fold_unchecked, rows_len};
use crate::error::{check_len, Result};
use crate::geom::Act;
use crate::layers::activation::{derivative, par_rows};
use crate::scratch::{self, Slot};

/// Gradient of [`super::forward_infer_act`] with respect to its input;
/// `dy` is the gradient of the activation's output. Overwrites dx.
/// x, dy, dx: `[m, c]`  gamma, beta, running_mean, running_var: `[c]`
pub fn backward_frozen_act(
    m: usize,
    c: usize,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    running_mean: &[f32],
    running_var: &[f32],
    eps: f32,
    act: Act,
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let len = rows_len("batch norm", m, c)?;
    check_eps("batch norm", eps)?;
    check_len("batch norm x", x.len(), len)?;
    check_len("batch norm gamma", gamma.len(), c)?;
    check_len("batch norm beta", beta.len(), c)?;
    check_len("batch norm running_mean", running_mean.len(), c)?;
    check_len("batch norm running_var", running_var.len(), c)?;
    check_len("batch norm dy", dy.len(), len)?;
    check_len("batch norm dx", dx.len(), len)?;
    scratch::with(Slot::Aux, 2 * c, |buf| {
        let (scale, shift) = buf.split_at_mut(c);
        fold_unchecked(gamma, beta, running_mean, running_var, eps, scale, shift);
        let (scale, shift) = (&*scale, &*shift);
        par_rows(dx, m, len, |r0, dx| {
            let rows = dx.len() / c;
            for r in 0..rows {
                let at = (r0 + r) * c;
                let out = &mut dx[r * c..(r + 1) * c];
                let (xr, dyr) = (&x[at..at + c], &dy[at..at + c]);
                for k in 0..c {
                    let d = dyr[k] * scale[k];
                    out[k] = match act {
                        Act::Identity => d,
                        Act::Relu => {
                            if xr[k] * scale[k] + shift[k] > 0.0 {
                                d
                            } else {
                                0.0
                            }
                        }
                        a => d * derivative(a, xr[k] * scale[k] + shift[k]),
                    };
                }
            }
        });
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{dot, gradcheck, nan_filled, random};

    /// `sum(r * act(x * scale + shift))` through the inference kernel.
    fn loss(m: usize, c: usize, x: &[f32], p: &[Vec<f32>; 4], act: Act, r: &[f32]) -> f64 {
        let mut y = vec![0.0; m * c];
        super::super::forward_infer_act(m, c, x, &p[0], &p[1], &p[2], &p[3], 1e-3, act, &mut y)
            .unwrap();
        dot(&y, r)
    }

    #[test]
    fn gradcheck_every_activation() {
        let (m, c) = (7, 5);
        let mut x = random(m * c, 1);
        let r = random(m * c, 2);
        let var: Vec<f32> = random(c, 3).iter().map(|v| v.abs() + 0.5).collect();
        let p = [random(c, 4), random(c, 5), random(c, 6), var];
        for act in [
            Act::Identity,
            Act::Relu,
            Act::LeakyRelu(0.1),
            Act::Tanh,
            Act::Sigmoid,
            Act::Relu6,
            Act::Silu,
            Act::Hardswish,
            Act::Hardsigmoid,
            Act::Gelu,
            Act::GeluTanh,
        ] {
            let mut dx = nan_filled(m * c);
            backward_frozen_act(m, c, &x, &p[0], &p[1], &p[2], &p[3], 1e-3, act, &r, &mut dx)
                .unwrap();
            gradcheck(&mut x, &dx, 1e-3, 2e-2, None, |xv| {
                loss(m, c, xv, &p, act, &r)
            });
        }
    }

    #[test]
    fn bad_lengths_are_errors() {
        let (m, c) = (3, 2);
        let v = vec![1.0; m * c];
        let s = vec![1.0; c];
        let mut dx = vec![0.0; m * c];
        assert!(
            backward_frozen_act(m, c, &v[1..], &s, &s, &s, &s, 1e-3, Act::Relu, &v, &mut dx)
                .is_err()
        );
        assert!(
            backward_frozen_act(m, c, &v, &s[1..], &s, &s, &s, 1e-3, Act::Relu, &v, &mut dx)
                .is_err()
        );
        assert!(
            backward_frozen_act(m, c, &v, &s, &s, &s, &s, -1.0, Act::Relu, &v, &mut dx).is_err()
        );
    }
}
