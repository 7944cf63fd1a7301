//! What LeNet-5's units respond to, the course's "What are deep ConvNets
//! learning?" (Zeiler and Fergus 2013) on MNIST: the core of the
//! `visualize` example, which `tests/visualize_example.rs` runs on a tiny
//! budget.
//!
//! - For a few units (channels) of `conv1`, `conv2` and `fc3`, the nine
//!   test digits that activate each most, each cut to the unit's receptive
//!   field around its strongest position (`RECEPTIVE_FIELDS`, worked out
//!   by the macro: 5x5, 14x14, the whole 32x32): one PNG per layer, a row
//!   per unit. Deeper units see larger regions.
//! - Gradient ascent on the input (Erhan et al. 2009; Simonyan et al.
//!   2014): from grey noise, the picture that maximises one unit at the
//!   centre of its map (or one class's score), with a decay of the pixels
//!   towards the mean and a blur every few steps as the regularisers, and
//!   the pixels kept in the range of real ones.
//! - Saliency maps of a few test digits (`saliency_maps.rs`).

// Each program that includes this file uses part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use cnn::ndarray::{Array2, Array4, ArrayView4};
use cnn::net::{Patch, ReceptiveField};
use cnn::pass::{Grads, Mode};
use cnn::prelude::*;

use crate::lenet5_net::{prepare, LeNet5, LeNet5Layers};
use crate::saliency_maps;

mod ascent;
mod draw;

pub use ascent::ascend;
use draw::{ascent_row, write_rows, write_top_grid};

network! {
    /// LeNet-5 as `lenet5` trains it, with four layers tapped: the two
    /// convolutions and the first dense layer (before their ReLUs) and the
    /// class scores (before the softmax). Its tensors are LeNet-5's, so the
    /// weights `lenet5` saves load as they are.
    pub struct LeNet5Taps {
        input: [32, 32, 1],
        layers: [..LeNet5Layers {}, Softmax],
        taps: [conv1, conv2, fc3, fc5],
    }
}

/// The layers whose units the figures show, shallow to deep.
pub const LAYERS: [&str; 3] = ["conv1", "conv2", "fc3"];
/// The class scores, for gradient ascent on a class.
pub const CLASSES: &str = "fc5";
/// Patches per unit, as in Zeiler and Fergus's figures.
pub const TOP: usize = 9;
/// The picture's size.
const SIDE: usize = 32;
/// The weights the example trains when it finds none, in `--out`.
pub const OWN_WEIGHTS: &str = "lenet5_trained.safetensors";

/// The command line (clap's; `--help` lists it).
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "visualize",
    about = "What LeNet-5's units respond to: top-9 patches, gradient ascent and saliency maps"
)]
pub struct Args {
    /// LeNet-5's weights, as `lenet5` saves them; without them the example
    /// trains LeNet-5 for --epochs and saves it in --out
    #[arg(
        long,
        value_name = "FILE",
        default_value = "out/lenet5/lenet5.safetensors"
    )]
    pub weights: PathBuf,
    /// Where the pictures go
    #[arg(long, value_name = "DIR", default_value = "out/visualize")]
    pub out: PathBuf,
    /// The four MNIST IDX files [default: the vendored data/mnist]
    #[arg(long, value_name = "DIR", default_value_os_t = cnn::data::mnist::vendored_dir(), hide_default_value = true)]
    pub data: PathBuf,
    /// Epochs to train when there are no weights
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = crate::cli::positive)]
    pub epochs: usize,
    /// Training images used then (all; the test uses fewer).
    #[arg(skip = usize::MAX)]
    pub train_images: usize,
    /// Test images searched for each unit's top 9 patches (10000: all)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = crate::cli::positive)]
    pub images: usize,
    /// Units shown per layer (at most 16)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = units)]
    pub units: usize,
    /// Gradient-ascent steps
    #[arg(long, value_name = "N", default_value_t = 300)]
    pub steps: usize,
    /// Test digits in the saliency picture.
    #[arg(skip = 12usize)]
    pub saliency: usize,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = crate::cli::positive)]
    pub threads: Option<usize>,
    /// Seed of the training and of the ascent's noise
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Print nothing (the test).
    #[arg(skip)]
    pub quiet: bool,
}

fn units(s: &str) -> Result<usize, String> {
    crate::cli::positive(s).and_then(|n| {
        (n <= 16)
            .then_some(n)
            .ok_or_else(|| format!("{n} units: at most 16 fit the pictures"))
    })
}

/// Parses the options after the program's name; `Err` is clap's message
/// (its help for `--help`).
pub fn parse(it: impl Iterator<Item = String>) -> Result<Args, String> {
    crate::cli::parse_from("visualize", it)
}

/// One of a unit's top patches: the activation, the test image, the
/// position in the layer's map, and the input pixels it sees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Top {
    pub value: f32,
    pub image: usize,
    pub at: [usize; 2],
    pub patch: Patch,
}

