//! "A training step at a batch size already seen allocates nothing"
//! (docs/design.md): a counting global allocator, switched on only on the
//! thread running the steps, over several LeNet-5 training steps after a
//! warm-up step at each batch size, under every instruction set the CPU
//! runs (`cnn_runtime::isa::scoped`), and the same over a network of
//! group norm, layer norm and gates, over one of dilated convolutions
//! (which run on the im2col path, its columns in the kernels' scratch) and
//! over a decoder of transposed convolutions and upsampling.
//!
//! One exception is counted apart: `matrixmultiply::sgemm` allocates its
//! packing buffers on every call (aligned to 16 bytes or more, which no
//! buffer of ours asks for), and offers no way to pass them in. On x86-64
//! with AVX-512 or AVX2 + FMA no kernel calls it during these steps (the
//! convolutions, 2-D and 3-D, whichever algorithm `tune.rs` measured
//! fastest, run on the micro-kernel, their im2col products on its
//! blocked, scratch-backed GEMM; the dense layers on the tiled GEMM), so
//! the count must be zero there; under `CNN_ISA=portable` the im2col
//! path calls matrixmultiply, and the count is printed.
//!
//! This file is the root of the `alloc` test binary, apart from `main`'s
//! (tests/main.rs) because its counting allocator is the allocator of the
//! whole process, and because the counted steps must run alone: beside
//! other tests, the kernels' thread pool is often busy, which changes
//! which thread runs a kernel's tasks and so whose scratch grows when.
//! `tests/dist_alloc.rs` is a module of it; the newer activations and L2
//! normalisation have a network of their own at the end.

mod common;
mod dist_alloc;

#[path = "common/counting.rs"]
mod counting;

use counting::allocations;

use cnn::ndarray::Array5;
use cnn::network;
use cnn_runtime::isa::{self, Isa};
use cnn_runtime::optim::{Adam, Sgd};
use common::{images, labels, LeNet5};

