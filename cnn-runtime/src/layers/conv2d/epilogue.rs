//! The convolution's fused epilogue: per output channel, add the bias,
//! apply a scale and shift (batch norm folded for inference), then the
//! activation, over output rows that are still in cache. (The AVX-512 path
//! fuses the bias, affine and ReLU into its kernel's stores instead.)

use super::microkernel::Store;
use super::Epilogue;
use crate::error::{check_len, Result};
use crate::geom::Act;
use crate::layers::activation;

/// Checks the epilogue's vectors against `c_out`.
pub(crate) fn check(ep: &Epilogue, c_out: usize) -> Result<()> {
    if let Some(b) = ep.bias {
        check_len("conv2d epilogue: bias", b.len(), c_out)?;
    }
    if let Some((scale, shift)) = ep.affine {
        check_len("conv2d epilogue: scale", scale.len(), c_out)?;
        check_len("conv2d epilogue: shift", shift.len(), c_out)?;
    }
    Ok(())
}

/// Applies `ep` to `y`, rows of `c_out` channels, in place: the bias and
/// affine here, the activation by [`activation::forward_inplace`], so that
/// every layer computes an activation the same way (NaN included).
pub(crate) fn apply(ep: &Epilogue, c_out: usize, y: &mut [f32]) {
    match (ep.bias, ep.affine) {
        (None, None) => {}
        (Some(b), None) => {
            for row in y.chunks_exact_mut(c_out) {
                row.iter_mut().zip(b).for_each(|(v, &b)| *v += b);
            }
        }
        (None, Some((scale, shift))) => {
            for row in y.chunks_exact_mut(c_out) {
                for ((v, &s), &t) in row.iter_mut().zip(scale).zip(shift) {
                    *v = *v * s + t;
                }
            }
        }
        (Some(b), Some((scale, shift))) => {
            for row in y.chunks_exact_mut(c_out) {
                for (((v, &b), &s), &t) in row.iter_mut().zip(b).zip(scale).zip(shift) {
                    *v = (*v + b) * s + t;
                }
            }
        }
    }
    if !matches!(ep.act, Act::Identity) {
        activation::forward_inplace(ep.act, y);
    }
}

/// What the micro-kernel's `store` does after the product, on finished
/// rows `y` (`n` columns each) of a product that was only overwritten or
/// accumulated (the depth-blocked paths): the fused epilogue, if any.
pub(super) fn apply_store(store: Store, n: usize, y: &mut [f32]) {
    if let Store::Epilogue {
        bias,
        affine,
        negative_slope,
    } = store
    {
        let act = match negative_slope {
            None => Act::Identity,
            Some(0.0) => Act::Relu,
            Some(alpha) => Act::LeakyRelu(alpha),
        };
        apply(&Epilogue { bias, affine, act }, n, y);
    }
}
