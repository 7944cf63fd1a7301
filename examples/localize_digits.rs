//! The course's classification with localization, on real digits: one
//! MNIST digit, scaled 0.6-1.6x, at a random place on a 64x64 canvas (a
//! fifth of the canvases empty), and a network that outputs the course's
//! `[pc, bx, by, bh, bw, c0..c9]`: whether there is a digit, its box
//! (centre, height, width, as fractions of the canvas) and its class. It
//! trains with the course's localization loss (`cnn::loss::Localization`:
//! logistic on `pc`, squared error on the box, cross-entropy on the class,
//! only the `pc` term where there is no digit) through `Model::fit` on
//! value targets: 20 epochs of 30,000 canvases never seen before, each
//! followed by the four figures below on 2,000 validation canvases. The
//! network is two branches that share no weight, one for where the digit
//! is and one for what it is (`examples/shared/localize.rs` says why).
//! Then it prints
//!
//!     presence accuracy: NN.NN%
//!     classification accuracy: NN.NN%   (canvases with a digit)
//!     mean IoU: 0.NNN
//!     IoU >= 0.5: NN.NN%
//!
//! on test canvases made from MNIST's test digits, and writes a grid of
//! them with the true boxes (coloured) and the predicted ones (white).
//!
//!     cargo run --release --example localize_digits -- [--data DIR] [--epochs N]
//!         [--batch-size N] [--threads N] [--seed N] [--out DIR] [--lr X] [--resume PATH]

#[allow(dead_code)]
#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/localize.rs"]
mod localize;
// The MNIST examples' command line; its MNIST loader is not used here.
#[allow(dead_code)]
#[path = "shared/train_args.rs"]
mod train_args;

fn main() {
    let args = train_args::parse_or_exit(&train_args::Defaults {
        program: "localize_digits",
        epochs: 20,
        batch_size: 64,
        out: "out/localize_digits",
        learning_rate: 2e-3,
        lr_help: "Adam's peak learning rate (warmed up, then cosine-annealed to 0)",
    });
    let sizes = localize::Sizes {
        train: 30_000,
        validation: 2_000,
        test: 2_000,
    };
    if let Err(e) = localize::run(&args, sizes) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
