//! # cnn
//!
//! Convolutional neural networks declared with the [`network!`] macro,
//! checked at compile time (every layer's shape with the course formula
//! `floor((n + 2p - f) / s) + 1`, parameter and multiply-add counts) and
//! compiled into fused forward and backward code that calls the kernels of
//! `cnn-runtime`.
//!
//! See `DESIGN` in the repository for the contract of the DSL and of the
//! generated API.

pub use cnn_macros::network;
pub use cnn_runtime::train::{Dataset, Fit, History, Model, Network};
pub use cnn_runtime::{
    data, filters, init, io, layers, parallel, rng, train, Act, Conv2dGeom, Error, Padding,
    PoolGeom, Result,
};
pub use ndarray;

/// Optimizers: loops over flat parameter slices.
pub mod optim {
    pub use cnn_runtime::optim::*;
}

pub mod prelude;

/// What the macro's generated code calls; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use cnn_runtime as rt;
    pub use ndarray;
}
