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

use std::path::{Path, PathBuf};

use cnn::ndarray::{Array2, Array4, ArrayD, ArrayView4, IxDyn};
use cnn::net::{Patch, ReceptiveField};
use cnn::pass::{Grads, Mode};
use cnn::prelude::*;

use crate::lenet5_net::{prepare, LeNet5, LeNet5Layers, MNIST_MEAN, MNIST_STD};
use crate::saliency_maps;

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

/// The command line.
#[derive(Clone, Debug)]
pub struct Args {
    /// LeNet-5's weights, as `lenet5` saves them.
    pub weights: PathBuf,
    pub out: PathBuf,
    pub data: PathBuf,
    /// Epochs to train when no weights are found.
    pub epochs: usize,
    /// Training images used then (all by default).
    pub train_images: usize,
    /// Test images searched for the top patches.
    pub images: usize,
    /// Units shown per layer.
    pub units: usize,
    /// Gradient-ascent steps.
    pub steps: usize,
    /// Test digits in the saliency picture.
    pub saliency: usize,
    pub threads: Option<usize>,
    pub seed: u64,
    /// Print nothing (the test).
    pub quiet: bool,
}

pub const USAGE: &str = "usage: visualize [--weights FILE] [--out DIR] [--data DIR] [--epochs N] [--units N] [--steps N] [--images N] [--threads N] [--seed N]
  --weights FILE  LeNet-5's weights (default out/lenet5/lenet5.safetensors, what `lenet5` saves);
                  without them the example trains LeNet-5 for --epochs and saves it in --out
  --out DIR       where the pictures go (default out/visualize)
  --data DIR      the four MNIST IDX files (default: the vendored data/mnist)
  --epochs N      epochs to train when there are no weights (default 2)
  --units N       units shown per layer (default 8)
  --steps N       gradient-ascent steps (default 300)
  --images N      test images searched for each unit's top 9 patches (default 10000: all)
  --threads N     worker threads (default: all cores)
  --seed N        seed of the training and of the ascent's noise (default 1)";

/// Parses the options after the program's name; `Err` is the message to
/// print before the usage (empty for `-h`).
pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        weights: PathBuf::from("out/lenet5/lenet5.safetensors"),
        out: PathBuf::from("out/visualize"),
        data: cnn::data::mnist::vendored_dir(),
        epochs: 2,
        train_images: usize::MAX,
        images: 10_000,
        units: 8,
        steps: 300,
        saliency: 12,
        threads: None,
        seed: 1,
        quiet: false,
    };
    while let Some(flag) = it.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (flag, None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        const FLAGS: [&str; 9] = [
            "--weights",
            "--out",
            "--data",
            "--epochs",
            "--units",
            "--steps",
            "--images",
            "--threads",
            "--seed",
        ];
        if !FLAGS.contains(&flag.as_str()) {
            return Err(format!("unknown option `{flag}`"));
        }
        let value = inline
            .or_else(|| it.next())
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: `{value}` is not a whole number"))
        };
        match flag.as_str() {
            "--weights" => a.weights = PathBuf::from(&value),
            "--out" => a.out = PathBuf::from(&value),
            "--data" => a.data = PathBuf::from(&value),
            "--epochs" => a.epochs = num()?.max(1),
            "--units" => a.units = num()?.clamp(1, 16),
            "--steps" => a.steps = num()?,
            "--images" => a.images = num()?.max(1),
            "--threads" => a.threads = Some(num()?.max(1)),
            "--seed" => a.seed = num()? as u64,
            _ => unreachable!("checked against FLAGS above"),
        }
    }
    Ok(a)
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

/// A picture, `rgb` `h x w x 3` in 0..1.
pub struct Cell {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<f32>,
}

/// The background of what lies outside the picture (padding).
const OUTSIDE: [f32; 3] = [0.25, 0.1, 0.1];

/// A normalised MNIST pixel in 0..1.
fn pixel(v: f32) -> f32 {
    (v * MNIST_STD + MNIST_MEAN).clamp(0.0, 1.0)
}

/// The cell of one top patch: the field's square (clipped to the picture's
/// size), the patch placed where it sits in the field, the part of the
/// field outside the picture dark red; scaled `z` times.
fn patch_cell(images: &[f32], top: &Top, field: &ReceptiveField, z: usize) -> Cell {
    let ch = field.size[0].min(SIDE);
    let cw = field.size[1].min(SIDE);
    let origin = field.origin(top.at[0], top.at[1]);
    let p = top.patch;
    // Where the patch starts inside the cell: how far the field reaches
    // into the padding, at most what leaves the patch inside the cell.
    let dy = ((p.top as isize - origin[0]).max(0) as usize).min(ch - p.height);
    let dx = ((p.left as isize - origin[1]).max(0) as usize).min(cw - p.width);
    let (w, h) = (cw * z, ch * z);
    let mut rgb = Vec::with_capacity(w * h * 3);
    let img = &images[top.image * SIDE * SIDE..(top.image + 1) * SIDE * SIDE];
    for y in 0..h {
        for x in 0..w {
            let (fy, fx) = (y / z, x / z);
            let inside = (dy..dy + p.height).contains(&fy) && (dx..dx + p.width).contains(&fx);
            if inside {
                let v = pixel(img[(p.top + fy - dy) * SIDE + p.left + fx - dx]);
                rgb.extend([v, v, v]);
            } else {
                rgb.extend(OUTSIDE);
            }
        }
    }
    Cell { w, h, rgb }
}

