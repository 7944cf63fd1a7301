//! What are deep ConvNets learning? The course's week-4 figures (Zeiler
//! and Fergus 2013) for LeNet-5 on MNIST: for a few units of `conv1`,
//! `conv2` and `fc3`, the nine test digits that activate each most, cut to
//! the unit's receptive field (a compile-time const of the network: 5x5,
//! 14x14, the whole digit), one PNG per layer; the pictures that maximise
//! a unit or a class by gradient ascent on the input; and saliency maps.
//! The code is in `examples/shared/visualize/`, which a test runs too.
//!
//!     cargo run --release --example visualize -- [--weights FILE] [--out DIR]
//!         [--epochs N] [--units N] [--steps N] [--images N] [--threads N]
//!
//! `--weights` is what `lenet5` saved (`out/lenet5/lenet5.safetensors`,
//! the default); without it the example trains LeNet-5 for two epochs
//! first and keeps the weights in `--out` for the next run.

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
#[path = "shared/saliency_maps.rs"]
mod saliency_maps;
#[path = "shared/visualize/mod.rs"]
mod visualize;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <visualize::Args as clap::Parser>::parse();
    let t0 = std::time::Instant::now();
    println!("{}", visualize::LeNet5Taps::summary());
    match visualize::run(&args) {
        Ok(_) => {
            println!("done in {:.1} s", t0.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
