//! The facade's integration tests, gathered into one test binary: one
//! compile and one link instead of one per file, which was most of a
//! fresh `cargo test`'s time. Each file in `tests/` is a module here;
//! a new one is one `mod` line below (`Cargo.toml` sets `autotests =
//! false`, and `tidy.rs` fails on a file in `tests/` that no binary
//! names). Test names carry the module: `cargo test --test main fit::`.
//!
//! Apart: `tests/alloc.rs` (the `alloc` binary), whose counting global
//! allocator would be every test's allocator here.

mod common;
// The examples' shared code, once for every test that runs it.
// (lenet5_net, saliency_maps and visualize allow dead code themselves.)
#[path = "../examples/shared/cli.rs"]
mod cli;
#[path = "../examples/shared/clips.rs"]
mod clips;
#[path = "../examples/shared/lenet5_net.rs"]
mod lenet5_net;
#[allow(dead_code)] // the tests use part of it
#[path = "../examples/shared/localize.rs"]
mod localize;
#[allow(dead_code)]
#[path = "../examples/shared/one_shot/mod.rs"]
mod one_shot_example;
#[path = "../examples/shared/saliency_maps.rs"]
mod saliency_maps;
#[path = "../examples/shared/segment.rs"]
mod segment;
#[allow(dead_code)]
#[path = "../examples/shared/train_args.rs"]
mod train_args;
#[allow(dead_code)] // the test runs one set
#[path = "../examples/shared/ucr.rs"]
mod ucr;
#[path = "../examples/shared/visualize/mod.rs"]
mod visualize;

mod activations;
mod blocks_train;
mod clips_example;
mod composition;
mod consts;
mod detect_digits;
mod dilation;
mod dist;
mod errors;
mod fit;
mod gradcheck_network;
mod graph;
mod held_pass;
mod held_pass_pytorch;
mod localize_example;
mod mnist_training;
mod model_blocks;
mod model_losses;
mod norms;
mod one_shot;
#[cfg(feature = "onnx")]
mod onnx;
mod predict_reference;
mod pytorch_import;
mod resume_examples;
mod save_load;
mod segment_example;
mod sequences;
mod sliding_windows;
mod style;
mod summary;
mod tidy;
mod train_smoke;
mod transfer;
mod transpose;
mod ucr_example;
mod ui;
mod visualize_example;
mod volumes;
mod volumes_grow;