/// The Zeiler-Fergus figure of one layer: a row per unit, its top patches
/// left to right, each scaled to about 60 pixels.
pub fn write_top_grid(
    path: &Path,
    images: &[f32],
    tops: &[Vec<Top>],
    field: &ReceptiveField,
) -> Result<(), cnn::Error> {
    let z = (60 / field.size[0].clamp(1, SIDE)).max(1);
    let rows: Vec<Vec<Cell>> = tops
        .iter()
        .map(|unit| {
            unit.iter()
                .map(|t| patch_cell(images, t, field, z))
                .collect()
        })
        .collect();
    write_rows(path, &rows)
}

/// Rows of cells on a dark background, 3 pixels apart, 8 between rows.
pub fn write_rows(path: &Path, rows: &[Vec<Cell>]) -> Result<(), cnn::Error> {
    const GAP: usize = 3;
    const ROW_GAP: usize = 8;
    let width = rows
        .iter()
        .map(|r| r.iter().map(|c| c.w + GAP).sum::<usize>() + GAP)
        .max()
        .unwrap_or(1);
    let heights: Vec<usize> = rows
        .iter()
        .map(|r| r.iter().map(|c| c.h).max().unwrap_or(0))
        .collect();
    let height = heights.iter().map(|h| h + ROW_GAP).sum::<usize>() + ROW_GAP;
    let mut rgb = vec![0.12f32; width * height * 3];
    let mut y0 = ROW_GAP;
    for (row, h) in rows.iter().zip(&heights) {
        let mut x0 = GAP;
        for cell in row {
            for y in 0..cell.h {
                let src = &cell.rgb[y * cell.w * 3..(y + 1) * cell.w * 3];
                let at = ((y0 + y) * width + x0) * 3;
                rgb[at..at + cell.w * 3].copy_from_slice(src);
            }
            x0 += cell.w + GAP;
        }
        y0 += h + ROW_GAP;
    }
    cnn::io::image::write_png_rgb(path, width, height, &rgb, false)
}

/// Gradient ascent settings: the step, as a fraction of the pixel range
/// per step for the largest gradient; the decay of the pixels towards the
/// mean per step (an L2 penalty); a blur every `BLUR_EVERY` steps.
const STEP: f32 = 0.05;
const DECAY: f32 = 0.002;
const BLUR_EVERY: usize = 4;

/// The valid range of a normalised pixel: 0 and 1 before normalising.
fn pixel_range() -> (f32, f32) {
    (
        (0.0 - MNIST_MEAN) / MNIST_STD,
        (1.0 - MNIST_MEAN) / MNIST_STD,
    )
}

/// Where a unit of layer `name` is maximised: the centre of its map.
fn centre(name: &str) -> [usize; 2] {
    let [h, w, _] = map_dims(name);
    [h / 2, w / 2]
}

/// What [`ascend`] returns: the pictures, and each unit's activation
/// before and after.
pub type Ascended = (Array4<f32>, Vec<(f32, f32)>);

