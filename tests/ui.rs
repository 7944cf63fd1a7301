//! Compile-time errors of `network!`, as users see them: one case per rule
//! in `tests/ui/<area>/<rule>.rs` with its `.stderr` beside it, checked by
//! trybuild. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test main ui::`, then read the diff.
//!
//! The networks that must compile, `tests/ui-pass/`, are modules of this
//! binary rather than trybuild `pass` cases: a pass case makes trybuild
//! build and link every dependency again (unoptimised, with full debug
//! info), where failing cases need only `cargo check`. Their `const`
//! assertions hold if this binary compiles.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/**/*.rs");
}

// Each declares networks to see them compile; most are never used.
#[allow(dead_code)]
#[path = "ui-pass/header_passthrough.rs"]
mod header_passthrough;
#[allow(dead_code)]
#[path = "ui-pass/inception_module.rs"]
mod inception_module;
#[allow(dead_code)]
#[path = "ui-pass/lenet5.rs"]
mod lenet5;
#[allow(dead_code)]
#[path = "ui-pass/readme_resnet50.rs"]
mod readme_resnet50;
#[allow(dead_code)]
#[path = "ui-pass/receptive_fields.rs"]
mod receptive_fields;
#[allow(dead_code)]
#[path = "ui-pass/resnet_block.rs"]
mod resnet_block;
#[allow(dead_code)]
#[path = "ui-pass/taps_and_dense_softmax.rs"]
mod taps_and_dense_softmax;
#[allow(dead_code)]
#[path = "ui-pass/vgg_block.rs"]
mod vgg_block;
