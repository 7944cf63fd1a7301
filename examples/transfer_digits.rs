//! Transfer learning as the course teaches it, measured on real digits.
//!
//! LeNet-5 is trained on MNIST's digits 0-4 only; its convolutional part
//! is the trunk. Then digits 5-9
//! are learned from only `k` labelled images per class (10 and 50), three
//! ways: the trunk frozen with a new softmax head trained on its cached
//! features, every layer fine-tuned from the trunk (and the learned head),
//! and the same network trained from scratch. Each run prints
//! `<method> <k>/class: test accuracy: NN.NN%`, measured on all of MNIST's
//! 5-9 test images. A second source follows: scikit-learn's 8x8 digits
//! (`data/digits/`, 1,797 images, upscaled to 28x28 and padded), learned
//! with the MNIST trunk against from scratch. Last, the cost side: a
//! training step with the trunk frozen against the whole network, and an
//! epoch on cached features against one through the frozen trunk.
//!
//!     cargo run --release --example transfer_digits -- [--data DIR] [--threads N] [--seed N] [--out DIR]

#[path = "shared/cli.rs"]
mod cli;

use std::time::Instant;

use cnn::prelude::*;
use cnn::rng::Rng;
use cnn::{Dataset, Fit, Model};

#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
use lenet5_net::{prepare, MNIST_MEAN, MNIST_STD};

network! {
    /// LeNet-5's convolutional part: 32x32x1 digits to 5x5x16 features.
    pub struct DigitTrunk {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5 },
            Relu,
            MaxPool2d { size: 2 },
            conv2: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2 },
        ],
    }
}

network! {
    /// LeNet-5 on digits 0-4: the trunk and LeNet-5's classifier.
    pub struct Pretrain {
        input: [32, 32, 1],
        layers: [
            trunk: DigitTrunk,
            Flatten,
            fc3: Dense { units: 120 },
            Relu,
            fc4: Dense { units: 84 },
            Relu,
            fc5: Dense { units: 5 },
            Softmax,
        ],
    }

    /// The trunk with a new softmax head over five classes: what fine-tunes
    /// on 5-9, or learns them from scratch.
    pub struct Digits5 {
        input: [32, 32, 1],
        layers: [trunk: DigitTrunk, Flatten, head: Dense { units: 5 }, Softmax],
    }

    /// The same with the trunk frozen in the declaration (for timing).
    pub struct Digits5Frozen {
        input: [32, 32, 1],
        layers: [trunk: DigitTrunk { trainable: false }, Flatten, head: Dense { units: 5 }, Softmax],
    }

    /// A softmax head on the trunk's cached (flattened) features.
    pub struct Head5 {
        input: [400],
        layers: [head: Dense { units: 5 }, Softmax],
    }

    /// Ten classes, for the 8x8 digits.
    pub struct Digits10 {
        input: [32, 32, 1],
        layers: [trunk: DigitTrunk, Flatten, head: Dense { units: 10 }, Softmax],
    }

    /// A ten-class head on cached features.
    pub struct Head10 {
        input: [400],
        layers: [head: Dense { units: 10 }, Softmax],
    }
}

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "transfer_digits",
    about = "Transfer learning on MNIST: a trunk trained on digits 0-4 taught 5-9 from few examples"
)]
struct Args {
    /// The four MNIST IDX files [default: the vendored data/mnist]
    #[arg(long, value_name = "DIR", default_value_os_t = cnn::data::mnist::vendored_dir(), hide_default_value = true)]
    data: std::path::PathBuf,
    /// Kernel threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    threads: Option<usize>,
    /// Seed of the weights and the examples drawn
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Where the networks, caches and results go
    #[arg(long, value_name = "DIR", default_value = "out/transfer_digits")]
    out: std::path::PathBuf,
}

fn args() -> Args {
    let a = <Args as clap::Parser>::parse();
    if let Some(t) = a.threads {
        cnn::parallel::set_threads(t);
    }
    a
}

/// The examples whose label is in `classes`, relabelled from 0.
fn only(data: &Dataset, classes: std::ops::Range<usize>) -> Result<Dataset, cnn::Error> {
    let keep: Vec<usize> = (0..data.len())
        .filter(|&i| classes.contains(&data.labels()[i]))
        .collect();
    let picked = data.select(&keep);
    let y = picked.labels().iter().map(|l| l - classes.start).collect();
    Dataset::new(picked.shape(), picked.images().to_vec(), y, classes.len())
}

