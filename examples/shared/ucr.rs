//! The core of `examples/ucr.rs`, shared with `tests/ucr_example.rs`:
//! Wang et al. 2017's FCN and 1D ResNet as block templates, the archive's
//! sets with their published accuracies, and one training run (Adam 1e-3
//! on the train split, normalised as [`load`] says, accuracy on the test
//! split) for any network declared on a set's `[length, channels]`.

use std::path::{Path, PathBuf};

use cnn::data::ts::{read_ts, Padding, Series};
use cnn::optim::Adam;
use cnn::train::checkpoint::load_weights;
use cnn::train::{Fit, Model, ModelCheckpoint, Monitor, Network, ReduceLrOnPlateau};

/// Declares the templates and, for each `Name [length, channels] classes`,
/// the structs `NameFcn` and `NameResNet`. The templates follow Wang,
/// Yan and Oates 2017 ("Time series classification from scratch with deep
/// neural networks: a strong baseline") as Ismail Fawaz et al. 2019 re-ran
/// them.
#[macro_export]
macro_rules! ucr_networks {
    ($($fcn:ident $resnet:ident [$l:tt, $c:tt] $k:tt;)*) => {
        cnn::network! {
            /// FCN: three convolutions (128 k8, 256 k5, 128 k3, `same`),
            /// each with batch norm and ReLU, global average pooling, softmax.
            block Fcn(classes) = [
                conv1: Conv1d { filters: 128, kernel: 8, padding: same }, bn1: BatchNorm, Relu,
                conv2: Conv1d { filters: 256, kernel: 5, padding: same }, bn2: BatchNorm, Relu,
                conv3: Conv1d { filters: 128, kernel: 3, padding: same }, bn3: BatchNorm, last: Relu,
                gap: GlobalAvgPool,
                fc: Dense { units: classes },
                Softmax,
            ];

            /// One residual block of the 1D ResNet: k8, k5 and k3
            /// convolutions with batch norm (ReLU between), and a 1x1
            /// convolution with batch norm as the shortcut where the
            /// channels change.
            block Block(filters, project) = [
                Residual {
                    body: [
                        c1: Conv1d { filters: filters, kernel: 8, padding: same }, bn1: BatchNorm, Relu,
                        c2: Conv1d { filters: filters, kernel: 5, padding: same }, bn2: BatchNorm, Relu,
                        c3: Conv1d { filters: filters, kernel: 3, padding: same }, bn3: BatchNorm,
                    ],
                    // Wang et al.'s code normalises the identity shortcut
                    // too (block 3), not only the projections.
                    shortcut: if project {
                        [sc: Conv1d { filters: filters, kernel: 1 }, sc_bn: BatchNorm]
                    } else { [sc_bn: BatchNorm] },
                },
            ];

            /// The 1D ResNet: blocks of 64, 128 and 128 filters, global
            /// average pooling, softmax.
            block ResNet(classes) = [
                block1: Block { filters: 64, project: true }, Relu,
                block2: Block { filters: 128, project: true }, Relu,
                block3: Block { filters: 128, project: false }, last: Relu,
                gap: GlobalAvgPool,
                fc: Dense { units: classes },
                Softmax,
            ];

            $(
                pub struct $fcn { input: [$l, $c], layers: Fcn { classes: $k }, taps: [last] }
                pub struct $resnet { input: [$l, $c], layers: ResNet { classes: $k }, taps: [last] }
            )*
        }
    };
}

/// One set of the archive as vendored in `data/ucr/`.
pub struct Set {
    pub name: &'static str,
    /// `[length, channels]` of the network's input (the longest case of
    /// both splits) and the classes.
    pub length: usize,
    pub channels: usize,
    pub classes: usize,
    /// Ismail Fawaz et al. 2019, table of mean accuracies over 10 runs
    /// (FCN, ResNet), in percent; `None` where the paper has no figure.
    pub published: Option<(f32, f32)>,
}

/// The vendored sets (data/README.md's `ucr/` section).
pub const SETS: &[Set] = &[
    Set {
        name: "GunPoint",
        length: 150,
        channels: 1,
        classes: 2,
        published: Some((100.0, 99.1)),
    },
    Set {
        name: "ItalyPowerDemand",
        length: 24,
        channels: 1,
        classes: 2,
        published: Some((96.1, 96.3)),
    },
    Set {
        name: "ArrowHead",
        length: 251,
        channels: 1,
        classes: 3,
        published: Some((84.3, 84.5)),
    },
    Set {
        name: "OSULeaf",
        length: 427,
        channels: 1,
        classes: 6,
        published: Some((97.7, 97.9)),
    },
    Set {
        name: "JapaneseVowels",
        length: 29,
        channels: 12,
        classes: 9,
        published: Some((99.3, 99.2)),
    },
    Set {
        name: "BasicMotions",
        length: 100,
        channels: 6,
        classes: 4,
        published: None,
    },
];

