//! Dense prediction on real digits: a small U-Net labels every pixel of
//! a 64x64 scene with its digit or background (11 classes). Scenes hold
//! one to three MNIST digits over windows of the repository's grey
//! photographs (brick, gravel, the cameraman, coins), brightness and
//! contrast drawn per scene and each digit's grey per digit, so a
//! threshold on the pixels does not find the digits. It trains with the
//! per-pixel cross-entropy (the fused softmax of a network ending in
//! `Softmax` on an image, against label maps) through `Model::fit`, on
//! fresh scenes every epoch, printing the validation scenes' mean IoU
//! after each; then, on test scenes made from MNIST's test digits, it
//! prints the IoU of every class and
//!
//!     mean IoU: 0.NNN
//!
//! and draws test scenes beside their predicted and true labels into
//! `segmentations.png`.
//!
//!     cargo run --release --example segment_digits -- [--data DIR] [--epochs N]
//!         [--scenes-per-epoch N] [--batch-size N] [--threads N] [--seed N]
//!         [--out DIR] [--lr X] [--test-scenes N] [--resume PATH]

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/segment.rs"]
mod segment;

use std::path::PathBuf;
use std::process::ExitCode;

/// The command line as clap reads it.
#[derive(clap::Parser)]
#[command(
    name = "segment_digits",
    about = "A U-Net that labels every pixel of digit scenes over textures, trained on fresh scenes every epoch"
)]
struct Cli {
    /// The four MNIST IDX files [default: the vendored data/mnist]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Epochs, each on fresh scenes
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = cli::positive)]
    epochs: usize,
    /// Scenes per epoch
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = cli::positive)]
    scenes_per_epoch: usize,
    /// Scenes per step
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = cli::positive)]
    batch_size: usize,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    threads: Option<usize>,
    /// Seed of the weights, the training scenes and their order
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Checkpoint, log, curves, weights and the picture
    #[arg(long, value_name = "DIR", default_value = "out/segment_digits")]
    out: PathBuf,
    /// Adam's peak learning rate (warm-up, then cosine to 0)
    #[arg(long, value_name = "X", default_value_t = 3e-3)]
    lr: f32,
    /// Test scenes measured
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = cli::positive)]
    test_scenes: usize,
    /// Validation scenes measured after every epoch
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = cli::positive)]
    validation_scenes: usize,
    /// Continue from a checkpoint of this example (such as
    /// out/segment_digits/segment_checkpoint.safetensors), started with the
    /// same --epochs, --scenes-per-epoch, --batch-size, --seed and --lr
    #[arg(long, value_name = "PATH")]
    resume: Option<PathBuf>,
}

fn main() -> ExitCode {
    let c = <Cli as clap::Parser>::parse();
    if let Some(t) = c.threads {
        cnn::parallel::set_threads(t);
    }
    let plan = segment::Plan {
        epochs: c.epochs,
        scenes_per_epoch: c.scenes_per_epoch,
        batch_size: c.batch_size,
        learning_rate: c.lr,
        seed: c.seed,
        out: c.out,
        resume: c.resume,
        validation_scenes: c.validation_scenes,
        test_scenes: c.test_scenes,
        data: c.data.unwrap_or_else(cnn::data::mnist::vendored_dir),
        verbose: true,
    };
    match segment::run(&plan) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