/// `k` examples of every class, drawn with `seed`.
fn per_class(data: &Dataset, k: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..data.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut taken = vec![0; data.classes()];
    let keep: Vec<usize> = order
        .into_iter()
        .filter(|&i| {
            let c = data.labels()[i];
            taken[c] += 1;
            taken[c] <= k
        })
        .collect();
    data.select(&keep)
}

/// Copies every tensor of `from` into the tensor of `to` named
/// `prefix + name` (the trunk of a pretrained network into another).
fn copy_tensors(
    from: &[cnn::net::TensorInfo],
    from_params: &[f32],
    to: &[cnn::net::TensorInfo],
    to_params: &mut [f32],
    from_prefix: &str,
    to_prefix: &str,
) -> usize {
    let mut copied = 0;
    for t in from {
        let Some(rest) = t.name.strip_prefix(from_prefix) else {
            continue;
        };
        let want = format!("{to_prefix}{rest}");
        if let Some(u) = to.iter().find(|u| u.name == want && u.shape == t.shape) {
            to_params[u.range()].copy_from_slice(&from_params[t.range()]);
            copied += 1;
        }
    }
    copied
}

/// The trunk's 400 features of every example of `data`, cached on disk in
/// `path` (with the trunk's name and a checksum of its weights, so a cache
/// of another trunk is refused and made again), as a flat dataset.
fn features(
    trunk: &DigitTrunk,
    data: &Dataset,
    path: &std::path::Path,
) -> Result<Dataset, cnn::Error> {
    use cnn::data::features::{extract, weights_checksum, Features};
    let sum = weights_checksum(trunk.params());
    let cached = match Features::load(path, "DigitTrunk", sum) {
        Ok(f) if f.len() == data.len() => f,
        _ => {
            let f = extract(
                data,
                "DigitTrunk",
                sum,
                &DigitTrunk::OUTPUT_SHAPE,
                500,
                |x, n| {
                    let view = cnn::ndarray::ArrayView4::from_shape((n, 32, 32, 1), x)
                        .map_err(|e| cnn::Error::InvalidArgument(e.to_string()))?;
                    Ok(trunk.predict(view)?.into_raw_vec_and_offset().0)
                },
            )?;
            f.save(path)?;
            f
        }
    };
    cached.into_dataset()
}

fn accuracy<N: cnn::Network>(model: &Model<N>, test: &Dataset) -> Result<f64, cnn::Error> {
    Ok(100.0 * model.evaluate(test, 500)?.accuracy as f64)
}

/// Steps for a few examples: enough passes over a tiny set to converge.
fn epochs_for(n: usize) -> usize {
    (3000 / n.max(1)).clamp(10, 200)
}

/// What the three ways share.
struct Ctx<'a> {
    trunk: &'a DigitTrunk,
    /// The network trained on 0-4, whose `trunk.*` fine-tuning starts from.
    pretrained: &'a std::path::Path,
    out: &'a std::path::Path,
    seed: u64,
    /// Print the load reports.
    report: bool,
}

/// Learns `few` three ways and prints one line each: (a) the frozen trunk
/// with a new head trained on its cached features; (b) every layer
/// fine-tuned from the trunk and that head, both loaded by name (the
/// pretrained network's `trunk.*`, its classifier left out, and the head's
/// `head.*`); (c) the same network from scratch, as many steps as (a) and
/// (b) together. `$net` is the trunk with a new head, `$head` that head on
/// features.
macro_rules! three_ways {
    ($net:ty, $head:ty, $ctx:expr, $few:expr, $test:expr, $test_features:expr, $prefix:expr, $label:expr) => {{
        let (ctx, few, label): (Ctx, &Dataset, String) = ($ctx, $few, $label);
        let epochs = epochs_for(few.len());
        let mut head = Model::compile(<$head>::new(ctx.seed), Adam::new(1e-2)).seed(ctx.seed);
        head.fit(
            &features(
                ctx.trunk,
                few,
                &ctx.out.join(format!(
                    "features_{}_{}.bin",
                    stringify!($head),
                    label.replace('/', "-per-")
                )),
            )?,
            Fit::epochs(epochs).batch_size(16).verbose(false),
        )?;
        println!(
            "{}frozen trunk + new head {label}: test accuracy: {:.2}%",
            $prefix,
            accuracy(&head, $test_features)?
        );
        let head_path = ctx
            .out
            .join(format!("head_{}.safetensors", stringify!($head)));
        head.network().save(&head_path)?;
        let mut net = <$net>::new(ctx.seed);
        let from_trunk = net.load_by_name(ctx.pretrained)?;
        let from_head = net.load_by_name(&head_path)?;
        if ctx.report {
            println!(
                "fine-tuning starts from {}: {from_trunk}",
                ctx.pretrained.display()
            );
            println!("and from {}: {from_head}", head_path.display());
        }
        let mut fine = Model::compile(net, Adam::new(3e-4)).seed(ctx.seed);
        fine.fit(few, Fit::epochs(epochs / 2).batch_size(16).verbose(false))?;
        println!(
            "{}fine-tuned {label}: test accuracy: {:.2}%",
            $prefix,
            accuracy(&fine, $test)?
        );
        let mut scratch = Model::compile(<$net>::new(ctx.seed), Adam::new(1e-3)).seed(ctx.seed);
        scratch.fit(
            few,
            Fit::epochs(epochs + epochs / 2)
                .batch_size(16)
                .verbose(false),
        )?;
        println!(
            "{}from scratch {label}: test accuracy: {:.2}%",
            $prefix,
            accuracy(&scratch, $test)?
        );
    }};
}

