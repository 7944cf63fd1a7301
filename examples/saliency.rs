//! What is the network looking at? The saliency maps of Simonyan et al.
//! (2014): the gradient of the predicted class's score (its logit, before
//! the softmax) with respect to the input picture, for a grid of MNIST
//! test digits, through a trained LeNet-5. The held forward pass gives it
//! in one backward: `forward(x, Mode::Infer)`, then `backward` from a
//! one-hot gradient of the logits with `Grads::input()`.
//!
//! Writes `saliency.png` into `--out` (default `out/saliency`): each digit
//! beside two maps, the gradient's magnitude (bright where a small change
//! of the pixel moves the score most) and SmoothGrad's (Smilkov et al.
//! 2017: the mean gradient over 32 copies of the digit with Gaussian noise
//! of 15% of its range, which keeps what the copies agree on), with a bar
//! under them, green when the prediction is right, red when wrong. Plain
//! gradients of a ReLU network are speckled; the smoothed ones show the
//! strokes and the gaps that tell one digit from another.
//!
//!     cargo run --release --example saliency -- [--weights FILE] [--out DIR] [--count N]
//!
//! `--weights` is what the main job saved (`out/lenet5/lenet5.safetensors`,
//! the default); without that file the example trains LeNet-5 for two
//! epochs first (about a minute).

#[path = "shared/lenet5_net.rs"]
mod lenet5_net;

use std::path::PathBuf;

use cnn::ndarray::{Array2, Array4};
use cnn::pass::{Grads, Mode};
use cnn::prelude::*;
use lenet5_net::{prepare, LeNet5};

