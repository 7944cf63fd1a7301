//! The main job: LeNet-5 (LeCun et al. 1998, with ReLU and max pooling) on
//! MNIST. Prints the network's summary, trains with a progress bar and a
//! validation split, writes the curves, the CSV log, the best and the last
//! weights, and ends with `test accuracy: NN.NN%`.
//!
//!     cargo run --release --example lenet5 -- [--data DIR] [--epochs N]
//!         [--batch-size N] [--threads N] [--seed N] [--out DIR]

use std::time::Instant;

#[path = "shared/train_args.rs"]
mod train_args;

use cnn::prelude::*;
use cnn::train::RandomShift;

#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
use lenet5_net::{prepare, LeNet5, MNIST_MEAN, MNIST_STD};

fn main() {
    let args = train_args::parse_or_exit(&train_args::Defaults {
        program: "lenet5",
        epochs: 20,
        batch_size: 64,
        out: "out/lenet5",
        learning_rate: 1e-3,
        lr_help: "Adam's initial learning rate (default 0.001, cosine-annealed to 0)",
    });
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &train_args::Args) -> Result<(), cnn::Error> {
    println!("{}", LeNet5::summary());
    let (train, val, test) = train_args::load_mnist(args, prepare)?;

    let lr0 = args.learning_rate;
    let mut schedule = LearningRateScheduler::from_schedule(cnn::optim::Cosine {
        initial: lr0,
        min: 0.0,
        epochs: args.epochs,
    });
    let best_path = args.out.join("lenet5_best.safetensors");
    let mut best = ModelCheckpoint::best(&best_path, Monitor::ValAccuracy);
    let opt = Adam::new(lr0);
    let mut model = Model::compile(LeNet5::new(args.seed), opt).seed(args.seed);
    // Random shifts of up to 2 pixels inside the 32x32 frame: the course's
    // cheapest augmentation, worth a few tenths of a percent on MNIST.
    let shift = RandomShift {
        max: 2,
        fill: -MNIST_MEAN / MNIST_STD,
    };
    let fit = Fit::epochs(args.epochs)
        .augment(&shift)
        .batch_size(args.batch_size)
        .validation_data(&val)
        .callback(&mut schedule)
        .callback(&mut best)
        .checkpoint(args.out.join("lenet5_checkpoint.safetensors"))
        .csv_log(args.out.join("history.csv"))
        .curves(args.out.join("curves.svg"), "LeNet-5 on MNIST");
    let start = Instant::now();
    let history = model.fit(&train, fit)?.clone();
    let seconds = start.elapsed().as_secs_f64();
    let epochs = history.epochs.len().max(1);
    let images_per_second: f64 = history
        .epochs
        .iter()
        .map(|e| e.images_per_second)
        .sum::<f64>()
        / epochs as f64;
    println!(
        "trained {epochs} epochs in {seconds:.1} s ({:.1} s per epoch, {images_per_second:.0} images/s on average)",
        seconds / epochs as f64
    );

    // Test with the final weights (the cosine schedule ends at a small
    // learning rate), and report the best-on-validation checkpoint beside it.
    let eval = model.evaluate(&test, 1000)?;
    let best_net = LeNet5::load(&best_path)?;
    let best_eval = Model::compile(best_net, Adam::new(lr0)).evaluate(&test, 1000)?;
    let saved = args.out.join("lenet5.safetensors");
    model.network().save(&saved)?;
    println!(
        "saved {}; the best validation epoch ({}) is in {} and scores {:.2}% on test",
        saved.display(),
        best.saved_epoch.unwrap_or(0),
        best_path.display(),
        100.0 * best_eval.accuracy
    );
    println!(
        "curves: {}, log: {}",
        args.out.join("curves.svg").display(),
        args.out.join("history.csv").display()
    );
    println!("test loss: {:.4}", eval.loss);
    println!("test accuracy: {:.2}%", 100.0 * eval.accuracy);
    Ok(())
}
