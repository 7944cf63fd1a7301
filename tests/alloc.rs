//! "A training step at a batch size already seen allocates nothing"
//! (DESIGN.md): a counting global allocator, switched on only on the
//! thread running the steps, over several LeNet-5 training steps after a
//! warm-up step at each batch size.
//!
//! One exception is counted apart: `matrixmultiply::sgemm` allocates its
//! packing buffers on every call (aligned to 16 bytes or more, which no
//! buffer of ours asks for), and offers no way to pass them in. On x86-64
//! with AVX-512 no kernel calls it during LeNet-5's steps (the convolutions
//! run the implicit-GEMM micro-kernel, the dense layers the tiled GEMM,
//! both on scratch memory), so the count must be zero there; elsewhere the
//! convolutions' portable path still calls matrixmultiply, and the count
//! is printed.

mod common;

#[path = "common/counting.rs"]
mod counting;

use counting::allocations;

use cnn_runtime::optim::{Adam, Sgd};
use common::{images, labels, LeNet5};

#[test]
fn training_steps_at_seen_batch_sizes_allocate_nothing() {
    let mut net = LeNet5::new(7);
    let mut sgd = Sgd::new(0.01).momentum(0.9);
    let mut adam = Adam::new(1e-3);
    let (big, small) = (images(64, 32, 32, 1, 1), images(10, 32, 32, 1, 2));
    let (big_labels, small_labels) = (labels(64, 10), labels(10, 10));
    // Warm-up: the workspace grows to batch 64, the optimizers size their
    // state, the kernels' per-thread scratch grows.
    net.train_step(big.view(), &big_labels, &mut sgd).unwrap();
    net.train_step(small.view(), &small_labels, &mut sgd)
        .unwrap();
    net.train_step(big.view(), &big_labels, &mut adam).unwrap();
    net.train_step(small.view(), &small_labels, &mut adam)
        .unwrap();
    let (n, gemm) = allocations(|| {
        for _ in 0..3 {
            net.train_step(big.view(), &big_labels, &mut sgd).unwrap();
            net.train_step(small.view(), &small_labels, &mut sgd)
                .unwrap();
            net.train_step(big.view(), &big_labels, &mut adam).unwrap();
        }
    });
    assert_eq!(n, 0, "allocations during training steps");
    println!("matrixmultiply packing buffers over 9 steps on this thread: {gemm}");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::env::var("CNN_CONV").is_err() {
        assert_eq!(gemm, 0, "matrixmultiply packing during training steps");
    }
    // The counter works: a step at a new, larger batch size allocates.
    let (n, _) = allocations(|| {
        net.train_step(images(100, 32, 32, 1, 3).view(), &labels(100, 10), &mut sgd)
            .unwrap();
    });
    assert!(n > 0);
}
