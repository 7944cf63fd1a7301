//! # cnn
//!
//! Convolutional neural networks declared once, in Rust source, with the
//! [`network!`] macro. At compile time the macro works out every layer's
//! output shape with the course formula `floor((n + 2p - f) / s) + 1`,
//! counts the parameters and the multiply-adds, and turns every mistake
//! into a compile error that names the layer and shows the arithmetic.
//! Then it generates a struct with plain, fused Rust for the forward and
//! the backward pass (no tape, no graph interpreter) that calls the kernels
//! of `cnn-runtime`. Parameters live in one flat `f32` buffer; activations
//! are NHWC; a training step at a batch size already seen allocates
//! nothing.
//!
//! ```rust
//! use cnn::ndarray::Array4;
//! use cnn::prelude::*;
//!
//! network! {
//!     /// LeNet-5 (LeCun et al., 1998) with ReLU and max pooling.
//!     pub struct LeNet5 {
//!         input: [32, 32, 1],                 // height x width x channels
//!         layers: [
//!             conv1: Conv2d { filters: 6, kernel: 5 },
//!             Relu,
//!             MaxPool2d { size: 2 },          // the stride defaults to the size
//!             conv2: Conv2d { filters: 16, kernel: 5 },
//!             Relu,
//!             MaxPool2d { size: 2 },
//!             Flatten,
//!             fc3: Dense { units: 120 },
//!             Relu,
//!             fc4: Dense { units: 84 },
//!             Relu,
//!             fc5: Dense { units: 10 },
//!             Softmax,
//!         ],
//!     }
//! }
//!
//! // Sizes are constants: a wrong layer is a compile error here.
//! const _: () = assert!(LeNet5::PARAMS == 61_706);
//! const _: () = assert!(LeNet5::MACS == 416_520);
//! const _: () = assert!(LeNet5::OUTPUT_SIZE == 10);
//!
//! fn main() -> Result<(), cnn::Error> {
//!     // He / Glorot initialisation from a seed: the same seed, the same weights.
//!     let mut net = LeNet5::new(42);
//!     println!("{}", LeNet5::summary()); // a Keras-style table
//!
//!     // A batch of two 32x32 grayscale images, NHWC.
//!     let x = Array4::<f32>::zeros((2, 32, 32, 1));
//!     let probs = net.predict(x.view())?; // [batch, 10], each row sums to 1
//!     assert_eq!(probs.shape(), &[2, 10]);
//!
//!     // One step of SGD on the mean cross-entropy against class labels.
//!     let mut opt = Sgd::new(0.01).momentum(0.9);
//!     let loss = net.train_step(x.view(), &[3, 7], &mut opt)?;
//!     assert!(loss.is_finite());
//!     Ok(())
//! }
//! ```
//!
//! # Where to read on
//!
//! - [The `network!` reference](dsl): every layer kind and key with its
//!   default ([layers](dsl#layers)), how layers are named
//!   ([names](dsl#names)), block templates, stages and networks used inside
//!   networks ([composition](dsl#composition)), every rule checked at
//!   compile time ([checks](dsl#what-is-checked-at-compile-time)), and every
//!   item the macro generates ([generated API](dsl#what-the-macro-generates)).
//! - [Guides](guide): training with schedules, augmentation and test-time
//!   tricks ([`guide::training`]), the held forward pass
//!   ([`guide::held_pass`]), transfer learning ([`guide::transfer`]),
//!   PyTorch and ONNX weights ([`guide::weights`]), the classic networks
//!   ([`guide::classic_nets`]), detection, faces, style transfer, MPI,
//!   speed, and the design the library keeps to ([`guide::design`]).
//! - [`optim`]: [`optim::Sgd`] (momentum, Nesterov, weight decay),
//!   [`optim::Adam`], [`optim::AdamW`] and learning-rate schedules.
//! - [`train`]: the Keras-style loop over any generated network
//!   ([`Model::compile`], [`Model::fit`], [`Model::evaluate`]), callbacks,
//!   resumable checkpoints and the CSV history.
//! - [`augment`]: the course's data augmentation (mirroring, cropping,
//!   rotation, shear, scaling, elastic warping, colour shifts, PCA colour)
//!   as a seeded pipeline that `fit` runs on background threads;
//!   [`train::TenCrop`] and [`train::Ensemble`] at test time.
//! - ONNX (cargo feature `onnx`): every network gets `export_onnx(path)`
//!   (an ONNX model with NCHW input and a dynamic batch, for ONNX Runtime
//!   and the other serving runtimes), `from_onnx(path)` and
//!   `load_onnx(path)` (the weights of an ONNX model, PyTorch's export
//!   included, into the same declaration); the module `cnn::onnx`.
//! - [`dist`]: data-parallel training, `Fit::ranks`: every rank trains its
//!   shard of each global batch and the gradients are summed once per step
//!   (synchronised batch norm optional); over MPI with the cargo feature
//!   `mpi` (`dist::Mpi`, run under `mpirun`), or with ranks as threads.
//! - [`embed`]: face verification and one-shot recognition: the triplet
//!   loss with online mining (all, batch-hard, semi-hard), the contrastive
//!   loss and a learned Siamese head, P x K batches, the ROC and the
//!   threshold, and a saved gallery of one embedding per identity.
//! - [`data`]: MNIST and the 8x8 digits, the glyphs for one-shot learning, your own images
//!   ([`data::folder`]: one subfolder per class, PNG and JPEG) and cached
//!   features of a frozen trunk ([`data::features`]) for transfer
//!   learning; [`io`]: safetensors and PNG;
//!   [`filters`]: the course's edge filters through the convolution kernel.
//! - Speed: [`parallel::set_threads`] (or `CNN_THREADS`) sets the kernels'
//!   threads; [`isa`] picks the instruction set every hand-vectorised
//!   kernel uses (AVX-512, AVX2 + FMA or portable; the best the CPU runs by
//!   default, `CNN_ISA=avx2` or [`isa::scoped`] to compare).
//! - [`models`]: published networks (AlexNet, VGG, ResNet, GoogLeNet,
//!   DenseNet, ..) as block templates with torchvision's names:
//!   `layers: cnn::models::ResNet50 { classes: 10 }`.
//! - [`prelude`]: `use cnn::prelude::*;` brings the macro, the optimizers,
//!   the training loop and [`Error`] into scope. [`ndarray`] is re-exported,
//!   so `cnn::ndarray::Array4` is the type `predict` takes a view of.
//!
//! `cargo doc --open` shows these pages for the version you build.

