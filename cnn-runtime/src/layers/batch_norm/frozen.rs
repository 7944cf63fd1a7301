//! Batch norm inside a frozen part of a network (`trainable: false`): in
//! training it normalises with the moving statistics, as at inference and
//! as Keras does for a frozen `BatchNormalization`, so it is a fixed
//! per-channel affine map `z = x * scale + shift` with
//! `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`. Its
//! forward is [`super::forward_infer`]; its backward, here, only passes
//! the gradient through: `dx = act'(z) * dy * scale`, no gradient for gamma
//! or beta.

use super::{check_eps, check_running, fold_unchecked, rows_len};
use super::{Folded, Params, RunningStats, Settings, Shape};
use crate::error::{check_len, Result};
use crate::geom::Act;
use crate::layers::activation::{derivative, par_rows};
use crate::scratch::{self, Slot};

/// Gradient of [`super::forward_infer`] with respect to its input;
/// `dy` is the gradient of `settings.act`'s output. Overwrites dx; reads
/// `settings.eps` and `settings.act`.
/// x, dy, dx: `[m, c]`  params, running: `[c]`
pub fn backward_frozen(
    shape: Shape,
    x: &[f32],
    params: Params,
    running: RunningStats,
    settings: Settings,
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let Shape { m, c } = shape;
    let Settings { eps, act, .. } = settings;
    let len = rows_len("batch norm", m, c)?;
    check_eps("batch norm", eps)?;
    check_running(c, len, x, params, running)?;
    check_len("batch norm dy", dy.len(), len)?;
    check_len("batch norm dx", dx.len(), len)?;
    scratch::with(Slot::Aux, 2 * c, |buf| {
        let (scale, shift) = buf.split_at_mut(c);
        fold_unchecked(params, running, eps, Folded { scale, shift });
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

    /// gamma, beta, moving mean and variance.
    type Tensors = [Vec<f32>; 4];

    fn params(p: &Tensors) -> Params<'_> {
        Params {
            gamma: &p[0],
            beta: &p[1],
        }
    }

    fn running(p: &Tensors) -> RunningStats<'_> {
        RunningStats {
            mean: &p[2],
            var: &p[3],
        }
    }

    fn settings(act: Act) -> Settings {
        Settings {
            eps: 1e-3,
            momentum: 1.0,
            act,
        }
    }

    /// `sum(r * act(x * scale + shift))` through the inference kernel.
    fn loss(shape: Shape, x: &[f32], p: &Tensors, act: Act, r: &[f32]) -> f64 {
        let mut y = vec![0.0; shape.m * shape.c];
        super::super::forward_infer(shape, x, params(p), running(p), settings(act), &mut y)
            .unwrap();
        dot(&y, r)
    }

    #[test]
    fn gradcheck_every_activation() {
        let shape = Shape { m: 7, c: 5 };
        let (m, c) = (shape.m, shape.c);
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
            let (params, running) = (params(&p), running(&p));
            backward_frozen(shape, &x, params, running, settings(act), &r, &mut dx).unwrap();
            gradcheck(&mut x, &dx, 1e-3, 2e-2, None, |xv| {
                loss(shape, xv, &p, act, &r)
            });
        }
    }

    #[test]
    fn bad_lengths_are_errors() {
        let shape = Shape { m: 3, c: 2 };
        let v = vec![1.0; 6];
        let s = vec![1.0; 2];
        let mut dx = vec![0.0; 6];
        let p = Params {
            gamma: &s,
            beta: &s,
        };
        let ms = RunningStats { mean: &s, var: &s };
        let relu = settings(Act::Relu);
        let mut err = |x: &[f32], p: Params, ms: RunningStats, settings: Settings| {
            backward_frozen(shape, x, p, ms, settings, &v, &mut dx)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&v[1..], p, ms, relu).contains("batch norm x"));
        let short = Params {
            gamma: &s[1..],
            ..p
        };
        assert!(err(&v, short, ms, relu).contains("batch norm params.gamma"));
        let short = RunningStats { var: &s[1..], ..ms };
        assert!(err(&v, p, short, relu).contains("batch norm running.var"));
        let eps = Settings { eps: -1.0, ..relu };
        assert!(err(&v, p, ms, eps).contains("epsilon"));
    }
}
