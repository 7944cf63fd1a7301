//! Compile-time errors of `network!`, as users see them: one case per rule
//! in `tests/ui/<area>/<rule>.rs` with its `.stderr` beside it, and
//! networks that must compile in `tests/ui-pass/`. Regenerate the `.stderr`
//! files with `TRYBUILD=overwrite cargo test --test main ui::`, then read the
//! diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/**/*.rs");
    cases.pass("tests/ui-pass/*.rs");
}
