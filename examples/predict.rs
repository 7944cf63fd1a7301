//! Classifies PNG images of digits with the LeNet-5 that `lenet5` saved:
//!
//!     cargo run --release --example predict -- [--model PATH] IMAGE.png...
//!
//! Each image is turned into an MNIST-like input: grey, resized to 28x28
//! by area averaging, inverted when its background is light (MNIST digits
//! are white on black), padded to 32x32 and normalised as in training. The
//! output is one line per image with the class and its probability.
//! `assets/digits/` has ten MNIST test digits to try.

use std::path::{Path, PathBuf};

use cnn::ndarray::Array4;

#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
use lenet5_net::{LeNet5, MNIST_MEAN, MNIST_STD};

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "predict",
    about = "Classifies your own digit pictures with the LeNet-5 that the lenet5 example saved"
)]
struct Args {
    /// Weights saved by the lenet5 example
    #[arg(
        long,
        value_name = "PATH",
        default_value = "out/lenet5/lenet5.safetensors"
    )]
    model: PathBuf,
    /// PNG pictures of digits (any size; dark ink on light paper or the reverse)
    #[arg(value_name = "IMAGE.png", required = true)]
    images: Vec<PathBuf>,
}

fn main() {
    let Args { model, images } = <Args as clap::Parser>::parse();
    if let Err(e) = run(&model, &images) {
        eprintln!("error: {e}");
        if !model.exists() {
            eprintln!("(train and save a model first: cargo run --release --example lenet5)");
        }
        std::process::exit(1);
    }
}

fn run(model: &Path, images: &[PathBuf]) -> Result<(), cnn::Error> {
    let net = LeNet5::load(model)?;
    let mut x = Array4::<f32>::zeros((images.len(), 32, 32, 1));
    for (k, path) in images.iter().enumerate() {
        let digit = to_mnist(&cnn::io::image::read_png(path)?);
        for r in 0..28 {
            for c in 0..28 {
                x[[k, r + 2, c + 2, 0]] = (digit[r * 28 + c] - MNIST_MEAN) / MNIST_STD;
            }
        }
        // The padding is background too.
        for r in 0..32 {
            for c in 0..32 {
                if !(2..30).contains(&r) || !(2..30).contains(&c) {
                    x[[k, r, c, 0]] = -MNIST_MEAN / MNIST_STD;
                }
            }
        }
    }
    let probs = net.predict(x.view())?;
    for (path, row) in images.iter().zip(probs.rows()) {
        let (class, p) =
            row.iter().enumerate().fold(
                (0, f32::MIN),
                |best, (i, &p)| if p > best.1 { (i, p) } else { best },
            );
        println!("{}: {class} ({:.1}%)", path.display(), 100.0 * p);
    }
    Ok(())
}

/// A grey 28x28 image in 0..1 with a dark background.
fn to_mnist(img: &cnn::io::image::Image) -> Vec<f32> {
    let (w, h, ch) = (img.width, img.height, img.channels);
    let grey: Vec<f32> = img
        .data
        .chunks_exact(ch)
        .map(|px| {
            if ch >= 3 {
                0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]
            } else {
                px[0]
            }
        })
        .collect();
    // Area averaging: each output pixel is the mean of the input pixels
    // whose centres fall in its cell (at least the nearest one).
    let mut out = vec![0.0; 28 * 28];
    for r in 0..28 {
        let (r0, r1) = (r * h / 28, ((r + 1) * h / 28).max(r * h / 28 + 1));
        for c in 0..28 {
            let (c0, c1) = (c * w / 28, ((c + 1) * w / 28).max(c * w / 28 + 1));
            let mut sum = 0.0;
            for y in r0..r1.min(h) {
                for x in c0..c1.min(w) {
                    sum += grey[y * w + x];
                }
            }
            out[r * 28 + c] = sum / ((r1.min(h) - r0) * (c1.min(w) - c0)) as f32;
        }
    }
    // MNIST is white ink on black: flip dark-on-light pictures.
    let border: f32 = (0..28)
        .map(|i| out[i] + out[27 * 28 + i] + out[i * 28] + out[i * 28 + 27])
        .sum::<f32>()
        / 112.0;
    if border > 0.5 {
        out.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    out
}