/// What `run` found and wrote, per layer.
#[derive(Debug)]
pub struct LayerReport {
    pub name: &'static str,
    pub field: ReceptiveField,
    /// The units shown (channels).
    pub units: Vec<usize>,
    /// Per unit, its top patches, strongest first.
    pub tops: Vec<Vec<Top>>,
    pub top_png: PathBuf,
    /// Per unit, its activation before and after gradient ascent.
    pub ascent: Vec<(f32, f32)>,
}

#[derive(Debug)]
pub struct Report {
    pub layers: Vec<LayerReport>,
    /// Per class, its score before and after gradient ascent.
    pub classes: Vec<(f32, f32)>,
    pub ascent_png: PathBuf,
    pub saliency_png: PathBuf,
    /// Saliency digits predicted right, of `args.saliency`.
    pub right: usize,
}

/// Loads (or trains) LeNet-5, then makes the three figures in `args.out`.
pub fn run(args: &Args) -> Result<Report, cnn::Error> {
    if let Some(t) = args.threads {
        cnn::parallel::set_threads(t);
    }
    std::fs::create_dir_all(&args.out).map_err(|e| cnn::Error::io(&args.out, e))?;
    let mnist = cnn::data::mnist::load(&args.data)?;
    let test = prepare(&mnist.test)?.take(args.images);
    let mut net = network(args, &mnist.train)?;
    // Only the input's gradient is wanted: no weight gradient anywhere.
    net.freeze("")?;
    let say = |line: String| {
        if !args.quiet {
            println!("{line}");
        }
    };

    let mut layers = Vec::new();
    for name in LAYERS {
        let field = *LeNet5Taps::receptive_field(name).expect("a layer of LeNet5Taps");
        let channels = *tap_shape(name).last().expect("a tap has a shape");
        let units: Vec<usize> = (0..args.units.min(channels)).collect();
        let tops = top_patches(&mut net, test.images(), name, &units, TOP)?;
        let top_png = args.out.join(format!("{name}_top9.png"));
        write_top_grid(&top_png, test.images(), &tops, &field)?;
        let seen = if field.size == [SIDE, SIDE] && field.start == [0, 0] {
            " (the whole digit)".to_string()
        } else {
            format!(" (jump {})", field.jump[0])
        };
        say(format!(
            "layer {name}: receptive field {}x{}{seen}, top-{TOP} patches of {} units over {} test digits -> {}",
            field.size[0],
            field.size[1],
            units.len(),
            test.len(),
            top_png.display()
        ));
        layers.push(LayerReport {
            name,
            field,
            units,
            tops,
            top_png,
            ascent: Vec::new(),
        });
    }

    // Gradient ascent: a row of pictures per layer, then the classes.
    let mut rows = Vec::new();
    for layer in &mut layers {
        let (x, gains) = ascend(&mut net, layer.name, &layer.units, args.steps, args.seed)?;
        rows.push(ascent_row(&x, &layer.field));
        layer.ascent = gains;
    }
    let classes: Vec<usize> = (0..10).collect();
    let (x, class_gains) = ascend(&mut net, CLASSES, &classes, args.steps, args.seed)?;
    let scores = LeNet5Taps::receptive_field(CLASSES).expect("a layer of LeNet5Taps");
    rows.push(ascent_row(&x, scores));
    let ascent_png = args.out.join("ascent.png");
    write_rows(&ascent_png, &rows)?;
    for layer in &layers {
        say(format!(
            "gradient ascent on {}: {} units, mean activation {:.2} -> {:.2}",
            layer.name,
            layer.units.len(),
            mean_of(&layer.ascent, |g| g.0),
            mean_of(&layer.ascent, |g| g.1)
        ));
    }
    say(format!(
        "gradient ascent on the 10 class scores: mean {:.2} -> {:.2} ({} steps) -> {}",
        mean_of(&class_gains, |g| g.0),
        mean_of(&class_gains, |g| g.1),
        args.steps,
        ascent_png.display()
    ));

    // Saliency maps of the first test digits.
    let n = args.saliency.min(test.len());
    let x = digits(test.images(), 0, n).to_owned();
    let probs = net.predict(x.view())?;
    let predicted: Vec<usize> = probs
        .rows()
        .into_iter()
        .map(|r| cnn::train::fit::argmax(r.as_slice().expect("rows of a standard array")))
        .collect();
    let mut input_grad =
        |x: &Array4<f32>, onehot: &Array2<f32>| -> Result<Array4<f32>, cnn::Error> {
            let mut pass = net.forward(x.view(), Mode::Infer)?;
            pass.backward(Grads::new().logits(onehot.view()).input())?;
            Ok(pass.input_grad().expect("asked for").to_owned())
        };
    let grad = saliency_maps::gradient(&mut input_grad, &x, &predicted, 10)?;
    let smooth = saliency_maps::smooth_grad(&mut input_grad, &x, &predicted, 10)?;
    let saliency_png = args.out.join("saliency.png");
    let right = saliency_maps::draw(
        &saliency_png,
        &x,
        &[&grad, &smooth],
        &predicted,
        test.labels(),
    )?;
    net.zero_grads();
    say(format!(
        "saliency: {n} test digits ({right} predicted right), gradient and SmoothGrad -> {}",
        saliency_png.display()
    ));
    Ok(Report {
        layers,
        classes: class_gains,
        ascent_png,
        saliency_png,
        right,
    })
}

