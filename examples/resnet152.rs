//! ResNet-152 (torchvision's layout, 60,192,808 trainable parameters) in
//! one line: the zoo's `cnn::models::ResNet152` (3, 8, 36 and 3 bottlenecks).
//! Prints the summary's totals, then times one SGD training step and one
//! `predict` on random 224x224x3 images.
//!
//!     cargo run --release --example resnet152 -- [--batch N] [--threads N]

#[path = "shared/cli.rs"]
mod cli;

use std::time::Instant;

use cnn::ndarray::Array4;
use cnn::prelude::*;
use cnn::rng::Rng;

network! {
    /// torchvision.models.resnet152.
    pub struct ResNet152 {
        input: [224, 224, 3],
        layers: cnn::models::ResNet152 {},
    }
}

// torchvision's model table: 60,192,808 parameters, 11.51 GFLOPS (multiply-adds).
const _: () = assert!(ResNet152::TRAINABLE_PARAMS == 60_192_808);

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "resnet152",
    about = "ResNet-152's summary, and the time of one training step and one predict"
)]
struct Args {
    /// Images per step
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = cli::positive)]
    batch: usize,
    /// Kernel threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    threads: Option<usize>,
}

fn main() -> Result<(), cnn::Error> {
    let Args { batch, threads } = <Args as clap::Parser>::parse();
    if let Some(t) = threads {
        cnn::parallel::set_threads(t);
    }
    let summary = ResNet152::summary();
    println!(
        "{}: {} layers in the summary, {} parameters ({} trainable), {:.2} GMACs per image",
        summary.name,
        summary.rows.len(),
        cnn::net::thousands(ResNet152::PARAMS as u64),
        cnn::net::thousands(ResNet152::TRAINABLE_PARAMS as u64),
        ResNet152::MACS as f64 / 1e9
    );
    let mut rng = Rng::new(1);
    let x = Array4::from_shape_simple_fn((batch, 224, 224, 3), || rng.normal());
    let y: Vec<usize> = (0..batch).map(|_| rng.below(1000)).collect();
    let mut net = ResNet152::new(1);
    let mut opt = Sgd::new(0.01).momentum(0.9);
    for round in ["first (sizes the workspace)", "second"] {
        let t = Instant::now();
        let loss = net.train_step(x.view(), &y, &mut opt)?;
        let step = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let p = net.predict(x.view())?;
        let predict = t.elapsed().as_secs_f64();
        println!(
            "{round}: train_step {:.2} s (loss {loss:.3}), predict {:.2} s for {batch} images ({} threads); outputs {:?}",
            step,
            predict,
            cnn::parallel::threads(),
            p.dim()
        );
    }
    Ok(())
}
