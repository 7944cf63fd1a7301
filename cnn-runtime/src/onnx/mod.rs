//! ONNX in and out (feature `onnx`). [`export`] writes a network's inference
//! graph (the generated `GRAPH`) as an ONNX model that ONNX Runtime and the
//! other serving runtimes run; [`import`] reads the weights of an ONNX model
//! (one exported from PyTorch, the ONNX Model Zoo's, or ours) into a
//! network declared with the same layers.
//!
//! Both sides speak ONNX's conventions: images are NCHW and volumes NCDHW,
//! convolution weights `[c_out, c_in / groups, fh, fw]` (`[.., fd, fh,
//! fw]` for a volume), and a `Flatten` of an image or volume reads it
//! channel first, so the layouts are converted on the way (the
//! index formulas of `net::import::layout`, which does the same for
//! PyTorch). The protobuf messages are the generated types of the
//! `onnx-protobuf` crate (rust-protobuf; no `protoc` at build time).
//!
//! Every layer the DSL has is expressible in ONNX's standard operators at
//! opset 17, so every network can be exported. The rule for a future layer
//! that is not: the macro must leave `export_onnx` out of that network's
//! methods (a compile error where it is called), never fail at run time.

mod export;
mod import;
mod model;

pub use export::{export, to_bytes};
pub use import::{import, import_bytes};

/// The opset the export writes: 17 has every operator used with today's
/// semantics (Softmax on one axis, BatchNormalization without training
/// outputs), and ONNX Runtime since 1.11 runs it.
pub const OPSET: i64 = 17;

/// The IR version that goes with [`OPSET`] (ONNX's versioning table:
/// opset 17 came with IR version 8).
pub const IR_VERSION: i64 = 8;

/// `3x3x32x128`, as shapes are written in messages; `scalar` for `[]`.
fn dims<T: std::fmt::Display>(shape: &[T]) -> String {
    if shape.is_empty() {
        return "scalar".to_string();
    }
    shape.iter().map(T::to_string).collect::<Vec<_>>().join("x")
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod volume_grow_tests;
#[cfg(test)]
mod volume_tests;
