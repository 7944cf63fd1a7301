//! `--resume` in the MNIST examples, through their own shared code
//! (`examples/shared/train_args.rs`) on a tiny network and data set: a run
//! of 4 epochs interrupted after 2 and resumed ends with the weights (and
//! the best-epoch weights) of the run that was not interrupted, bit for
//! bit; a checkpoint of another network or of a run with other flags is
//! refused with a message that names what differs.

use crate::common::TempDir;
use crate::train_args;

use cnn::network;
use cnn::optim::Adam;
use cnn::train::{Dataset, Model};
use std::fs;
use std::path::{Path, PathBuf};

network! {
    /// Batch norm's moving statistics, dropout's generator and Adam's
    /// moments are all state a checkpoint must carry.
    struct Tiny {
        input: [8, 8, 1],
        layers: [
            Conv2d { filters: 4, kernel: 3, padding: 1 }, BatchNorm, Relu,
            MaxPool2d { size: 2 }, Flatten, Dropout { rate: 0.2 },
            Dense { units: 3 }, Softmax,
        ],
    }
}

network! {
    /// The same input and classes, other layers.
    struct Other {
        input: [8, 8, 1],
        layers: [Flatten, Dense { units: 3 }, Softmax],
    }
}

/// Class k lights up rows 2k..2k+3 of a noisy 8x8 image.
fn data(n: usize, seed: u64) -> Dataset {
    let noise = cnn_runtime::testing::random(n * 64, seed);
    let labels: Vec<usize> = (0..n).map(|i| (i + seed as usize) % 3).collect();
    let x = (0..n * 64)
        .map(|i| {
            let (k, row) = (labels[i / 64], i % 64 / 8);
            0.2 * noise[i]
                + if (2 * k..2 * k + 3).contains(&row) {
                    1.0
                } else {
                    0.0
                }
        })
        .collect();
    Dataset::new([8, 8, 1], x, labels, 3).unwrap()
}

fn defaults() -> train_args::Defaults {
    train_args::Defaults {
        program: "tiny",
        epochs: 4,
        batch_size: 16,
        out: "out/tiny",
        learning_rate: 0.01,
        lr_help: "Adam's initial learning rate",
    }
}

/// The examples' options from a command line.
fn args(line: &str, out: &Path) -> train_args::Args {
    let mut a = train_args::parse(&defaults(), line.split_whitespace().map(String::from))
        .unwrap_or_else(|e| panic!("{line}: {e}"));
    a.out = out.to_path_buf();
    fs::create_dir_all(out).unwrap();
    a
}

fn run(a: &train_args::Args) -> Result<(), cnn::Error> {
    let sets = (data(96, 1), data(24, 2), data(24, 3));
    let model = Model::compile(Tiny::new(a.seed), Adam::new(a.learning_rate)).seed(a.seed);
    train_args::fit_and_report(a, model, (&sets.0, &sets.1, &sets.2), "tiny", "tiny", 0.0)?;
    Ok(())
}

fn dir(tag: &str) -> TempDir {
    TempDir::new(&format!("resume-{tag}"))
}

/// history.csv without the columns of time.
fn metrics(out: &Path) -> Vec<String> {
    fs::read_to_string(out.join("history.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(6).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn resume_parses_and_is_in_the_usage() {
    let out = dir("parse");
    let a = args("--resume out/tiny/ck.safetensors --seed 3", out.path());
    assert_eq!(a.resume, Some(PathBuf::from("out/tiny/ck.safetensors")));
    assert_eq!(a.seed, 3);
    let err = train_args::parse(&defaults(), ["--resume".to_string()].into_iter())
        .err()
        .unwrap();
    assert!(
        err.contains("a value is required for '--resume <PATH>'"),
        "{err}"
    );
    // Every option is in the help, with the example's defaults.
    let help = train_args::parse(&defaults(), ["--help".to_string()].into_iter())
        .err()
        .unwrap();
    for option in [
        "--resume <PATH>",
        "--augment <KIND>",
        "[default: 4]",
        "[default: out/tiny]",
    ] {
        assert!(help.contains(option), "{option} not in\n{help}");
    }
    // Values are checked: a zero epoch count and an unknown augmentation.
    for line in ["--epochs 0", "--augment wild"] {
        let bad = line.split_whitespace().map(String::from);
        assert!(train_args::parse(&defaults(), bad).is_err(), "{line}");
    }
}

#[test]
fn two_epochs_and_a_resume_equal_four_epochs() {
    let dirs = (dir("straight"), dir("split"));
    let (straight, split) = (dirs.0.path(), dirs.1.path());
    run(&args("--epochs 4 --seed 5", straight)).unwrap();

    let mut first = args("--epochs 4 --seed 5", split);
    first.stop_after = Some(2);
    run(&first).unwrap();
    let checkpoint = split.join("tiny_checkpoint.safetensors");
    let line = |s: &str| format!("--epochs 4 --seed 5 {s} --resume {}", checkpoint.display());

    // Other flags, or another network: refused, naming what differs.
    let refused = |a: train_args::Args| match run(&a) {
        Err(cnn::Error::Mismatch { path, message }) => {
            assert_eq!(path, checkpoint);
            message
        }
        other => panic!("expected Error::Mismatch, got {other:?}"),
    };
    let m = refused(args(&line("--seed 6").replace("--seed 5 ", ""), split));
    assert!(m.contains("seed 5 in the checkpoint, 6 now"), "{m}");
    let m = refused(args(&line("--lr 0.02"), split));
    assert!(
        m.contains("initial learning rate 0.01 in the checkpoint, 0.02 now"),
        "{m}"
    );
    let m = refused(args(
        &line("--epochs 6").replacen("--epochs 4 ", "", 1),
        split,
    ));
    assert!(m.contains("epochs 4 in the checkpoint, 6 now"), "{m}");
    let m = refused(args(&line("--batch-size 8"), split));
    assert!(m.contains("batch size 16 in the checkpoint, 8 now"), "{m}");
    let a = args(&line(""), split);
    let sets = (data(96, 1), data(24, 2), data(24, 3));
    let other = Model::compile(Other::new(5), Adam::new(0.01)).seed(5);
    match train_args::fit_and_report(&a, other, (&sets.0, &sets.1, &sets.2), "tiny", "t", 0.0) {
        Err(cnn::Error::Mismatch { message, .. }) => assert!(
            message.starts_with("a checkpoint of another network: `Tiny`")
                && message.contains("not `Other`"),
            "{message}"
        ),
        other => panic!("expected Error::Mismatch, got {:?}", other.err()),
    }

    run(&args(&line(""), split)).unwrap();
    for file in ["tiny.safetensors", "tiny_best.safetensors"] {
        assert!(
            fs::read(straight.join(file)).unwrap() == fs::read(split.join(file)).unwrap(),
            "{file} differs between the straight and the resumed run"
        );
    }
    assert_eq!(metrics(straight), metrics(split));
    assert_eq!(metrics(split).len(), 5); // header + 4 epochs
}
