//! A convolution step allocates nothing once its scratch has grown: the
//! forward and backward kernels at shapes already seen are counted with a
//! counting global allocator. This holds on the AVX-512 path, which does not
//! call matrixmultiply (whose packing buffers are allocated per call).

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

#[test]
fn a_step_at_a_seen_shape_allocates_nothing() {
    #[cfg(target_arch = "x86_64")]
    if !std::arch::is_x86_feature_detected!("avx512f") {
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    return;
    if std::env::var("CNN_CONV").is_ok() {
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
            forward(&g, batch, &x, &w, &ep, &mut y).unwrap();
            let dxo = if with_dx { Some(&mut dx[..]) } else { None };
            backward(&g, batch, &x, &w, &y, dxo, &mut dw, Some(&mut db)).unwrap();
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
