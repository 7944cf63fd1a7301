//! Video in three dimensions: clips of 16 frames in which a real MNIST
//! digit slides across a 32x32 field to the right, the left, down or up,
//! classified by digit and direction (40 classes) with a 3D network
//! (C3dSmall: `Conv3d`, `MaxPool3d`, batch norm, global pooling) declared
//! on `input: [16, 32, 32, 1]`. It trains through `Model::fit` on fresh
//! clips of MNIST's training digits every epoch, then measures clips of
//! MNIST's test digits and prints
//!
//!     test accuracy: NN.NN%
//!
//! writing `history.csv`, `curves.svg`, the weights and `clips.png` (a
//! few test clips, frame by frame) into `--out`.
//!
//!     cargo run --release --example clips -- [--data DIR] [--epochs N]
//!         [--clips-per-epoch N] [--batch-size N] [--threads N] [--seed N]
//!         [--out DIR] [--lr X] [--test-clips N]

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/clips.rs"]
mod clips;

use std::path::PathBuf;
use std::process::ExitCode;

/// The command line as clap reads it.
#[derive(clap::Parser)]
#[command(
    name = "clips",
    about = "A 3D network that tells the digit and the direction of moving-digit clips, trained on fresh clips every epoch"
)]
struct Cli {
    /// The four MNIST IDX files [default: the vendored data/mnist]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Epochs, each on fresh clips
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = cli::positive)]
    epochs: usize,
    /// Clips per epoch
    #[arg(long, value_name = "N", default_value_t = 8000, value_parser = cli::positive)]
    clips_per_epoch: usize,
    /// Clips per step
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = cli::positive)]
    batch_size: usize,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    threads: Option<usize>,
    /// Seed of the weights, the training clips and their order
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// History, checkpoint, curves, weights and the picture
    #[arg(long, value_name = "DIR", default_value = "out/clips")]
    out: PathBuf,
    /// Adam's peak learning rate (warm-up, then cosine to 0)
    #[arg(long, value_name = "X", default_value_t = 3e-3)]
    lr: f32,
    /// Test clips measured
    #[arg(long, value_name = "N", default_value_t = 4000, value_parser = cli::positive)]
    test_clips: usize,
    /// Validation clips measured after every epoch
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = cli::positive)]
    validation_clips: usize,
}

fn main() -> ExitCode {
    let c = <Cli as clap::Parser>::parse();
    if let Some(t) = c.threads {
        cnn::parallel::set_threads(t);
    }
    let plan = clips::Plan {
        epochs: c.epochs,
        clips_per_epoch: c.clips_per_epoch,
        batch_size: c.batch_size,
        learning_rate: c.lr,
        seed: c.seed,
        out: c.out,
        validation_clips: c.validation_clips,
        test_clips: c.test_clips,
        data: c.data.unwrap_or_else(cnn::data::mnist::vendored_dir),
        verbose: true,
    };
    match clips::run(&plan) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
