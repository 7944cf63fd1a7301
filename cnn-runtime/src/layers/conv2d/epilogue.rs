//! The convolution's fused epilogue: per output channel, add the bias,
//! apply a scale and shift (batch norm folded for inference), then the
//! activation, in one pass over output rows that are still in cache. Each
//! combination gets its own loop so the common ones (bias + ReLU) vectorise.

use super::Epilogue;
use crate::error::{check_len, Result};
use crate::geom::Act;

/// Checks the epilogue's vectors against `c_out`.
pub(super) fn check(ep: &Epilogue, c_out: usize) -> Result<()> {
    if let Some(b) = ep.bias {
        check_len("conv2d epilogue: bias", b.len(), c_out)?;
    }
    if let Some((scale, shift)) = ep.affine {
        check_len("conv2d epilogue: scale", scale.len(), c_out)?;
        check_len("conv2d epilogue: shift", shift.len(), c_out)?;
    }
    Ok(())
}

/// Applies `ep` to `y`, rows of `c_out` channels, in place.
pub(super) fn apply(ep: &Epilogue, c_out: usize, y: &mut [f32]) {
    match ep.act {
        Act::Identity => rows(ep, c_out, y, |v| v),
        Act::Relu => rows(ep, c_out, y, |v| if v > 0.0 { v } else { 0.0 }),
        Act::LeakyRelu(alpha) => rows(ep, c_out, y, |v| if v > 0.0 { v } else { alpha * v }),
        Act::Tanh => rows(ep, c_out, y, f32::tanh),
        Act::Sigmoid => rows(ep, c_out, y, |v| 1.0 / (1.0 + (-v).exp())),
    }
}

#[inline(always)]
fn rows(ep: &Epilogue, c_out: usize, y: &mut [f32], act: impl Fn(f32) -> f32) {
    let identity = matches!(ep.act, Act::Identity);
    match (ep.bias, ep.affine) {
        (None, None) if identity => {}
        (None, None) => y.iter_mut().for_each(|v| *v = act(*v)),
        (Some(b), None) => {
            for row in y.chunks_exact_mut(c_out) {
                for (v, &b) in row.iter_mut().zip(b) {
                    *v = act(*v + b);
                }
            }
        }
        (None, Some((scale, shift))) => {
            for row in y.chunks_exact_mut(c_out) {
                for ((v, &s), &t) in row.iter_mut().zip(scale).zip(shift) {
                    *v = act(*v * s + t);
                }
            }
        }
        (Some(b), Some((scale, shift))) => {
            for row in y.chunks_exact_mut(c_out) {
                for (((v, &b), &s), &t) in row.iter_mut().zip(b).zip(scale).zip(shift) {
                    *v = act((*v + b) * s + t);
                }
            }
        }
    }
}
