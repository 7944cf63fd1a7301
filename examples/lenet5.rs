//! The main job: LeNet-5 (LeCun et al. 1998, with ReLU and max pooling) on
//! MNIST. Prints the network's summary, trains with a progress bar and a
//! validation split, writes the curves, the CSV log, the best and the last
//! weights, and ends with `test accuracy: NN.NN%`.
//!
//!     cargo run --release --example lenet5 -- [--data DIR] [--epochs N]
//!         [--batch-size N] [--threads N] [--seed N] [--out DIR] [--lr X]
//!         [--augment KIND] [--resume PATH]
//!
//! Built with `--features mpi` and started by `mpirun -np N`, it trains
//! data-parallel on N ranks (the same global batch, so the same result);
//! rank 0 prints and writes, and reports what the gradient all-reduce cost.

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/train_args.rs"]
mod train_args;

use std::process::ExitCode;

use cnn::dist::Collective;
use cnn::prelude::*;

#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
use lenet5_net::{prepare, LeNet5, MNIST_MEAN, MNIST_STD};

fn main() -> ExitCode {
    #[allow(unused_mut)] // set on the ranks of an MPI job
    let mut args = train_args::parse_or_exit(&train_args::Defaults {
        program: "lenet5",
        epochs: 20,
        batch_size: 64,
        out: "out/lenet5",
        learning_rate: 1e-3,
        lr_help: "Adam's initial learning rate (cosine-annealed to 0)",
    });
    #[cfg(feature = "mpi")]
    {
        let mut mpi = match cnn::dist::Mpi::init() {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        // One process under the mpi feature trains as the default build does.
        if mpi.size() > 1 {
            args.quiet = mpi.rank() != 0;
            let result = run(&args, Some(&mut mpi));
            if result.is_ok() && !args.quiet {
                report_traffic(&mpi);
            }
            return mpi.finish(result);
        }
    }
    match run(&args, None) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &train_args::Args, mut ranks: Option<&mut dyn Collective>) -> Result<(), cnn::Error> {
    if !args.quiet {
        println!("{}", LeNet5::summary());
    }
    let loaded = train_args::load_mnist(args, prepare);
    // A rank that cannot read the data stops every rank, not only itself.
    let (train, val, test) = match ranks.as_deref_mut() {
        Some(r) => cnn::dist::agree(r, loaded)?,
        None => loaded?,
    };
    if let (Some(r), false) = (ranks.as_deref(), args.quiet) {
        println!(
            "data-parallel: {} ranks, global batch {} (about {} per rank)",
            r.size(),
            args.batch_size,
            args.batch_size / r.size()
        );
    }
    let model =
        Model::compile(LeNet5::new(args.seed), Adam::new(args.learning_rate)).seed(args.seed);
    train_args::fit_and_report_on(
        args,
        model,
        (&train, &val, &test),
        "lenet5",
        "LeNet-5 on MNIST",
        -MNIST_MEAN / MNIST_STD,
        ranks,
    )?;
    Ok(())
}

/// Bytes and time of the gradient sums, per step, on rank 0.
#[cfg(feature = "mpi")]
fn report_traffic(mpi: &cnn::dist::Mpi) {
    let t = mpi.traffic();
    let calls = t.calls.max(1) as f64;
    println!(
        "all-reduce: {} calls, {:.0} bytes per step, {:.3} ms per step inside MPI_Allreduce (waiting for the slower rank included)",
        t.calls,
        t.bytes as f64 / calls,
        1e3 * t.seconds / calls
    );
}