fn mean_of(gains: &[(f32, f32)], f: impl Fn(&(f32, f32)) -> f32) -> f32 {
    gains.iter().map(f).sum::<f32>() / gains.len().max(1) as f32
}

/// `--weights`, or what an earlier run trained, or LeNet-5 trained now for
/// `--epochs` (the fused network without taps: faster) and saved in
/// `--out`.
fn network(args: &Args, train: &cnn::data::LabelledImages) -> Result<LeNet5Taps, cnn::Error> {
    let own = args.out.join(OWN_WEIGHTS);
    if let Some(path) = [&args.weights, &own].into_iter().find(|p| p.exists()) {
        if !args.quiet {
            println!("LeNet-5 from {}", path.display());
        }
        return LeNet5Taps::load(path);
    }
    let train = prepare(train)?.take(args.train_images);
    if !args.quiet {
        println!(
            "{} not found (`cargo run --release --example lenet5` makes it): training LeNet-5 for {} epochs on {} images",
            args.weights.display(),
            args.epochs,
            train.len()
        );
    }
    let mut model = Model::compile(LeNet5::new(args.seed), Adam::new(1e-3)).seed(args.seed);
    model.fit(
        &train,
        Fit::epochs(args.epochs).batch_size(64).verbose(!args.quiet),
    )?;
    model.network().save(&own)?;
    LeNet5Taps::load(&own)
}

/// One example's shape at tap `name`: `[h, w, c]` or `[n]`.
fn tap_shape(name: &str) -> &'static [usize] {
    LeNet5Taps::TAPS
        .iter()
        .find(|t| t.name == name)
        .expect("a tap of LeNet5Taps")
        .shape
}

/// `[h, w, c]` of a tap, a flat one as `1 x 1 x n`.
fn map_dims(name: &str) -> [usize; 3] {
    match *tap_shape(name) {
        [h, w, c] => [h, w, c],
        [n] => [1, 1, n],
        _ => unreachable!("taps are images or vectors"),
    }
}

/// Digits `start..start + n` of a set's images (`[n, 32, 32, 1]`).
fn digits(images: &[f32], start: usize, n: usize) -> ArrayView4<'_, f32> {
    let px = SIDE * SIDE;
    ArrayView4::from_shape((n, SIDE, SIDE, 1), &images[start * px..(start + n) * px])
        .expect("whole digits")
}

/// For each unit of `units` in layer `name`, the `k` images whose
/// strongest position activates it most (one patch per image, as Zeiler
/// and Fergus show), strongest first, with the patch their field sees.
pub fn top_patches(
    net: &mut LeNet5Taps,
    images: &[f32],
    name: &str,
    units: &[usize],
    k: usize,
) -> Result<Vec<Vec<Top>>, cnn::Error> {
    const BATCH: usize = 500;
    let field = LeNet5Taps::receptive_field(name).expect("a layer of LeNet5Taps");
    let [h, w, c] = map_dims(name);
    let n = images.len() / (SIDE * SIDE);
    let mut all: Vec<Vec<Top>> = vec![Vec::with_capacity(n); units.len()];
    for start in (0..n).step_by(BATCH) {
        let b = BATCH.min(n - start);
        let pass = net.forward(digits(images, start, b), Mode::Infer)?;
        let tap = pass.tap(name)?;
        let a = tap.as_slice().expect("a tap is in standard order");
        for e in 0..b {
            for (list, &u) in all.iter_mut().zip(units) {
                let (mut best, mut at) = (f32::NEG_INFINITY, 0);
                for p in 0..h * w {
                    let v = a[(e * h * w + p) * c + u];
                    if v > best {
                        (best, at) = (v, p);
                    }
                }
                let at = [at / w, at % w];
                let patch = field
                    .patch(at[0], at[1], [SIDE, SIDE])
                    .expect("every field here holds pixels of the picture");
                list.push(Top {
                    value: best,
                    image: start + e,
                    at,
                    patch,
                });
            }
        }
    }
    for list in &mut all {
        list.sort_by(|a, b| b.value.total_cmp(&a.value));
        list.truncate(k);
    }
    Ok(all)
}

/// Where a unit of layer `name` is looked at (gradient ascent, its
/// figure): the centre of its map.
fn centre(name: &str) -> [usize; 2] {
    let [h, w, _] = map_dims(name);
    [h / 2, w / 2]
}