fn main() -> Result<(), cnn::Error> {
    let a = args();
    std::fs::create_dir_all(&a.out).map_err(|e| cnn::Error::io(&a.out, e))?;
    let mnist = cnn::data::mnist::load(&a.data)?;
    let (train, test) = (prepare(&mnist.train)?, prepare(&mnist.test)?);
    let (train04, train59, test59) = (
        only(&train, 0..5)?,
        only(&train, 5..10)?,
        only(&test, 5..10)?,
    );
    println!(
        "MNIST: {} training images of 0-4 for the trunk; 5-9: {} training, {} test images; {} threads",
        train04.len(),
        train59.len(),
        test59.len(),
        cnn::parallel::threads()
    );

    // 1. The trunk, trained on 0-4.
    let t = Instant::now();
    let mut pre = Model::compile(Pretrain::new(a.seed), Adam::new(1e-3)).seed(a.seed);
    pre.fit(&train04, Fit::epochs(3).batch_size(64).verbose(false))?;
    println!(
        "trunk trained on 0-4 in {:.1} s: {:.2}% on the 0-4 test images",
        t.elapsed().as_secs_f64(),
        accuracy(&pre, &only(&test, 0..5)?)?
    );
    let mut trunk = DigitTrunk::new(0);
    let n = copy_tensors(
        Pretrain::TENSORS,
        pre.network().params(),
        DigitTrunk::TENSORS,
        trunk.params_mut(),
        "trunk.",
        "",
    );
    assert_eq!(n, DigitTrunk::TENSORS.len());
    trunk.save(a.out.join("trunk_0-4.safetensors"))?;
    let pretrained = a.out.join("lenet5_0-4.safetensors");
    pre.network().save(&pretrained)?;
    let test_features = features(&trunk, &test59, &a.out.join("features_test_5-9.bin"))?;

    // 2. Digits 5-9 from k images per class, three ways.
    for k in [10, 50] {
        let few = per_class(&train59, k, a.seed + k as u64);
        let ctx = Ctx {
            trunk: &trunk,
            pretrained: &pretrained,
            out: &a.out,
            seed: a.seed,
            report: k == 10,
        };
        three_ways!(
            Digits5,
            Head5,
            ctx,
            &few,
            &test59,
            &test_features,
            "",
            format!("{k}/class")
        );
    }

    // 3. A second source: scikit-learn's 8x8 digits, all ten classes.
    let digits = sklearn_digits()?;
    let (d_train, d_test) = digits.split(797, a.seed)?;
    let d_test_features = features(&trunk, &d_test, &a.out.join("features_test_8x8.bin"))?;
    for k in [10usize, 0] {
        let (few, label) = if k == 0 {
            (d_train.clone(), "all".to_string())
        } else {
            (per_class(&d_train, k, a.seed), format!("{k}/class"))
        };
        let ctx = Ctx {
            trunk: &trunk,
            pretrained: &pretrained,
            out: &a.out,
            seed: a.seed,
            report: false,
        };
        three_ways!(
            Digits10,
            Head10,
            ctx,
            &few,
            &d_test,
            &d_test_features,
            "8x8 digits, ",
            label
        );
    }

    // 4. What freezing saves: a step at batch 64 on 5-9 images.
    timing(&train59, &trunk)?;
    Ok(())
}