#![warn(missing_docs)]

pub use cnn_macros::network;
pub use cnn_runtime::style_extractor;
pub use cnn_runtime::train::{Dataset, Fit, History, Model, Network};
pub use cnn_runtime::{
    augment, data, detect, dist, embed, filters, init, io, isa, layers, loss, net, parallel, pass,
    rng, style, train, Act, Conv2dGeom, Conv3dGeom, ConvTranspose2dGeom, ConvTranspose3dGeom,
    Error, Interpolation, Padding, Pool3dGeom, PoolGeom, Result, Upsample3dGeom, UpsampleGeom,
};
pub use ndarray;

/// ONNX export and import (feature `onnx`): what the generated
/// `export_onnx`, `from_onnx` and `load_onnx` call.
#[cfg(feature = "onnx")]
pub use cnn_runtime::onnx;

/// Optimizers: loops over flat parameter slices.
pub mod optim {
    pub use cnn_runtime::optim::*;
}

#[doc = include_str!("../docs/dsl.md")]
pub mod dsl {}

// The zoo's templates use each other across calls, whose lending macros
// name `::cnn::network!`: this crate is `cnn` to itself too.
extern crate self as cnn;

pub mod models;

/// Guides: how to do each thing the library does, with the examples that
/// show it. They are the files of `docs/` in the repository; measured
/// figures are in RESULTS.md (accuracy) and BENCHMARKS.md (speed).
pub mod guide {
    #[doc = include_str!("../docs/training.md")]
    pub mod training {}
    #[doc = include_str!("../docs/held-pass.md")]
    pub mod held_pass {}
    #[doc = include_str!("../docs/transfer.md")]
    pub mod transfer {}
    #[doc = include_str!("../docs/weights.md")]
    pub mod weights {}
    #[doc = include_str!("../docs/classic-nets.md")]
    pub mod classic_nets {}
    #[doc = include_str!("../docs/detection.md")]
    pub mod detection {}
    #[doc = include_str!("../docs/faces.md")]
    pub mod faces {}
    #[doc = include_str!("../docs/style.md")]
    pub mod style {}
    #[doc = include_str!("../docs/visualize.md")]
    pub mod visualize {}
    #[doc = include_str!("../docs/sequences.md")]
    pub mod sequences {}
    #[doc = include_str!("../docs/volumes.md")]
    pub mod volumes {}
    #[doc = include_str!("../docs/distributed.md")]
    pub mod distributed {}
    #[doc = include_str!("../docs/edge-detection.md")]
    pub mod edge_detection {}
    #[doc = include_str!("../docs/speed.md")]
    pub mod speed {}
    #[doc = include_str!("../docs/design.md")]
    pub mod design {}
}

// The README's code runs as a doctest too, so its tour stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod prelude;

/// What the macro's generated code calls; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::__cnn_onnx_methods as onnx_methods;
    pub use cnn_runtime as rt;
    pub use ndarray;
}

/// Keeps the generated ONNX methods when this crate is built with the
/// `onnx` feature and drops them otherwise: the macro's output lands in
/// the user's crate, whose own features say nothing about ours, so the
/// choice is made here, where `cfg` sees the right crate.
#[cfg(feature = "onnx")]
#[doc(hidden)]
#[macro_export]
macro_rules! __cnn_onnx_methods {
    ($($items:tt)*) => { $($items)* };
}

/// Without the `onnx` feature the generated ONNX methods do not exist.
#[cfg(not(feature = "onnx"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __cnn_onnx_methods {
    ($($items:tt)*) => {};
}
