//! What the `network!` macro's generated code shares: the parameter table
//! and the arena helpers (one `f32` buffer for every parameter, offsets fixed
//! at compile time), the workspace that holds a batch's activations, masks
//! and gradients, the checks at the boundary where user data comes in, the
//! summary table and the receptive fields, and loading weights from elsewhere (by name, or a PyTorch
//! `state_dict` with its layouts converted: `import/`). The generated code stays thin (a few lines per layer
//! that name literal offsets and call a kernel); anything generic over the
//! network lives here, once.

mod field;
mod freeze;
pub mod graph;
pub(crate) mod import;
mod infer;
mod params;
mod shard;
mod summary;

pub use field::{Frames, Patch, ReceptiveField};
pub use freeze::Freezing;
pub use import::{load_by_name, load_dense_as_conv, load_state_dict, LoadReport};
pub use infer::infer_chunks;
pub use params::{init_params, load_params, load_params_prefixed, save_params, Init, TensorInfo};
pub use shard::Shard;
pub use summary::{human_bytes, thousands, Summary, SummaryRow};

use std::cell::RefCell;
use std::ops::Range;

use crate::error::{Error, Result};

/// How much working memory one network needs: `per_example` `f32`s and
/// `per_example_u32` `u32`s (max-pool winners) per example of the batch,
/// plus `fixed` `f32`s whatever the batch (batch-norm statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkspaceLayout {
    /// `f32`s per example of the batch (activations, gradients, masks).
    pub per_example: usize,
    /// `u32`s per example (max-pool winners).
    pub per_example_u32: usize,
    /// `f32`s whatever the batch (batch-norm statistics).
    pub fixed: usize,
}

/// The working memory of a forward (and backward) pass: three buffers that
/// only grow. Slot offsets are compile-time constants per example, so the
/// slot of one activation at batch `b` is [`span`]`(b, offset, len)`; a pass
/// at a batch size no larger than one already seen allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    /// Activations, their gradients, dropout masks: `batch * per_example`.
    pub f: Vec<f32>,
    /// Max-pool winners: `batch * per_example_u32`.
    pub u: Vec<u32>,
    /// Batch-size independent: batch-norm statistics and folded affines.
    pub fixed: Vec<f32>,
}

impl Workspace {
    /// Grows the buffers to hold a batch of `batch` (never shrinks them).
    pub fn ensure(&mut self, batch: usize, layout: &WorkspaceLayout) -> Result<()> {
        let too_big = || {
            Error::InvalidArgument(format!(
                "a batch of {batch} needs more working memory than can be addressed"
            ))
        };
        let f = batch.checked_mul(layout.per_example).ok_or_else(too_big)?;
        let u = batch
            .checked_mul(layout.per_example_u32)
            .ok_or_else(too_big)?;
        grow(&mut self.f, f);
        grow(&mut self.u, u);
        grow(&mut self.fixed, layout.fixed);
        Ok(())
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        4 * (self.f.len() + self.u.len() + self.fixed.len())
    }
}

fn grow<T: Copy + Default>(v: &mut Vec<T>, len: usize) {
    crate::memory::grow(v, len);
}

thread_local! {
    static LOCAL: RefCell<Workspace> = RefCell::new(Workspace::default());
}

/// Calls `f` with this thread's workspace, shared by every network's
/// `predict` on the thread (`predict` takes `&self`, so a network can serve
/// many threads; each keeps its own memory). A nested call gets a fresh
/// workspace rather than a panic.
pub fn with_thread_workspace<R>(f: impl FnOnce(&mut Workspace) -> R) -> R {
    let mut ws = LOCAL.with(|w| std::mem::take(&mut *w.borrow_mut()));
    let out = f(&mut ws);
    LOCAL.with(|w| {
        let mut w = w.borrow_mut();
        if w.bytes() <= ws.bytes() {
            *w = ws;
        }
    });
    out
}

/// The slot of a per-example buffer at batch `batch`: examples back to back.
#[inline]
pub const fn span(batch: usize, offset: usize, len: usize) -> Range<usize> {
    batch * offset..batch * (offset + len)
}

/// Disjoint mutable views of one buffer. The generated code asks for slots
/// that the macro's layout made disjoint; an overlap is a bug in the macro,
/// reported as an error rather than a panic.
#[inline]
pub fn slices<T, const N: usize>(
    buf: &mut [T],
    ranges: [Range<usize>; N],
) -> Result<[&mut [T]; N]> {
    buf.get_disjoint_mut(ranges).map_err(|e| {
        Error::InvalidArgument(format!(
            "internal error in the generated code: workspace slots {e}"
        ))
    })
}

/// Checks a batch's shape `[batch, dims..]` against the network's input
/// `dims`; returns the batch size. The message shows both shapes.
pub fn check_input(what: &str, shape: &[usize], dims: &[usize]) -> Result<usize> {
    if shape.len() == dims.len() + 1 && shape[1..] == *dims {
        return Ok(shape[0]);
    }
    let expected = format!("[batch, {}]", join(dims));
    Err(Error::shape(what, expected, format!("[{}]", join(shape))))
}

