//! A small ResNet on MNIST: the layout of He et al.'s CIFAR ResNet-20
//! (2015, section 4.2) on 28x28x1 digits — a 3x3 convolution, three stages
//! of three basic residual blocks (two 3x3 convolutions with batch norm)
//! at 28x28, 14x14 and 7x7, projection shortcuts (1x1 convolution with
//! stride 2 and batch norm) where a stage starts, global average pooling,
//! a 10-way dense layer and softmax. Trains with random 2-pixel shifts and
//! SGD with Nesterov momentum under a cosine schedule; writes the curves,
//! the CSV log and the weights, and ends with `test accuracy: NN.NN%`.
//!
//!     cargo run --release --example resnet_mnist -- [--data DIR] [--epochs N]
//!         [--batch-size N] [--threads N] [--seed N] [--out DIR] [--lr X]
//!         [--augment KIND] [--resume PATH]

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/train_args.rs"]
mod train_args;

use cnn::prelude::*;

#[path = "shared/cifar_resnet.rs"]
mod cifar_resnet;
use cifar_resnet::CifarResNet;

network! {
    /// ResNet-20's layout (He et al. 2015) on MNIST, with 16, 32 and 64
    /// filters: the CIFAR template of `classic_nets`, on 28x28x1 digits.
    pub struct ResNetMnist {
        input: [28, 28, 1],
        layers: CifarResNet { n: 3 },
    }
}

// 19 convolutions and the dense layer: ResNet-20's 0.27M parameters
// (He et al. 2015, Table 6) on one input channel and with two projection
// shortcuts. Checked here so that a change to the layout is noticed.
const _: () =
    assert!(ResNetMnist::TRAINABLE_PARAMS > 250_000 && ResNetMnist::TRAINABLE_PARAMS < 290_000);

/// MNIST's pixel mean and standard deviation over the training set (data/README.md).
const MNIST_MEAN: f32 = 0.1307;
const MNIST_STD: f32 = 0.3081;

/// MNIST's 28x28 digits, normalised with the training set's mean and deviation.
fn prepare(set: &cnn::data::LabelledImages) -> Result<Dataset, cnn::Error> {
    let mut d = Dataset::from_labelled(set)?;
    d.normalise(MNIST_MEAN, MNIST_STD);
    Ok(d)
}

fn main() {
    let args = train_args::parse_or_exit(&train_args::Defaults {
        program: "resnet_mnist",
        epochs: 6,
        batch_size: 128,
        out: "out/resnet_mnist",
        learning_rate: 0.1,
        lr_help: "SGD's initial learning rate (cosine-annealed to 0)",
    });
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &train_args::Args) -> Result<(), cnn::Error> {
    println!("{}", ResNetMnist::summary());
    let (train, val, test) = train_args::load_mnist(args, prepare)?;

    // He et al.'s CIFAR recipe: momentum 0.9, weight decay 1e-4.
    let opt = Sgd::new(args.learning_rate)
        .momentum(0.9)
        .nesterov(true)
        .weight_decay(1e-4);
    let model = Model::compile(ResNetMnist::new(args.seed), opt).seed(args.seed);
    train_args::fit_and_report(
        args,
        model,
        (&train, &val, &test),
        "resnet_mnist",
        "ResNet-20 layout on MNIST",
        -MNIST_MEAN / MNIST_STD,
    )?;
    Ok(())
}
