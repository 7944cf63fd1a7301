//! One-shot recognition and verification of identities never seen in
//! training (the course's week 4, on glyphs instead of faces): an encoder
//! trained with the triplet loss (online semi-hard mining, P x K batches,
//! L2-normalised embeddings, affine and elastic distortions) on the
//! glyphs' background alphabets is tested on the evaluation alphabets,
//! beside raw pixels and the same network trained with a softmax, on the
//! same 5-way and 20-way episodes and verification pairs.
//!
//!     cargo run --release --example one_shot                    # glyphs
//!     cargo run --release --example one_shot -- --dataset mnist # digits 0-4 -> 5-9
//!     cargo run --release --example one_shot -- --folder people # your own photos
//!
//! Writes to `--out` (default `out/one_shot`): the encoder's and the
//! baseline's weights, the ROC of each method (`roc_*.svg`), the gallery
//! of the unseen identities, `results.csv` and `history.csv`. The lines
//! scripts read: `one-shot 5-way accuracy (unseen alphabets): NN.NN%`,
//! `one-shot 20-way ..`, `verification accuracy ..`. See docs/faces.md.

#[path = "shared/cli.rs"]
mod cli;
#[allow(dead_code)] // the report's fields are read by tests/one_shot.rs
#[path = "shared/one_shot/mod.rs"]
mod one_shot;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = one_shot::parse_or_exit();
    match one_shot::run(&args) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