fn join(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The batch size of a flat slice of examples of shape `dims`.
pub fn check_flat(what: &str, len: usize, dims: &[usize]) -> Result<usize> {
    let per: usize = dims.iter().product();
    if per > 0 && len.is_multiple_of(per) {
        return Ok(len / per);
    }
    Err(Error::shape(
        what,
        format!("a multiple of {per} values (examples of [{}])", join(dims)),
        len,
    ))
}

/// Examples whose highest output is their label (ties: the first).
pub fn count_correct(outputs: &[f32], classes: usize, labels: &[usize]) -> usize {
    if classes == 0 {
        return 0;
    }
    outputs
        .chunks_exact(classes)
        .zip(labels)
        .filter(|(row, &label)| {
            let best = (0..classes).fold(0, |b, k| if row[k] > row[b] { k } else { b });
            best == label
        })
        .count()
}

/// Checks one label per example, each below `classes`, before anything runs
/// (so that a bad batch leaves the batch-norm statistics untouched).
pub fn check_labels(labels: &[usize], batch: usize, classes: usize) -> Result<()> {
    if batch == 0 {
        return Err(Error::InvalidArgument(
            "the batch is empty: a training step needs at least one example".into(),
        ));
    }
    if labels.len() != batch {
        return Err(Error::shape(
            "labels",
            format!("one per example ({batch})"),
            labels.len(),
        ));
    }
    match labels.iter().position(|&l| l >= classes) {
        Some(index) => Err(Error::LabelOutOfRange {
            index,
            label: labels[index],
            classes,
        }),
        None => Ok(()),
    }
}

/// Softmax backward, row-wise: `dx = y * (dy - sum(dy * y))` for each of
/// `rows` rows of `classes` (a `Softmax` that is not the last layer; the
/// last one is fused with the loss). Overwrites dx.
pub fn softmax_backward(
    rows: usize,
    classes: usize,
    y: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    let n = rows * classes;
    crate::error::check_len("softmax_backward: y", y.len(), n)?;
    crate::error::check_len("softmax_backward: dy", dy.len(), n)?;
    crate::error::check_len("softmax_backward: dx", dx.len(), n)?;
    if classes == 0 {
        return Ok(());
    }
    for ((y, dy), dx) in y
        .chunks_exact(classes)
        .zip(dy.chunks_exact(classes))
        .zip(dx.chunks_exact_mut(classes))
    {
        let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
        for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
            *dx = y * (dy - dot);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_grows_once_and_is_reused() {
        let layout = WorkspaceLayout {
            per_example: 10,
            per_example_u32: 3,
            fixed: 4,
        };
        let mut ws = Workspace::default();
        ws.ensure(8, &layout).unwrap();
        assert_eq!((ws.f.len(), ws.u.len(), ws.fixed.len()), (80, 24, 4));
        let ptr = ws.f.as_ptr();
        ws.ensure(5, &layout).unwrap();
        assert_eq!(ws.f.len(), 80);
        assert_eq!(ws.f.as_ptr(), ptr);
        assert!(ws.ensure(usize::MAX, &layout).is_err());
    }

    #[test]
    fn spans_are_per_example_offsets_times_batch() {
        assert_eq!(span(4, 10, 6), 40..64);
        let mut buf = vec![0.0f32; 100];
        let [a, b] = slices(&mut buf, [span(4, 0, 10), span(4, 10, 6)]).unwrap();
        assert_eq!((a.len(), b.len()), (40, 24));
        assert!(slices(&mut buf, [0..10, 5..20]).is_err());
    }

    #[test]
    fn input_shape_errors_show_both_shapes() {
        assert_eq!(check_input("x", &[7, 32, 32, 1], &[32, 32, 1]).unwrap(), 7);
        let e = check_input("x", &[7, 28, 28, 1], &[32, 32, 1]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x: expected [batch, 32, 32, 1], got [7, 28, 28, 1]"
        );
        assert!(check_input("x", &[7, 784], &[32, 32, 1]).is_err());
    }

    #[test]
    fn flat_batches_and_accuracy() {
        assert_eq!(check_flat("x", 12, &[2, 3]).unwrap(), 2);
        assert_eq!(check_flat("x", 0, &[2, 3]).unwrap(), 0);
        let e = check_flat("x", 13, &[2, 3]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x: expected a multiple of 6 values (examples of [2, 3]), got 13"
        );
        let outputs = [0.1, 0.7, 0.2, 0.5, 0.5, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(count_correct(&outputs, 3, &[1, 0, 1]), 2);
    }

    #[test]
    fn labels_are_checked_before_the_step() {
        assert!(check_labels(&[0, 9, 3], 3, 10).is_ok());
        assert!(matches!(
            check_labels(&[0, 1], 3, 10),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            check_labels(&[0, 10, 3], 3, 10),
            Err(Error::LabelOutOfRange {
                index: 1,
                label: 10,
                classes: 10
            })
        ));
        assert!(check_labels(&[], 0, 10).is_err());
    }

    #[test]
    fn softmax_backward_matches_finite_differences() {
        let (rows, classes) = (3, 5);
        let x = crate::testing::random(rows * classes, 1);
        let r = crate::testing::random(rows * classes, 2);
        let softmax = |x: &[f32]| -> Vec<f32> {
            x.chunks(classes)
                .flat_map(|row| {
                    let m = row.iter().cloned().fold(f32::MIN, f32::max);
                    let e: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
                    let s: f32 = e.iter().sum();
                    e.into_iter().map(move |v| v / s)
                })
                .collect()
        };
        let y = softmax(&x);
        let mut dx = crate::testing::nan_filled(rows * classes);
        softmax_backward(rows, classes, &y, &r, &mut dx).unwrap();
        let mut x = x;
        crate::testing::gradcheck(&mut x, &dx, 1e-3, 1e-2, None, |x| {
            crate::testing::dot(&softmax(x), &r)
        });
    }

    #[test]
    fn thread_workspace_is_kept() {
        let layout = WorkspaceLayout {
            per_example: 4,
            per_example_u32: 0,
            fixed: 0,
        };
        with_thread_workspace(|ws| ws.ensure(16, &layout).unwrap());
        let len = with_thread_workspace(|ws| ws.f.len());
        assert!(len >= 64);
    }
}
