//! L2-normalised embeddings, FaceNet's `||f(x)||_2 = 1`: every embedding
//! on the unit sphere, so that squared distances lie in `0..=4` and a
//! margin such as 0.2 means the same thing all through training (without
//! it the network can meet any margin by scaling its outputs up).
//!
//! [`L2Normalized`] puts the normalisation in the loss path: it wraps any
//! [`Loss`], hands it the normalised rows and takes its gradient back
//! through the normalisation (the DSL's `L2Normalize` layer does the same
//! inside the network, with the same row function). At
//! inference, [`l2_normalize`] does the same to the outputs of `predict`.
//!
//! For `y = x / |x|` the Jacobian is `(I - y y^T) / |x|`, so the gradient
//! with respect to `x` is `dx = (dy - y (y . dy)) / |x|`: the part of `dy`
//! along `y` (which would only change the length) is removed. As
//! PyTorch's `F.normalize`, the norm is taken as at least [`EPSILON`].

use std::cell::RefCell;

use crate::error::Result;
use crate::layers::l2_normalize::normalize_row;
use crate::loss::{Loss, Target};

/// The smallest norm divided by (PyTorch's `F.normalize` default); the
/// `L2Normalize` layer's too.
pub use crate::layers::l2_normalize::EPSILON;

/// A loss on L2-normalised embeddings: [`Loss::loss`] normalises each
/// example's output (read flat) to unit length, calls `inner` on the
/// result and returns its value, with the gradient taken back through the
/// normalisation.
///
/// Wrap losses that read outputs as they are (the embedding losses,
/// [`crate::loss::Mse`]); a loss fused with a final activation
/// ([`Loss::fused`]) would be handed logits it does not expect, so the
/// wrapper reports no fusion and is meant for networks that end without
/// one.
///
/// ```
/// use cnn_runtime::embed::{L2Normalized, Mining, TripletLoss};
/// use cnn_runtime::loss::{Loss, Target};
///
/// // Two identities; the second image of identity 0 points the same way
/// // as the first, only longer: after normalisation they coincide.
/// let e = [1.0, 0.0, 3.0, 0.0, 0.0, 1.0, 0.0, 2.0];
/// let loss = L2Normalized::new(TripletLoss::new(0.2, Mining::BatchHard));
/// let mut grad = [0.0; 8];
/// let value = loss.loss(&e, &[2], Target::Classes(&[0, 0, 1, 1]), &mut grad).unwrap();
/// // d(A, P) = 0 and d(A, N) = |(1, 0) - (0, 1)|^2 = 2: every hinge is closed.
/// assert_eq!(value, 0.0);
/// assert_eq!(loss.name(), "l2-normalised triplet_batch_hard");
/// ```
pub struct L2Normalized<L> {
    inner: L,
    name: String,
}

/// Buffers kept between calls on one thread: the normalised outputs, the
/// inner loss's gradient and each row's norm.
#[derive(Default)]
struct Buffers {
    unit: Vec<f32>,
    dy: Vec<f32>,
    norms: Vec<f32>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

impl<L: Loss> L2Normalized<L> {
    /// `inner` on unit-length embeddings.
    pub fn new(inner: L) -> Self {
        let name = format!("l2-normalised {}", inner.name());
        L2Normalized { inner, name }
    }

    /// The wrapped loss.
    pub fn inner(&self) -> &L {
        &self.inner
    }
}

impl<L: Loss> Loss for L2Normalized<L> {
    fn name(&self) -> &str {
        &self.name
    }

    fn loss(
        &self,
        output: &[f32],
        shape: &[usize],
        target: Target<'_>,
        grad: &mut [f32],
    ) -> Result<f32> {
        let (_, dim) = super::check_embeddings(&self.name, output, shape, grad)?;
        // Taken out while in use, so that a wrapper inside a wrapper gets
        // buffers of its own rather than a double borrow.
        let mut b = BUFFERS.with(|c| c.take());
        let result = normalized_loss(&self.inner, output, shape, dim, target, grad, &mut b);
        BUFFERS.with(|c| c.replace(b));
        result
    }
}

/// The body of [`L2Normalized::loss`], on this thread's buffers. Writes
/// `grad` only when the inner loss succeeds.
fn normalized_loss(
    inner: &dyn Loss,
    output: &[f32],
    shape: &[usize],
    dim: usize,
    target: Target<'_>,
    grad: &mut [f32],
    b: &mut Buffers,
) -> Result<f32> {
    b.unit.clear();
    b.unit.extend_from_slice(output);
    b.norms.clear();
    for row in b.unit.chunks_exact_mut(dim) {
        b.norms.push(normalize_row(row));
    }
    b.dy.clear();
    b.dy.resize(output.len(), 0.0);
    let value = inner.loss(&b.unit, shape, target, &mut b.dy)?;
    let rows = b.unit.chunks_exact(dim).zip(b.dy.chunks_exact(dim));
    for ((y, dy), (dx, &norm)) in rows.zip(grad.chunks_exact_mut(dim).zip(&b.norms)) {
        // dx = (dy - y (y . dy)) / |x|, with the norm floored at EPSILON
        // (below it the map is x / EPSILON, whose gradient is dy / EPSILON).
        if norm > EPSILON {
            let along: f64 = y.iter().zip(dy).map(|(&a, &g)| a as f64 * g as f64).sum();
            for ((dx, &y), &g) in dx.iter_mut().zip(y).zip(dy) {
                *dx = ((g as f64 - y as f64 * along) / norm as f64) as f32;
            }
        } else {
            for (dx, &g) in dx.iter_mut().zip(dy) {
                *dx = g / EPSILON;
            }
        }
    }
    Ok(value)
}

/// Scales every embedding of `embeddings` (rows of `dim` values) to unit
/// length, as [`L2Normalized`] does in training: what `predict`'s outputs
/// need before distances, a gallery or a threshold. `dim` must divide the
/// length.
///
/// ```
/// use cnn_runtime::embed::l2_normalize;
/// let mut e = [3.0, 4.0, 0.0, -2.0];
/// l2_normalize(&mut e, 2).unwrap();
/// assert_eq!(e, [0.6, 0.8, 0.0, -1.0]);
/// ```
pub fn l2_normalize(embeddings: &mut [f32], dim: usize) -> Result<()> {
    super::distance::batch_len("l2_normalize", embeddings, dim)?;
    for row in embeddings.chunks_exact_mut(dim) {
        normalize_row(row);
    }
    Ok(())
}
