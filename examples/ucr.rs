//! Time series classification on the UCR/UEA archive (`data/ucr/`) with
//! Wang et al. 2017's FCN and 1D ResNet, beside the published accuracies
//! of Ismail Fawaz et al. 2019.
//!
//! ```text
//! cargo run --release --example ucr -- --dataset GunPoint
//! cargo run --release --example ucr -- --all --seeds 5 --model both --epochs 100
//! ```
//!
//! Options: `--dataset NAME` or `--all`; `--model fcn|resnet|both`
//! (default `fcn`); `--seeds N` (default 1; with more, the median is
//! printed too); `--epochs N` (default 100: the papers train 1500-2000
//! epochs, which on 2 cores would take hours per set); `--out DIR`
//! (default `out/ucr`): each run's history (`.csv`) and curves (`.svg`),
//! `results.md` with every accuracy, and class activation maps of a few
//! test series (`cam_<set>_<model>.png`). See docs/sequences.md.

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/ucr.rs"]
mod ucr;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cnn::pass::Mode;
use ucr::{load, median, run, set, Recipe, Set, SETS};

ucr_networks! {
    GunPointFcn GunPointResNet [150, 1] 2;
    ItalyPowerDemandFcn ItalyPowerDemandResNet [24, 1] 2;
    ArrowHeadFcn ArrowHeadResNet [251, 1] 3;
    OSULeafFcn OSULeafResNet [427, 1] 6;
    JapaneseVowelsFcn JapaneseVowelsResNet [29, 12] 9;
    BasicMotionsFcn BasicMotionsResNet [100, 6] 4;
}

struct Args {
    sets: Vec<&'static Set>,
    models: Vec<&'static str>,
    seeds: u64,
    epochs: usize,
    out: PathBuf,
}

/// The command line as clap reads it.
#[derive(clap::Parser)]
#[command(
    name = "ucr",
    about = "Wang et al.'s FCN and 1D ResNet on the vendored UCR/UEA sets, beside the published accuracies",
    group = clap::ArgGroup::new("sets").required(true).args(["dataset", "all"])
)]
struct Cli {
    /// A set (repeat for several): GunPoint, ItalyPowerDemand, ArrowHead,
    /// OSULeaf, JapaneseVowels, BasicMotions (case ignored)
    #[arg(long, value_name = "NAME", value_parser = known_set)]
    dataset: Vec<&'static Set>,
    /// Every vendored set
    #[arg(long)]
    all: bool,
    /// The network, or both
    #[arg(long, default_value = "fcn", value_parser = ["fcn", "resnet", "both"])]
    model: String,
    /// Seeds 1..=N per set and model (with more than one, the median is printed too)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// Epochs of each run (the papers train 1500-2000, hours per set on 2 cores)
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = cli::positive)]
    epochs: usize,
    /// Histories, curves, results.md and class activation maps
    #[arg(long, value_name = "DIR", default_value = "out/ucr")]
    out: PathBuf,
}

fn known_set(name: &str) -> Result<&'static Set, String> {
    set(name).ok_or_else(|| {
        let names: Vec<&str> = SETS.iter().map(|s| s.name).collect();
        format!("unknown set `{name}`; the sets are {}", names.join(", "))
    })
}

fn parse_args() -> Args {
    let c = <Cli as clap::Parser>::parse();
    Args {
        sets: if c.all {
            SETS.iter().collect()
        } else {
            c.dataset
        },
        models: match c.model.as_str() {
            "resnet" => vec!["resnet"],
            "both" => vec!["fcn", "resnet"],
            // clap admits fcn, resnet and both only.
            _ => vec!["fcn"],
        },
        seeds: c.seeds,
        epochs: c.epochs,
        out: c.out,
    }
}

/// Trains one model on one set for one seed; returns the test accuracy.
/// The first seed also draws the class activation maps.
fn one(set: &Set, model: &str, seed: u64, args: &Args) -> cnn::Result<f32> {
    let (train, test) = load(set, &ucr::data_dir())?;
    let log = args.out.join(format!("{}_{model}_seed{seed}", set.name));
    let log = Some(log.as_path());
    let cam = args.out.join(format!("cam_{}_{model}.png", set.name));
    macro_rules! go {
        ($net:ty) => {{
            let recipe = Recipe {
                epochs: args.epochs,
                batch_cap: if model == "fcn" { 16 } else { 64 },
                seed,
            };
            let (outcome, mut net) = run(<$net>::new(seed), &train, &test, &recipe, log)?;
            if seed == 1 {
                // The last convolution's maps, weighted by the predicted
                // class's softmax weights (Wang et al. 2017, section 4).
                let cases: Vec<usize> = pick_cases(&test.labels, set.classes);
                let mut maps = Vec::new();
                for &i in &cases {
                    let x = cnn::ndarray::ArrayView3::from_shape(
                        (1, set.length, set.channels),
                        test.case(i),
                    )
                    .expect("one case");
                    let pass = net.forward(x, Mode::Infer)?;
                    let features = pass.tap("last")?.to_owned();
                    let probs = pass.output().to_owned();
                    drop(pass);
                    let fc = <$net>::TENSORS
                        .iter()
                        .find(|t| t.name == "fc.weight")
                        .expect("fc");
                    let w = &net.params()[fc.range()];
                    maps.push(class_map(
                        features.as_slice().expect("contiguous"),
                        probs.as_slice().expect("contiguous"),
                        w,
                        set.classes,
                    ));
                }
                draw_cams(&cam, &test, &cases, &maps)?;
            }
            outcome
        }};
    }
    let outcome = match (set.name, model) {
        ("GunPoint", "fcn") => go!(GunPointFcn),
        ("GunPoint", _) => go!(GunPointResNet),
        ("ItalyPowerDemand", "fcn") => go!(ItalyPowerDemandFcn),
        ("ItalyPowerDemand", _) => go!(ItalyPowerDemandResNet),
        ("ArrowHead", "fcn") => go!(ArrowHeadFcn),
        ("ArrowHead", _) => go!(ArrowHeadResNet),
        ("OSULeaf", "fcn") => go!(OSULeafFcn),
        ("OSULeaf", _) => go!(OSULeafResNet),
        ("JapaneseVowels", "fcn") => go!(JapaneseVowelsFcn),
        ("JapaneseVowels", _) => go!(JapaneseVowelsResNet),
        ("BasicMotions", "fcn") => go!(BasicMotionsFcn),
        _ => go!(BasicMotionsResNet),
    };
    eprintln!(
        "  {} {model} seed {seed}: train {:.2}%, test {:.2}% (weights of epoch {}), {:.1} s",
        set.name,
        100.0 * outcome.train_accuracy,
        100.0 * outcome.test_accuracy,
        outcome.best_epoch,
        outcome.seconds
    );
    Ok(outcome.test_accuracy)
}

