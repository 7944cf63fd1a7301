//! What augmentation costs: LeNet-5's training speed on MNIST (images/s
//! of one epoch) without augmentation, with random shifts, and with the
//! affine + elastic distortions of `lenet5 --augment elastic`, the batches
//! made on the training thread or on 1 or 2 background threads; and the
//! distortions alone on one thread.
//! Each setting runs `--rounds` times (default 2), the settings taking
//! turns, and the best round is kept, so that other jobs on the machine
//! disturb the comparison as little as possible. The distortions alone
//! are also given in CPU time of their thread (where Linux reports it),
//! which other jobs on the machine inflate much less than the wall clock.
//!
//!     cargo run --release --example augment_throughput -- [--rounds N] [--threads N]

#[allow(dead_code)]
#[path = "shared/cli.rs"]
mod cli;
// Only `mnist_distortions` is used here.
#[allow(dead_code)]
#[path = "shared/train_args.rs"]
mod train_args;

#[path = "shared/lenet5_net.rs"]
mod lenet5_net;

use std::time::Instant;

use cnn::prelude::*;
use cnn::train::{Augment, RandomShift};
use lenet5_net::{prepare, LeNet5, MNIST_MEAN, MNIST_STD};

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "augment_throughput",
    about = "LeNet-5's training speed with augmentation on 0, 1 and 2 background threads"
)]
struct Args {
    /// Rounds of each measurement
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = cli::positive)]
    rounds: usize,
    /// Kernel threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    threads: Option<usize>,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    if let Some(t) = args.threads {
        cnn::parallel::set_threads(t);
    }
    if let Err(e) = run(args.rounds) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The CPU time this thread has had, in ns, where Linux reports it (the
/// first field of /proc/thread-self/schedstat).
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Images per second of one epoch of LeNet-5 with `augment` on `workers` threads.
fn epoch_speed(
    train: &Dataset,
    augment: Option<&dyn Augment>,
    workers: usize,
) -> Result<f64, cnn::Error> {
    let mut model = Model::compile(LeNet5::new(1), Adam::new(1e-3)).seed(1);
    let mut fit = Fit::epochs(1)
        .batch_size(64)
        .verbose(false)
        .workers(workers);
    if let Some(a) = augment {
        fit = fit.augment(a);
    }
    let h = model.fit(train, fit)?;
    Ok(h.epochs[0].images_per_second)
}

fn run(rounds: usize) -> Result<(), cnn::Error> {
    let mnist = cnn::data::mnist::load(&cnn::data::mnist::vendored_dir())?;
    let train = prepare(&mnist.train)?;
    let background = -MNIST_MEAN / MNIST_STD;
    let shift = RandomShift {
        max: 2,
        fill: background,
    };
    let distort = train_args::mnist_distortions(background);
    println!(
        "LeNet-5, batch 64, {} training images, {} kernel threads, {rounds} rounds (best kept)",
        train.len(),
        cnn::parallel::threads()
    );

    // The distortions alone, on this thread.
    let mut out = vec![0.0; train.example_len()];
    let mut alone = 0f64;
    let mut cpu_us = f64::INFINITY;
    for _ in 0..rounds {
        let (t, cpu) = (Instant::now(), thread_cpu_ns());
        let n = 20_000;
        for i in 0..n {
            let mut rng = cnn::augment::image_rng(1, 1, i);
            distort.apply_into(train.example(i).0, train.shape(), &mut out, &mut rng);
        }
        alone = alone.max(n as f64 / t.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu, thread_cpu_ns()) {
            cpu_us = cpu_us.min((b - a) as f64 / 1e3 / n as f64);
        }
    }
    let cpu = if cpu_us.is_finite() {
        format!("; {cpu_us:.1} us of CPU")
    } else {
        String::new()
    };
    println!(
        "affine + elastic alone, one thread: {alone:.0} images/s ({:.1} us per image{cpu})",
        1e6 / alone
    );

    // The reference gathers its batches on a background thread too: on a
    // machine shared with other jobs a process with one more runnable
    // thread gets a larger share of the cores, which would flatter every
    // setting with a worker.
    let settings: [(&str, Option<&dyn Augment>, usize); 6] = [
        ("no augmentation, 1 background thread", None, 1),
        ("no augmentation, on the training thread", None, 0),
        ("random shifts, 1 background thread", Some(&shift), 1),
        (
            "affine + elastic, on the training thread",
            Some(&distort),
            0,
        ),
        ("affine + elastic, 1 background thread", Some(&distort), 1),
        ("affine + elastic, 2 background threads", Some(&distort), 2),
    ];
    let mut best = [0f64; 6];
    for r in 0..rounds {
        for (k, (name, aug, workers)) in settings.iter().enumerate() {
            let speed = epoch_speed(&train, *aug, *workers)?;
            println!("round {}: {name}: {speed:.0} images/s", r + 1);
            best[k] = best[k].max(speed);
        }
    }
    println!("\n| training LeNet-5 | images/s | vs. no augmentation |");
    println!("|---|---|---|");
    for (k, (name, _, _)) in settings.iter().enumerate() {
        println!(
            "| {name} | {:.0} | {:.0}% |",
            best[k],
            100.0 * best[k] / best[0]
        );
    }
    Ok(())
}
