//! A convolution step allocates nothing once its scratch has grown: the
//! forward and backward kernels, plain and grouped, at shapes already seen
//! are counted with a counting global allocator. The plain kernels hold to
//! it on the AVX-512 path, which does not call matrixmultiply (whose
//! packing buffers are allocated per call); so do the grouped ones, while
//! their direct kernel (depthwise, and groups of 2 or 4 channels in and
//! out) never calls matrixmultiply and is checked on every CPU.
//!
//! One binary of its own: the counting allocator is the whole process's,
//! and the tests set the kernels' thread count to 1 for the process.

use cnn_runtime::geom::{Act, Conv2dGeom, Padding};
use cnn_runtime::layers::conv2d::{backward, forward, Epilogue};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    // Only this thread's allocations count: the test harness's own threads
    // allocate now and then (seen as a flaky 4 under load), and with one
    // kernel thread every allocation of the kernels happens here.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[test]
fn a_step_at_a_seen_shape_allocates_nothing() {
    if !avx512() || std::env::var("CNN_CONV").is_ok() {
        return;
    }
    // One thread, so that every buffer grows on this thread during the
    // warm-up (with more, a worker may meet a size first later on).
    cnn_runtime::parallel::set_threads(1);
    // LeNet-5's convolutions, a padded 3x3 layer, a stride-2 one and a
    // 1x1 stride-2 projection.
    let shapes = [
        ([32, 32, 1], 6, 5, 1, Padding::Valid, false),
        ([14, 14, 6], 16, 5, 1, Padding::Valid, true),
        ([16, 16, 16], 16, 3, 1, Padding::Same, true),
        ([16, 16, 16], 32, 3, 2, Padding::Same, true),
        ([16, 16, 16], 32, 1, 2, Padding::Valid, true),
    ];
    for (input, c_out, f, s, padding, with_dx) in shapes {
        let g = Conv2dGeom::new(input, c_out, [f, f], [s, s], padding).unwrap();
        let batch = 8;
        let x = vec![0.5; batch * g.in_len()];
        let w = vec![0.1; g.weight_len()];
        let b = vec![0.0; c_out];
        let mut y = vec![0.0; batch * g.out_len()];
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; w.len()];
        let mut db = vec![0.0; c_out];
        let ep = Epilogue::new(Some(&b), Act::Relu);
        let mut step = || {
            forward(&g, 1, batch, &x, &w, &ep, &mut y).unwrap();
            let dxo = if with_dx { Some(&mut dx[..]) } else { None };
            backward(&g, 1, batch, &x, &w, &y, dxo, &mut dw, Some(&mut db)).unwrap();
        };
        for _ in 0..3 {
            step();
        }
        let before = allocations();
        for _ in 0..5 {
            step();
        }
        let after = allocations();
        assert_eq!(after - before, 0, "{g:?}: allocations in a warmed-up step");
    }
}

#[test]
fn a_grouped_step_at_a_seen_shape_allocates_nothing() {
    // One thread, so that every buffer grows on this thread during the
    // warm-up (with more, a worker may meet a size first later on).
    cnn_runtime::parallel::set_threads(1);
    let grouped_too = avx512() && std::env::var("CNN_CONV").is_err();
    // Input, c_out, groups, kernel, stride, padding, with dx: depthwise
    // (multipliers 1 and 2, stride 2) and groups of 4 on the direct
    // kernel; then on the micro-kernel groups of 16 (transposed dx), of 8
    // (scattered dx), and 4 -> 8 without dx.
    let shapes = [
        ([16, 16, 32], 32, 32, 3, 1, Padding::Same, true),
        ([16, 16, 8], 16, 8, 3, 2, Padding::Same, true),
        ([16, 16, 32], 32, 8, 3, 1, Padding::Same, true),
        ([16, 16, 32], 32, 2, 3, 1, Padding::Same, true),
        ([16, 16, 32], 32, 4, 3, 1, Padding::Same, true),
        ([16, 16, 32], 64, 8, 3, 2, Padding::Same, false),
    ];
    for (input, c_out, groups, f, s, padding, with_dx) in shapes {
        let (cg, og) = (input[2] / groups, c_out / groups);
        let direct = cg == 1 || (cg == og && cg <= 4);
        if !direct && !grouped_too {
            continue;
        }
        let g = Conv2dGeom::new(input, c_out, [f, f], [s, s], padding).unwrap();
        let batch = 4;
        let x = vec![0.5; batch * g.in_len()];
        let w = vec![0.1; g.weight_len() / groups];
        let b = vec![0.0; c_out];
        let mut y = vec![0.0; batch * g.out_len()];
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; w.len()];
        let mut db = vec![0.0; c_out];
        let ep = Epilogue::new(Some(&b), Act::Relu);
        let mut step = || {
            forward(&g, groups, batch, &x, &w, &ep, &mut y).unwrap();
            let dxo = if with_dx { Some(&mut dx[..]) } else { None };
            backward(&g, groups, batch, &x, &w, &y, dxo, &mut dw, Some(&mut db)).unwrap();
        };
        for _ in 0..3 {
            step();
        }
        let before = allocations();
        for _ in 0..5 {
            step();
        }
        let after = allocations();
        assert_eq!(
            after - before,
            0,
            "{g:?} groups {groups}: allocations in a warmed-up step"
        );
    }
}