/// Pictures that maximise each unit of `units` of layer `name` (at the
/// centre of its map), one per unit, by `steps` steps of gradient ascent
/// from faint noise around the mean pixel; returns them and each unit's
/// activation before and after.
pub fn ascend(
    net: &mut LeNet5Taps,
    name: &str,
    units: &[usize],
    steps: usize,
    seed: u64,
) -> Result<Ascended, cnn::Error> {
    let m = units.len();
    let [h, w, c] = map_dims(name);
    let [ci, cj] = centre(name);
    let (lo, hi) = pixel_range();
    let mut rng = cnn::rng::Rng::new(seed ^ 0xa5ce);
    let mut x = Array4::from_shape_simple_fn((m, SIDE, SIDE, 1), || 0.1 * rng.normal());
    // d(objective) / d(tap): one at each picture's own unit.
    let mut shape = vec![m];
    shape.extend_from_slice(tap_shape(name));
    let mut g = ArrayD::<f32>::zeros(IxDyn(&shape));
    {
        let gs = g.as_slice_mut().expect("standard order");
        for (b, &u) in units.iter().enumerate() {
            gs[((b * h + ci) * w + cj) * c + u] = 1.0;
        }
    }
    let read = |a: &[f32]| -> Vec<f32> {
        units
            .iter()
            .enumerate()
            .map(|(b, &u)| a[((b * h + ci) * w + cj) * c + u])
            .collect()
    };
    let pass = net.forward(x.view(), Mode::Infer)?;
    let first = read(pass.tap(name)?.as_slice().expect("standard order"));
    drop(pass);
    let px = SIDE * SIDE;
    let mut moved = x.clone();
    // A field of a few pixels has no room for blur or jitter: the best
    // picture for a 5x5 unit is its filter, which both would wash out.
    let field = LeNet5Taps::receptive_field(name).expect("a layer of LeNet5Taps");
    let smooth = field.size[0] >= 10;
    for step in 0..steps {
        // Jitter: the picture shifted by up to a pixel each way, so that
        // what grows is a pattern and not one pixel's noise.
        let shift = match smooth {
            true => [rng.below(3) as isize - 1, rng.below(3) as isize - 1],
            false => [0, 0],
        };
        roll(
            x.as_slice().expect("standard order"),
            moved.as_slice_mut().expect("standard order"),
            shift,
        );
        let mut pass = net.forward(moved.view(), Mode::Infer)?;
        pass.backward(Grads::new().tap(name, g.view()).input())?;
        let shifted = pass.input_grad().expect("asked for");
        let mut dx = vec![0.0; m * px];
        roll(
            shifted.as_slice().expect("standard order"),
            &mut dx,
            [-shift[0], -shift[1]],
        );
        drop(pass);
        let xs = x.as_slice_mut().expect("standard order");
        for b in 0..m {
            let (xb, db) = (&mut xs[b * px..(b + 1) * px], &dx[b * px..(b + 1) * px]);
            let top = db.iter().fold(0f32, |t, v| t.max(v.abs())).max(1e-12);
            for (v, d) in xb.iter_mut().zip(db) {
                *v = (*v + STEP * (hi - lo) * d / top) * (1.0 - DECAY);
            }
            if smooth && step % BLUR_EVERY == BLUR_EVERY - 1 {
                blur(xb);
            }
            xb.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
        }
    }
    let pass = net.forward(x.view(), Mode::Infer)?;
    let last = read(pass.tap(name)?.as_slice().expect("standard order"));
    drop(pass);
    net.zero_grads();
    Ok((x, first.into_iter().zip(last).collect()))
}

/// `dst` is each 32x32 picture of `src` shifted by `[rows, cols]`,
/// wrapping around.
fn roll(src: &[f32], dst: &mut [f32], shift: [isize; 2]) {
    let n = SIDE as isize;
    for (s, d) in src.chunks(SIDE * SIDE).zip(dst.chunks_mut(SIDE * SIDE)) {
        for y in 0..n {
            for x in 0..n {
                let (ty, tx) = ((y + shift[0]).rem_euclid(n), (x + shift[1]).rem_euclid(n));
                d[(ty * n + tx) as usize] = s[(y * n + x) as usize];
            }
        }
    }
}

/// A 3x3 binomial blur (`[1 2 1] / 4` each way) of a 32x32 picture, the
/// borders repeated.
fn blur(img: &mut [f32]) {
    let at = |v: &[f32], y: isize, x: isize| {
        let c = |k: isize| k.clamp(0, SIDE as isize - 1) as usize;
        v[c(y) * SIDE + c(x)]
    };
    let src = img.to_vec();
    for y in 0..SIDE as isize {
        for x in 0..SIDE as isize {
            let mut s = 0.0;
            for (dy, wy) in [(-1, 1.0), (0, 2.0), (1, 1.0)] {
                for (dx, wx) in [(-1, 1.0), (0, 2.0), (1, 1.0)] {
                    s += wy * wx * at(&src, y + dy, x + dx);
                }
            }
            img[y as usize * SIDE + x as usize] = s / 16.0;
        }
    }
}

/// One row of the ascent figure: each picture cut to the receptive field
/// of the unit it maximises (the centre of the map; the whole picture for
/// the dense layers), scaled to about 96 pixels, its darkest pixel black
/// and its brightest white.
fn ascent_row(x: &Array4<f32>, field: &ReceptiveField) -> Vec<Cell> {
    let n = x.dim().0;
    let xs = x.as_slice().expect("standard order");
    let [i, j] = centre(field.name);
    let p = field
        .patch(i, j, [SIDE, SIDE])
        .expect("the centre's field holds pixels of the picture");
    let z = (96 / p.height.max(p.width)).max(1);
    (0..n)
        .map(|b| {
            let img = &xs[b * SIDE * SIDE..(b + 1) * SIDE * SIDE];
            let at = |y: usize, x: usize| img[(p.top + y) * SIDE + p.left + x];
            let (mut lo, mut hi) = (f32::MAX, f32::MIN);
            for y in 0..p.height {
                for x in 0..p.width {
                    (lo, hi) = (lo.min(at(y, x)), hi.max(at(y, x)));
                }
            }
            let (w, h) = (p.width * z, p.height * z);
            let mut rgb = Vec::with_capacity(w * h * 3);
            for y in 0..h {
                for x in 0..w {
                    let v = (at(y / z, x / z) - lo) / (hi - lo).max(1e-6);
                    rgb.extend([v, v, v]);
                }
            }
            Cell { w, h, rgb }
        })
        .collect()
}
