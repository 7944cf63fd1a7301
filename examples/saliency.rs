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
#[path = "shared/saliency_maps.rs"]
mod saliency_maps;

use std::path::PathBuf;

use cnn::ndarray::{Array2, Array4};
use cnn::pass::{Grads, Mode};
use cnn::prelude::*;
use lenet5_net::{prepare, LeNet5};

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "saliency",
    about = "Saliency maps of LeNet-5: the gradient of a digit's score with respect to the picture"
)]
struct Args {
    /// LeNet-5's weights, as the lenet5 example saves them (trained here when missing)
    #[arg(
        long,
        value_name = "FILE",
        default_value = "out/lenet5/lenet5.safetensors"
    )]
    weights: PathBuf,
    /// Where the pictures go
    #[arg(long, value_name = "DIR", default_value = "out/saliency")]
    out: PathBuf,
    /// Test digits in the picture (1 to 200)
    #[arg(long, value_name = "N", default_value_t = 24, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=200))]
    count: usize,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
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
    let probs = net.predict(x.view())?;
    let predicted: Vec<usize> = probs
        .rows()
        .into_iter()
        .map(|r| cnn::train::fit::argmax(r.as_slice().expect("rows of a standard array")))
        .collect();
    // d(score of the predicted class) / d(input): one held pass from the
    // one-hot gradient of the logits.
    let mut input_grad =
        |x: &Array4<f32>, onehot: &Array2<f32>| -> Result<Array4<f32>, cnn::Error> {
            let mut pass = net.forward(x.view(), Mode::Infer)?;
            pass.backward(Grads::new().logits(onehot.view()).input())?;
            Ok(pass.input_grad().expect("asked for").to_owned())
        };
    let grad = saliency_maps::gradient(&mut input_grad, &x, &predicted, 10)?;
    let smooth = saliency_maps::smooth_grad(&mut input_grad, &x, &predicted, 10)?;
    let path = args.out.join("saliency.png");
    let right = saliency_maps::draw(&path, &x, &[&grad, &smooth], &predicted, test.labels())?;
    println!(
        "wrote {}: {n} test digits, the gradient of their predicted class's score and its SmoothGrad ({right} of {n} predicted right)",
        path.display()
    );
    Ok(())
}