/// scikit-learn's 8x8 digits (intensities 0-16) upscaled to 28x28 by
/// bilinear interpolation, padded to 32x32 and normalised as MNIST is.
fn sklearn_digits() -> Result<Dataset, cnn::Error> {
    let set = cnn::data::digits::load(&cnn::data::digits::vendored_dir())?;
    let [h, w, _] = set.shape();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..set.len() {
        let img = set.image(i).expect("in range");
        let mut out = vec![(0.0 - MNIST_MEAN) / MNIST_STD; 32 * 32];
        for r in 0..28 {
            for c in 0..28 {
                // Pixel centres mapped onto the 8x8 grid.
                let fy = ((r as f32 + 0.5) * h as f32 / 28.0 - 0.5).clamp(0.0, (h - 1) as f32);
                let fx = ((c as f32 + 0.5) * w as f32 / 28.0 - 0.5).clamp(0.0, (w - 1) as f32);
                let (y0, x0) = (fy.floor() as usize, fx.floor() as usize);
                let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
                let (dy, dx) = (fy - y0 as f32, fx - x0 as f32);
                let p = |yy: usize, xx: usize| img[yy * w + xx] as f32 / 16.0;
                let v = p(y0, x0) * (1.0 - dy) * (1.0 - dx)
                    + p(y0, x1) * (1.0 - dy) * dx
                    + p(y1, x0) * dy * (1.0 - dx)
                    + p(y1, x1) * dy * dx;
                out[(r + 2) * 32 + c + 2] = (v - MNIST_MEAN) / MNIST_STD;
            }
        }
        x.extend(out);
        y.push(set.labels[i] as usize);
    }
    Dataset::new([32, 32, 1], x, y, 10)
}

/// Step time of the whole network against the trunk frozen (in the
/// declaration, and at run time), and an epoch through the frozen trunk
/// against one on cached features.
fn timing(data: &Dataset, trunk: &DigitTrunk) -> Result<(), cnn::Error> {
    let len = data.example_len();
    let batch = 64;
    let x = cnn::ndarray::ArrayView4::from_shape((batch, 32, 32, 1), &data.images()[..batch * len])
        .map_err(|e| cnn::Error::InvalidArgument(e.to_string()))?;
    let y = &data.labels()[..batch];
    let time = |f: &mut dyn FnMut() -> Result<f32, cnn::Error>| -> Result<f64, cnn::Error> {
        f()?;
        let t = Instant::now();
        let reps = 200;
        for _ in 0..reps {
            f()?;
        }
        Ok(1e6 * t.elapsed().as_secs_f64() / reps as f64)
    };
    let mut whole = Digits5::new(1);
    let mut opt = Sgd::new(0.01);
    let us_whole = time(&mut || whole.train_step(x, y, &mut opt))?;
    let mut frozen = Digits5Frozen::new(1);
    let us_frozen = time(&mut || frozen.train_step(x, y, &mut opt))?;
    let mut runtime = Digits5::new(1);
    runtime.freeze("trunk")?;
    let us_runtime = time(&mut || runtime.train_step(x, y, &mut opt))?;
    println!(
        "step at batch {batch}: whole network {us_whole:.0} us, trunk frozen in the declaration {us_frozen:.0} us ({:.1}x faster), frozen at run time {us_runtime:.0} us ({:.1}x)",
        us_whole / us_frozen,
        us_whole / us_runtime
    );
    // An epoch over the 5-9 training images: through the frozen trunk, or
    // on features cached once (the caching itself timed apart).
    let t = Instant::now();
    let mut m = Model::compile(Digits5Frozen::new(1), Adam::new(1e-3));
    m.fit(data, Fit::epochs(1).batch_size(batch).verbose(false))?;
    let through = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let cache =
        std::env::temp_dir().join(format!("cnn-transfer-timing-{}.bin", std::process::id()));
    std::fs::remove_file(&cache).ok();
    let cached = features(trunk, data, &cache)?;
    std::fs::remove_file(&cache).ok();
    let caching = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut h = Model::compile(Head5::new(1), Adam::new(1e-3));
    h.fit(&cached, Fit::epochs(1).batch_size(batch).verbose(false))?;
    let on_cache = t.elapsed().as_secs_f64();
    println!(
        "epoch of {} images: through the frozen trunk {:.3} s, on cached features {:.3} s ({:.0}x faster; caching them took {:.3} s once)",
        data.len(),
        through,
        on_cache,
        through / on_cache,
        caching
    );
    Ok(())
}
