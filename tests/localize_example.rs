//! `localize_digits` through its own shared code
//! (`examples/shared/localize.rs`) on a few canvases: it makes them, trains
//! through `Model::fit` with the localization loss, tests, writes its
//! files, and resumes from its checkpoint.

use crate::{localize, train_args};

use std::path::PathBuf;

#[test]
fn the_example_trains_tests_draws_and_resumes_on_a_few_canvases() {
    let out: PathBuf = std::env::temp_dir().join(format!("cnn-localize-{}", std::process::id()));
    let defaults = train_args::Defaults {
        program: "localize_digits",
        epochs: 2,
        batch_size: 16,
        out: "unused",
        learning_rate: 2e-3,
        lr_help: "",
    };
    let mut args = train_args::parse(&defaults, std::iter::empty()).unwrap();
    args.out = out.clone();
    args.quiet = true;
    args.stop_after = Some(1);
    let sizes = || localize::Sizes {
        train: 48,
        validation: 16,
        test: 16,
    };
    // Interrupted after one of two epochs: the checkpoint is there.
    let model = localize::run(&args, sizes()).unwrap();
    assert_eq!(model.epoch(), 1);
    let checkpoint = out.join("localize_digits_checkpoint.safetensors");
    assert!(checkpoint.exists());
    // Resumed: the second epoch, then the test figures and the picture.
    args.stop_after = None;
    args.resume = Some(checkpoint);
    let model = localize::run(&args, sizes()).unwrap();
    assert_eq!(model.epoch(), 2);
    assert_eq!(model.history().epochs.len(), 2);
    for file in [
        "localizer.safetensors",
        "test_canvases.png",
        "history.csv",
        "curves.svg",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    std::fs::remove_dir_all(&out).ok();
}
