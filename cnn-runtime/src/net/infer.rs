//! How `predict` walks a batch: in chunks whose activations stay in cache,
//! and, for networks whose examples are small, with each thread running
//! the whole network on chunks of its own.
//!
//! The layer-by-layer way (every kernel splits its layer over the threads,
//! all threads meet after each layer) is what a batch of one needs, and
//! what large examples (ResNet-50 at 224x224, 13 MB of activations each)
//! need so that each weight is read once per chunk. For small examples
//! (LeNet-5: 28 KB) a layer is a few microseconds of work per thread, so
//! the meetings and the activations passed between cores through L3 cost
//! as much as the layers: there each thread takes chunks of the batch and
//! runs every layer on them itself (a kernel called from inside a pool
//! task runs on its calling thread), in its own workspace.

use super::{with_thread_workspace, Workspace};
use crate::error::{check_len, Error, Result};
use crate::parallel;
use crate::parallel::Disjoint;
use std::sync::Mutex;

/// Fewest examples a thread takes at a time when chunks go to threads.
const MIN_PER_TASK: usize = 4;
/// Chunks per thread when chunks go to threads: enough that one thread
/// slowed by the rest of the machine does not hold the others up.
const TASKS_PER_THREAD: usize = 4;

/// Runs `run(start, n, ws, dst)` over examples `0..batch` in chunks of at
/// most `chunk`, `dst` being the chunk's rows of `out` (`out_size` floats
/// an example). With `by_example = Some(most)` (the macro's choice for
/// examples small enough that several fit in L2: `most` of them do), more
/// than one thread and a batch of at least `2 * MIN_PER_TASK` examples a
/// thread, chunks of at most `most` examples go to threads whole; else
/// they run in order on this thread, the kernels splitting each layer.
/// Returns the error of the first chunk (in batch order) that fails.
pub fn infer_chunks(
    batch: usize,
    chunk: usize,
    by_example: Option<usize>,
    out_size: usize,
    out: &mut [f32],
    run: impl Fn(usize, usize, &mut Workspace, &mut [f32]) -> Result<()> + Sync,
) -> Result<()> {
    if out_size == 0 {
        return Err(Error::InvalidArgument(
            "predict: a network with no outputs".into(),
        ));
    }
    check_len("predict: out", out.len(), batch * out_size)?;
    let chunk = chunk.max(1);
    let threads = parallel::threads();
    let Some(most) = by_example.filter(|_| threads >= 2 && batch >= 2 * MIN_PER_TASK * threads)
    else {
        return with_thread_workspace(|ws| {
            for (i, dst) in out.chunks_mut(chunk * out_size).enumerate() {
                let start = i * chunk;
                run(start, dst.len() / out_size, ws, dst)?;
            }
            Ok(())
        });
    };
    let per_task = batch.div_ceil(TASKS_PER_THREAD * threads).clamp(
        MIN_PER_TASK,
        most.clamp(MIN_PER_TASK, chunk.max(MIN_PER_TASK)),
    );
    let tasks = batch.div_ceil(per_task);
    let out = Disjoint::new(out);
    let first_error: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    parallel::for_each(tasks, &|t| {
        let (start, n) = (t * per_task, per_task.min(batch - t * per_task));
        // SAFETY: task t alone takes examples start..start + n.
        let dst = unsafe { out.range(start * out_size, (start + n) * out_size) };
        if let Err(e) = with_thread_workspace(|ws| run(start, n, ws, dst)) {
            let mut first = first_error.lock().unwrap_or_else(|e| e.into_inner());
            if first.as_ref().is_none_or(|(at, _)| t < *at) {
                *first = Some((t, e));
            }
        }
    });
    match first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `start + i` into example `i`'s outputs; fails on the chunks
    /// that hold one of `bad`.
    fn run_with(
        batch: usize,
        chunk: usize,
        by_example: Option<usize>,
        bad: &[usize],
    ) -> (Vec<f32>, Result<()>) {
        let out_size = 3;
        let mut out = vec![f32::NAN; batch * out_size];
        let r = infer_chunks(
            batch,
            chunk,
            by_example,
            out_size,
            &mut out,
            |start, n, ws, dst| {
                ws.ensure(
                    n,
                    &super::super::WorkspaceLayout {
                        per_example: 2,
                        per_example_u32: 0,
                        fixed: 0,
                    },
                )?;
                assert_eq!(dst.len(), n * out_size);
                if let Some(b) = bad
                    .iter()
                    .filter(|&&b| (start..start + n).contains(&b))
                    .min()
                {
                    return Err(Error::InvalidArgument(format!("example {b}")));
                }
                for (i, row) in dst.chunks_mut(out_size).enumerate() {
                    row.fill((start + i) as f32);
                }
                Ok(())
            },
        );
        (out, r)
    }

    #[test]
    fn every_example_is_run_once_in_place_on_either_path() {
        for threads in [1, 2, 3] {
            parallel::set_threads(threads);
            for by_example in [None, Some(1), Some(6), Some(1000)] {
                for (batch, chunk) in [(1, 4), (7, 3), (16, 256), (100, 256), (257, 37), (64, 5)] {
                    let (out, r) = run_with(batch, chunk, by_example, &[]);
                    r.unwrap();
                    for (i, v) in out.iter().enumerate() {
                        assert_eq!(*v, (i / 3) as f32, "{threads} threads, {batch} in {chunk}");
                    }
                }
            }
        }
        parallel::set_threads(2);
    }

    #[test]
    fn the_first_failing_chunk_in_batch_order_is_reported() {
        parallel::set_threads(2);
        for by_example in [None, Some(37)] {
            let (_, r) = run_with(200, 256, by_example, &[150, 30, 90]);
            let e = r.unwrap_err().to_string();
            assert!(e.contains("example 30"), "{e}");
        }
        let mut out = vec![0.0; 4];
        assert!(infer_chunks(2, 1, Some(4), 0, &mut out, |_, _, _, _| Ok(())).is_err());
        assert!(infer_chunks(2, 1, Some(4), 3, &mut out, |_, _, _, _| Ok(())).is_err());
    }
}