struct Args {
    weights: PathBuf,
    out: PathBuf,
    count: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        weights: PathBuf::from("out/lenet5/lenet5.safetensors"),
        out: PathBuf::from("out/saliency"),
        count: 24,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--weights" => a.weights = PathBuf::from(value()?),
            "--out" => a.out = PathBuf::from(value()?),
            "--count" => {
                let v = value()?;
                a.count = v
                    .parse()
                    .map_err(|_| format!("--count: `{v}` is not a whole number"))?;
                a.count = a.count.clamp(1, 200);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(a)
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("usage: saliency [--weights FILE] [--out DIR] [--count N]");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), cnn::Error> {
    std::fs::create_dir_all(&args.out).map_err(|e| cnn::Error::io(&args.out, e))?;
    let mnist = cnn::data::mnist::load(&cnn::data::mnist::vendored_dir())?;
    let test = prepare(&mnist.test)?;
    // What an earlier run of this example trained, if the main job's
    // weights are not there.
    let own = args.out.join("lenet5_2_epochs.safetensors");
    let weights = [&args.weights, &own].into_iter().find(|p| p.exists());
    let mut net = if let Some(path) = weights {
        println!("LeNet-5 from {}", path.display());
        LeNet5::load(path)?
    } else {
        println!(
            "{} not found (run `cargo run --release --example lenet5` to make it): training LeNet-5 for 2 epochs",
            args.weights.display()
        );
        let train = prepare(&mnist.train)?;
        let mut model = Model::compile(LeNet5::new(1), Adam::new(1e-3));
        model.fit(&train, Fit::epochs(2).batch_size(64))?;
        model.network().save(&own)?;
        model.into_network()
    };
    let n = args.count;
    let x = Array4::from_shape_vec((n, 32, 32, 1), test.images()[..n * 32 * 32].to_vec())
        .map_err(|e| cnn::Error::InvalidArgument(e.to_string()))?;
    let mut pass = net.forward(x.view(), Mode::Infer)?;
    let probs = pass.output().to_owned();
    // d(score of the predicted class) / d(logits): one-hot rows.
    let predicted: Vec<usize> = probs
        .rows()
        .into_iter()
        .map(|r| cnn::train::fit::argmax(r.as_slice().expect("rows of a standard array")))
        .collect();
    let mut onehot = Array2::<f32>::zeros((n, 10));
    for (i, &k) in predicted.iter().enumerate() {
        onehot[[i, k]] = 1.0;
    }
    pass.backward(Grads::new().logits(onehot.view()).input())?;
    let grad = pass.input_grad().expect("asked for").to_owned();
    drop(pass);
    let smooth = smooth_grad(&mut net, &x, &predicted)?;

    // The picture: per digit, the digit and |gradient| side by side (each
    // 32x32 scaled 3x), a bar under them coloured by right or wrong.
    let (cols, z) = (6usize, 3usize);
    let (cell_w, cell_h) = (3 * 32 * z + 4 * 4, 32 * z + 14);
    let rows = n.div_ceil(cols);
    let (w, h) = (cols * cell_w, rows * cell_h);
    let mut rgb = vec![0.15f32; w * h * 3];
    let mut right = 0;
    for (i, &guess) in predicted.iter().enumerate() {
        let (x0, y0) = ((i % cols) * cell_w + 4, (i / cols) * cell_h + 4);
        let img = &test.images()[i * 1024..(i + 1) * 1024];
        let (lo, hi) = img
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let maps = [magnitude(&grad, i), magnitude(&smooth, i)];
        for py in 0..32 * z {
            for px in 0..32 * z {
                let k = (py / z) * 32 + px / z;
                let v = (img[k] - lo) / (hi - lo).max(1e-6);
                let a = ((y0 + py) * w + x0 + px) * 3;
                rgb[a..a + 3].fill(v);
                for (m, map) in maps.iter().enumerate() {
                    let s = map[k];
                    let b = ((y0 + py) * w + x0 + (m + 1) * (32 * z + 4) + px) * 3;
                    rgb[b..b + 3].copy_from_slice(&[s, s * 0.8, s * 0.3]);
                }
            }
        }
        let ok = guess == test.labels()[i];
        right += usize::from(ok);
        let colour = if ok { [0.2, 0.8, 0.2] } else { [0.9, 0.1, 0.1] };
        for py in 32 * z + 3..32 * z + 8 {
            for px in 0..3 * 32 * z + 8 {
                let a = ((y0 + py) * w + x0 + px) * 3;
                rgb[a..a + 3].copy_from_slice(&colour);
            }
        }
    }
    let path = args.out.join("saliency.png");
    cnn::io::image::write_png_rgb(&path, w, h, &rgb, false)?;
    println!(
        "wrote {}: {n} test digits, the gradient of their predicted class's score and its SmoothGrad ({right} of {n} predicted right)",
        path.display()
    );
    Ok(())
}

/// Copies per digit, and the noise's deviation as a fraction of the
/// digit's range (Smilkov et al. 2017 find 10-20% best).
const SAMPLES: usize = 32;
const NOISE: f32 = 0.15;

/// The mean over `SAMPLES` noisy copies of each digit of the gradient of
/// the class in `predicted`, in one held pass over all the copies.
fn smooth_grad(
    net: &mut LeNet5,
    x: &Array4<f32>,
    predicted: &[usize],
) -> Result<Array4<f32>, cnn::Error> {
    let n = predicted.len();
    let mut rng = cnn::rng::Rng::new(7);
    let mut noisy = Array4::<f32>::zeros((n * SAMPLES, 32, 32, 1));
    let mut onehot = Array2::<f32>::zeros((n * SAMPLES, 10));
    for i in 0..n {
        let img = x.index_axis(cnn::ndarray::Axis(0), i);
        let (lo, hi) = img
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let sigma = NOISE * (hi - lo);
        for s in 0..SAMPLES {
            let mut dst = noisy.index_axis_mut(cnn::ndarray::Axis(0), i * SAMPLES + s);
            dst.zip_mut_with(&img, |d, &v| *d = v + sigma * rng.normal());
            onehot[[i * SAMPLES + s, predicted[i]]] = 1.0;
        }
    }
    let mut pass = net.forward(noisy.view(), Mode::Infer)?;
    pass.backward(Grads::new().logits(onehot.view()).input())?;
    let g = pass.input_grad().expect("asked for");
    let mut mean = Array4::<f32>::zeros(x.raw_dim());
    for i in 0..n {
        let mut dst = mean.index_axis_mut(cnn::ndarray::Axis(0), i);
        for s in 0..SAMPLES {
            dst.zip_mut_with(
                &g.index_axis(cnn::ndarray::Axis(0), i * SAMPLES + s),
                |d, &v| *d += v / SAMPLES as f32,
            );
        }
    }
    Ok(mean)
}

/// `|gradient|` of digit `i`, scaled to 0..1 at its 99th percentile (so
/// that a few large values do not leave the rest black).
fn magnitude(grad: &Array4<f32>, i: usize) -> Vec<f32> {
    let g: Vec<f32> = grad.as_slice().expect("standard layout")[i * 1024..(i + 1) * 1024]
        .iter()
        .map(|v| v.abs())
        .collect();
    let mut sorted = g.clone();
    sorted.sort_by(f32::total_cmp);
    let top = sorted[sorted.len() * 99 / 100].max(1e-12);
    g.iter().map(|v| (v / top).min(1.0)).collect()
}