/// The set named `name` (ASCII case ignored).
pub fn set(name: &str) -> Option<&'static Set> {
    SETS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// `data/ucr/` of the repository.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/ucr")
}

/// Both splits of a set, padded to the set's length with each channel's
/// last value. A univariate set is z-normalised per series (the UCR
/// archive's own preprocessing); a multivariate set per channel with the
/// training split's mean and deviation, since the channels' levels carry
/// the class (JapaneseVowels' cepstra: per-series z-normalisation took its
/// test accuracy from 99% to 80% here).
pub fn load(set: &Set, dir: &Path) -> cnn::Result<(Series, Series)> {
    let read = |split: &str| -> cnn::Result<Series> {
        let path = dir.join(set.name).join(format!("{}_{split}.ts", set.name));
        read_ts(&path)
    };
    let (mut train, mut test) = (read("TRAIN")?, read("TEST")?);
    if train.classes != test.classes || train.classes.len() != set.classes {
        return Err(cnn::Error::InvalidArgument(format!(
            "{}: the splits' classes {:?} and {:?} are not the {} expected",
            set.name, train.classes, test.classes, set.classes
        )));
    }
    if set.channels == 1 {
        train.z_normalise();
        test.z_normalise();
    } else {
        let stats = train.channel_statistics();
        train.standardise(&stats)?;
        test.standardise(&stats)?;
    }
    let pad = |s: &Series| s.with_length(set.length, Padding::LastValue);
    Ok((pad(&train), pad(&test)))
}

/// What one run measured.
pub struct Outcome {
    pub test_accuracy: f32,
    pub train_accuracy: f32,
    /// The epoch whose weights were kept (the lowest training loss).
    pub best_epoch: usize,
    pub seconds: f64,
}

/// How one run trains: Ismail Fawaz et al. 2019's recipe (their
/// `dl-4-tsc` code) at any number of epochs.
pub struct Recipe {
    /// Epochs (they train the FCN 2,000 and the ResNet 1,500).
    pub epochs: usize,
    /// The largest batch: a batch is `min(n / 10, cap)` (16 for the FCN,
    /// 64 for the ResNet).
    pub batch_cap: usize,
    /// The seed of the weights and the batches.
    pub seed: u64,
}

/// Trains `net` with Adam (learning rate 1e-3, halved after 50 epochs
/// without a lower training loss, down to 1e-4) on the train split in
/// batches of `min(n / 10, cap)`, keeps the weights of the epoch with the
/// lowest training loss (as the papers' checkpoint does: the test split
/// chooses nothing), then measures the test split's accuracy with them.
/// With `log`, the history goes to `log.csv`, the curves to `log.svg` and
/// the kept weights to `log.safetensors`; without, the weights go to a
/// file in the system's temporary directory, removed afterwards.
pub fn run<N: Network>(
    net: N,
    train: &Series,
    test: &Series,
    recipe: &Recipe,
    log: Option<&Path>,
) -> cnn::Result<(Outcome, N)> {
    let (train_data, test_data) = (train.to_dataset()?, test.to_dataset()?);
    let batch = (train.len() / 10).clamp(1, recipe.batch_cap);
    let start = std::time::Instant::now();
    let mut model = Model::compile(net, Adam::new(1e-3)).seed(recipe.seed);
    let best = match log {
        Some(log) => log.with_extension("safetensors"),
        None => std::env::temp_dir().join(format!(
            "ucr-{}-{}-seed{}.safetensors",
            std::process::id(),
            model.network().name(),
            recipe.seed
        )),
    };
    let mut plateau = ReduceLrOnPlateau::new(Monitor::Loss, 0.5, 50)?.min_lr(1e-4);
    let mut keep = ModelCheckpoint::best(&best, Monitor::Loss);
    let mut fit = Fit::epochs(recipe.epochs)
        .batch_size(batch)
        .verbose(false)
        .callback(&mut plateau)
        .callback(&mut keep);
    if let Some(log) = log {
        fit = fit
            .csv_log(log.with_extension("csv"))
            .curves(log.with_extension("svg"), log.display().to_string());
    }
    model.fit(&train_data, fit)?;
    load_weights(&best, model.network_mut())?;
    if log.is_none() {
        // Only a temporary copy; failing to remove it loses nothing.
        let _ = std::fs::remove_file(&best);
    }
    let test_accuracy = model.evaluate(&test_data, 64)?.accuracy;
    let train_accuracy = model.evaluate(&train_data, 64)?.accuracy;
    let outcome = Outcome {
        test_accuracy,
        train_accuracy,
        best_epoch: keep.saved_epoch.unwrap_or(0),
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((outcome, model.into_network()))
}

/// The median of some accuracies.
pub fn median(values: &[f32]) -> f32 {
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n == 0 {
        return f32::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