network! {
    /// Group norm, layer norm per position and on vectors, a
    /// squeeze-and-excitation gate and an element-wise one, a learnt
    /// per-channel scale.
    struct Norms {
        input: [8, 8, 3],
        layers: [
            Conv2d { filters: 8, kernel: 3, padding: same },
            GroupNorm { groups: 4 },
            Relu,
            Gate { body: [GlobalAvgPool, Dense { units: 2 }, Relu, Dense { units: 8 }, Sigmoid] },
            LayerNorm,
            Scale { init: 0.5 },
            Gate { body: [Conv2d { filters: 8, kernel: 1 }, Sigmoid] },
            Flatten,
            Dense { units: 16 },
            LayerNorm,
            Relu,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

network! {
    /// Dilated dense, depthwise and grouped convolutions.
    struct Dilated {
        input: [12, 12, 3],
        layers: [
            Conv2d { filters: 8, kernel: 3, dilation: 2, padding: same },
            Relu,
            DepthwiseConv2d { kernel: 3, dilation: 2, padding: same },
            Conv2d { filters: 8, kernel: 3, dilation: [1, 2], groups: 2, stride: 2 },
            Relu,
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

network! {
    /// A decoder: transposed convolutions (strided with output padding, a
    /// grouped one whose output padding is below the dilation only, which
    /// runs on a widened grid in scratch, a depthwise one), a batch norm
    /// after one, nearest and bilinear upsampling.
    struct Decoder {
        input: [6, 6, 3],
        layers: [
            Conv2d { filters: 8, kernel: 3, stride: 2, padding: 1 },
            Relu,
            ConvTranspose2d { filters: 8, kernel: 3, stride: 2, padding: 1, output_padding: 1 },
            BatchNorm,
            Relu,
            ConvTranspose2d { filters: 4, kernel: 3, dilation: 2, padding: 2, output_padding: 1, groups: 2 },
            Upsample { scale: 2 },
            ConvTranspose2d { filters: 4, kernel: 3, padding: 1, groups: 4 },
            Upsample { scale: [1, 2], mode: bilinear },
            Relu,
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

network! {
    /// A small C3D that regrows its map: strided and grouped 3D
    /// convolutions, both 3D poolings, batch norm, a strided grouped
    /// `ConvTranspose3d` and a dilated one whose output padding widens its
    /// grid, trilinear and nearest upsampling, global pooling.
    struct Volume {
        input: [4, 8, 8, 2],
        layers: [
            Conv3d { filters: 8, kernel: 3, padding: 1 },
            BatchNorm,
            Relu,
            MaxPool3d { size: 2 },
            ConvTranspose3d { filters: 8, kernel: 3, stride: 2, padding: 1, output_padding: 1, groups: 2 },
            Relu,
            Upsample { scale: [2, 1, 1], mode: trilinear },
            ConvTranspose3d { filters: 4, kernel: 2, dilation: 2, output_padding: 1, bias: false },
            Conv3d { filters: 8, kernel: [1, 3, 3], padding: same, groups: 2 },
            Relu,
            AvgPool3d { size: [1, 2, 2], stride: 1 },
            Upsample { scale: [1, 1, 2] },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

#[test]
fn training_steps_at_seen_batch_sizes_allocate_nothing() {
    let _alone = counting::alone();
    for isa in Isa::supported_here() {
        isa::scoped(isa, || steps_allocate_nothing(isa)).unwrap();
        isa::scoped(isa, || norm_steps_allocate_nothing(isa)).unwrap();
        isa::scoped(isa, || dilated_steps_allocate_nothing(isa)).unwrap();
        isa::scoped(isa, || decoder_steps_allocate_nothing(isa)).unwrap();
        isa::scoped(isa, || volume_steps_allocate_nothing(isa)).unwrap();
    }
    // The counter works: a step at a new, larger batch size allocates.
    let mut net = LeNet5::new(7);
    let mut sgd = Sgd::new(0.01);
    let (n, _) = allocations(|| {
        net.train_step(images(100, 32, 32, 1, 3).view(), &labels(100, 10), &mut sgd)
            .unwrap();
    });
    assert!(n > 0);
}

/// The norms' and gates' kernels keep nothing between calls and take no
/// scratch: after warm-up steps, six more allocate nothing.
fn norm_steps_allocate_nothing(isa: Isa) {
    let mut net = Norms::new(3);
    let mut adam = Adam::new(1e-3);
    let (big, small) = (images(32, 8, 8, 3, 4), images(5, 8, 8, 3, 5));
    let (big_labels, small_labels) = (labels(32, 10), labels(5, 10));
    net.train_step(big.view(), &big_labels, &mut adam).unwrap();
    net.train_step(small.view(), &small_labels, &mut adam)
        .unwrap();
    let (n, _) = allocations(|| {
        for _ in 0..3 {
            net.train_step(big.view(), &big_labels, &mut adam).unwrap();
            net.train_step(small.view(), &small_labels, &mut adam)
                .unwrap();
        }
    });
    assert_eq!(n, 0, "allocations during norm training steps on {isa}");
}

/// Warm-up steps of `$net` at a batch of `$big` and one of 3 (examples
/// made by `$examples(n, seed)`), then six more that allocate nothing but
/// matrixmultiply's packing buffers (counted apart, printed).
macro_rules! gemm_path_steps_allocate_nothing {
    ($net:ty, $big:expr, $examples:expr, $what:expr, $isa:expr) => {{
        let (isa, what, examples) = ($isa, $what, $examples);
        let mut net = <$net>::new(3);
        let mut adam = Adam::new(1e-3);
        let (big, small) = (examples($big, 6), examples(3, 7));
        let (big_labels, small_labels) = (labels($big, 10), labels(3, 10));
        net.train_step(big.view(), &big_labels, &mut adam).unwrap();
        net.train_step(small.view(), &small_labels, &mut adam)
            .unwrap();
        let (n, gemm) = allocations(|| {
            for _ in 0..3 {
                net.train_step(big.view(), &big_labels, &mut adam).unwrap();
                net.train_step(small.view(), &small_labels, &mut adam)
                    .unwrap();
            }
        });
        assert_eq!(n, 0, "allocations during {what} training steps on {isa}");
        println!("{isa}: matrixmultiply packing buffers over 6 {what} steps: {gemm}");
        if matches!(isa, Isa::Avx512 | Isa::Avx2) {
            assert_eq!(
                gemm, 0,
                "matrixmultiply packing during {what} steps on {isa}"
            );
        }
    }};
}

/// Dilated layers take the im2col + matrixmultiply path on every
/// instruction set.
fn dilated_steps_allocate_nothing(isa: Isa) {
    let examples = |n, seed| images(n, 12, 12, 3, seed);
    gemm_path_steps_allocate_nothing!(Dilated, 16, examples, "dilated", isa);
}

/// Transposed convolutions run on the convolution's kernels (their
/// widened grid in the scratch slot `Wide`), upsampling in place of its
/// output.
fn decoder_steps_allocate_nothing(isa: Isa) {
    let examples = |n, seed| images(n, 6, 6, 3, seed);
    gemm_path_steps_allocate_nothing!(Decoder, 12, examples, "decoder", isa);
}

/// Volumes: `Conv3d` (3-D im2col + matrixmultiply, its column matrix and
/// weight-gradient partials in scratch slots), `ConvTranspose3d` on the
/// same kernels (its widened grid in the slot `Wide`), both 3D poolings,
/// upsampling, batch norm over a volume's channels.
fn volume_steps_allocate_nothing(isa: Isa) {
    let examples = |n: usize, seed| {
        let x = images(n * 4, 8, 8, 2, seed).into_raw_vec_and_offset().0;
        Array5::from_shape_vec((n, 4, 8, 8, 2), x).unwrap()
    };
    gemm_path_steps_allocate_nothing!(Volume, 8, examples, "volume", isa);
}

/// Warm-up steps at two batch sizes and both optimizers, then nine more
/// that must not allocate; no matrixmultiply packing either where the
/// convolutions have their micro-kernel (`isa` AVX-512 or AVX2).
fn steps_allocate_nothing(isa: Isa) {
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
    assert_eq!(n, 0, "allocations during training steps on {isa}");
    println!("{isa}: matrixmultiply packing buffers over 9 steps on this thread: {gemm}");
    if matches!(isa, Isa::Avx512 | Isa::Avx2) {
        assert_eq!(
            gemm, 0,
            "matrixmultiply packing during training steps on {isa}"
        );
    }
}

cnn::network! {
    /// The activations whose backward reads their input (SiLU, GELU,
    /// hardswish: unfused in training, out of place) and L2 normalisation,
    /// beside the ones fused as before.
    struct Activations {
        input: [12, 12, 3],
        layers: [
            c1: Conv2d { filters: 8, kernel: 3, padding: same },
            Silu,
            c2: Conv2d { filters: 8, kernel: 3, stride: 2, padding: same },
            bn: BatchNorm,
            Gelu,
            Hardswish,
            L2Normalize,
            c3: Conv2d { filters: 4, kernel: 1 },
            Relu6,
            Flatten,
            d1: Dense { units: 16 },
            Gelu { approximate: tanh },
            d2: Dense { units: 8 },
            Hardsigmoid,
            L2Normalize,
            d3: Dense { units: 10 },
            Softmax,
        ],
    }
}

/// The same rule for a network of the newer activations.
#[test]
fn steps_of_the_newer_activations_allocate_nothing() {
    let _alone = counting::alone();
    let mut net = Activations::new(3);
    let mut sgd = Sgd::new(0.01).momentum(0.9);
    let (big, small) = (images(32, 12, 12, 3, 1), images(5, 12, 12, 3, 2));
    let (big_labels, small_labels) = (labels(32, 10), labels(5, 10));
    // Warm-up, twice: the workspace, the optimizer's state and every
    // thread's scratch grow to both batch sizes.
    for _ in 0..2 {
        net.train_step(big.view(), &big_labels, &mut sgd).unwrap();
        net.train_step(small.view(), &small_labels, &mut sgd)
            .unwrap();
    }
    let (n, _) = allocations(|| {
        for _ in 0..3 {
            net.train_step(big.view(), &big_labels, &mut sgd).unwrap();
            net.train_step(small.view(), &small_labels, &mut sgd)
                .unwrap();
        }
    });
    assert_eq!(n, 0, "allocations during training steps");
}
