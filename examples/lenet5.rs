//! The main job: LeNet-5 (LeCun et al. 1998, with ReLU and max pooling) on
//! MNIST. Prints the network's summary, trains with a progress bar and a
//! validation split, writes the curves, the CSV log, the best and the last
//! weights, and ends with `test accuracy: NN.NN%`.
//!
//!     cargo run --release --example lenet5 -- [--data DIR] [--epochs N]
//!         [--batch-size N] [--threads N] [--seed N] [--out DIR] [--lr X]
//!         [--augment KIND] [--resume PATH]

#[path = "shared/train_args.rs"]
mod train_args;

use cnn::prelude::*;

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

    let model =
        Model::compile(LeNet5::new(args.seed), Adam::new(args.learning_rate)).seed(args.seed);
    train_args::fit_and_report(
        args,
        model,
        (&train, &val, &test),
        "lenet5",
        "LeNet-5 on MNIST",
        -MNIST_MEAN / MNIST_STD,
    )?;
    Ok(())
}