/// The first test case of each class (at most 4 cases).
fn pick_cases(labels: &[usize], classes: usize) -> Vec<usize> {
    (0..classes)
        .filter_map(|k| labels.iter().position(|&l| l == k))
        .take(4)
        .collect()
}

/// `features: [length, filters]`, `fc: [filters, classes]`: the map of the
/// predicted class, `sum_f fc[f, k] * features[t, f]` at each step.
fn class_map(features: &[f32], probs: &[f32], fc: &[f32], classes: usize) -> Vec<f32> {
    let k = probs
        .iter()
        .enumerate()
        .fold(0, |best, (i, &p)| if p > probs[best] { i } else { best });
    let filters = fc.len() / classes;
    features
        .chunks(filters)
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(f, v)| v * fc[f * classes + k])
                .sum()
        })
        .collect()
}

/// One row per case: the series (first channel) drawn as a line whose
/// colour is the class activation (blue low, red high), on white.
fn draw_cams(
    path: &Path,
    test: &cnn::data::ts::Series,
    cases: &[usize],
    maps: &[Vec<f32>],
) -> cnn::Result<()> {
    let (w, row_h) = (600usize, 120usize);
    let h = row_h * cases.len().max(1);
    let mut rgb = vec![1.0f32; w * h * 3];
    for (r, (&i, map)) in cases.iter().zip(maps).enumerate() {
        let case = test.case(i);
        let values: Vec<f32> = (0..test.length).map(|t| case[t * test.channels]).collect();
        let (lo, hi) = values
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let (mlo, mhi) = map
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let y_of = |v: f32| {
            r * row_h + 10 + ((hi - v) / (hi - lo).max(1e-6) * (row_h - 20) as f32) as usize
        };
        for x in 0..w {
            let t = x * (test.length - 1) / (w - 1).max(1);
            let heat = (map[t] - mlo) / (mhi - mlo).max(1e-6);
            let colour = [heat, 0.15, 1.0 - heat];
            let (y0, y1) = {
                let a = y_of(values[t]);
                let b = y_of(values[(t + 1).min(test.length - 1)]);
                (a.min(b), a.max(b))
            };
            for y in y0.saturating_sub(1)..=(y1 + 1).min(h - 1) {
                rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&colour);
            }
        }
    }
    cnn::io::image::write_png_rgb(path, w, h, &rgb, false)
}

fn main() {
    let args = parse_args();
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("ucr: {}: {e}", args.out.display());
        std::process::exit(1);
    }
    let mut report = format!(
        "# UCR/UEA results\n\n{} epochs, Adam 1e-3, seeds 1..={}\n\n| set | model | test accuracy (median) | runs | published (Ismail Fawaz et al. 2019) |\n|---|---|---|---|---|\n",
        args.epochs, args.seeds
    );
    for set in &args.sets {
        for &model in &args.models {
            let mut accuracies = Vec::new();
            for seed in 1..=args.seeds {
                match one(set, model, seed, &args) {
                    Ok(a) => {
                        println!("{} {model}: test accuracy: {:.2}%", set.name, 100.0 * a);
                        accuracies.push(a);
                    }
                    Err(e) => {
                        eprintln!("ucr: {} {model}: {e}", set.name);
                        std::process::exit(1);
                    }
                }
            }
            let published = match (set.published, model) {
                (Some((fcn, _)), "fcn") => format!("published mean {fcn:.1}%"),
                (Some((_, resnet)), _) => format!("published mean {resnet:.1}%"),
                (None, _) => "no published figure".to_string(),
            };
            let med = 100.0 * median(&accuracies);
            if args.seeds > 1 {
                println!(
                    "{} {model}: median of {} seeds: {med:.2}% ({published})",
                    set.name, args.seeds
                );
            } else {
                println!("{} {model}: {published}", set.name);
            }
            let runs: Vec<String> = accuracies
                .iter()
                .map(|a| format!("{:.2}", 100.0 * a))
                .collect();
            let _ = writeln!(
                report,
                "| {} | {model} | {med:.2}% | {} | {published} |",
                set.name,
                runs.join(", ")
            );
            let _ = std::fs::write(args.out.join("results.md"), &report);
        }
    }
}
