//! The run-time half of `cnn`: the kernels that the `network!` macro's
//! generated code calls, and everything around them (optimizers,
//! initialisers, data, input/output).
//!
//! Every kernel works on plain `f32` slices in NHWC order with its geometry
//! passed as one small `Copy` struct, has a forward and a backward side by
//! side, and a slow reference implementation beside it that only tests use.
//! Work is spread across the threads of [`parallel`]; scratch memory comes
//! from [`scratch`] and is kept between calls, so a step at a batch size
//! already seen allocates nothing.

#![warn(missing_docs)]

pub mod augment;
#[doc(hidden)]
pub mod bench;
pub mod data;
pub mod detect;
pub mod dist;
pub mod embed;
pub mod error;
pub mod filters;
pub mod gemm;
pub mod geom;
pub mod geom3d;
pub mod geom3d_grow;
pub mod init;
pub mod io;
pub mod isa;
pub mod layers;
pub mod loss;
mod memory;
pub mod net;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod optim;
pub mod parallel;
pub mod pass;
pub mod rng;
pub mod scratch;
pub mod style;
pub mod train;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Error, Result};
pub use geom::{
    Act, Conv2dGeom, ConvTranspose2dGeom, Interpolation, Padding, PoolGeom, UpsampleGeom,
};
pub use geom3d::{Conv3dGeom, Pool3dGeom};
pub use geom3d_grow::{ConvTranspose3dGeom, Upsample3dGeom};
