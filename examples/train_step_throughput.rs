//! LeNet-5 training and inference throughput of the generated code:
//! `cargo run --release --example train_step_throughput [threads]`.
//! Random images, SGD with momentum; prints images per second.

use std::time::Instant;

use cnn::ndarray::Array4;
use cnn::rng::Rng;

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
use lenet5_net::LeNet5;

fn batch(n: usize, rng: &mut Rng) -> (Array4<f32>, Vec<usize>) {
    let x = Array4::from_shape_simple_fn((n, 32, 32, 1), || rng.uniform());
    let y = (0..n).map(|_| rng.below(10)).collect();
    (x, y)
}

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "train_step_throughput",
    about = "LeNet-5's training and inference throughput on random images"
)]
struct Args {
    /// Kernel threads [default: all cores]
    #[arg(value_name = "THREADS", value_parser = cli::positive)]
    threads: Option<usize>,
}

fn main() -> Result<(), cnn::Error> {
    if let Some(t) = <Args as clap::Parser>::parse().threads {
        cnn::parallel::set_threads(t);
    }
    println!("{} threads", cnn::parallel::threads());
    let mut rng = Rng::new(1);
    let mut net = LeNet5::new(1);
    let mut opt = cnn_runtime::optim::Sgd::new(0.01).momentum(0.9);
    for batch_size in [64, 256] {
        let (x, y) = batch(batch_size, &mut rng);
        for _ in 0..5 {
            net.train_step(x.view(), &y, &mut opt)?;
        }
        let steps = 200 * 64 / batch_size;
        let start = Instant::now();
        for _ in 0..steps {
            net.train_step(x.view(), &y, &mut opt)?;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "train_step batch {batch_size}: {:.0} images/s ({:.2} ms/step)",
            (steps * batch_size) as f64 / secs,
            1e3 * secs / steps as f64
        );
    }
    for batch_size in [1, 256] {
        let (x, _) = batch(batch_size, &mut rng);
        net.predict(x.view())?;
        let calls = 20_000 / batch_size;
        let start = Instant::now();
        for _ in 0..calls {
            net.predict(x.view())?;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "predict batch {batch_size}: {:.0} images/s",
            (calls * batch_size) as f64 / secs
        );
    }
    Ok(())
}
